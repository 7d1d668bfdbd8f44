import jsYaml from 'js-yaml';
import { usageError } from '../core/errors.js';
import {
  controlProblem,
  documentProblem,
  type InputProblem,
  MAX_NESTING_DEPTH,
  MAX_TOTAL_BYTES,
  megabytes,
} from '../core/input-guards.js';
import { LineCounter, parseAllDocuments } from '../core/yaml.js';
import type { DesiredObject, KubeObject } from '../kube/objects.js';

/*
 * Two readers, one answer. Rendered manifests are read with js-yaml, many times faster than the
 * `yaml` package's document model on the same text; the document model (the one the edit path and
 * the input guards use) reads whatever js-yaml might read differently, and whatever is wrong, so
 * that every refusal keeps the document model's words and position. What js-yaml reads here gives
 * the same values, lines and comments as the document model would: js-yaml runs with the scalars
 * of the YAML 1.2 core schema exactly as `yaml` resolves them (js-yaml's own core schema reads
 * `1_000` as a number and `-0` as 0), and text whose meaning the two parsers settle differently
 * (anchors and aliases, directives, null or collection keys, ...) goes to the document model.
 */

type ReadDocument = { value: unknown; line: number; comment?: string };
type Listed = { object: KubeObject; line: number; comment?: string };

function asObjects(value: unknown, where: { file: string; line?: number }): KubeObject[] {
  if (value === null || value === undefined) return [];
  const object = value as Partial<KubeObject> & { items?: unknown[] };
  const problem = (message: string) =>
    usageError('MANIFEST_INVALID', message, {
      location: { file: where.file, ...(where.line ? { line: where.line } : {}) },
      hint: 'every YAML document in an environment must be a Kubernetes object (apiVersion, kind, metadata.name)',
    });
  if (typeof value !== 'object' || Array.isArray(value))
    throw problem('document is not a Kubernetes object (a map)');
  if (typeof object.kind === 'string' && object.kind.endsWith('List') && Array.isArray(object.items)) {
    return object.items.flatMap((item) => asObjects(item, where));
  }
  if (typeof object.apiVersion !== 'string' || typeof object.kind !== 'string') {
    throw problem('document has no apiVersion/kind');
  }
  if (!object.metadata || typeof object.metadata.name !== 'string' || object.metadata.name === '') {
    throw problem(`${object.kind} has no metadata.name`);
  }
  return [object as KubeObject];
}

function guardError(code: 'MANIFEST_YAML' | 'MANIFEST_ENCODING', file: string, problem: InputProblem) {
  return usageError(code, problem.reason, {
    location: {
      file,
      ...(problem.line ? { line: problem.line } : {}),
      ...(problem.line && problem.column ? { column: problem.column } : {}),
    },
    hint: 'fix the file at that line; gitops refuses the same input when it edits',
  });
}

/** Parses a multi-document YAML text into objects with their starting line. */
export function parseManifests(text: string, file: string): DesiredObject[] {
  return listObjects(text, file, false).map(({ object, line }) => ({ object, source: { file, line } }));
}

/** Objects of a multi-document YAML text, each with its line and the comment before its document. */
export function parseDocuments(
  text: string,
  file: string,
): Array<{ object: KubeObject; line: number; comment?: string }> {
  return listObjects(text, file, true);
}

/**
 * parseDocuments as the document model alone reads it, js-yaml never: the reference the tests
 * hold parseDocuments to (the same objects, lines, comments and refusals).
 */
export function parseDocumentsWithDocumentModel(text: string, file: string): Listed[] {
  guardText(text, file);
  return readWithDocumentModel(text, file);
}

/** Whether parseDocuments reads `text` with js-yaml (else with the document model alone). */
export function readByJsYaml(text: string): boolean {
  return readWithJsYaml(text, true) !== undefined;
}

/** The documents of a YAML text as js-yaml read them, for manifestsOf (see readAgreeingDocuments). */
export interface YamlDocuments {
  readonly documents: readonly ReadDocument[];
}

/**
 * The documents of a guarded text (UTF-8, no raw control characters, within the size budget)
 * when js-yaml reads them as the document model would, which then refuses none of them; undefined
 * when only the document model can say what the text holds or what is wrong with it. Lets the
 * render input check read a plain manifest once for both the check and the objects.
 */
export function readAgreeingDocuments(text: string): YamlDocuments | undefined {
  const documents = readWithJsYaml(text, false);
  return documents ? { documents } : undefined;
}

/**
 * parseManifests of a text that readAgreeingDocuments read: the same objects, with their lines.
 * The objects are the documents' own values (callers change them): one call per read.
 */
export function manifestsOf(read: YamlDocuments, file: string): DesiredObject[] {
  const out: DesiredObject[] = [];
  for (const { value, line } of read.documents)
    for (const object of asObjects(value, { file, line })) out.push({ object, source: { file, line } });
  return out;
}

function listObjects(text: string, file: string, comments: boolean): Listed[] {
  guardText(text, file);
  const documents = readWithJsYaml(text, comments);
  if (!documents) return readWithDocumentModel(text, file);
  const out: Listed[] = [];
  for (const { value, line, comment } of documents)
    for (const object of asObjects(value, { file, line }))
      out.push({ object, line, ...(comment ? { comment } : {}) });
  return out;
}

function guardText(text: string, file: string): void {
  // The input guard of the edit path (core/input-guards.ts), with the same words: for a file of
  // the environment and for what a renderer printed.
  if (text.length > MAX_TOTAL_BYTES) {
    throw usageError(
      'MANIFEST_TOO_LARGE',
      `${file} is ${megabytes(text.length)}, more than the ${megabytes(MAX_TOTAL_BYTES)} gitops reads for one environment`,
      { location: { file }, hint: 'split the environment, or keep large data out of the env repo' },
    );
  }
  const control = controlProblem(text);
  if (control) throw guardError('MANIFEST_ENCODING', file, control);
}

/**
 * The document model's reading, with its guards (core/input-guards.ts) and their positions: for
 * what js-yaml does not read, and for every text that something is wrong with.
 */
function readWithDocumentModel(text: string, file: string): Listed[] {
  const lines = new LineCounter();
  const documents = parseAllDocuments(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: true });
  const source = { text, offset: 0, lineOf: (offset: number) => lines.linePos(offset).line };
  const out: Listed[] = [];
  for (const document of Array.isArray(documents) ? documents : [documents]) {
    const problem = documentProblem(document, source);
    if (problem) throw guardError('MANIFEST_YAML', file, problem);
    const start = document.contents?.range?.[0];
    const line = start === undefined ? 1 : lines.linePos(start).line;
    let value: unknown;
    try {
      // maxAliasCount bounds "billion laughs" expansion.
      value = document.toJS({ maxAliasCount: 100 });
    } catch (cause) {
      throw usageError('MANIFEST_YAML', `cannot expand YAML document: ${(cause as Error).message}`, {
        location: { file, line },
        cause,
      });
    }
    // A comment right above the first key belongs to the document's root node, not the document.
    const comment = document.commentBefore ?? document.contents?.commentBefore ?? undefined;
    for (const object of asObjects(value, { file, line }))
      out.push({ object, line, ...(comment ? { comment } : {}) });
  }
  return out;
}

type Form = readonly [test: RegExp, value: (text: string) => unknown];

/**
 * A js-yaml type for one tag of the core schema: its forms are `yaml`'s tests, in its order, each
 * with how `yaml` turns the text into a value; `first` the characters they can start with.
 */
function coreScalar(tag: string, first: string, forms: readonly Form[]) {
  // A plain scalar comes as its text; an explicitly tagged empty node (`!!null`) as null.
  const form = (data: string | null) => {
    const text = data ?? '';
    if (text !== '' && !first.includes(text[0]!)) return undefined;
    return forms.find(([test]) => test.test(text));
  };
  return new jsYaml.Type(`tag:yaml.org,2002:${tag}`, {
    kind: 'scalar',
    resolve: (data: string | null) => form(data) !== undefined,
    construct: (data: string | null) => form(data)![1](data ?? ''),
  });
}

const infinity = (text: string) =>
  text.endsWith('nan') || text.endsWith('NaN') || text.endsWith('NAN')
    ? Number.NaN
    : text[0] === '-'
      ? Number.NEGATIVE_INFINITY
      : Number.POSITIVE_INFINITY;

/** The core schema of the `yaml` package (yaml/dist/schema/core), test for test. */
const CORE_SCHEMA = jsYaml.FAILSAFE_SCHEMA.extend({
  implicit: [
    coreScalar('null', '~nN', [[/^(?:~|[Nn]ull|NULL)?$/, () => null]]),
    coreScalar('bool', 'tTfF', [
      [/^(?:[Tt]rue|TRUE|[Ff]alse|FALSE)$/, (text) => text[0] === 't' || text[0] === 'T'],
    ]),
    coreScalar('int', '+-0123456789', [
      [/^0o[0-7]+$/, (text) => Number.parseInt(text.slice(2), 8)],
      [/^[-+]?[0-9]+$/, (text) => Number.parseInt(text, 10)],
      [/^0x[0-9a-fA-F]+$/, (text) => Number.parseInt(text.slice(2), 16)],
    ]),
    coreScalar('float', '+-.0123456789', [
      [/^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/, infinity],
      [/^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/, Number.parseFloat],
      [/^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/, Number.parseFloat],
    ]),
  ],
});

/*
 * Text the two parsers read differently, found before parsing; each pattern may match more than it
 * must (the document model then reads the text, as before), never less:
 * - a directive (`%YAML 1.1` switches `yaml` to the YAML 1.1 schema) or a document end marker;
 * - `---` followed by more at the start of a line (js-yaml takes it for a marker, `yaml` for text);
 * - a carriage return that ends a line alone (one line break for js-yaml, none for `yaml`), or a
 *   byte order mark after the start;
 * - a key that is empty, `~` or `null` (`yaml` names it "", js-yaml "null");
 * - an explicit key (`? `) or a flow collection as a key (`[a]: b`), which the parsers turn into
 *   different strings;
 * - a `:` past column 1024, which may end a key too long for `yaml`;
 * - a tab in the indentation of a line with content (`yaml` refuses it in places js-yaml does not).
 */
const READ_DIFFERENTLY = [
  /^%|^\.\.\.(?:[ \t\r\n]|$)/m,
  /^---[^ \t\r\n]/m,
  /\r(?!\n)|(?!^)\uFEFF/,
  /^[ \t]*(?:---[ \t]+)?(?:-[ \t]+)*(?:~|null|Null|NULL)?[ \t]*:(?=[ \t\r\n,\]}]|$)/m,
  /[{[,][ \t]*(?:~|null|Null|NULL)?[ \t]*:(?=[ \t\r\n,\]}]|$)/,
  /^[ \t]*(?:---[ \t]+)?(?:-[ \t]+)*\?(?=[ \t\r\n]|$)/m,
  /[{[,:][ \t]*(?:-[ \t]+)*\?(?=[ \t\r\n]|$)/,
  /[\]}][ \t]*:/,
  /^[^\n]{1024}[^\n]*:/m,
  /^[ \t]*\t[ \t]*[^ \t\r\n]/m,
];

/**
 * An empty sequence item (`-` and a line break) followed by an item of an outer sequence:
 * `- - \n- b` is `[[null], b]`, but js-yaml carries on with the inner sequence (`[[null, b]]`).
 */
const EMPTY_ITEM = /^([ -]*?)-[ \t]*(?:#[^\n]*)?\r?\n(?=(?:[ \t]*(?:#[^\n]*)?\r?\n)*( *)-(?:[ \t\r\n]|$))/gm;

function emptyItemBeforeOuterItem(text: string): boolean {
  if (!/-[ \t]*(?:#[^\n]*)?\r?\n/.test(text)) return false;
  for (const match of text.matchAll(EMPTY_ITEM)) if (match[2]!.length < match[1]!.length) return true;
  return false;
}

type Root = { start: number; line: number; end: number; kind: string | null };
type ListenerState = jsYaml.State & { anchorMap?: Record<string, unknown>; tag?: string | null };

/**
 * The documents of `text` as js-yaml reads them, with the line of each one's first node and the
 * comment the document model would put before it; undefined when js-yaml refuses the text, or the
 * document model has to read it (see READ_DIFFERENTLY, and the checks after parsing: anchors,
 * depth, control characters from escapes, comments in a place not known to agree).
 */
function readWithJsYaml(text: string, comments: boolean): ReadDocument[] | undefined {
  if (READ_DIFFERENTLY.some((pattern) => pattern.test(text)) || emptyItemBeforeOuterItem(text))
    return undefined;
  // js-yaml drops a byte order mark: its positions are one short of the text's.
  const shift = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  const roots: Root[] = [];
  // The line each open node starts on (before the space that separates it, for most).
  const opened: number[] = [];
  const openedAt: number[] = [];
  // The first character of each open node's content: `{` for a flow map.
  const openedFirst: number[] = [];
  let deepest = 0;
  let anchored = false;
  let differs = false;
  let values: unknown[];
  try {
    values = jsYaml.loadAll(text, null, {
      schema: CORE_SCHEMA,
      // js-yaml 4.3 refuses documents deeper than this itself (it counts scalars too).
      maxDepth: MAX_NESTING_DEPTH + 1,
      listener(event, state) {
        if (event === 'open') {
          const first = contentAt(state.input, state.position);
          // A collection (or a tagged node) as the key of a flow map, `{[a]: b}` or `{{a}}`: the
          // parsers name it differently (a block map's is caught before parsing).
          const code = state.input.charCodeAt(first);
          if (
            openedFirst.at(-1) === 0x7b &&
            (code === 0x5b || code === 0x7b || code === 0x21) &&
            contentBefore(state.input, first) !== 0x3a
          )
            differs = true;
          opened.push(state.line);
          openedAt.push(state.position);
          openedFirst.push(code);
          if (opened.length > deepest) deepest = opened.length;
          // The document's first node, after the `---` marker, comments and blank lines.
          if (opened.length === 1)
            roots.push({ start: state.position + shift, line: state.line + 1, end: -1, kind: null });
          return;
        }
        const from = openedAt.pop()!;
        openedFirst.pop();
        const last = state.input.charCodeAt(state.position - 1);
        // A comment right after a closing quote or bracket (`"a"#c`): `yaml` refuses it, js-yaml not.
        if (
          state.input.charCodeAt(state.position) === 0x23 &&
          (last === 0x22 || last === 0x27 || last === 0x5d || last === 0x7d)
        )
          differs = true;
        if (opened.pop() !== state.line) {
          // A quoted or plain scalar over several lines (a block scalar ends in a line break):
          // `yaml` wants its lines indented more than the collection it is in, js-yaml not.
          if (state.kind === 'scalar') {
            if (last > 0x20 && !continuationIndented(state.input, from, state.position)) differs = true;
          } else if (last === 0x5d || last === 0x7d) {
            // A flow collection over several lines (it ends at its bracket): the same, with
            // other exceptions (a closing bracket may be less indented).
            differs = true;
          }
        }
        // The non-specific tag `!` (js-yaml reads `!` alone as null, `yaml` as ""), or a tag on
        // an empty node (js-yaml reads `!!map` alone as {}, `yaml` as "").
        const tag = (state as ListenerState).tag;
        if (tag === '!' || (tag !== null && tag !== undefined && state.kind === null)) differs = true;
        if (opened.length === 0) {
          const root = roots.at(-1)!;
          root.end = state.position + shift;
          root.kind = state.kind;
          // Anchors of this document so far (js-yaml starts a new map per document): an alias
          // needs one, and the document model bounds what aliases expand to.
          const anchors = (state as ListenerState).anchorMap;
          if (!anchors) anchored = true;
          else for (const _ in anchors) anchored = true;
        }
      },
    } as jsYaml.LoadOptions & { maxDepth: number });
  } catch {
    return undefined;
  }
  // The document model refuses a map or sequence at depth MAX_NESTING_DEPTH (the root at 0): its
  // nodes are at js-yaml's depth MAX_NESTING_DEPTH + 1, or deeper.
  if (anchored || differs || deepest > MAX_NESTING_DEPTH || values.length !== roots.length) return undefined;
  // Control characters the text holds raw were refused before; escapes (`"\a"`) make the others.
  if (text.includes('\\') && values.some(holdsControlCharacter)) return undefined;
  const documents: ReadDocument[] = [];
  for (let index = 0; index < roots.length; index++) {
    const root = roots[index]!;
    // A tag before the root: the document model's line is the content's, after the tag.
    if (text[root.start] === '!') return undefined;
    const document: ReadDocument = { value: values[index], line: root.line };
    // Only a map can be an object (a List too): other documents have no comment to find.
    if (comments && root.kind === 'mapping') {
      const previous = roots[index - 1];
      const afterBlockMap = previous?.kind === 'mapping' && text[previous.start] !== '{';
      const comment = commentBefore(text, previous?.end ?? 0, root.start, afterBlockMap);
      if (comment === false) return undefined;
      if (comment !== undefined) document.comment = comment;
    }
    documents.push(document);
  }
  return documents;
}

/** Where the content after `at` starts: past spaces, line breaks and comments. */
function contentAt(input: string, at: number): number {
  for (;;) {
    const code = input.charCodeAt(at);
    if (code === 0x20 || code === 0x09 || code === 0x0a || code === 0x0d) at++;
    else if (code === 0x23) while (at < input.length && input.charCodeAt(at) !== 0x0a) at++;
    else return at;
  }
}

/** The character before `at`, past spaces and line breaks (a comment's last character, if one ends there). */
function contentBefore(input: string, at: number): number {
  let index = at - 1;
  while (index >= 0 && /[ \t\r\n]/.test(input[index]!)) index--;
  return input.charCodeAt(index);
}

const OWNER_INDENT = / *(?:-[ \t]+)*/y;

/**
 * Whether every line after the first of the scalar from `from` to `to` that is not blank is
 * indented more than the collection the scalar is in: more than the column where the content of
 * the scalar's first line starts, after its indentation and `- ` items (the key of a map, the
 * scalar itself, the innermost item; never less than the collection's indentation).
 */
function continuationIndented(input: string, from: number, to: number): boolean {
  const lineStart = input.lastIndexOf('\n', from - 1) + 1;
  OWNER_INDENT.lastIndex = lineStart;
  OWNER_INDENT.exec(input);
  const owner = OWNER_INDENT.lastIndex - lineStart;
  for (let end = input.indexOf('\n', from); end !== -1 && end < to; end = input.indexOf('\n', end + 1)) {
    let content = end + 1;
    while (input.charCodeAt(content) === 0x20) content++;
    const next = input.charCodeAt(content);
    if (next === 0x0a || next === 0x0d) continue;
    if (content - end - 1 <= owner) return false;
  }
  return true;
}

function holdsControlCharacter(value: unknown): boolean {
  const stack = [value];
  while (stack.length > 0) {
    const node = stack.pop();
    if (typeof node === 'string') {
      if (controlProblem(node)) return true;
    } else if (Array.isArray(node)) {
      for (const item of node) stack.push(item);
    } else if (node !== null && typeof node === 'object') {
      for (const [key, item] of Object.entries(node)) stack.push(key, item);
    }
  }
  return false;
}

/**
 * What the document model takes as the comment before a block map's document
 * (`document.commentBefore ?? document.contents.commentBefore`), from the text between the end of
 * the previous document's root (or the start) and this one's: undefined for none, false when the
 * comments there are in a shape not known to give the same answer. The shapes known:
 * - no comment there at all;
 * - `---`, then comment lines, then the map (Helm's `# Source: chart/templates/x.yaml`): those
 *   lines without their `#`; comments before the `---` belong to the previous document when that
 *   is a block map, and are not a shape known otherwise;
 * - at the start of the text, comment lines right above the map: they belong to its first key.
 */
function commentBefore(
  text: string,
  from: number,
  to: number,
  afterBlockMap: boolean,
): string | undefined | false {
  const region = text.slice(from, to);
  if (!region.includes('#')) return undefined;
  // A block map that starts a line (not a flow map, which `yaml` gives the comment above it).
  if ((to > 0 && text[to - 1] !== '\n') || text[to] === '{') return false;
  const lines = region.split('\n');
  lines.pop();
  let top = lines.length;
  while (top > 0 && lines[top - 1]!.startsWith('#')) top--;
  if (top === lines.length) return false;
  if (top === 0) return from === 0 && text.charCodeAt(0) !== 0xfeff ? undefined : false;
  if (lines[top - 1]!.replace(/\r$/, '') !== '---') return false;
  if (!afterBlockMap && lines.slice(0, top - 1).some((line) => line.includes('#'))) return false;
  // As `yaml` does: each line's text after `#` (a space for none), joined by the line breaks
  // between them as written.
  let comment = '';
  for (const line of lines.slice(top)) {
    const crlf = line.endsWith('\r');
    comment += (line.slice(1, crlf ? -1 : undefined) || ' ') + (crlf ? '\r\n' : '\n');
  }
  return comment.replace(/\r?\n$/, '');
}
