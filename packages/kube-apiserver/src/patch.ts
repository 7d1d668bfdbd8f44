// Non-apply PATCH bodies: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and the common subset
// of strategic merge patch:
// https://kubernetes.io/docs/tasks/manage-kubernetes-objects/update-api-object-kubectl-patch/
// https://github.com/kubernetes/community/blob/master/contributors/devel/sig-api-machinery/strategic-merge-patch.md

import { ApiError, badRequest } from './errors.js';
import { deepEqual, isObject } from './fieldset.js';
import { type JsonObject, type JsonValue, POD_SPEC_PATHS } from './schema.js';

export function mergePatch(target: JsonValue | undefined, patch: JsonValue): JsonValue {
  if (!isObject(patch)) return structuredClone(patch);
  const out: JsonObject = isObject(target) ? structuredClone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

function unescapeToken(token: string): string {
  return token.replace(/~1/g, '/').replace(/~0/g, '~');
}

function pointer(doc: JsonValue, path: string): { parent: JsonValue; key: string } {
  if (!path.startsWith('/'))
    throw badRequest(`the server rejected our request due to an error in our request`);
  const parts = path.slice(1).split('/').map(unescapeToken);
  let node: JsonValue = doc;
  for (const part of parts.slice(0, -1)) {
    const next: JsonValue | undefined = Array.isArray(node)
      ? node[Number(part)]
      : isObject(node)
        ? node[part]
        : undefined;
    if (next === undefined) throw new ApiError(422, 'Invalid', `jsonpatch: path ${path} not found`);
    node = next;
  }
  return { parent: node, key: parts[parts.length - 1]! };
}

function getAt(doc: JsonValue, path: string): JsonValue | undefined {
  if (path === '') return doc;
  const { parent, key } = pointer(doc, path);
  if (Array.isArray(parent)) return parent[Number(key)];
  return isObject(parent) ? parent[key] : undefined;
}

function removeAt(doc: JsonValue, path: string): JsonValue {
  const { parent, key } = pointer(doc, path);
  let old: JsonValue | undefined;
  if (Array.isArray(parent)) old = parent.splice(Number(key), 1)[0];
  else if (isObject(parent) && key in parent) {
    old = parent[key];
    delete parent[key];
  }
  if (old === undefined)
    throw new ApiError(
      422,
      'Invalid',
      `jsonpatch remove operation does not apply: doc is missing path: "${path}"`,
    );
  return old;
}

function addAt(doc: JsonValue, path: string, value: JsonValue, replace: boolean): void {
  const { parent, key } = pointer(doc, path);
  if (Array.isArray(parent)) {
    const i = key === '-' ? parent.length : Number(key);
    if (replace) parent[i] = value;
    else parent.splice(i, 0, value);
  } else if (isObject(parent)) {
    if (replace && !(key in parent)) {
      throw new ApiError(
        422,
        'Invalid',
        `jsonpatch replace operation does not apply: doc is missing key: ${path}`,
      );
    }
    parent[key] = value;
  }
}

export function jsonPatch(target: JsonObject, ops: JsonValue): JsonObject {
  if (!Array.isArray(ops))
    throw badRequest('json: cannot unmarshal object into Go value of type jsonpatch.Patch');
  const doc = structuredClone(target) as JsonValue;
  for (const op of ops) {
    if (!isObject(op)) continue;
    const path = String(op.path ?? '');
    switch (op.op) {
      case 'add':
        addAt(doc, path, structuredClone(op.value ?? null), false);
        break;
      case 'replace':
        addAt(doc, path, structuredClone(op.value ?? null), true);
        break;
      case 'remove':
        removeAt(doc, path);
        break;
      case 'move':
        addAt(doc, path, removeAt(doc, String(op.from)), false);
        break;
      case 'copy':
        addAt(doc, path, structuredClone(getAt(doc, String(op.from)) ?? null), false);
        break;
      case 'test':
        if (!deepEqual(getAt(doc, path), op.value ?? null)) {
          throw new ApiError(422, 'Invalid', `testing value ${path} failed: test failed`);
        }
        break;
      default:
        throw badRequest(`Unexpected kind: ${String(op.op)}`);
    }
  }
  return doc as JsonObject;
}

/** patchMergeKey per list path (field names, `[]` for items); lists not listed are replaced. */
function smpKeys(kind: string): Record<string, string | null> {
  const keys: Record<string, string | null> = {
    'metadata.finalizers': null,
    'metadata.ownerReferences': 'uid',
    'status.conditions': 'type',
  };
  const pod = POD_SPEC_PATHS[kind];
  if (pod) {
    for (const c of ['containers', 'initContainers']) {
      keys[`${pod}.${c}`] = 'name';
      keys[`${pod}.${c}[].env`] = 'name';
      keys[`${pod}.${c}[].ports`] = 'containerPort';
      keys[`${pod}.${c}[].volumeMounts`] = 'mountPath';
    }
    keys[`${pod}.volumes`] = 'name';
    keys[`${pod}.imagePullSecrets`] = 'name';
    keys[`${pod}.hostAliases`] = 'ip';
  }
  if (kind === 'Service') keys['spec.ports'] = 'port';
  return keys;
}

/**
 * Strategic merge patch for built-in kinds: maps merge, `null` deletes, lists with a patch merge
 * key merge by key (`$patch: delete` removes an item), primitive merge lists union, other lists
 * are replaced. Ordering directives (`$setElementOrder/...`) are honoured for keyed lists.
 */
export function strategicMergePatch(kind: string, target: JsonObject, patch: JsonValue): JsonObject {
  if (!isObject(patch)) throw badRequest('strategic merge patch must be a JSON object');
  return smpMap(smpKeys(kind), target, patch, '') as JsonObject;
}

function smpMap(
  keys: Record<string, string | null>,
  target: JsonValue | undefined,
  patch: JsonObject,
  spath: string,
): JsonValue {
  if (patch.$patch === 'replace') {
    const { $patch: _, ...rest } = patch;
    return structuredClone(rest);
  }
  const out: JsonObject = isObject(target) ? structuredClone(target) : {};
  const orders: Record<string, JsonValue[]> = {};
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith('$setElementOrder/')) {
      if (Array.isArray(v)) orders[k.slice('$setElementOrder/'.length)] = v;
      continue;
    }
    if (k.startsWith('$deleteFromPrimitiveList/')) {
      const field = k.slice('$deleteFromPrimitiveList/'.length);
      const cur = out[field];
      if (Array.isArray(cur) && Array.isArray(v))
        out[field] = cur.filter((x) => !v.some((d) => deepEqual(d, x)));
      continue;
    }
    if (k.startsWith('$')) continue;
    const sp = spath ? `${spath}.${k}` : k;
    if (v === null) delete out[k];
    else if (Array.isArray(v) && sp in keys) out[k] = smpList(keys, out[k], v, sp, keys[sp] ?? null);
    else if (isObject(v)) out[k] = smpMap(keys, out[k], v, sp);
    else out[k] = structuredClone(v);
  }
  for (const [field, order] of Object.entries(orders)) {
    const key = keys[spath ? `${spath}.${field}` : field];
    const cur = out[field];
    if (!key || !Array.isArray(cur)) continue;
    const rank = (item: JsonValue) =>
      order.findIndex((o) => isObject(o) && isObject(item) && deepEqual(o[key], item[key]));
    out[field] = [...cur].sort((a, b) => {
      const ra = rank(a);
      const rb = rank(b);
      return (ra < 0 ? Number.MAX_SAFE_INTEGER : ra) - (rb < 0 ? Number.MAX_SAFE_INTEGER : rb);
    });
  }
  return out;
}

function smpList(
  keys: Record<string, string | null>,
  target: JsonValue | undefined,
  patch: JsonValue[],
  spath: string,
  key: string | null,
): JsonValue[] {
  const cur = Array.isArray(target) ? structuredClone(target) : [];
  if (key === null) {
    for (const v of patch) if (!cur.some((x) => deepEqual(x, v))) cur.push(structuredClone(v));
    return cur;
  }
  for (const item of patch) {
    if (!isObject(item)) continue;
    const i = cur.findIndex((x) => isObject(x) && deepEqual(x[key], item[key]));
    if (item.$patch === 'delete') {
      if (i >= 0) cur.splice(i, 1);
      continue;
    }
    if (i >= 0) cur[i] = smpMap(keys, cur[i], item, `${spath}[]`);
    else cur.push(smpMap(keys, {}, item, `${spath}[]`));
  }
  return cur;
}
