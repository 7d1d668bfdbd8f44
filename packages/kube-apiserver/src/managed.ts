// metadata.managedFields bookkeeping for Apply and Update operations, following the apiserver's
// fieldmanager (k8s.io/apiserver/pkg/endpoints/handlers/fieldmanager) on top of fieldset.ts.
// Spec: https://kubernetes.io/docs/reference/using-api/server-side-apply/

import { ApiError } from './errors.js';
import { compare, FieldNode, isObject, merge, pathToString, removeFields, toFieldSet } from './fieldset.js';
import { apiVersionOf, type JsonObject, type JsonValue, type ResourceType } from './schema.js';

export interface ManagedEntry {
  manager: string;
  operation: 'Apply' | 'Update';
  apiVersion: string;
  time?: string;
  fieldsType: 'FieldsV1';
  fieldsV1: JsonObject;
  subresource?: string;
}

export function nowRfc3339(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

/**
 * Fields the field manager never tracks (fieldmanager/internal/stripmeta.go): identity and
 * server-owned metadata. Status of a resource with a status subresource is reset on main-resource
 * writes, and everything but status on status writes ("reset fields").
 */
function strip(set: FieldNode, resource: ResourceType, subresource: string | undefined): FieldNode {
  const out = set.clone();
  for (const f of ['f:apiVersion', 'f:kind']) out.children.delete(f);
  const meta = out.children.get('f:metadata');
  if (meta) {
    meta.member = false;
    for (const f of [
      'f:name',
      'f:namespace',
      'f:creationTimestamp',
      'f:selfLink',
      'f:uid',
      'f:generation',
      'f:managedFields',
      'f:resourceVersion',
      'f:deletionTimestamp',
    ]) {
      meta.children.delete(f);
    }
    if (meta.isEmpty()) out.children.delete('f:metadata');
  }
  if (resource.subresources.includes('status')) {
    if (subresource === 'status') {
      for (const k of [...out.children.keys()]) if (k !== 'f:status') out.children.delete(k);
    } else out.children.delete('f:status');
  }
  if (subresource === 'scale') {
    for (const k of [...out.children.keys()]) if (k !== 'f:spec') out.children.delete(k);
  }
  return out;
}

function readEntries(obj: JsonObject): ManagedEntry[] {
  const meta = obj.metadata as JsonObject | undefined;
  const mf = meta?.managedFields;
  return Array.isArray(mf) ? (structuredClone(mf) as unknown as ManagedEntry[]) : [];
}

function sameEntry(e: ManagedEntry, manager: string, op: string, sub: string | undefined): boolean {
  return e.manager === manager && e.operation === op && (e.subresource ?? '') === (sub ?? '');
}

/** The order the apiserver stores entries in (internal/managedfields.go sortEncodedManagedFields). */
function sortEntries(entries: ManagedEntry[]): ManagedEntry[] {
  return entries.sort((p, q) => {
    if (p.operation !== q.operation) return p.operation < q.operation ? -1 : 1;
    const pt = p.time ? Date.parse(p.time) : 0;
    const qt = q.time ? Date.parse(q.time) : 0;
    if (pt !== qt) return pt - qt;
    if (p.manager !== q.manager) return p.manager < q.manager ? -1 : 1;
    if (p.apiVersion !== q.apiVersion) return p.apiVersion < q.apiVersion ? -1 : 1;
    return (p.subresource ?? '') < (q.subresource ?? '') ? -1 : 1;
  });
}

function managerLabel(e: ManagedEntry): string {
  let s = JSON.stringify(e.manager);
  if (e.subresource) s += ` with subresource ${JSON.stringify(e.subresource)}`;
  if (e.operation === 'Update') s += ` using ${e.apiVersion}${e.time ? ` at ${e.time}` : ''}`;
  return s;
}

interface Conflict {
  entry: ManagedEntry;
  path: string[];
}

/**
 * 409 with one FieldManagerConflict cause per field; message form from
 * fieldmanager/internal/conflict.go (https://kubernetes.io/docs/reference/using-api/server-side-apply/#conflicts).
 */
function conflictError(conflicts: Conflict[]): ApiError {
  const causes = conflicts.map((c) => ({
    type: 'FieldManagerConflict',
    message: `conflict with ${managerLabel(c.entry)}`,
    field: pathToString(c.path),
  }));
  let message: string;
  if (conflicts.length === 1) {
    const c = conflicts[0]!;
    message = `Apply failed with 1 conflict: conflict with ${managerLabel(c.entry)}: ${pathToString(c.path)}`;
  } else {
    const byManager = new Map<string, string[]>();
    for (const c of conflicts) {
      const label = managerLabel(c.entry);
      byManager.set(label, [...(byManager.get(label) ?? []), pathToString(c.path)]);
    }
    const lines: string[] = [];
    for (const label of [...byManager.keys()].sort()) {
      lines.push(`conflicts with ${label}:`);
      for (const p of byManager.get(label)!) lines.push(`- ${p}`);
    }
    message = `Apply failed with ${conflicts.length} conflicts: ${lines.join('\n')}`;
  }
  return new ApiError(409, 'Conflict', message, { causes });
}

export interface FieldManagerResult {
  object: JsonObject;
  managedFields: ManagedEntry[];
}

function finish(
  entries: ManagedEntry[],
  sets: Map<ManagedEntry, FieldNode>,
  changed: boolean,
  mine: ManagedEntry,
): ManagedEntry[] {
  const out: ManagedEntry[] = [];
  for (const e of entries) {
    const set = sets.get(e) ?? FieldNode.fromFieldsV1(e.fieldsV1);
    if (set.isEmpty()) continue;
    const fieldsV1 = set.toFieldsV1();
    // The timestamp only moves when this write changed the object (managedfieldsupdater.go).
    if (e === mine && (changed || !e.time)) e.time = nowRfc3339();
    e.fieldsV1 = fieldsV1;
    out.push(e);
  }
  return sortEntries(out);
}

function withoutMeta(obj: JsonObject): JsonObject {
  const out = structuredClone(obj);
  if (isObject(out.metadata)) delete out.metadata.managedFields;
  return out;
}

/**
 * Server-side apply (structured-merge-diff Updater.Apply): merge the configuration into the live
 * object, make the applier own exactly what it sent, prune what it stopped sending and nobody
 * else owns, and refuse (409) or force-take fields another manager owns whose value changes.
 */
export function applyConfig(
  resource: ResourceType,
  live: JsonObject,
  config: JsonObject,
  manager: string,
  force: boolean,
  subresource?: string,
): FieldManagerResult {
  const entries = readEntries(live);
  const liveObj = withoutMeta(live);
  const sets = new Map<ManagedEntry, FieldNode>();
  for (const e of entries) sets.set(e, FieldNode.fromFieldsV1(e.fieldsV1));

  let mine = entries.find((e) => sameEntry(e, manager, 'Apply', subresource));
  const lastSet = mine ? sets.get(mine)! : new FieldNode();
  const newSet = strip(toFieldSet(resource, config), resource, subresource);
  let merged = merge(resource, liveObj, config) as JsonObject;

  // Prune fields this manager applied last time and no longer applies, unless someone else owns them.
  const others = new FieldNode();
  for (const [e, s] of sets) if (e !== mine) mergeInto(others, s);
  const keep = others.union(newSet);
  merged = structuredClone(merged);
  removeFields(resource, merged, lastSet.difference(newSet), keep);

  // Empty label/annotation maps do not survive storage (omitempty), so they change nothing.
  if (isObject(merged.metadata)) {
    for (const k of ['labels', 'annotations']) {
      const v = merged.metadata[k];
      if (isObject(v) && Object.keys(v).length === 0) delete merged.metadata[k];
    }
  }
  const cmp = compare(resource, liveObj, merged);
  const changed = cmp.added.union(cmp.modified);
  const conflicts: Conflict[] = [];
  for (const [e, s] of sets) {
    if (e === mine) continue;
    for (const p of s.intersection(changed).paths()) conflicts.push({ entry: e, path: p });
  }
  if (conflicts.length > 0 && !force) throw conflictError(conflicts);
  for (const [e, s] of sets) {
    if (e === mine) continue;
    let next = s.difference(cmp.removed);
    if (force) next = next.difference(changed);
    sets.set(e, next);
  }
  if (!mine) {
    mine = {
      manager,
      operation: 'Apply',
      apiVersion: apiVersionOf(resource),
      fieldsType: 'FieldsV1',
      fieldsV1: {},
      ...(subresource ? { subresource } : {}),
    };
    entries.push(mine);
  }
  mine.apiVersion = apiVersionOf(resource);
  sets.set(mine, newSet);
  const objectChanged = !changed.isEmpty() || !cmp.removed.isEmpty();
  const setChanged = JSON.stringify(lastSet.toFieldsV1()) !== JSON.stringify(newSet.toFieldsV1());
  return { object: merged, managedFields: finish(entries, sets, objectChanged || setChanged, mine) };
}

function mergeInto(into: FieldNode, s: FieldNode): void {
  for (const p of s.paths()) into.insert(p);
}

/**
 * The managedFields a non-apply write starts from: the ones in the request when it changed them
 * (a client may rewrite managedFields, e.g. kubectl's client-side-apply upgrade; `[{}]` clears
 * them), else the stored ones (fieldmanager.go Update: "allow directly updating managed fields").
 */
export function suppliedEntries(
  requested: JsonValue | undefined,
  stored: JsonValue | undefined,
): ManagedEntry[] | undefined {
  if (!Array.isArray(requested) || requested.length === 0) return undefined;
  if (JSON.stringify(requested) === JSON.stringify(stored ?? [])) return undefined;
  const valid = requested.filter((e) => isObject(e) && typeof e.manager === 'string' && e.manager !== '');
  return structuredClone(valid) as unknown as ManagedEntry[];
}

/**
 * A non-apply write (create, update, merge/JSON/strategic patch): the writer takes every field it
 * changed or added; fields it removed leave every manager (structured-merge-diff Updater.Update).
 */
export function recordUpdate(
  resource: ResourceType,
  live: JsonObject | undefined,
  next: JsonObject,
  manager: string,
  subresource?: string,
  baseEntries?: ManagedEntry[],
): ManagedEntry[] {
  const entries = baseEntries ? structuredClone(baseEntries) : live ? readEntries(live) : [];
  const before = live ? withoutMeta(live) : { metadata: {} };
  const after = withoutMeta(next);
  const cmp = compare(resource, before, after);
  const sets = new Map<ManagedEntry, FieldNode>();
  const changed = strip(cmp.added.union(cmp.modified), resource, subresource);
  for (const e of entries) {
    sets.set(e, FieldNode.fromFieldsV1(e.fieldsV1).difference(cmp.removed).difference(changed));
  }
  let mine = entries.find((e) => sameEntry(e, manager, 'Update', subresource));
  if (!mine) {
    mine = {
      manager,
      operation: 'Update',
      apiVersion: apiVersionOf(resource),
      fieldsType: 'FieldsV1',
      fieldsV1: {},
      ...(subresource ? { subresource } : {}),
    };
    entries.push(mine);
  }
  const prev = FieldNode.fromFieldsV1(mine.fieldsV1).difference(cmp.removed);
  sets.set(mine, prev.union(changed));
  const objectChanged = !changed.isEmpty() || !cmp.removed.isEmpty();
  return finish(entries, sets, objectChanged, mine);
}
