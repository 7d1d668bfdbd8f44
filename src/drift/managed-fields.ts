import { type ManagedFieldsEntry, REMOVAL_FIELD_MANAGER } from '../kube/objects.js';
import { type Segment, valueStep } from './paths.js';

/** A field manager as shown to people: name, operation, time, and the subresource it wrote through. */
export interface ManagerRef {
  manager: string;
  operation: string;
  time?: string;
  subresource?: string;
}

/** `kubectl-edit`, or `kubectl (scale)` for writes through a subresource. */
export function managerLabel(ref: ManagerRef): string {
  return ref.subresource ? `${ref.manager} (${ref.subresource})` : ref.manager;
}

/**
 * Managers whose writes are the cluster's own bookkeeping, not a person's change: controllers
 * maintain status and annotations such as deployment.kubernetes.io/revision; gitops' removal
 * patches own only the defaults the server put back.
 */
export function isControllerManager(entry: Pick<ManagedFieldsEntry, 'manager' | 'subresource'>): boolean {
  if (entry.subresource === 'status' || entry.manager === REMOVAL_FIELD_MANAGER) return true;
  return /^(kube-controller-manager|kube-scheduler|kubelet|kube-apiserver|.*-controller(-manager)?)$/.test(
    entry.manager,
  );
}

/** Parses a fieldsV1 member name: `f:name`, `k:{json}`, `v:json`, `i:N`. */
function parseMember(member: string): Segment | { value: unknown } | undefined {
  const body = member.slice(2);
  switch (member.slice(0, 2)) {
    case 'f:':
      return { field: body };
    case 'k:':
      try {
        return { key: JSON.parse(body) as Record<string, unknown> };
      } catch {
        return undefined;
      }
    case 'i:':
      return { index: Number(body) };
    case 'v:':
      try {
        return { value: JSON.parse(body) };
      } catch {
        return undefined;
      }
    default:
      return undefined;
  }
}

/**
 * Every leaf a manager owns, as paths (structured-merge-diff's FieldsV1: a member with no children,
 * or only `.`, is a leaf; `.` alone marks the containing node itself). Set items (`v:`) end the path.
 */
export function ownedLeaves(fieldsV1: Record<string, unknown> | undefined): Segment[][] {
  const leaves: Segment[][] = [];
  walkOwnedLeaves(fieldsV1, [], (path) => leaves.push([...path]));
  return leaves;
}

/**
 * The leaves of ownedLeaves, in its order, each with the values along its path in every one of
 * `roots` (`along[i][k]` is valueAt(roots[i], path.slice(0, k)), `along[i][path.length]` the
 * leaf's own): one walk down each object for all leaves, not one per leaf and prefix. `path` and
 * `along` change as the walk goes on: copy what is kept.
 */
export function walkOwnedLeaves<Roots extends readonly unknown[]>(
  fieldsV1: Record<string, unknown> | undefined,
  roots: Roots,
  visit: (path: readonly Segment[], along: { readonly [I in keyof Roots]: readonly unknown[] }) => void,
): void {
  if (!fieldsV1) return;
  const path: Segment[] = [];
  const along = roots.map((root) => [root]);
  const seen = along as unknown as { readonly [I in keyof Roots]: readonly unknown[] };
  // Index loops and no per-node arrays: this runs for every field of every object, mostly cold.
  const walk = (node: Record<string, unknown>, parentField: string | undefined) => {
    for (const member of Object.keys(node)) {
      if (member === '.') continue;
      const segment = parseMember(member);
      if (!segment) continue;
      if ('value' in segment) {
        visit(path, seen);
        continue;
      }
      path.push(segment);
      for (let i = 0; i < along.length; i++) {
        const values = along[i]!;
        values.push(valueStep(values[values.length - 1], parentField, segment));
      }
      const child = node[member];
      if (hasMembers(child)) walk(child, 'field' in segment ? segment.field : parentField);
      else visit(path, seen);
      path.pop();
      for (let i = 0; i < along.length; i++) along[i]!.pop();
    }
  };
  walk(fieldsV1, undefined);
}

/** Whether a FieldsV1 node has members below it (`.` alone marks the node itself: a leaf). */
function hasMembers(node: unknown): node is Record<string, unknown> {
  if (!node || typeof node !== 'object') return false;
  for (const key of Object.keys(node)) if (key !== '.') return true;
  return false;
}

function segmentMatches(member: Segment, wanted: Segment): boolean {
  if ('field' in member && 'field' in wanted) return member.field === wanted.field;
  if ('index' in member && 'index' in wanted) return member.index === wanted.index;
  if ('key' in member && 'key' in wanted) {
    return Object.entries(member.key).every(
      ([name, value]) => wanted.key[name] === undefined || String(wanted.key[name]) === String(value),
    );
  }
  return false;
}

/** Whether a manager's field set covers `path` (owns it or something above or below it). */
export function owns(fieldsV1: Record<string, unknown> | undefined, path: readonly Segment[]): boolean {
  let node: Record<string, unknown> | undefined = fieldsV1;
  for (const wanted of path) {
    if (!node) return false;
    const entry = Object.entries(node).find(([member]) => {
      const segment = parseMember(member);
      return segment !== undefined && !('value' in segment) && segmentMatches(segment, wanted);
    });
    if (!entry) return false;
    const child = entry[1];
    if (!child || typeof child !== 'object' || Object.keys(child).every((key) => key === '.')) return true;
    node = child as Record<string, unknown>;
  }
  return true;
}

/** Managers other than `self` that own `path`, newest first. */
export function foreignOwners(
  entries: readonly ManagedFieldsEntry[] | undefined,
  path: readonly Segment[],
  self: string,
): ManagerRef[] {
  return (entries ?? [])
    .filter((entry) => entry.manager !== self && owns(entry.fieldsV1, path))
    .sort((a, b) => (b.time ?? '').localeCompare(a.time ?? ''))
    .map((entry) => ({
      manager: entry.manager,
      operation: entry.operation,
      ...(entry.time ? { time: entry.time } : {}),
      ...(entry.subresource ? { subresource: entry.subresource } : {}),
    }));
}
