/** One step into an object: a map field, a list item picked by its merge key, or a list index. */
export type Segment = { field: string } | { key: Record<string, unknown> } | { index: number };

/**
 * Merge keys of associative lists, by list field name, as the Kubernetes API declares them
 * (x-kubernetes-list-map-keys / patchMergeKey in the API reference). Lists not named here are atomic.
 * `defaults` fill key fields the API defaults (a port's protocol), so `80` and `80/TCP` match.
 */
const LIST_KEYS: Record<
  string,
  Array<{ when?: string; keys: string[]; defaults?: Record<string, unknown> }>
> = {
  containers: [{ keys: ['name'] }],
  initContainers: [{ keys: ['name'] }],
  ephemeralContainers: [{ keys: ['name'] }],
  env: [{ keys: ['name'] }],
  volumes: [{ keys: ['name'] }],
  imagePullSecrets: [{ keys: ['name'] }],
  volumeMounts: [{ keys: ['mountPath'] }],
  volumeDevices: [{ keys: ['devicePath'] }],
  conditions: [{ keys: ['type'] }],
  hostAliases: [{ keys: ['ip'] }],
  ports: [
    { when: 'containerPort', keys: ['containerPort', 'protocol'], defaults: { protocol: 'TCP' } },
    { when: 'port', keys: ['port', 'protocol'], defaults: { protocol: 'TCP' } },
  ],
  topologySpreadConstraints: [{ keys: ['topologyKey', 'whenUnsatisfiable'] }],
  resourceClaims: [{ keys: ['name'] }],
};

export interface ListKeys {
  keys: string[];
  defaults: Record<string, unknown>;
}

/** The merge keys of a list field, or undefined for an atomic list. */
export function listKeysFor(field: string | undefined, items: readonly unknown[]): ListKeys | undefined {
  const candidates = field ? LIST_KEYS[field] : undefined;
  if (!candidates) return undefined;
  const sample = items.find((item) => item !== null && typeof item === 'object') as
    | Record<string, unknown>
    | undefined;
  for (const candidate of candidates) {
    if (!candidate.when || (sample && candidate.when in sample) || !sample) {
      return { keys: candidate.keys, defaults: candidate.defaults ?? {} };
    }
  }
  return undefined;
}

/** The key of a list item: its key fields, with API defaults filled in. */
export function itemKey(item: unknown, keys: ListKeys): Record<string, unknown> | undefined {
  if (item === null || typeof item !== 'object') return undefined;
  const record = item as Record<string, unknown>;
  const key: Record<string, unknown> = {};
  for (const name of keys.keys) {
    const value = record[name] ?? keys.defaults[name];
    if (value === undefined) continue;
    key[name] = value;
  }
  return Object.keys(key).length > 0 ? key : undefined;
}

export function sameKey(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  const names = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const name of names) {
    if (a[name] === undefined || b[name] === undefined) continue; // a key field absent on one side is defaulted
    if (String(a[name]) !== String(b[name])) return false;
  }
  return true;
}

/** `spec.template.spec.containers[name=web].image` */
export function displayPath(path: readonly Segment[]): string {
  let text = '';
  for (const segment of path) {
    if ('field' in segment)
      text += /^[A-Za-z_][\w-]*$/.test(segment.field)
        ? `${text ? '.' : ''}${segment.field}`
        : `[${JSON.stringify(segment.field)}]`;
    else if ('key' in segment)
      text += `[${Object.entries(segment.key)
        .map(([k, v]) => `${k}=${String(v)}`)
        .join(',')}]`;
    else text += `[${segment.index}]`;
  }
  return text;
}

/** Where jsonPointer has got to along a path: the pointer so far and the node it points at. */
export interface PointerState {
  pointer: string;
  node: unknown;
}

/** jsonPointer one segment further: `state` extended by `segment`. */
export function pointerStep(state: PointerState, segment: Segment): PointerState {
  const { node } = state;
  if ('field' in segment) {
    const field = segment.field;
    const escaped = field.includes('~') || field.includes('/');
    return {
      pointer: `${state.pointer}/${escaped ? field.replace(/~/g, '~0').replace(/\//g, '~1') : field}`,
      node: node && typeof node === 'object' ? (node as Record<string, unknown>)[field] : undefined,
    };
  }
  if ('index' in segment) {
    return {
      pointer: `${state.pointer}/${segment.index}`,
      node: Array.isArray(node) ? node[segment.index] : undefined,
    };
  }
  const list = Array.isArray(node) ? node : [];
  const index = list.findIndex((item) => {
    if (!item || typeof item !== 'object') return false;
    return Object.entries(segment.key).every(
      ([k, v]) =>
        (item as Record<string, unknown>)[k] === undefined ||
        String((item as Record<string, unknown>)[k]) === String(v),
    );
  });
  return {
    pointer: `${state.pointer}/${index === -1 ? '-' : index}`,
    node: index === -1 ? undefined : list[index],
  };
}

/** RFC 6901 pointer; keyed list items are written as the index they have in `within`. */
export function jsonPointer(path: readonly Segment[], within: unknown): string {
  let state: PointerState = { pointer: '', node: within };
  for (const segment of path) state = pointerStep(state, segment);
  return state.pointer;
}

/**
 * valueAt one segment further: the value below `node` at `segment`, where `parentField` is the
 * last field of the path so far (it names a keyed list's merge keys); undefined when absent.
 */
export function valueStep(node: unknown, parentField: string | undefined, segment: Segment): unknown {
  if (node === null || node === undefined) return undefined;
  if ('field' in segment) {
    if (typeof node !== 'object' || Array.isArray(node)) return undefined;
    return (node as Record<string, unknown>)[segment.field];
  }
  if ('index' in segment) return Array.isArray(node) ? node[segment.index] : undefined;
  if (!Array.isArray(node)) return undefined;
  const keys = listKeysFor(parentField, node) ?? { keys: Object.keys(segment.key), defaults: {} };
  return node.find((item) => {
    const key = itemKey(item, keys);
    return key !== undefined && sameKey(key, segment.key);
  });
}

/** The value at a path, following keyed items by their key; undefined when absent. */
export function valueAt(root: unknown, path: readonly Segment[]): unknown {
  let node = root;
  let parentField: string | undefined;
  for (const segment of path) {
    node = valueStep(node, parentField, segment);
    if (node === undefined) return undefined;
    if ('field' in segment) parentField = segment.field;
  }
  return node;
}
