import type { Alias, Document, Node, Scalar, YAMLMap, YAMLSeq } from 'yaml';
import { documentProblem } from '../core/input-guards.js';
import { isAlias, isMap, isPair, isScalar, isSeq, parseAllDocuments } from '../core/yaml.js';

/** A key or index on the way from a document's root to a node. */
export type YamlPath = Array<string | number>;

/** One parsed document and where its text starts in the file (ranges of its nodes are relative). */
export interface ParsedDocument {
  doc: Document.Parsed;
  offset: number;
}

/** A scalar (or an alias to one) found while walking a document. */
export interface ScalarHit {
  /** The scalar holding the bytes; for an alias, the anchored scalar it points to. */
  scalar: Scalar;
  /** Absolute [start, end) of the scalar's source token in the file (quotes included). */
  start: number;
  end: number;
  /** The scalar's value as a string (numbers and booleans as written). */
  value: string;
  /** Where the alias or scalar sits (what a re-parse would show as changed). */
  path: YamlPath;
  /** Absolute offset where the value appears here (the alias for an alias, else `start`). */
  at: number;
  viaAlias: boolean;
}

// A line that starts with `---` or `...` ends a document even inside a scalar (YAML 1.2, 9.1.3
// "c-forbidden"), so splitting there is exact; it lets us parse only the documents that can matter.
const DOCUMENT_MARKER = /^---(?=[ \t\r\n]|$)/gm;

/**
 * A YAML file held as text, parsed lazily: whole, or only the documents that contain a needle.
 * All offsets are absolute offsets into `text`; lines are 1-based.
 */
export class YamlFile {
  readonly eol: '\r\n' | '\n';
  private lineStarts: number[] | undefined;
  private parsed: ParsedDocument[] | undefined;
  private parsedAll = false;
  /** Documents parsed one at a time, by the offset where their text starts. */
  private readonly chunks = new Map<number, ParsedDocument[]>();

  constructor(
    /** Path relative to the environment directory (or to it with `../` for files outside). */
    readonly file: string,
    readonly text: string,
  ) {
    const lf = text.indexOf('\n');
    this.eol = lf > 0 && text[lf - 1] === '\r' ? '\r\n' : '\n';
  }

  /** 1-based line of an absolute offset. */
  lineOf(offset: number): number {
    if (!this.lineStarts) {
      const starts = [0];
      for (let i = this.text.indexOf('\n'); i !== -1; i = this.text.indexOf('\n', i + 1)) starts.push(i + 1);
      this.lineStarts = starts;
    }
    const starts = this.lineStarts;
    let low = 0;
    let high = starts.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if (starts[mid]! <= offset) low = mid;
      else high = mid - 1;
    }
    return low + 1;
  }

  /** Column (0-based) of an absolute offset. */
  columnOf(offset: number): number {
    const lineStart = this.text.lastIndexOf('\n', offset - 1) + 1;
    return offset - lineStart;
  }

  /** Every document of the file. */
  documents(): ParsedDocument[] {
    if (!this.parsedAll) {
      this.parsed = parseDocuments(this.text, 0);
      this.parsedAll = true;
    }
    return this.parsed!;
  }

  /**
   * Only the documents whose text contains one of `needles` (every document when the file has
   * directives, which bind across `---`). Cheap for large multi-document files.
   */
  documentsContaining(needles: readonly string[]): ParsedDocument[] {
    if (this.parsedAll) return this.parsed!;
    if (/^%/m.test(this.text)) return this.documents();
    const starts = [0];
    for (const match of this.text.matchAll(DOCUMENT_MARKER)) if (match.index > 0) starts.push(match.index);
    if (starts.length === 1) return this.documents();
    const result: ParsedDocument[] = [];
    for (let i = 0; i < starts.length; i++) {
      const start = starts[i]!;
      const end = starts[i + 1] ?? this.text.length;
      const chunk = this.text.slice(start, end);
      if (!needles.some((needle) => chunk.includes(needle))) continue;
      let docs = this.chunks.get(start);
      if (!docs) {
        docs = parseDocuments(chunk, start);
        this.chunks.set(start, docs);
      }
      result.push(...docs);
    }
    return result;
  }
}

function parseDocuments(text: string, offset: number): ParsedDocument[] {
  // uniqueKeys: a duplicate key is an error we refuse on, never "last one wins".
  const docs = parseAllDocuments(text, { uniqueKeys: true });
  if (!Array.isArray(docs)) return [];
  return docs.map((doc) => ({ doc, offset }));
}

/**
 * Why a document of the file is refused (a YAML error, a duplicate key, nesting, a control
 * character in a value, an alias bomb), with its line, or undefined: the input guard the render
 * path applies too (core/input-guards.ts), so both refuse the same input with the same words.
 */
export function documentError(
  file: YamlFile,
  parsed: ParsedDocument,
): { line: number; reason: string } | undefined {
  const problem = documentProblem(parsed.doc, {
    text: file.text,
    offset: parsed.offset,
    lineOf: (offset) => file.lineOf(offset),
  });
  return problem ? { line: problem.line ?? 1, reason: problem.reason } : undefined;
}

export function scalarText(node: unknown): string | undefined {
  if (!isScalar(node)) return undefined;
  const { value } = node;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return node.source ?? String(value);
  return undefined;
}

/** The value of `key` in a map, if the key is a plain string. */
export function mapGet(map: YAMLMap, key: string): unknown {
  for (const item of map.items) {
    if (isScalar(item.key) && item.key.value === key) return item.value;
  }
  return undefined;
}

/** Resolves an alias to the node it names (within its document). */
export function resolve(parsed: ParsedDocument, node: unknown): unknown {
  if (isAlias(node)) return (node as Alias).resolve(parsed.doc);
  return node;
}

/** A scalar value (or alias to one) as a hit with absolute offsets; undefined for anything else. */
export function scalarHit(parsed: ParsedDocument, node: unknown, path: YamlPath): ScalarHit | undefined {
  const viaAlias = isAlias(node);
  const target = resolve(parsed, node);
  if (!isScalar(target) || !target.range) return undefined;
  // An empty value (`tag:`) is null to a parser, but it is a slot a value can be written into.
  const value = target.value === null && target.source === '' ? '' : scalarText(target);
  if (value === undefined) return undefined;
  const start = target.range[0] + parsed.offset;
  const end = target.range[1] + parsed.offset;
  const at = viaAlias && (node as Alias).range ? (node as Alias).range![0] + parsed.offset : start;
  return { scalar: target, start, end, value, path, at, viaAlias };
}

/** Visits every map (with its path) in a document, depth first, in source order. Aliases are not followed. */
export function walkMaps(
  root: unknown,
  visit: (map: YAMLMap, path: YamlPath) => void,
  path: YamlPath = [],
): void {
  if (isMap(root)) {
    visit(root, path);
    for (const item of root.items) {
      if (!isPair(item)) continue;
      const key = isScalar(item.key) ? String(item.key.value) : undefined;
      if (key === undefined) continue;
      walkMaps(item.value, visit, [...path, key]);
    }
  } else if (isSeq(root)) {
    root.items.forEach((item, index) => {
      walkMaps(item, visit, [...path, index]);
    });
  }
}

/** Visits every scalar-ish value (map values and sequence items) with its path. */
export function walkValues(
  root: unknown,
  visit: (node: unknown, path: YamlPath, key: string | undefined) => void,
  path: YamlPath = [],
): void {
  if (isMap(root)) {
    for (const item of root.items) {
      if (!isPair(item)) continue;
      const key = isScalar(item.key) ? String(item.key.value) : undefined;
      if (key === undefined) continue;
      const child = [...path, key];
      if (isMap(item.value) || isSeq(item.value)) walkValues(item.value, visit, child);
      else visit(item.value, child, key);
    }
  } else if (isSeq(root)) {
    root.items.forEach((item, index) => {
      if (isMap(item) || isSeq(item)) walkValues(item, visit, [...path, index]);
      else visit(item, [...path, index], undefined);
    });
  }
}

export type { Node, Scalar, YAMLMap, YAMLSeq };
