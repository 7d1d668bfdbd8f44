import { createHash } from 'node:crypto';
import { ANNOTATION_REVISION, FIELD_MANAGER, type KubeObject, LABEL_ENVIRONMENT } from '../kube/objects.js';
import { ANNOTATION_OWNER } from '../kube/ownership.js';
import { foreignOwners, isControllerManager, type ManagerRef, walkOwnedLeaves } from './managed-fields.js';
import { isEmptyValue, scalarEqual } from './normalize.js';
import {
  displayPath,
  itemKey,
  jsonPointer,
  listKeysFor,
  type PointerState,
  pointerStep,
  type Segment,
  sameKey,
} from './paths.js';

/**
 * One field that differs between git and the cluster.
 * - changed: git declares it, the cluster has another value (or lacks it);
 * - extra: the cluster has it, git does not, and a person's tool wrote it (kubectl edit/annotate …);
 * - not-in-git: gitops applied it earlier but the revision compared no longer declares it.
 */
export interface Difference {
  kind: 'changed' | 'extra' | 'not-in-git';
  path: Segment[];
  display: string;
  pointer: string;
  /** For Secrets only the key name is kept; values never leave this module. */
  desired?: unknown;
  live?: unknown;
  managers: ManagerRef[];
  secret?: boolean;
}

export interface CompareOptions {
  /** JSON pointers to ignore for this object (config ignoreDifferences, HPA-managed replicas). */
  ignore: readonly string[];
}

/** Annotations and labels that tools add and no person declares. */
const NOISE_METADATA = new Set([
  ANNOTATION_REVISION,
  ANNOTATION_OWNER,
  LABEL_ENVIRONMENT,
  'kubectl.kubernetes.io/last-applied-configuration',
  'deployment.kubernetes.io/revision',
  'kubectl.kubernetes.io/restartedAt',
  'kubernetes.io/metadata.name',
  'applyset.kubernetes.io/part-of',
]);

/** Top-level and metadata fields the server owns: never drift. */
const SERVER_METADATA = new Set([
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'managedFields',
  'selfLink',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'finalizers',
  'ownerReferences',
  'generateName',
]);

/** Server-owned fields (status, server metadata) and tools' labels and annotations: by path alone. */
function serverNoise(path: readonly Segment[]): boolean {
  const first = path[0];
  if (first && 'field' in first && first.field === 'status') return true;
  if (first && 'field' in first && first.field === 'metadata') {
    const second = path[1];
    if (second && 'field' in second) {
      if (SERVER_METADATA.has(second.field)) return true;
      const third = path[2];
      if (
        (second.field === 'labels' || second.field === 'annotations') &&
        third &&
        'field' in third &&
        NOISE_METADATA.has(third.field)
      ) {
        return true;
      }
    }
  }
  return false;
}

function ignored(path: readonly Segment[], pointer: string, ignore: readonly string[]): boolean {
  return serverNoise(path) || ignore.some((rule) => pointer === rule || pointer.startsWith(`${rule}/`));
}

/** Fields below which values are resource quantities (`500m` = `0.5`). */
const QUANTITY_FIELDS = new Set(['resources', 'hard', 'capacity']);

/** Secret `data` with `stringData` folded in (as the API server does), values base64-decoded and hashed. */
export function secretDigests(object: Record<string, unknown>): Map<string, string> {
  const digests = new Map<string, string>();
  const hash = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
  for (const [key, value] of Object.entries((object.data as Record<string, string> | undefined) ?? {})) {
    digests.set(key, hash(Buffer.from(String(value ?? ''), 'base64')));
  }
  for (const [key, value] of Object.entries(
    (object.stringData as Record<string, string> | undefined) ?? {},
  )) {
    digests.set(key, hash(Buffer.from(String(value ?? ''), 'utf8')));
  }
  return digests;
}

/**
 * Compares one desired object with its live copy. Quiet on server noise (status, server metadata,
 * defaulted fields git does not declare, list order of keyed lists, quantity spellings); every
 * difference carries the managers that own the live field.
 */
export function compareObject(desired: KubeObject, live: KubeObject, options: CompareOptions): Difference[] {
  const differences: Difference[] = [];
  const managed = live.metadata.managedFields;
  const add = (difference: Omit<Difference, 'display' | 'pointer' | 'managers'>, owners = true) => {
    const pointer = jsonPointer(difference.path, difference.kind === 'changed' ? desired : live);
    if (ignored(difference.path, pointer, options.ignore)) return;
    differences.push({
      ...difference,
      display: displayPath(difference.path),
      pointer,
      managers: owners ? foreignOwners(managed, difference.path, FIELD_MANAGER) : [],
    });
  };

  // `at`: jsonPointer(path, desired), carried down one segment at a time; `inQuantity`: a field
  // on the path is one of QUANTITY_FIELDS.
  const walk = (
    d: unknown,
    l: unknown,
    path: Segment[],
    field: string | undefined,
    at: PointerState,
    inQuantity: boolean,
  ) => {
    if (path.length > 0 && ignored(path, at.pointer, options.ignore)) return;
    if (Array.isArray(d)) {
      if (!Array.isArray(l)) {
        if (!(isEmptyValue(d) && isEmptyValue(l))) add({ kind: 'changed', path, desired: d, live: l });
        return;
      }
      const keys = listKeysFor(field, d);
      if (keys) {
        for (const item of d) {
          const key = itemKey(item, keys);
          if (!key) continue;
          const match = itemWithKey(l, keys, key);
          const segment = { key };
          const itemPath = [...path, segment];
          if (match === undefined) add({ kind: 'changed', path: itemPath, desired: item, live: undefined });
          else walk(item, match, itemPath, undefined, pointerStep(at, segment), inQuantity);
        }
        return;
      }
      if (d.length !== l.length) {
        add({ kind: 'changed', path, desired: d, live: l });
        return;
      }
      for (const [index, item] of d.entries()) {
        const segment = { index };
        walk(item, l[index], [...path, segment], undefined, pointerStep(at, segment), inQuantity);
      }
      return;
    }
    if (d !== null && typeof d === 'object') {
      if (l === null || typeof l !== 'object' || Array.isArray(l)) {
        if (!(isEmptyValue(d) && isEmptyValue(l))) add({ kind: 'changed', path, desired: d, live: l });
        return;
      }
      for (const [key, value] of Object.entries(d)) {
        const child = (l as Record<string, unknown>)[key];
        const segment = { field: key };
        const childPath = [...path, segment];
        if (child === undefined) {
          if (!isEmptyValue(value))
            add({ kind: 'changed', path: childPath, desired: value, live: undefined });
          continue;
        }
        walk(value, child, childPath, key, pointerStep(at, segment), inQuantity || QUANTITY_FIELDS.has(key));
      }
      return;
    }
    if (!scalarEqual(d, l, inQuantity)) add({ kind: 'changed', path, desired: d, live: l });
  };
  const root: PointerState = { pointer: '', node: desired };
  // Most objects are in sync: a plain comparison proves that walk has nothing to report.
  const compare = (declared: unknown) => {
    if (!declaredAsLive(declared, live, undefined)) walk(declared, live, [], undefined, root, false);
  };

  if (desired.kind === 'Secret' && desired.apiVersion === 'v1') {
    const { data: _data, stringData: _stringData, ...rest } = desired as Record<string, unknown>;
    compare(rest);
    const wanted = secretDigests(desired as Record<string, unknown>);
    const actual = secretDigests(live as Record<string, unknown>);
    for (const [key, digest] of wanted) {
      if (actual.get(key) !== digest)
        add({ kind: 'changed', path: [{ field: 'data' }, { field: key }], secret: true });
    }
    for (const key of actual.keys()) {
      if (!wanted.has(key)) add({ kind: 'extra', path: [{ field: 'data' }, { field: key }], secret: true });
    }
  } else {
    compare(desired);
  }

  // Fields the cluster has and git does not: written by a person's tool, or left over from an
  // earlier revision that gitops applied.
  const seen = new Set(differences.map((difference) => difference.display));
  for (const entry of managed ?? []) {
    if (isControllerManager(entry)) continue;
    const mine = entry.manager === FIELD_MANAGER;
    walkOwnedLeaves(entry.fieldsV1, [desired, live] as const, (leaf, [declared, held]) => {
      if (declared[leaf.length] !== undefined) return;
      const liveValue = held[leaf.length];
      if (liveValue === undefined) return;
      // add() would drop it (gitops' own labels, on every object). Its display is not needed to
      // keep others out either: a path that displays the same is server noise too.
      if (serverNoise(leaf)) return;
      if (
        desired.kind === 'Secret' &&
        leaf[0] &&
        'field' in leaf[0] &&
        (leaf[0].field === 'data' || leaf[0].field === 'stringData')
      )
        return;
      if (ancestorDeclaredAtomic(declared, leaf)) return;
      const display = displayPath(leaf);
      if (seen.has(display)) return;
      seen.add(display);
      add({ kind: mine ? 'not-in-git' : 'extra', path: [...leaf], live: liveValue }, !mine);
    });
  }
  return differences;
}

/** The item of a keyed live list whose key is `key`, as compareObject's walk matches them. */
function itemWithKey(
  items: readonly unknown[],
  keys: Parameters<typeof itemKey>[1],
  key: NonNullable<ReturnType<typeof itemKey>>,
): unknown {
  return items.find((candidate) => {
    const candidateKey = itemKey(candidate, keys);
    return candidateKey !== undefined && sameKey(candidateKey, key);
  });
}

/**
 * Whether compareObject's walk would report nothing for `d` against `l`: every value git declares
 * is the live one as it is (===), keyed list items matched by their key as walk matches them, and
 * a declared empty value may be absent. False wherever walk could report a difference (then walk
 * decides, with quantities, int-or-string and ignored paths); true implies it reports none.
 */
function declaredAsLive(d: unknown, l: unknown, field: string | undefined): boolean {
  if (Array.isArray(d)) {
    if (!Array.isArray(l)) return false;
    const keys = listKeysFor(field, d);
    if (keys) {
      for (const item of d) {
        const key = itemKey(item, keys);
        if (!key) continue;
        const match = itemWithKey(l, keys, key);
        if (match === undefined || !declaredAsLive(item, match, undefined)) return false;
      }
      return true;
    }
    if (d.length !== l.length) return false;
    for (let index = 0; index < d.length; index++) {
      if (!declaredAsLive(d[index], l[index], undefined)) return false;
    }
    return true;
  }
  if (d !== null && typeof d === 'object') {
    if (l === null || typeof l !== 'object' || Array.isArray(l)) return false;
    for (const key of Object.keys(d)) {
      const value = (d as Record<string, unknown>)[key];
      const child = (l as Record<string, unknown>)[key];
      if (child === undefined ? !isEmptyValue(value) : !declaredAsLive(value, child, key)) return false;
    }
    return true;
  }
  return d === l;
}

/**
 * A leaf below an atomic list that git declares is already compared with the whole list.
 * `declared[k]`: what git declares at the leaf's path cut to its first k segments.
 */
function ancestorDeclaredAtomic(declared: readonly unknown[], leaf: readonly Segment[]): boolean {
  for (let length = leaf.length - 1; length > 0; length--) {
    const value = declared[length];
    if (Array.isArray(value)) {
      const last = leaf[length - 1];
      const field = last && 'field' in last ? last.field : undefined;
      return listKeysFor(field, value) === undefined;
    }
  }
  return false;
}
