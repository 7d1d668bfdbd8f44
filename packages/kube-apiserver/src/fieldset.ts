// Field sets and the structured merge that server-side apply is built on, modelled on
// sigs.k8s.io/structured-merge-diff (the library the apiserver uses):
// https://kubernetes.io/docs/reference/using-api/server-side-apply/#field-management
//
// A field set is a tree keyed by path elements in their fieldsV1 spelling:
//   f:<field>   a struct field or map key
//   k:<json>    an item of an associative list, by its key fields (sorted by name)
//   v:<json>    an item of a set-typed list, by value
// A node is a member of the set when the path itself is owned; fieldsV1 writes that as `.` when
// the node also has children (https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/object-meta/#System).

import { itemKey, type JsonObject, type JsonValue, type ResourceType, schemaFor } from './schema.js';

export class FieldNode {
  member = false;
  readonly children = new Map<string, FieldNode>();

  child(pe: string): FieldNode {
    let node = this.children.get(pe);
    if (!node) {
      node = new FieldNode();
      this.children.set(pe, node);
    }
    return node;
  }

  isEmpty(): boolean {
    if (this.member) return false;
    for (const c of this.children.values()) if (!c.isEmpty()) return false;
    return true;
  }

  clone(): FieldNode {
    const n = new FieldNode();
    n.member = this.member;
    for (const [k, v] of this.children) n.children.set(k, v.clone());
    return n;
  }

  /** Every member path, depth first. */
  paths(prefix: string[] = []): string[][] {
    const out: string[][] = [];
    if (this.member && prefix.length > 0) out.push(prefix);
    for (const [k, v] of sortedEntries(this.children)) out.push(...v.paths([...prefix, k]));
    return out;
  }

  has(path: string[]): boolean {
    let node: FieldNode | undefined = this;
    for (const pe of path) {
      node = node.children.get(pe);
      if (!node) return false;
    }
    return node.member;
  }

  /** True when the node at `path` or anything below it is a member. */
  hasWithin(path: string[]): boolean {
    let node: FieldNode | undefined = this;
    for (const pe of path) {
      node = node.children.get(pe);
      if (!node) return false;
    }
    return !node.isEmpty();
  }

  insert(path: string[]): void {
    let node: FieldNode = this;
    for (const pe of path) node = node.child(pe);
    node.member = true;
  }

  remove(path: string[]): void {
    const parents: FieldNode[] = [];
    let node: FieldNode | undefined = this;
    for (const pe of path) {
      parents.push(node);
      node = node.children.get(pe);
      if (!node) return;
    }
    node.member = false;
    for (let i = path.length - 1; i >= 0; i--) {
      const parent = parents[i]!;
      const pe = path[i]!;
      const n = parent.children.get(pe);
      if (n?.isEmpty()) parent.children.delete(pe);
    }
  }

  union(other: FieldNode): FieldNode {
    const out = this.clone();
    for (const p of other.paths()) out.insert(p);
    return out;
  }

  difference(other: FieldNode): FieldNode {
    const out = this.clone();
    for (const p of other.paths()) out.remove(p);
    return out;
  }

  intersection(other: FieldNode): FieldNode {
    const out = new FieldNode();
    for (const p of this.paths()) if (other.has(p)) out.insert(p);
    return out;
  }

  toFieldsV1(): JsonObject {
    const out: JsonObject = {};
    if (this.member && this.children.size > 0) out['.'] = {};
    for (const [k, v] of sortedEntries(this.children)) out[k] = v.toFieldsV1();
    return out;
  }

  static fromFieldsV1(json: JsonValue | undefined, root = true): FieldNode {
    const node = new FieldNode();
    if (!json || typeof json !== 'object' || Array.isArray(json)) return node;
    const keys = Object.keys(json);
    // `{}` below the root is a leaf member; the root itself is never a member.
    if (keys.length === 0 && !root) node.member = true;
    for (const k of keys) {
      if (k === '.') node.member = !root;
      else node.children.set(k, FieldNode.fromFieldsV1(json[k], false));
    }
    return node;
  }
}

const PE_ORDER: Record<string, number> = { f: 0, v: 1, i: 2, k: 3 };

function sortedEntries(map: Map<string, FieldNode>): [string, FieldNode][] {
  return [...map.entries()].sort(([a], [b]) => {
    const d = (PE_ORDER[a[0] ?? ''] ?? 9) - (PE_ORDER[b[0] ?? ''] ?? 9);
    return d !== 0 ? d : a < b ? -1 : a > b ? 1 : 0;
  });
}

/** Renders a path the way structured-merge-diff prints it in conflict messages: `.spec.containers[name="app"].image`. */
export function pathToString(path: string[]): string {
  let out = '';
  for (const pe of path) {
    const body = pe.slice(2);
    if (pe.startsWith('f:')) out += `.${body}`;
    else if (pe.startsWith('k:')) {
      const key = JSON.parse(body) as JsonObject;
      out += `[${Object.entries(key)
        .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
        .join(',')}]`;
    } else if (pe.startsWith('v:')) out += `[=${body}]`;
    else out += `[${body}]`;
  }
  return out;
}

export function isObject(v: JsonValue | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function join(spath: string, field: string): string {
  return spath ? `${spath}.${field}` : field;
}

function itemPE(resource: ResourceType, spath: string, item: JsonValue): string | undefined {
  const list = schemaFor(resource, spath).list ?? { type: 'atomic' };
  if (list.type === 'set') return `v:${JSON.stringify(item)}`;
  const key = itemKey(list, item);
  return key ? `k:${JSON.stringify(key)}` : undefined;
}

function isAtomicAt(resource: ResourceType, spath: string, value: JsonValue | undefined): boolean {
  const s = schemaFor(resource, spath);
  if (Array.isArray(value)) return (s.list?.type ?? 'atomic') === 'atomic';
  if (isObject(value)) return s.atomic;
  return true;
}

/**
 * The set of fields an applied configuration specifies (structured-merge-diff ToFieldSet):
 * leaves, list items, map keys of map-typed fields, and empty or null struct fields.
 */
export function toFieldSet(resource: ResourceType, config: JsonObject): FieldNode {
  const root = new FieldNode();
  collectMap(resource, config, '', root);
  return root;
}

function collectValue(resource: ResourceType, value: JsonValue, spath: string, node: FieldNode): void {
  if (isAtomicAt(resource, spath, value)) {
    node.member = true;
    return;
  }
  if (Array.isArray(value)) {
    for (const item of value) {
      const pe = itemPE(resource, spath, item);
      if (!pe) continue;
      const child = node.child(pe);
      child.member = true;
      if (isObject(item)) collectMap(resource, item, `${spath}[]`, child);
    }
    return;
  }
  collectMap(resource, value as JsonObject, spath, node);
}

function collectMap(resource: ResourceType, map: JsonObject, spath: string, node: FieldNode): void {
  const granular = schemaFor(resource, spath).granularMap;
  for (const [k, v] of Object.entries(map)) {
    const child = node.child(`f:${k}`);
    if (v === null || (isObject(v) && Object.keys(v).length === 0) || granular) child.member = true;
    if (v !== null) collectValue(resource, v, join(spath, k), child);
  }
}

/**
 * Optional (pointer) structs of the built-in types. When an Update adds one, upstream's Compare
 * sees it appear as a node of its own and the writer owns it with `.`; non-pointer structs
 * (spec, template, strategy) exist even when empty, so they never do.
 */
const POINTER_STRUCTS =
  /(^|\.)(rollingUpdate|livenessProbe|readinessProbe|startupProbe|httpGet|tcpSocket|grpc|exec|lifecycle|preStop|postStart|affinity|nodeAffinity|podAffinity|podAntiAffinity|valueFrom|fieldRef|resourceFieldRef|configMapKeyRef|secretKeyRef|configMapRef|secretRef|configMap|secret|emptyDir|persistentVolumeClaim|hostPath|projected|downwardAPI|persistentVolumeClaimRetentionPolicy|dnsConfig|seccompProfile|capabilities)$/;

function isPointerStruct(spath: string): boolean {
  return POINTER_STRUCTS.test(spath);
}

export interface Comparison {
  added: FieldNode;
  modified: FieldNode;
  removed: FieldNode;
}

/** What changed between two versions of an object (structured-merge-diff Compare). */
export function compare(resource: ResourceType, lhs: JsonObject, rhs: JsonObject): Comparison {
  const c: Comparison = { added: new FieldNode(), modified: new FieldNode(), removed: new FieldNode() };
  compareValue(resource, lhs, rhs, '', [], c);
  return c;
}

function markSubtree(
  resource: ResourceType,
  value: JsonValue,
  spath: string,
  path: string[],
  into: FieldNode,
  self: boolean,
): void {
  if (self) into.insert(path);
  if (isAtomicAt(resource, spath, value)) return;
  if (Array.isArray(value)) {
    for (const item of value) {
      const pe = itemPE(resource, spath, item);
      if (pe) markSubtree(resource, item, `${spath}[]`, [...path, pe], into, true);
    }
    return;
  }
  const granular = schemaFor(resource, spath).granularMap;
  for (const [k, v] of Object.entries(value as JsonObject)) {
    const sp = join(spath, k);
    const childSelf =
      granular || isAtomicAt(resource, sp, v) || schemaFor(resource, sp).granularMap || isPointerStruct(sp);
    markSubtree(
      resource,
      v,
      sp,
      [...path, `f:${k}`],
      into,
      childSelf || (isObject(v) && Object.keys(v).length === 0),
    );
  }
}

function compareValue(
  resource: ResourceType,
  lhs: JsonValue,
  rhs: JsonValue,
  spath: string,
  path: string[],
  c: Comparison,
): void {
  if (
    isAtomicAt(resource, spath, rhs) ||
    isAtomicAt(resource, spath, lhs) ||
    Array.isArray(lhs) !== Array.isArray(rhs)
  ) {
    if (!deepEqual(lhs, rhs)) c.modified.insert(path);
    return;
  }
  if (Array.isArray(lhs) && Array.isArray(rhs)) {
    const left = new Map<string, JsonValue>();
    for (const item of lhs) {
      const pe = itemPE(resource, spath, item);
      if (pe) left.set(pe, item);
    }
    const right = new Map<string, JsonValue>();
    for (const item of rhs) {
      const pe = itemPE(resource, spath, item);
      if (pe) right.set(pe, item);
    }
    for (const [pe, item] of right) {
      const before = left.get(pe);
      if (before === undefined) markSubtree(resource, item, `${spath}[]`, [...path, pe], c.added, true);
      else compareValue(resource, before, item, `${spath}[]`, [...path, pe], c);
    }
    for (const [pe, item] of left) {
      if (!right.has(pe)) markSubtree(resource, item, `${spath}[]`, [...path, pe], c.removed, true);
    }
    return;
  }
  const l = lhs as JsonObject;
  const r = rhs as JsonObject;
  const granular = schemaFor(resource, spath).granularMap;
  for (const [k, v] of Object.entries(r)) {
    const sp = join(spath, k);
    const p = [...path, `f:${k}`];
    if (!(k in l)) {
      const self =
        granular || isAtomicAt(resource, sp, v) || schemaFor(resource, sp).granularMap || isPointerStruct(sp);
      markSubtree(resource, v, sp, p, c.added, self || (isObject(v) && Object.keys(v).length === 0));
    } else compareValue(resource, l[k]!, v, sp, p, c);
  }
  for (const [k, v] of Object.entries(l)) {
    if (!(k in r)) markSubtree(resource, v, join(spath, k), [...path, `f:${k}`], c.removed, true);
  }
}

/** Merges an applied configuration into the live object (structured-merge-diff Merge). */
export function merge(
  resource: ResourceType,
  live: JsonValue | undefined,
  config: JsonValue,
  spath = '',
): JsonValue {
  if (live === undefined || live === null || config === null) return structuredClone(config);
  if (isAtomicAt(resource, spath, config) || Array.isArray(live) !== Array.isArray(config)) {
    return structuredClone(config);
  }
  if (Array.isArray(config) && Array.isArray(live)) {
    const list = schemaFor(resource, spath).list ?? { type: 'atomic' };
    if (list.type === 'set') {
      const out = structuredClone(live);
      for (const v of config) if (!out.some((x) => deepEqual(x, v))) out.push(structuredClone(v));
      return out;
    }
    const out: JsonValue[] = [];
    const used = new Set<string>();
    const byKey = new Map<string, JsonValue>();
    for (const item of config) {
      const pe = itemPE(resource, spath, item);
      if (pe) byKey.set(pe, item);
    }
    for (const item of live) {
      const pe = itemPE(resource, spath, item);
      const cfg = pe ? byKey.get(pe) : undefined;
      if (pe && cfg !== undefined) {
        out.push(merge(resource, item, cfg, `${spath}[]`));
        used.add(pe);
      } else out.push(structuredClone(item));
    }
    for (const item of config) {
      const pe = itemPE(resource, spath, item);
      if (!pe || !used.has(pe)) out.push(structuredClone(item));
    }
    return out;
  }
  if (!isObject(live) || !isObject(config)) return structuredClone(config);
  const out = structuredClone(live);
  for (const [k, v] of Object.entries(config)) {
    if (v === null) delete out[k];
    else out[k] = merge(resource, live[k], v, join(spath, k));
  }
  return out;
}

/**
 * Removes the fields in `remove` from `obj`, keeping any node under which `keep` still owns
 * something (structured-merge-diff prune with addBackOwnedItems).
 */
export function removeFields(
  resource: ResourceType,
  obj: JsonObject,
  remove: FieldNode,
  keep: FieldNode,
  spath = '',
  path: string[] = [],
): void {
  for (const [pe, node] of remove.children) {
    const p = [...path, pe];
    if (pe.startsWith('f:')) {
      const k = pe.slice(2);
      if (!(k in obj)) continue;
      if (node.member && !keep.hasWithin(p)) {
        delete obj[k];
        continue;
      }
      const v = obj[k]!;
      const sp = join(spath, k);
      if (isObject(v)) removeFields(resource, v, node, keep, sp, p);
      else if (Array.isArray(v)) removeItems(resource, v, node, keep, sp, p);
    }
  }
}

function removeItems(
  resource: ResourceType,
  list: JsonValue[],
  remove: FieldNode,
  keep: FieldNode,
  spath: string,
  path: string[],
): void {
  for (let i = list.length - 1; i >= 0; i--) {
    const item = list[i]!;
    const pe = itemPE(resource, spath, item);
    const node = pe ? remove.children.get(pe) : undefined;
    if (!pe || !node) continue;
    const p = [...path, pe];
    if (node.member && !keep.hasWithin(p)) list.splice(i, 1);
    else if (isObject(item)) removeFields(resource, item, node, keep, `${spath}[]`, p);
  }
}

export function deepEqual(a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || a === undefined || b === undefined) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    return a.every((v, i) => deepEqual(v, b[i]));
  }
  if (typeof a === 'object') {
    if (Array.isArray(b) || typeof b !== 'object') return false;
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    if (ka.length !== kb.length) return false;
    return ka.every((k) => k in b && deepEqual(a[k], b[k]));
  }
  return false;
}
