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
    const { masker } = this.settings;
    const command = displayCommand(masker, file, args);
    if (beforeRunning(this.settings, command, options.read)) {
      return { command, exitCode: 0, stdout: '', stderr: '', durationMs: 0, skipped: true };
    }
    loadedExeca ??= import('./vendor/execa.js');
    const { execa } = await loadedExeca;
    const started = performance.now();
    const subprocess = execa(file, [...args], {
      cwd: options.cwd,
      env: { ...this.settings.env, ...options.env },
      extendEnv: false,
      timeout: options.timeoutMs ?? this.settings.defaultTimeoutMs,
      input: options.input,
      stdin: options.input === undefined ? 'ignore' : 'pipe',
      reject: false,
      stripFinalNewline: false,
      cancelSignal: this.settings.signal,
      forceKillAfterDelay: 2000,
      maxBuffer: 256 * 1024 * 1024,
    });
    const { onStderr } = options;
    if (onStderr) subprocess.stderr?.on('data', (chunk: Buffer | string) => onStderr(String(chunk)));
    const result = await subprocess;
    const durationMs = performance.now() - started;
    const stdout = typeof result.stdout === 'string' ? result.stdout : '';
    const stderr = typeof result.stderr === 'string' ? result.stderr : '';

    const spawnCode = (result as { code?: string }).code;
    if (spawnCode === 'ENOENT') {
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
    if (result.isCanceled || (result.isTerminated && this.settings.signal?.aborted)) {
      throw new GitopsError('INTERRUPTED', `interrupted while running: ${command}`, {
        exitCode: ExitCode.Interrupted,
      });
    }
    const exitCode = result.exitCode ?? -1;
    if (result.timedOut) {
      const timeoutMs = options.timeoutMs ?? this.settings.defaultTimeoutMs;
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
