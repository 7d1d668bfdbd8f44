// Label and field selectors in their query-string form:
// https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors
// https://kubernetes.io/docs/concepts/overview/working-with-objects/field-selectors/

import { badRequest } from './errors.js';
import { isObject } from './fieldset.js';
import type { JsonObject, JsonValue } from './schema.js';

type Requirement =
  | { op: '=' | '!='; key: string; value: string }
  | { op: 'in' | 'notin'; key: string; values: string[] }
  | { op: 'exists' | '!'; key: string };

/** Splits on commas that are not inside `( )`. */
function splitTop(s: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (cur.trim()) parts.push(cur);
  return parts.map((p) => p.trim()).filter(Boolean);
}

export function parseLabelSelector(s: string): Requirement[] {
  return splitTop(s).map((part) => {
    let m = /^(\S+?)\s+(in|notin)\s+\(([^)]*)\)$/.exec(part);
    if (m) {
      const values = m[3]!
        .split(',')
        .map((v) => v.trim())
        .filter(Boolean);
      return { op: m[2] as 'in' | 'notin', key: m[1]!, values };
    }
    m = /^([^!=\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(part);
    if (m) return { op: m[2] === '!=' ? '!=' : '=', key: m[1]!, value: m[3]! };
    m = /^!\s*(\S+)$/.exec(part);
    if (m) return { op: '!', key: m[1]! };
    if (/^[A-Za-z0-9._/-]+$/.test(part)) return { op: 'exists', key: part };
    throw badRequest(`unable to parse requirement: ${part}`);
  });
}

export function matchRequirements(reqs: Requirement[], labels: Record<string, string>): boolean {
  return reqs.every((r) => {
    const has = Object.hasOwn(labels, r.key);
    const v = labels[r.key];
    switch (r.op) {
      case '=':
        return has && v === r.value;
      case '!=':
        return !has || v !== r.value;
      case 'in':
        return has && r.values.includes(v!);
      case 'notin':
        return !has || !r.values.includes(v!);
      case 'exists':
        return has;
      case '!':
        return !has;
    }
    return false;
  });
}

/** metav1.LabelSelector (matchLabels + matchExpressions) against a label map. */
export function matchesLabels(selector: JsonObject, labels: Record<string, string>): boolean {
  const reqs: Requirement[] = [];
  if (isObject(selector.matchLabels)) {
    for (const [k, v] of Object.entries(selector.matchLabels))
      reqs.push({ op: '=', key: k, value: String(v) });
  }
  if (Array.isArray(selector.matchExpressions)) {
    for (const e of selector.matchExpressions) {
      if (!isObject(e)) continue;
      const key = String(e.key);
      const values = Array.isArray(e.values) ? e.values.map(String) : [];
      const op = String(e.operator);
      if (op === 'In') reqs.push({ op: 'in', key, values });
      else if (op === 'NotIn') reqs.push({ op: 'notin', key, values });
      else if (op === 'Exists') reqs.push({ op: 'exists', key });
      else if (op === 'DoesNotExist') reqs.push({ op: '!', key });
    }
  }
  return matchRequirements(reqs, labels);
}

/** Field selectors: only metadata.name and metadata.namespace, as for most built-in kinds. */
export function parseFieldSelector(s: string): (obj: JsonObject) => boolean {
  const checks = splitTop(s).map((part) => {
    const m = /^([^!=\s]+)\s*(==|=|!=)\s*(.*)$/.exec(part);
    if (!m) throw badRequest(`invalid selector: '${s}'; can't understand '${part}'`);
    const field = m[1]!;
    if (field !== 'metadata.name' && field !== 'metadata.namespace') {
      throw badRequest(`field label not supported: ${field}`);
    }
    const neg = m[2] === '!=';
    const want = m[3]!;
    return (obj: JsonObject) => {
      const meta = obj.metadata as JsonObject;
      const v: JsonValue | undefined = field === 'metadata.name' ? meta.name : (meta.namespace ?? '');
      return neg ? v !== want : v === want;
    };
  });
  return (obj) => checks.every((c) => c(obj));
}
