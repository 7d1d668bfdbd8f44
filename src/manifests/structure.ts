import type { Pair, YAMLMap, YAMLSeq } from 'yaml';
import { isScalar } from '../core/yaml.js';
import { type FilePlan, needsQuotes } from './plan.js';
import type { ParsedDocument, YamlPath } from './yaml-file.js';

/** A string value as a plain scalar, or double-quoted when plain would read as another type. */
export function plainOrQuoted(value: string): string {
  return needsQuotes(value) ? `"${value}"` : value;
}

/** Offset just past the end of the line holding `offset` (or the end of the text). */
function lineEnd(text: string, offset: number): number {
  if (offset > 0 && text[offset - 1] === '\n') return offset;
  const newline = text.indexOf('\n', offset);
  return newline === -1 ? text.length : newline + 1;
}

/**
 * Adds `key: value` to a map, after its last entry, in the map's own style: a new line at the
 * indentation of its keys for a block map, `, key: value` before the `}` of a flow map.
 */
export function addMapKey(
  plan: FilePlan,
  parsed: ParsedDocument,
  map: YAMLMap,
  key: string,
  value: string,
  path: YamlPath,
  owner: string,
): boolean {
  const { text, eol } = plan.yaml;
  const expect = [{ path: [...path, key], after: value }];
  const entry = `${key}: ${plainOrQuoted(value)}`;
  if (!map.range) return false;
  const end = map.range[1] + parsed.offset;
  if (map.flow) {
    const close = text.lastIndexOf('}', end - 1);
    if (close === -1) return false;
    let at = close;
    while (at > 0 && /\s/.test(text[at - 1]!)) at--;
    const empty = text[at - 1] === '{';
    plan.insert(at, empty ? entry : `, ${entry}`, expect, owner);
    return true;
  }
  const first = map.items[0];
  const last = map.items.at(-1);
  if (!first || !last || !isScalar(first.key) || !first.key.range) return false;
  const indent = ' '.repeat(plan.yaml.columnOf(first.key.range[0] + parsed.offset));
  const lastEnd = lastNodeEnd(last) + parsed.offset;
  const at = lineEnd(text, lastEnd);
  if (at === text.length && !text.endsWith('\n')) {
    // Keep a missing final newline missing.
    plan.insert(at, `${eol}${indent}${entry}`, expect, owner);
  } else {
    plan.insert(at, `${indent}${entry}${eol}`, expect, owner);
  }
  return true;
}

function lastNodeEnd(pair: Pair): number {
  const value = pair.value as { range?: [number, number, number] } | null;
  if (value?.range) return value.range[1];
  const key = pair.key as { range?: [number, number, number] };
  return key.range?.[1] ?? 0;
}

/**
 * Removes a `key: value` line from a block map. Refuses (returns false) for flow maps, for the
 * first key of a sequence item (`- key: value`) and for values spanning several lines.
 */
export function removeMapPair(
  plan: FilePlan,
  parsed: ParsedDocument,
  map: YAMLMap,
  pair: Pair,
  path: YamlPath,
  owner: string,
): boolean {
  const { text } = plan.yaml;
  if (map.flow || !isScalar(pair.key) || !pair.key.range) return false;
  const keyStart = pair.key.range[0] + parsed.offset;
  const start = text.lastIndexOf('\n', keyStart - 1) + 1;
  if (text.slice(start, keyStart).trim() !== '') return false;
  const end = lineEnd(text, lastNodeEnd(pair) + parsed.offset);
  if (text.slice(keyStart, end).trimEnd().includes('\n')) return false;
  plan.remove(start, end, [{ path: [...path, String(pair.key.value)], after: undefined }], owner);
  return true;
}

/**
 * Appends a map (given as ordered `key: value` entries) to a sequence of maps, in the sequence's
 * style: `- key: value` lines at the indentation of its items, or `, {key: value}` in a flow
 * sequence. Returns the line the new item starts on (in the edited file), or undefined when the
 * sequence's layout is not one this can extend.
 */
export function appendMapItem(
  plan: FilePlan,
  parsed: ParsedDocument,
  seq: YAMLSeq,
  entries: Array<[string, string]>,
  path: YamlPath,
  owner: string,
  /** How many items this plan appended to the same sequence before this one. */
  appendedBefore = 0,
): number | undefined {
  const { text, eol } = plan.yaml;
  if (!seq.range) return undefined;
  const expect = [{ path: [...path, seq.items.length + appendedBefore], after: Object.fromEntries(entries) }];
  const end = seq.range[1] + parsed.offset;
  if (seq.flow) {
    const close = text.lastIndexOf(']', end - 1);
    if (close === -1) return undefined;
    let at = close;
    while (at > 0 && /\s/.test(text[at - 1]!)) at--;
    const item = `{${entries.map(([key, value]) => `${key}: ${plainOrQuoted(value)}`).join(', ')}}`;
    plan.insert(at, text[at - 1] === '[' ? item : `, ${item}`, expect, owner);
    return plan.yaml.lineOf(at);
  }
  const first = seq.items[0] as { range?: [number, number, number] } | undefined;
  const last = seq.items.at(-1) as { range?: [number, number, number] } | undefined;
  if (!first?.range || !last?.range) return undefined;
  // The item's node starts after "- "; the dash sits before it on the same line.
  const itemColumn = plan.yaml.columnOf(first.range[0] + parsed.offset);
  const dash = text.lastIndexOf('-', first.range[0] + parsed.offset - 1);
  if (dash === -1) return undefined;
  const dashColumn = plan.yaml.columnOf(dash);
  const lines = entries.map(
    ([key, value], index) =>
      `${' '.repeat(index === 0 ? dashColumn : itemColumn)}${index === 0 ? `-${' '.repeat(itemColumn - dashColumn - 1)}` : ''}${key}: ${plainOrQuoted(value)}`,
  );
  const at = lineEnd(text, last.range[1] + parsed.offset);
  const block = lines.join(eol);
  if (at === text.length && !text.endsWith('\n')) {
    plan.insert(at, `${eol}${block}`, expect, owner);
    return plan.yaml.lineOf(at) + 1;
  }
  plan.insert(at, `${block}${eol}`, expect, owner);
  return plan.yaml.lineOf(at);
}

/**
 * Turns `old: value` into `key: value` in place (only the key and value tokens change), keeping
 * the line, its `- ` and its comment: how a kustomize `newTag` becomes a `digest` and back.
 */
export function replaceMapPair(
  plan: FilePlan,
  parsed: ParsedDocument,
  pair: Pair,
  key: string,
  value: string,
  path: YamlPath,
  owner: string,
): boolean {
  const valueNode = pair.value as { range?: [number, number, number] } | null;
  if (!isScalar(pair.key) || !pair.key.range || !valueNode?.range) return false;
  const start = pair.key.range[0] + parsed.offset;
  const end = valueNode.range[1] + parsed.offset;
  if (plan.yaml.text.slice(start, end).includes('\n')) return false;
  plan.insert(start, `${key}: ${plainOrQuoted(value)}`, [], owner);
  plan.remove(
    start,
    end,
    [
      { path: [...path, String(pair.key.value)], after: undefined },
      { path: [...path, key], after: value },
    ],
    owner,
  );
  return true;
}
