/*
 * Guards for text gitops reads from files it does not control (gitops.yaml, env-repo manifests):
 * both can be hostile or just broken, and both are read by a process holding push rights and
 * cluster credentials. Issue 10: refuse with exit 2 and a position, never crash, never hang.
 */
import { isUtf8 } from 'node:buffer';
import { type Document, isAlias, isMap, isPair, isScalar, isSeq, type Node } from 'yaml';

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
