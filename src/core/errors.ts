import type { ErrorCode } from './error-codes.js';
import { ExitCode, type ExitCodeValue } from './exit-codes.js';

/** Where in a file an error was found. Lines and columns are 1-based. */
export interface SourceLocation {
  file: string;
  line?: number;
  column?: number;
}

export interface GitopsErrorOptions {
  /** Process exit code the top-level handler uses (see exit-codes.ts). */
  exitCode?: ExitCodeValue;
  /** What the user can change to get a different outcome: a flag, a config key, a command. */
  hint?: string;
  location?: SourceLocation;
  cause?: unknown;
  /** Structured facts for `--json` output; must never hold secret values. */
  details?: Record<string, unknown>;
}

/**
 * The one error type of gitops. `code` is a stable machine-readable identifier from the
 * catalogue (error-codes.ts, docs/errors.md); `message` says what failed and why, in one sentence.
 */
export class GitopsError extends Error {
  readonly code: ErrorCode;
  readonly exitCode: ExitCodeValue;
  readonly hint: string | undefined;
  readonly location: SourceLocation | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: GitopsErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GitopsError';
    this.code = code;
    this.exitCode = options.exitCode ?? ExitCode.OperationFailed;
    this.hint = options.hint;
    this.location = options.location;
    this.details = options.details;
  }
}

/** Usage, config or input error: exit 2, nothing was changed. */
export function usageError(
  code: ErrorCode,
  message: string,
  options: Omit<GitopsErrorOptions, 'exitCode'> = {},
) {
  return new GitopsError(code, message, { ...options, exitCode: ExitCode.Usage });
}

/** A gate refused to go on (drift, policy, lock, signature): exit 5. */
export function blockedError(
  code: ErrorCode,
  message: string,
  options: Omit<GitopsErrorOptions, 'exitCode'> = {},
) {
  return new GitopsError(code, message, { ...options, exitCode: ExitCode.Blocked });
}

export function isGitopsError(value: unknown): value is GitopsError {
  return value instanceof GitopsError;
}

/** `file:line:column`, as editors and GitHub annotations understand it. */
export function formatLocation(location: SourceLocation): string {
  let text = location.file;
  if (location.line !== undefined) {
    text += `:${location.line}`;
    if (location.column !== undefined) text += `:${location.column}`;
  }
  return text;
}
