import { chmodSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type * as SimpleGitModule from 'simple-git';
import type { SimpleGitOptions, SimpleGitProgressEvent } from 'simple-git';
import type { Context } from '../core/context.js';
import { GitopsError } from '../core/errors.js';
import { beforeRunning, displayCommand, ExecError, type ExecResult, tail } from '../core/exec.js';
import { ExitCode } from '../core/exit-codes.js';

// simple-git's CommonJS build through require(): its ES build imports CommonJS packages (debug,
// @kwsites/*), which Node 20 loads through the ESM wrapper's CJS analysis, and that took twice as
// long (about 25 ms of every command that runs git; see cli/main.ts for commander).
const { GitError, GitPluginError, simpleGit } = createRequire(import.meta.url)(
  'simple-git',
) as typeof SimpleGitModule;

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

/**
 * simple-git refuses environment variables and options that can make git run other programs
 * unless they are allowed by category. The arguments are gitops' own (user-supplied revisions and
 * branches are validated before they reach argv, see core/git-refs.ts); the environment is the
 * user's own, as for any program they run, plus gitops' askpass helper and SSH batch mode. So the
 * categories an environment can trigger are allowed, and none of those only options trigger.
 */
const ENVIRONMENT_CATEGORIES: SimpleGitOptions['unsafe'] = {
  allowUnsafeAskPass: true,
  allowUnsafeSshCommand: true,
  allowUnsafeConfigPaths: true,
  allowUnsafeConfigEnvCount: true,
  allowUnsafeEditor: true,
  allowUnsafePager: true,
  allowUnsafeExec: true,
  allowUnsafeGitProxy: true,
  allowUnsafeTemplateDir: true,
  allowUnsafeDiffExternal: true,
};

/** Subcommands simple-git reports progress for; gitops asks for it on a terminal only. */
const PROGRESS_COMMANDS = new Set(['clone', 'fetch', 'push']);

/** A git exit with a non-zero code, as simple-git's error hook sees it. */
class GitExit extends GitError {
  constructor(
    readonly exitCode: number,
    readonly stdout: string,
    readonly stderr: string,
  ) {
    super(undefined, `git exited with code ${exitCode}`);
  }
}

function defined(env: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined),
  );
}

/**
 * Runs git in one repository, through simple-git, with what the exec wrapper gives every other
 * program: argument arrays, credentials masked in the echo and in every error, `--dry-run`
 * enforced by the same rule (beforeRunning), a timeout, abort on SIGINT/SIGTERM, and progress
 * events for clone, fetch and push when a terminal shows them.
 */
export class Git {
  constructor(
    private readonly ctx: Context,
    readonly dir: string,
    private readonly extraEnv: Record<string, string | undefined> = {},
  ) {}

  async run(args: readonly string[], options: GitCallOptions = {}): Promise<GitResult> {
    const settings = this.ctx.exec.settings;
    const { masker } = settings;
    const command = displayCommand(masker, 'git', args);
    if (beforeRunning(settings, command, options.read)) {
      return { command, exitCode: 0, stdout: '', stderr: '', skipped: true };
    }
    const timeoutMs = options.timeoutMs ?? settings.defaultTimeoutMs;
    const deadline = AbortSignal.timeout(timeoutMs);
    const env = defined({ ...settings.env, ...gitEnv(settings.env), ...this.extraEnv, ...options.env });
    const progress = this.ctx.reporter.progress;
    const wantsProgress = progress !== undefined && PROGRESS_COMMANDS.has(args[0] ?? '');
    const git = simpleGit({
      baseDir: this.dir,
      abort: settings.signal ? AbortSignal.any([settings.signal, deadline]) : deadline,
      trimmed: false,
      // Done when git's output is closed, not 50 ms after it exits (simple-git's default): on a
      // loaded machine the output can arrive later than that, and was cut (an empty rev-parse, a
      // push error without its reason). git detaches auto-gc with its output closed.
      completion: { onClose: true, onExit: false },
      allowEnvironment: Object.keys(env),
      unsafe: ENVIRONMENT_CATEGORIES,
      errors: (error, result) => {
        if (error instanceof GitPluginError || result.exitCode === 0) return error;
        return new GitExit(
          result.exitCode,
          Buffer.concat(result.stdOut).toString('utf8'),
          Buffer.concat(result.stdErr).toString('utf8'),
        );
      },
      ...(options.input !== undefined ? { input: () => options.input } : {}),
      ...(wantsProgress
        ? {
            progress: (event: SimpleGitProgressEvent) =>
              progress(
                `${event.method} ${event.stage} ${event.progress}% (${event.processed}/${event.total})`,
              ),
          }
        : {}),
    }).env(env);
    // simple-git's progress plugin appends --progress at the end, which would land after `--`.
    const argv = wantsProgress ? [args[0]!, '--progress', ...args.slice(1)] : [...args];
    try {
      const stdout = await git.raw(argv);
      return { command, exitCode: 0, stdout, stderr: '', skipped: false };
    } catch (error) {
      if (settings.signal?.aborted) {
        throw new GitopsError('INTERRUPTED', `interrupted while running: ${command}`, {
          exitCode: ExitCode.Interrupted,
        });
      }
      if (deadline.aborted) {
        throw new ExecError(
          `${command} timed out after ${Math.round(timeoutMs / 1000)}s`,
          { command, stderrTail: '', stdout: '', timedOut: true },
          settings.timeoutHint ? { hint: settings.timeoutHint } : {},
        );
      }
      if (!(error instanceof GitExit)) throw this.unexpected(error, command);
      const stderr = error.stderr;
      if (/\bspawn\b.*\bENOENT\b/.test(stderr)) {
        throw new GitopsError('COMMAND_NOT_FOUND', `git was not found on PATH (needed to run: ${command})`, {
          exitCode: ExitCode.Usage,
          hint: 'install git or set its path in gitops.yaml',
          details: { command: 'git' },
        });
      }
      if (options.allowFailure) {
        return { command, exitCode: error.exitCode, stdout: error.stdout, stderr, skipped: false };
      }
      const stderrTail = masker.mask(tail(stderr));
      throw new ExecError(
        `${command} exited with code ${error.exitCode}${stderrTail ? `:\n${stderrTail}` : ''}`,
        { command, exitCode: error.exitCode, stderrTail, stdout: masker.mask(error.stdout), timedOut: false },
      );
    }
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
  at(dir: string): Git {
    return new Git(this.ctx, dir, this.extraEnv);
  }

  /** simple-git's own refusals (a blocked option, a missing directory) keep their words, masked. */
  private unexpected(error: unknown, command: string): GitopsError {
    const message = this.ctx.masker.mask(error instanceof Error ? error.message : String(error));
    return new GitopsError('EXEC_FAILED', `${command} failed: ${message}`, { cause: error });
  }
}
