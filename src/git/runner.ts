import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Context } from '../core/context.js';
import type { ExecResult } from '../core/exec.js';

/**
 * Environment every git call gets: never prompt (CI has no one to answer), C locale so
 * messages can be classified, and SSH in batch mode unless the user set their own command.
 */
export function gitEnv(base: Record<string, string | undefined>): Record<string, string | undefined> {
  return {
    GIT_TERMINAL_PROMPT: '0',
    LC_ALL: 'C',
    LANGUAGE: 'C',
    ...(base.GIT_SSH_COMMAND || base.GIT_SSH ? {} : { GIT_SSH_COMMAND: 'ssh -o BatchMode=yes' }),
  };
}

/**
 * Writes an askpass helper that hands git the HTTPS token from the environment variable
 * GITOPS_ASKPASS_TOKEN: the token never appears on a command line, in a URL or in a file.
 * git calls it with a prompt: "Username for …" or "Password for …".
 */
export function writeAskpass(dir: string): string {
  const file = join(dir, 'gitops-askpass.sh');
  writeFileSync(
    file,
    '#!/bin/sh\ncase "$1" in\n  Username*) printf \'%s\\n\' "${GITOPS_ASKPASS_USER:-x-access-token}" ;;\n  *) printf \'%s\\n\' "$GITOPS_ASKPASS_TOKEN" ;;\nesac\n',
  );
  chmodSync(file, 0o700);
  return file;
}

export interface GitCallOptions {
  /** Added to the context's environment for this call. */
  env?: Record<string, string | undefined>;
  /** Written to git's standard input (a commit message for `commit -F -`). */
  input?: string;
  /** Milliseconds; the context default applies when unset. */
  timeoutMs?: number;
  /** Return the result instead of throwing when git exits non-zero. */
  allowFailure?: boolean;
  /**
   * True when the call changes no branch, remote or working tree of the user's: queries, and the
   * clone, fetch and checkout that only fill gitops' own temp clone. Every other call (add,
   * commit, push, reset, rm) is a write and is skipped under --dry-run.
   */
  read?: boolean;
}

export type GitResult = Omit<ExecResult, 'durationMs'>;

/** Subcommands whose progress gitops shows, on a terminal only. */
const PROGRESS_COMMANDS = new Set(['clone', 'fetch', 'push']);

/** git's progress line on stderr: `Receiving objects:  45% (9/20)`. */
const PROGRESS_LINE = /^\s*(?:remote: )?([A-Za-z][A-Za-z ]*?):\s+(\d+)% \((\d+)\/(\d+)\)/;

/**
 * Hands each progress line of a stream of stderr chunks to `report` as `<command> <stage> N%
 * (done/total)`; git rewrites a line in place with `\r`.
 */
function progressReader(command: string, report: (text: string) => void): (chunk: string) => void {
  let pending = '';
  return (chunk) => {
    const lines = `${pending}${chunk}`.split(/[\r\n]/);
    pending = lines.pop() ?? '';
    for (const line of lines) {
      const match = PROGRESS_LINE.exec(line);
      if (match)
        report(`${command} ${match[1]!.split(' ')[0]!.toLowerCase()} ${match[2]}% (${match[3]}/${match[4]})`);
    }
  };
}

/**
 * Subcommands that never move HEAD: a sha read of HEAD stays true across them. Anything else
 * (commit, reset, checkout, rm, a `--work-tree=` checkout…) forgets it.
 */
const KEEPS_HEAD = new Set([
  'rev-parse',
  'ls-tree',
  'cat-file',
  'log',
  'show',
  'merge-base',
  'diff',
  'diff-tree',
  'status',
  'ls-remote',
  'fetch',
  'push',
  'config',
  'verify-commit',
  // Sets or lists what the working tree holds; HEAD stays where it is.
  'sparse-checkout',
]);

export interface GitRunnerOptions {
  /**
   * Nothing but this runner changes the repository (gitops' own temp clone): what HEAD points at
   * is read once and remembered until this runner runs a command that can move it.
   */
  soleWriter?: boolean;
}

/**
 * Runs git in one repository through the one exec wrapper (core/exec.ts): argument arrays, no
 * shell, credentials masked in the echo and in every error, `--dry-run` enforced by the same rule,
 * a timeout, abort on SIGINT/SIGTERM, and progress for clone, fetch and push when a terminal shows
 * it. A call is done once git has exited and its output is read, however little it printed
 * (simple-git, used before, waited 50 ms more after every git that printed nothing: a dozen
 * times per deploy).
 */
export class Git {
  /** HEAD's sha as last read, while nothing that can move it ran since (soleWriter only). */
  private knownHead: Promise<string> | undefined;

  constructor(
    private readonly ctx: Context,
    readonly dir: string,
    private readonly extraEnv: Record<string, string | undefined> = {},
    private readonly options: GitRunnerOptions = {},
  ) {}

  async run(args: readonly string[], options: GitCallOptions = {}): Promise<GitResult> {
    if (KEEPS_HEAD.has(args[0] ?? '')) return this.runOnce(args, options);
    // Forgotten before and after: a read of HEAD that overlapped this command is not kept.
    this.knownHead = undefined;
    try {
      return await this.runOnce(args, options);
    } finally {
      this.knownHead = undefined;
    }
  }

  /**
   * The sha HEAD points at. In gitops' own clone (soleWriter) it is asked once and remembered
   * until a command that can move HEAD runs: steps that each need it (the server dry run, the
   * desired state, the signature check) do not each spawn `git rev-parse HEAD`.
   */
  head(): Promise<string> {
    if (!this.options.soleWriter) return this.output(['rev-parse', 'HEAD']);
    if (!this.knownHead) {
      const read = this.output(['rev-parse', 'HEAD']);
      this.knownHead = read;
      read.catch(() => {
        if (this.knownHead === read) this.knownHead = undefined;
      });
    }
    return this.knownHead;
  }

  private async runOnce(args: readonly string[], options: GitCallOptions): Promise<GitResult> {
    const settings = this.ctx.exec.settings;
    const progress = this.ctx.reporter.progress;
    const wantsProgress = progress !== undefined && PROGRESS_COMMANDS.has(args[0] ?? '');
    // Right after the subcommand: anywhere later it could land after `--`.
    const argv = wantsProgress ? [args[0]!, '--progress', ...args.slice(1)] : [...args];
    const { durationMs: _durationMs, ...result } = await this.ctx.exec.runDirect('git', argv, {
      cwd: this.dir,
      env: { ...gitEnv(settings.env), ...this.extraEnv, ...options.env },
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
      ...(options.input !== undefined ? { input: options.input } : {}),
      ...(options.read ? { read: true } : {}),
      ...(options.allowFailure ? { allowFailure: true } : {}),
      ...(wantsProgress ? { onStderr: progressReader(args[0]!, progress) } : {}),
    });
    return result;
  }

  /** A call that only reads (see GitCallOptions.read). */
  read(args: readonly string[], options: Omit<GitCallOptions, 'read'> = {}): Promise<GitResult> {
    return this.run(args, { ...options, read: true });
  }

  /** stdout of a read-only git command, trimmed. */
  async output(args: readonly string[], options: Omit<GitCallOptions, 'read'> = {}): Promise<string> {
    return (await this.read(args, options)).stdout.trim();
  }

  /** Like output(), but undefined when git exits non-zero (e.g. a missing config key). */
  async tryOutput(
    args: readonly string[],
    options: Omit<GitCallOptions, 'read'> = {},
  ): Promise<string | undefined> {
    const result = await this.read(args, { ...options, allowFailure: true });
    return result.exitCode === 0 ? result.stdout.trim() : undefined;
  }

  /** The same runner for another directory (e.g. a fresh clone). */
  at(dir: string, options: GitRunnerOptions = {}): Git {
    return new Git(this.ctx, dir, this.extraEnv, options);
  }
}
