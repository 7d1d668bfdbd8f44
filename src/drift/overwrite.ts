import type { ObjectDrift } from './detect.js';
import { jsonPointer, type Segment, valueAt } from './paths.js';

/** One RFC 6902 operation. */
export type JsonPatchOperation =
  | { op: 'test'; path: string; value: unknown }
  | { op: 'remove'; path: string };

/**
 * Why overwriting needs more than an apply: server-side apply removes a field only when the
 * applier owned it and no other manager does; a label, an annotation, a limit or a spec field
 * that a person added (`kubectl label`, `kubectl set resources`, a merge patch) stays, whatever
 * gitops applies. Forcing ownership first (an apply that includes the field, then one without
 * it) takes ownership only of a field whose value it changes, so it would have to flip the live
 * value for a moment (suspend a CronJob, roll a Deployment to other limits).
 *
 * So overwrite removes exactly the fields the drift report calls `extra` or `not-in-git` (the live
 * object has them, git does not declare them, a person's tool or an earlier gitops apply wrote
 * them; status and controller-owned fields are never among them, nor ignoreDifferences) with one
 * JSON patch per object, each removal guarded by a `test` of the value it removes: a field that
 * changed meanwhile fails the patch instead of being lost unseen. A field inside a list item that
 * git does not declare at all (a container added by hand) removes the whole item, never leaving
 * half of it.
 */
export function undeclaredFieldsPatch(drift: ObjectDrift): JsonPatchOperation[] {
  const { desired, live } = drift;
  if (!desired || !live || drift.state !== 'modified') return [];
  const targets = new Map<string, Segment[]>();
  for (const difference of drift.differences) {
    if (difference.kind !== 'extra' && difference.kind !== 'not-in-git') continue;
    const path = removable(difference.path, desired);
    if (valueAt(live, path) === undefined) continue;
    targets.set(jsonPointer(path, live), path);
  }
  // A map git does not declare at all goes whole when everything in it goes (no `limits: {}` left).
  for (const path of [...targets.values()]) {
    const missingFrom = path.findIndex(
      (_, index) => valueAt(desired, path.slice(0, index + 1)) === undefined,
    );
    if (missingFrom === -1 || missingFrom === path.length - 1) continue;
    const top = path.slice(0, missingFrom + 1);
    const pointer = jsonPointer(top, live);
    const covered = (leaf: string) =>
      [...targets.keys()].some((target) => leaf === target || leaf.startsWith(`${target}/`));
    if (leafPointers(valueAt(live, top), pointer).every(covered)) targets.set(pointer, top);
  }
  // A pointer below another one goes with it.
  const pointers = [...targets.keys()].filter(
    (pointer) => ![...targets.keys()].some((other) => other !== pointer && pointer.startsWith(`${other}/`)),
  );
  // Later list items first: removing one does not move the indices of those still to remove.
  pointers.sort(comparePointers).reverse();
  return pointers.flatMap((pointer) => [
    { op: 'test', path: pointer, value: valueAt(live, targets.get(pointer)!) } as const,
    { op: 'remove', path: pointer } as const,
  ]);
}

/** The path to remove for an undeclared leaf: the whole list item when git lacks the item. */
function removable(path: readonly Segment[], desired: unknown): Segment[] {
  const missingFrom = path.findIndex((_, index) => valueAt(desired, path.slice(0, index + 1)) === undefined);
  if (missingFrom === -1) return [...path];
  const item = path.findIndex((segment, index) => index >= missingFrom && !('field' in segment));
  return item === -1 ? [...path] : path.slice(0, item + 1);
}

function comparePointers(a: string, b: string): number {
  const left = a.split('/');
  const right = b.split('/');
  for (let index = 0; index < Math.min(left.length, right.length); index++) {
    const x = left[index]!;
    const y = right[index]!;
    if (x === y) continue;
    if (/^\d+$/.test(x) && /^\d+$/.test(y)) return Number(x) - Number(y);
    return x < y ? -1 : 1;
  }
  return left.length - right.length;
}

/** Pointers of every leaf (scalar, list, empty map) of a value. */
function leafPointers(value: unknown, pointer: string): string[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return [pointer];
  const entries = Object.entries(value);
  if (entries.length === 0) return [pointer];
  return entries.flatMap(([key, child]) =>
    leafPointers(child, `${pointer}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`),
  );
}
