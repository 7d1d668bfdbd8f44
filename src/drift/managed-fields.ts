import { type ManagedFieldsEntry, REMOVAL_FIELD_MANAGER } from '../kube/objects.js';
import type { Segment } from './paths.js';

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
  const walk = (node: Record<string, unknown>, path: Segment[]) => {
    for (const [member, child] of Object.entries(node)) {
      if (member === '.') continue;
      const segment = parseMember(member);
      if (!segment) continue;
      if ('value' in segment) {
        leaves.push(path);
        continue;
      }
      const next = [...path, segment];
      const children =
        child && typeof child === 'object' ? Object.keys(child).filter((key) => key !== '.') : [];
      if (children.length === 0) leaves.push(next);
      else walk(child as Record<string, unknown>, next);
    }
  };
  if (fieldsV1) walk(fieldsV1, []);
  return leaves;
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
