/*
 * Guards for text gitops reads from files it does not control (gitops.yaml, env-repo manifests,
 * what a renderer reads and prints): all can be hostile or just broken, and all are read by a
 * process holding push rights and cluster credentials. Refuse with exit 2 and a position, never
 * crash, never hang. The edit path and the render path both go through the functions below, so a
 * file refused by one is refused by the other, with the same words.
 */
import { isUtf8 } from 'node:buffer';
import type { Document, Node, YAMLError } from 'yaml';
import { isAlias, isMap, isPair, isScalar, isSeq } from './yaml.js';

/** A file larger than this is not read whole: env repos hold hand-written YAML, not data dumps. */
export const MAX_FILE_BYTES = 8 * 1024 * 1024;
/**
 * All that one render (its inputs and the renderer's output) or one edit reads, together: three
 * files just under the per-file limit must not cost gigabytes of memory and minutes of parsing.
 */
export const MAX_TOTAL_BYTES = 64 * 1024 * 1024;
/** Maps and sequences nested deeper than this are refused (a CRD schema reaches a few dozen). */
export const MAX_NESTING_DEPTH = 256;

/** Why input is refused, with its 1-based line when there is one. */
export interface InputProblem {
  line?: number;
  /** 1-based column (in characters) when the parser names one. */
  column?: number;
  reason: string;
}

export function megabytes(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

/**
 * Counts the bytes read for one render or one edit against the per-file and total budgets.
 * `take` returns the refusal once a file, or everything so far, is over its budget.
 */
export class ReadBudget {
  private used = 0;

  constructor(
    readonly perFile = MAX_FILE_BYTES,
    readonly total = MAX_TOTAL_BYTES,
  ) {}

  take(bytes: number): InputProblem | undefined {
    if (bytes > this.perFile)
      return {
        reason: `the file is ${megabytes(bytes)}, larger than the ${megabytes(this.perFile)} gitops reads from one file; split it`,
      };
    this.used += bytes;
    if (this.used > this.total)
      return {
        reason: `with this file, what is read comes to ${megabytes(this.used)}, more than the ${megabytes(this.total)} gitops reads for one environment; split the environment`,
      };
    return undefined;
  }
}

/**
 * Characters YAML does not allow in a stream (YAML 1.2, 5.1 "c-printable": tab, LF, CR, NEL and
 * the printable ranges), written raw or as an escape (`"\0"`, `"\x07"`): control characters that
 * terminals, logs and the programs reading the values interpret.
 */
const NOT_PRINTABLE = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u0084\u0086-\u009F\uFFFE\uFFFF]/;

function controlCharacterReason(character: string, line: number, where = ''): string {
  const code = character.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
  return `control character U+${code}${where} at line ${line}: YAML text and values may hold tab, line feed and carriage return, no other control characters`;
}

function lineAt(text: string, index: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i !== -1 && i < index; i = text.indexOf('\n', i + 1)) line++;
  return line;
}

/**
 * Decodes a YAML file's bytes: refused when they are not UTF-8 (decoding would turn them into
 * U+FFFD, and writing the file back would change bytes nobody asked to change) or hold a control
 * character.
 */
export function decodeText(bytes: Uint8Array): { text: string } | { problem: InputProblem } {
  const invalid = invalidUtf8Offset(bytes);
  if (invalid !== undefined) {
    const { line } = bytePosition(bytes, invalid);
    return {
      problem: {
        line,
        reason: `not valid UTF-8 at line ${line} (byte 0x${bytes[invalid]!.toString(16).padStart(2, '0')}): YAML is UTF-8 text, and decoding would turn the byte into U+FFFD`,
      },
    };
  }
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  const problem = controlProblem(text);
  return problem ? { problem } : { text };
}

/** The first control character YAML does not allow in a text (see NOT_PRINTABLE), or undefined. */
export function controlProblem(text: string): InputProblem | undefined {
  const control = NOT_PRINTABLE.exec(text);
  if (!control) return undefined;
  const line = lineAt(text, control.index);
  return { line, reason: controlCharacterReason(control[0], line) };
}

/** Where a parsed document sits in its file: the text, the document's offset in it, and lines. */
export interface DocumentSource {
  /** The whole file's text. */
  text: string;
  /** Offset of the parsed text within the file: node ranges are relative to it. */
  offset: number;
  /** 1-based line of an absolute offset in the file. */
  lineOf(offset: number): number;
}

/**
 * The first reason to refuse one parsed YAML document: a YAML error (a duplicate key is never
 * "last one wins"), nesting deeper than MAX_NESTING_DEPTH, a control character in a key or value
 * (written as an escape: the raw ones `decodeText` refuses), or aliases that expand it past
 * MAX_ALIAS_EXPANSION nodes. Linear in the document's size; no recursion.
 */
export function documentProblem(doc: Document, source: DocumentSource): InputProblem | undefined {
  const error = doc.errors[0];
  if (error) return yamlErrorProblem(error, source);
  type Frame = { node: unknown; depth: number };
  const stack: Frame[] = doc.contents ? [{ node: doc.contents, depth: 0 }] : [];
  while (stack.length > 0) {
    const { node, depth } = stack.pop()!;
    const at = (node as Node).range?.[0];
    const line = () => source.lineOf(source.offset + (at ?? 0));
    if (isScalar(node)) {
      const value = node.value;
      const control = typeof value === 'string' ? NOT_PRINTABLE.exec(value) : null;
      if (control) return { line: line(), reason: controlCharacterReason(control[0], line(), ' in a value') };
      continue;
    }
    if (!isMap(node) && !isSeq(node)) continue;
    if (depth >= MAX_NESTING_DEPTH) return depthProblem(line());
    for (const item of node.items as unknown[]) {
      if (isPair(item)) {
        if (item.value) stack.push({ node: item.value, depth: depth + 1 });
        if (item.key) stack.push({ node: item.key, depth: depth + 1 });
      } else if (item) stack.push({ node: item, depth: depth + 1 });
    }
  }
  // Aliases need a "*"; most documents have none, so most skip the walk.
  if (!source.text.includes('*')) return undefined;
  const bomb = findAliasBomb(doc);
  if (!bomb) return undefined;
  const line = source.lineOf(source.offset + bomb.offset);
  return {
    line,
    reason: `aliases expand this document by more than ${MAX_ALIAS_EXPANSION} nodes (the alias at line ${line}; an alias bomb?)`,
  };
}

function depthProblem(line: number): InputProblem {
  return {
    line,
    reason: `nested more than ${MAX_NESTING_DEPTH} levels deep at line ${line}: no manifest needs that, and a parser may run out of stack`,
  };
}

function yamlErrorProblem(error: YAMLError, source: DocumentSource): InputProblem {
  const at = source.offset + (error.pos[0] ?? 0);
  const line = source.lineOf(at);
  // The parser's own stack ran out first: nesting far past the limit.
  if (error.code === 'RESOURCE_EXHAUSTION') return depthProblem(line);
  if (error.code === 'DUPLICATE_KEY') {
    const key = /^[^\s:#]+/.exec(source.text.slice(at))?.[0] ?? '';
    return {
      line,
      reason: `duplicate key${key ? ` "${key}"` : ''} at line ${line}: which value counts is ambiguous`,
    };
  }
  const first = error.message.split('\n')[0] ?? error.message;
  return {
    line,
    column: at - source.text.lastIndexOf('\n', at - 1),
    reason: `not valid YAML at line ${line}: ${first.replace(/ at line \d+, column \d+:?$/, '')}`,
  };
}

/**
 * Byte offset of the first byte that is not part of valid UTF-8 (RFC 3629), or undefined when the
 * bytes are valid. Decoding with replacement would silently turn such bytes into U+FFFD, and
 * writing the file back would then change bytes nobody asked to change.
 */
export function invalidUtf8Offset(bytes: Uint8Array): number | undefined {
  if (isUtf8(bytes)) return undefined;
  let i = 0;
  while (i < bytes.length) {
    const byte = bytes[i]!;
    let length: number;
    let min: number;
    if (byte < 0x80) {
      i++;
      continue;
    } else if (byte >= 0xc2 && byte <= 0xdf) {
      length = 2;
      min = 0x80;
    } else if (byte >= 0xe0 && byte <= 0xef) {
      length = 3;
      min = 0x800;
    } else if (byte >= 0xf0 && byte <= 0xf4) {
      length = 4;
      min = 0x10000;
    } else {
      return i;
    }
    if (i + length > bytes.length) return i;
    let code = byte & (0xff >> (length + 1));
    for (let k = 1; k < length; k++) {
      const next = bytes[i + k]!;
      if ((next & 0xc0) !== 0x80) return i;
      code = (code << 6) | (next & 0x3f);
    }
    // Overlong forms, UTF-16 surrogates and code points past U+10FFFF are not UTF-8 either.
    if (code < min || (code >= 0xd800 && code <= 0xdfff) || code > 0x10ffff) return i;
    i += length;
  }
  return undefined;
}

/** 1-based line and column of a byte offset (columns count bytes; good enough to find the spot). */
export function bytePosition(bytes: Uint8Array, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset; i++) {
    if (bytes[i] === 0x0a) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

/**
 * Nodes that aliases may add to a document before it is refused. Real manifests and Helm values use
 * anchors to share a few blocks; "billion laughs" (nested aliases, each level doubling or tenfolding
 * the tree) adds millions. The `yaml` package's own guard is the same idea (maxAliasCount).
 */
export const MAX_ALIAS_EXPANSION = 100_000;

export interface AliasBomb {
  /** Nodes the document would have with every alias expanded, or Infinity for a recursive alias. */
  expanded: number;
  /** Source offset (within the parsed text) of the alias that adds the most. */
  offset: number;
}

/**
 * Whether expanding the aliases of `doc` (as js-yaml, kubectl and Helm do) would add more than
 * `limit` nodes. Linear in the size of the document: each node's expanded size is computed once,
 * anchors are tracked in source order (a later anchor of the same name shadows the earlier one),
 * and an alias inside its own anchor counts as infinite.
 */
export function findAliasBomb(doc: Document, limit = MAX_ALIAS_EXPANSION): AliasBomb | undefined {
  const anchors = new Map<string, Node>();
  const sizes = new Map<Node, number>();
  const open = new Set<Node>();
  let own = 0;
  let worst: { size: number; offset: number } | undefined;

  // An explicit stack, not recursion: a hostile document can nest deeper than the call stack.
  type Frame = { node: Node; children: Node[]; index: number; total: number };
  const stack: Frame[] = [];
  const enter = (node: Node): number | undefined => {
    if (isAlias(node)) {
      const target = anchors.get(node.source);
      const size =
        target === undefined ? 1 : open.has(target) ? Number.POSITIVE_INFINITY : (sizes.get(target) ?? 1);
      if (!worst || size > worst.size) worst = { size, offset: node.range?.[0] ?? 0 };
      return size;
    }
    own++;
    if (node.anchor) anchors.set(node.anchor, node);
    const children: Node[] = [];
    if (isMap(node) || isSeq(node)) {
      for (const item of node.items as unknown[]) {
        if (isPair(item)) {
          if (item.key && typeof item.key === 'object') children.push(item.key as Node);
          if (item.value && typeof item.value === 'object') children.push(item.value as Node);
        } else if (item && typeof item === 'object') children.push(item as Node);
      }
    } else if (!isScalar(node)) {
      return 1;
    }
    if (children.length === 0) {
      sizes.set(node, 1);
      return 1;
    }
    open.add(node);
    stack.push({ node, children, index: 0, total: 1 });
    return undefined;
  };

  if (doc.contents) {
    let pending = enter(doc.contents as Node);
    while (stack.length > 0) {
      const frame = stack.at(-1)!;
      if (pending !== undefined) {
        frame.total += pending;
        pending = undefined;
      }
      // What aliases added so far can only grow: once past the limit, the answer is known.
      if (frame.total - own > limit) break;
      if (frame.index < frame.children.length) {
        pending = enter(frame.children[frame.index++]!);
        continue;
      }
      stack.pop();
      open.delete(frame.node);
      sizes.set(frame.node, frame.total);
      pending = frame.total;
    }
    const root = sizes.get(doc.contents as Node) ?? Number.POSITIVE_INFINITY;
    const expanded = stack.length > 0 ? Number.POSITIVE_INFINITY : root;
    if (expanded - own > limit && worst) return { expanded, offset: worst.offset };
  }
  return undefined;
}
