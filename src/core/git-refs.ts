import { usageError } from './errors.js';

/*
 * Git revisions given on the command line (`rollback <sha>`, `diff --revision`, `--source-commit`).
 * They never reach a shell (exec uses argument arrays), but git parses its own argv: a value that
 * starts with "-" is an option (`--upload-pack=…` runs a program on fetch, CVE-2017-1000117 was this
 * class of bug), and a value written into a commit trailer is audit data. So the text is checked
 * against what a revision can look like before git ever sees it:
 * refnames per `git help check-ref-format`, plus the suffixes of `git help revisions` that pick a
 * commit (`~N`, `^N`, `^{commit}`, `@{N}`). Anything else — whitespace, control characters,
 * shell syntax, `:path` — is refused with exit 2.
 */

export interface RevisionArgumentOptions {
  /** How the user wrote it, for the message: `--revision`, `rollback <sha>`. Default: "revision". */
  what?: string;
  /** Accept one `A..B` or `A...B` range (each side checked on its own). Default: refused. */
  allowRange?: boolean;
}

/** Longer than any sha (64 hex for SHA-256 repos) plus a branch name and a suffix anyone writes. */
const MAX_LENGTH = 256;

/** What a revision may hold: refname characters and the `~ ^ @ { }` of revision suffixes. */
const REVISION_CHARACTERS = /^[A-Za-z0-9._/@{}^~+-]+$/;

/** Characters a shell treats specially, named in the message because they mean a pasting mistake. */
const SHELL_CHARACTERS = /[;|&$`'"<>()\\*?[\]!#]/;

// Control characters are what we look for here: a pasted newline, an escape sequence.
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;

function printable(text: string): string {
  return JSON.stringify(text).slice(1, -1);
}

/** Why one side of a revision is not acceptable, or undefined. */
function problemOf(text: string): string | undefined {
  if (text.length === 0) return 'it is empty';
  if (text.length > MAX_LENGTH) return `it is longer than ${MAX_LENGTH} characters`;
  const control = CONTROL_CHARACTERS.exec(text);
  if (control) {
    return control[0] === '\n' || control[0] === '\r'
      ? 'it contains a line break'
      : 'it contains a control character';
  }
  if (text.startsWith('-')) return 'it starts with "-", so git would read it as an option';
  const shell = SHELL_CHARACTERS.exec(text);
  if (shell) return `it contains "${shell[0]}", which no revision holds (a shell or quoting mistake?)`;
  if (/\s/.test(text)) return 'it contains whitespace';
  if (text.includes(':')) return 'it contains ":" (a revision:path names a file, not a commit)';
  if (!REVISION_CHARACTERS.test(text)) {
    const bad = [...text].find((char) => !REVISION_CHARACTERS.test(char)) ?? '';
    return `it contains "${printable(bad)}", which no revision holds`;
  }
  if (text.includes('..')) return 'it contains "..", a range, where one commit is expected';
  // check-ref-format: no component may start with "." or end with ".lock"; no "//", no "@{" without "}".
  if (/(^|\/)\./.test(text) || /\.lock($|\/)/.test(text) || text.includes('//') || text.endsWith('/')) {
    return 'it is not a valid ref name (see `git help check-ref-format`)';
  }
  return undefined;
}

/**
 * Checks a revision given on the command line (a full or short sha, a branch, a tag, `main~2`,
 * `v1.2^{commit}`) and returns it unchanged. Throws an exit-2 error naming the argument and what
 * is wrong: a leading "-" (git would take it as an option), whitespace, control characters, shell
 * syntax such as `;`, `|`, `$` or backticks, and `..` unless `allowRange` is set.
 */
export function validateRevisionArgument(text: string, options: RevisionArgumentOptions = {}): string {
  const what = options.what ?? 'revision';
  let problem: string | undefined;
  const range = /^(.*?)(\.\.\.?)(.*)$/s.exec(text);
  if (options.allowRange && range) {
    // `A..B` or `A...B`: each side must be a revision of its own, and there is one operator only.
    const [, from = '', , to = ''] = range;
    if (to.includes('..')) problem = 'it holds more than one range operator';
    else {
      const side = problemOf(from) ?? problemOf(to);
      if (side !== undefined) problem = `one side of the range is not a revision: ${side}`;
    }
  } else {
    problem = problemOf(text);
  }
  if (problem === undefined) return text;
  throw usageError('INVALID_REVISION', `${what} "${printable(text)}" is not a git revision: ${problem}`, {
    hint: 'pass a commit sha (full or short), a branch or a tag of the env repo, e.g. 3f2a1c9e or main~1',
    details: { argument: what, reason: problem },
  });
}

/**
 * Why `name` is not a branch or tag name gitops accepts, or undefined: `git help check-ref-format`
 * (no "..", no "~^:?*[\\", no control characters or spaces, no "@{", no component starting with
 * "." or ending in ".lock", no "//" or trailing "/" or "."), and no leading "-" (an option to git).
 */
export function refNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'it is empty';
  if (name.length > MAX_LENGTH) return `it is longer than ${MAX_LENGTH} characters`;
  if (CONTROL_CHARACTERS.test(name)) return 'it contains a control character';
  if (name.startsWith('-')) return 'it starts with "-", so git would read it as an option';
  const shell = SHELL_CHARACTERS.exec(name);
  if (shell) return `it contains "${shell[0]}", which no branch name holds`;
  if (/\s/.test(name)) return 'it contains whitespace';
  const bad = /[~^:]|\.\.|@\{/.exec(name);
  if (bad) return `it contains "${bad[0]}", which git does not allow in a ref name`;
  if (!/^[A-Za-z0-9._/@+-]+$/.test(name)) return 'it holds characters git ref names do not';
  if (
    /(^|\/)\./.test(name) ||
    /\.lock($|\/)/.test(name) ||
    name.includes('//') ||
    /[/.]$/.test(name) ||
    name === '@'
  ) {
    return 'it is not a valid ref name (see `git help check-ref-format`)';
  }
  return undefined;
}

/** Whether `text` is a full SHA-1 or SHA-256 object name. */
export function isFullSha(text: string): boolean {
  return /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/.test(text);
}
