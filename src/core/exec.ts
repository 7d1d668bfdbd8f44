import { spawn } from 'node:child_process';
import { GitopsError } from './errors.js';
import { ExitCode } from './exit-codes.js';
import type { Masker } from './mask.js';

export interface ExecOptions {
  cwd: string;
  /** Added to the context's environment (never replaces it wholesale). */
  env?: Record<string, string | undefined>;
  /** Milliseconds; the context default applies when unset. */
  timeoutMs?: number;
  input?: string;
  /**
   * True when the command changes nothing outside gitops' own temp directories: a query, a
   * render, a clone into a temp dir. Every other command is a write (push, apply, build): under
   * `--dry-run` it is logged as skipped and not run. A call that forgets to say is skipped.
   */
  read?: boolean;
  /** Return the result instead of throwing when the command exits non-zero. */
  allowFailure?: boolean;
  /** Receives stderr as it arrives (git's progress), besides the whole of it in the result. */
  onStderr?: (text: string) => void;
}

export interface ExecResult {
  command: string;
  exitCode: number;
  stdout: string;
  stderr: string;
  durationMs: number;
  /** True when `--dry-run` skipped a command not declared a read. */
  skipped: boolean;
}

export interface ExecSettings {
  env: Record<string, string | undefined>;
  masker: Masker;
  dryRun: boolean;
  /** Receives `$ cmd args` echo lines under `--verbose` (already masked). */
  echo?: (line: string) => void;
  defaultTimeoutMs: number;
  /** Aborting kills running children (SIGINT/SIGTERM of gitops itself). */
  signal?: AbortSignal;
  /** What a timed-out command's error suggests (the front end knows which option raises the limit). */
  timeoutHint?: string;
}

/**
 * execa (one bundled file in dist/, see core/vendor/execa.ts), loaded by the first command run:
 * what imports this module for its errors and its dry-run rule pays nothing for it, and a deploy
 * loads it while its first requests to the cluster are under way.
 */
let loadedExeca: Promise<typeof import('./vendor/execa.js')> | undefined;

/** How many characters of stderr an error keeps: enough to see the cause, not a whole build log. */
const STDERR_TAIL_CHARS = 2000;

/** Failure of a subprocess: keeps the command, its exit code and the tail of its stderr. */
export class ExecError extends GitopsError {
  readonly command: string;
  readonly commandExitCode: number | undefined;
  readonly stderrTail: string;
  readonly stdout: string;
  readonly timedOut: boolean;

  constructor(
    message: string,
    fields: { command: string; exitCode?: number; stderrTail: string; stdout: string; timedOut: boolean },
    options: ConstructorParameters<typeof GitopsError>[2] = {},
  ) {
    super(fields.timedOut ? 'EXEC_TIMEOUT' : 'EXEC_FAILED', message, options);
    this.command = fields.command;
    this.commandExitCode = fields.exitCode;
    this.stderrTail = fields.stderrTail;
    this.stdout = fields.stdout;
    this.timedOut = fields.timedOut;
  }
}

export function tail(text: string, chars = STDERR_TAIL_CHARS): string {
  const trimmed = text.trimEnd();
  return trimmed.length <= chars ? trimmed : `…${trimmed.slice(-chars)}`;
}

/** Quotes an argument for display only; nothing is ever run through a shell. */
function displayArg(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** `file arg …` as echoed and named in errors: quoted for reading, secrets masked. */
export function displayCommand(masker: Masker, file: string, args: readonly string[]): string {
  return masker.mask([file, ...args].map(displayArg).join(' '));
}

/**
 * The one place `--dry-run` is enforced, for every subprocess (this wrapper and the git layer):
 * a call not declared a read is echoed as skipped and must not run. Returns true to skip it.
 * After SIGINT/SIGTERM nothing new may start: a push or an apply begun after the signal would
 * outlive the decision to stop.
 */
export function beforeRunning(settings: ExecSettings, command: string, read: boolean | undefined): boolean {
  if (!read && settings.dryRun) {
    settings.echo?.(`$ ${command}  # skipped (--dry-run)`);
    return true;
  }
  if (settings.signal?.aborted) {
    throw new GitopsError('INTERRUPTED', `interrupted before running: ${command}`, {
      exitCode: ExitCode.Interrupted,
    });
  }
  settings.echo?.(`$ ${command}`);
  return false;
}

/** What a context hands its users of the wrapper (the CLI builds it lazily, see cli/context.ts). */
export type ExecRunner = Pick<Exec, 'settings' | 'dryRun' | 'run' | 'runDirect'>;

/**
 * The one way gitops runs other programs: argument arrays, no shell, explicit cwd,
 * a timeout, dry-run for mutating commands, masked echo and errors.
 */
export class Exec {
  constructor(readonly settings: ExecSettings) {}

  get dryRun(): boolean {
    return this.settings.dryRun;
  }

  async run(file: string, args: readonly string[], options: ExecOptions): Promise<ExecResult> {
    return this.runWith(file, args, options, async (timeoutMs) => {
      loadedExeca ??= import('./vendor/execa.js');
      const { execa } = await loadedExeca;
      const subprocess = execa(file, [...args], {
        cwd: options.cwd,
        env: { ...this.settings.env, ...options.env },
        extendEnv: false,
        timeout: timeoutMs,
        input: options.input,
        stdin: options.input === undefined ? 'ignore' : 'pipe',
        reject: false,
        stripFinalNewline: false,
        cancelSignal: this.settings.signal,
        forceKillAfterDelay: FORCE_KILL_AFTER_MS,
        maxBuffer: 256 * 1024 * 1024,
      });
      const { onStderr } = options;
      if (onStderr) subprocess.stderr?.on('data', (chunk: Buffer | string) => onStderr(String(chunk)));
      const result = await subprocess;
      return {
        exitCode: result.exitCode,
        stdout: typeof result.stdout === 'string' ? result.stdout : '',
        stderr: typeof result.stderr === 'string' ? result.stderr : '',
        notFound: (result as { code?: string }).code === 'ENOENT',
        timedOut: Boolean(result.timedOut),
        interrupted: Boolean(result.isCanceled || (result.isTerminated && this.settings.signal?.aborted)),
      };
    });
  }

  /**
   * run() for the short calls on every command's path — git's — with node:child_process itself.
   * execa's set-up costs more CPU per call than such a git call takes (three `git rev-parse`:
   * ~65 ms through execa, ~20 ms spawned directly, its first load included); what execa adds is
   * worth it for builds and renderers that run for seconds, not here. The same rules and errors.
   */
  async runDirect(file: string, args: readonly string[], options: ExecOptions): Promise<ExecResult> {
    return this.runWith(file, args, options, (timeoutMs) =>
      spawnDirect(file, args, {
        cwd: options.cwd,
        env: { ...this.settings.env, ...options.env },
        timeoutMs,
        ...(options.input !== undefined ? { input: options.input } : {}),
        ...(this.settings.signal ? { signal: this.settings.signal } : {}),
        ...(options.onStderr ? { onStderr: options.onStderr } : {}),
      }),
    );
  }

  /** The rules both ways share: dry run, echo, and what the outcome means (errors masked). */
  private async runWith(
    file: string,
    args: readonly string[],
    options: ExecOptions,
    start: (timeoutMs: number) => Promise<Outcome>,
  ): Promise<ExecResult> {
    const { masker } = this.settings;
    const command = displayCommand(masker, file, args);
    if (beforeRunning(this.settings, command, options.read)) {
      return { command, exitCode: 0, stdout: '', stderr: '', durationMs: 0, skipped: true };
    }
    const timeoutMs = options.timeoutMs ?? this.settings.defaultTimeoutMs;
    const started = performance.now();
    const outcome = await start(timeoutMs);
    const durationMs = performance.now() - started;
    const { stdout, stderr } = outcome;

    if (outcome.notFound) {
      throw new GitopsError(
        'COMMAND_NOT_FOUND',
        `${file} was not found on PATH (needed to run: ${command})`,
        {
          exitCode: ExitCode.Usage,
          hint: `install ${file} or set its path in gitops.yaml`,
          details: { command: file },
        },
      );
    }
    if (outcome.interrupted) {
      throw new GitopsError('INTERRUPTED', `interrupted while running: ${command}`, {
        exitCode: ExitCode.Interrupted,
      });
    }
    const exitCode = outcome.exitCode ?? -1;
    if (outcome.timedOut) {
      throw new ExecError(
        `${command} timed out after ${Math.round(timeoutMs / 1000)}s`,
        { command, stderrTail: masker.mask(tail(stderr)), stdout: masker.mask(stdout), timedOut: true },
        this.settings.timeoutHint ? { hint: this.settings.timeoutHint } : {},
      );
    }
    if (exitCode !== 0 && !options.allowFailure) {
      const stderrTail = masker.mask(tail(stderr));
      throw new ExecError(`${command} exited with code ${exitCode}${stderrTail ? `:\n${stderrTail}` : ''}`, {
        command,
        exitCode,
        stderrTail,
        stdout: masker.mask(stdout),
        timedOut: false,
      });
    }
    return { command, exitCode, stdout, stderr, durationMs, skipped: false };
  }
}

/** How a subprocess ended, as either way of running it saw it. */
interface Outcome {
  /** undefined when it did not exit by itself (killed, or never started). */
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
  notFound: boolean;
  timedOut: boolean;
  interrupted: boolean;
}

/** A command that ignores SIGTERM (on timeout or interrupt) gets SIGKILL this much later. */
const FORCE_KILL_AFTER_MS = 2000;

function spawnDirect(
  file: string,
  args: readonly string[],
  options: {
    cwd: string;
    env: Record<string, string | undefined>;
    timeoutMs: number;
    input?: string;
    signal?: AbortSignal;
    onStderr?: (text: string) => void;
  },
): Promise<Outcome> {
  return new Promise((resolve) => {
    const outcome: Outcome = {
      exitCode: undefined,
      stdout: '',
      stderr: '',
      notFound: false,
      timedOut: false,
      interrupted: false,
    };
    const { signal } = options;
    if (signal?.aborted) {
      resolve({ ...outcome, interrupted: true });
      return;
    }
    const child = spawn(file, [...args], {
      cwd: options.cwd,
      env: options.env,
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let forceKill: NodeJS.Timeout | undefined;
    const stop = () => {
      child.kill('SIGTERM');
      forceKill ??= setTimeout(() => child.kill('SIGKILL'), FORCE_KILL_AFTER_MS);
    };
    const timer = setTimeout(() => {
      outcome.timedOut = true;
      stop();
    }, options.timeoutMs);
    const onAbort = () => {
      outcome.interrupted = true;
      stop();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      outcome.stdout += chunk;
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      outcome.stderr += chunk;
      options.onStderr?.(chunk);
    });
    let settled = false;
    const settle = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(forceKill);
      signal?.removeEventListener('abort', onAbort);
      resolve(outcome);
    };
    child.on('error', (error: NodeJS.ErrnoException) => {
      // The program did not start (ENOENT, EACCES): no 'close' may follow.
      if (error.code === 'ENOENT') outcome.notFound = true;
      else outcome.stderr += `${error.message}\n`;
      settle();
    });
    child.on('close', (code) => {
      outcome.exitCode = code ?? undefined;
      settle();
    });
    if (options.input !== undefined) {
      // A command that exits without reading all of its input is not an error of ours.
      child.stdin!.on('error', () => {});
      child.stdin!.end(options.input);
    }
  });
}
