import jsYaml from 'js-yaml';
import type { ImageChange, Refusal } from './types.js';
import type { ScalarHit, YamlFile, YamlPath } from './yaml-file.js';

/** What a re-parse must show at one path after the edit (`after: undefined` = key removed). */
export interface ExpectedChange {
  path: YamlPath;
  after: unknown;
}

interface Splice {
  start: number;
  end: number;
  text: string;
  expect: ExpectedChange[];
  owner: string;
}

// Plain scalars that YAML 1.1 or 1.2 resolvers (js-yaml, go-yaml in kubectl and Helm) would read
// as something other than a string; a tag like 1.10 must stay "1.10", not become the number 1.1.
const NOT_A_PLAIN_STRING =
  /^(?:[-+]?(?:[0-9][0-9_]*)?\.?[0-9_]*(?:[eE][-+]?[0-9]+)?|0x[0-9a-fA-F_]+|0o?[0-7_]+|0b[01_]+|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)|[yY]|[nN]|yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF|null|Null|NULL|~|\d{4}-\d\d?-\d\d?.*)$/;

/** Whether `value` written as a plain scalar would be read back as a different type. */
export function needsQuotes(value: string): boolean {
  return value === '' || NOT_A_PLAIN_STRING.test(value);
}

/**
 * The edits planned for one file: byte splices, the semantic change each one should cause, the
 * changes to report, and refusals. `apply()` splices and verifies.
 */
export class FilePlan {
  readonly changes: ImageChange[] = [];
  readonly refused: Refusal[] = [];
  private readonly splices: Splice[] = [];

  constructor(readonly yaml: YamlFile) {}

  get file(): string {
    return this.yaml.file;
  }

  refuse(reason: string, line?: number): void {
    this.refused.push({ file: this.file, ...(line !== undefined ? { line } : {}), reason });
  }

  /** Records a change at an offset of the file, or at a given line (for inserted lines). */
  change(
    at: number,
    image: string,
    oldValue: string,
    newValue: string,
    line?: number,
    extra: Pick<ImageChange, 'entryAdded'> = {},
  ): void {
    this.changes.push({
      file: this.file,
      line: line ?? this.yaml.lineOf(at),
      image,
      old: oldValue,
      new: newValue,
      ...extra,
    });
  }

  /**
   * Rewrites one scalar's token to `value`, keeping its quote style (a plain scalar that would no
   * longer read as a string gets double quotes). Returns false (and records a refusal) when the
   * token cannot be rewritten in place.
   */
  replaceScalar(hit: ScalarHit, value: string, owner: string): boolean {
    const source = this.yaml.text.slice(hit.start, hit.end);
    const line = this.yaml.lineOf(hit.start);
    const block = hit.scalar.type === 'BLOCK_FOLDED' || hit.scalar.type === 'BLOCK_LITERAL';
    if (block) {
      this.refuse(`the value at line ${line} is a block scalar; write it as a plain or quoted value`, line);
      return false;
    }
    if (source.includes('\n')) {
      this.refuse(`the value at line ${line} spans several lines; rewrite it on one line first`, line);
      return false;
    }
    let text: string;
    switch (hit.scalar.type) {
      case 'QUOTE_DOUBLE':
        text = `"${value}"`;
        break;
      case 'QUOTE_SINGLE':
        text = `'${value}'`;
        break;
      default:
        text = needsQuotes(value) ? `"${value}"` : value;
        break;
    }
    if (hit.start === hit.end) {
      // An empty slot (`digest:` or `digest: # note`): the value needs a space before it, and one
      // after it when a comment follows, or it would swallow the comment.
      const before = this.yaml.text[hit.start - 1];
      const after = this.yaml.text[hit.start];
      text = `${before === ' ' || before === '\t' ? '' : ' '}${text}${after === '#' ? ' ' : ''}`;
    }
    const expect = { path: hit.path, after: value };
    const existing = this.splices.find((splice) => splice.start === hit.start);
    if (existing) {
      // The same anchored token reached again through an alias: fine if it wants the same bytes.
      if (existing.text !== text) {
        this.refuse(
          `line ${line} is an anchor shared by ${existing.owner} and ${owner}, which need different values`,
          line,
        );
        return false;
      }
      // Two owners (a marker and its field) may plan the same token: one expectation is enough.
      if (!existing.expect.some((other) => canonical(other) === canonical(expect)))
        existing.expect.push(expect);
      return true;
    }
    this.splices.push({ start: hit.start, end: hit.end, text, expect: [expect], owner });
    return true;
  }

  /** Inserts text (whole lines or a flow entry) at an offset. */
  insert(at: number, text: string, expect: ExpectedChange[], owner: string): void {
    this.splices.push({ start: at, end: at, text, expect, owner });
  }

  /** Removes a byte range (a whole `key: value` line). */
  remove(start: number, end: number, expect: ExpectedChange[], owner: string): void {
    this.splices.push({ start, end, text: '', expect, owner });
  }

  /**
   * Applies the splices and re-parses before and after with js-yaml (a parser independent of the
   * one that found the tokens). Returns the new text, or undefined with a refusal when the re-parse
   * shows anything but the intended changes.
   */
  apply(): string | undefined {
    if (this.refused.length > 0 || this.splices.length === 0) return undefined;
    const splices = [...this.splices].sort((a, b) => a.start - b.start || a.end - b.end);
    let after = '';
    let cursor = 0;
    for (const splice of splices) {
      if (splice.start < cursor) {
        this.refuse(`two edits overlap at line ${this.yaml.lineOf(splice.start)}`);
        return undefined;
      }
      after += this.yaml.text.slice(cursor, splice.start) + splice.text;
      cursor = splice.end;
    }
    after += this.yaml.text.slice(cursor);

    const problem = verify(
      this.yaml.text,
      after,
      splices.flatMap((splice) => splice.expect),
    );
    if (problem) {
      this.refuse(problem, this.yaml.lineOf(splices[0]!.start));
      return undefined;
    }
    return after;
  }
}

function loadAll(text: string): unknown[] {
  // JSON round trip: aliases become copies, so a change through a shared anchor shows at every use.
  return JSON.parse(JSON.stringify(jsYaml.loadAll(text))) as unknown[];
}

/** Undefined when `after` differs from `before` exactly by `expected`; else why not. */
export function verify(before: string, after: string, expected: ExpectedChange[]): string | undefined {
  let old: unknown[];
  let now: unknown[];
  try {
    old = loadAll(before);
  } catch (error) {
    const message = (error as Error).message.split('\n')[0];
    return /duplicated mapping key/.test(message ?? '')
      ? `duplicate key (${message}); a duplicated key makes the image ambiguous`
      : `the file does not re-parse (${message})`;
  }
  try {
    now = loadAll(after);
  } catch (error) {
    return `the edited file would not parse (${(error as Error).message.split('\n')[0]})`;
  }
  if (old.length !== now.length) return 'the edit would change the number of documents';
  const actual: ExpectedChange[] = [];
  old.forEach((doc, index) => {
    diff(doc, now[index], [], actual);
  });
  const want = expected.map(canonical).sort();
  const got = actual.map(canonical).sort();
  const unexpected = got.filter((entry) => !want.includes(entry));
  const missing = want.filter((entry) => !got.includes(entry));
  if (unexpected.length > 0 || missing.length > 0 || want.length !== got.length) {
    const example = unexpected[0] ?? missing[0] ?? '';
    const reason = unexpected.length > 0 ? 'would also change' : 'would not change';
    return `the re-parse shows a change other than the intended one (${reason} ${example}); an anchor or alias may share the value with something that is not this image`;
  }
  return undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function diff(before: unknown, after: unknown, path: YamlPath, out: ExpectedChange[]): void {
  if (isObject(before) && isObject(after)) {
    const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
    for (const key of keys) {
      if (!(key in after)) out.push({ path: [...path, key], after: undefined });
      else if (!(key in before)) out.push({ path: [...path, key], after: after[key] });
      else diff(before[key], after[key], [...path, key], out);
    }
    return;
  }
  if (Array.isArray(before) && Array.isArray(after) && before.length <= after.length) {
    after.forEach((item, index) => {
      if (index >= before.length) out.push({ path: [...path, index], after: item });
      else diff(before[index], item, [...path, index], out);
    });
    return;
  }
  if (canonicalValue(before) !== canonicalValue(after)) out.push({ path, after });
}

function canonicalValue(value: unknown): string {
  return JSON.stringify(sortKeys(value)) ?? 'undefined';
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (isObject(value)) {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((key) => [key, sortKeys(value[key])]),
    );
  }
  return value;
}

function canonical(change: ExpectedChange): string {
  return `${change.path.join('.')} = ${canonicalValue(change.after)}`;
}
