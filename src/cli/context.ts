import { Exec } from '../core/exec.js';
import { Masker } from '../core/mask.js';
import { detectCI, isGitHubActions } from '../output/ci.js';
import { colorLevel } from '../output/color.js';
import { chooseFormat, createReporter, type Reporter } from '../output/reporter.js';
import type { CliIO, GlobalOptions } from './io.js';

/** Runs registered clean-ups (temp dirs, locks) once, newest first, on success, failure and interrupt. */
export class Cleanup {
  private readonly tasks: Array<() => Promise<void> | void> = [];

  add(task: () => Promise<void> | void): void {
    this.tasks.push(task);
  }

  async run(): Promise<void> {
    while (this.tasks.length > 0) {
      const task = this.tasks.pop()!;
      try {
        await task();
      } catch {
        // A failed clean-up must not hide the error that ended the command.
      }
    }
  }
}

/** What core modules receive: no argv, no TTY checks; just the facts and the tools. */
export interface Context {
  cwd: string;
  env: Record<string, string | undefined>;
  reporter: Reporter;
  exec: Exec;
  masker: Masker;
  cleanup: Cleanup;
  dryRun: boolean;
  ci: boolean;
  configPath?: string;
  signal?: AbortSignal;
  /** Standard input, for `--…-stdin` options (passwords are never taken as arguments). */
  stdin?: NodeJS.ReadableStream;
}

const DEFAULT_EXEC_TIMEOUT_MS = 10 * 60 * 1000;

export function createContext(io: CliIO, options: GlobalOptions): Context {
  const masker = Masker.fromEnv(io.env);
  const ci = options.ci ?? detectCI(io.env);
  const format = chooseFormat({ isTTY: io.isTTY, ci, githubActions: isGitHubActions(io.env) });
  const reporter = createReporter({
    stdout: io.stdout,
    stderr: io.stderr,
    env: io.env,
    masker,
    format,
    json: Boolean(options.json),
    verbose: Boolean(options.verbose),
    quiet: Boolean(options.quiet),
    colorLevel: colorLevel(io.env, io.isTTY && format === 'tty', options.color),
  });
  const exec = new Exec({
    env: io.env,
    masker,
    dryRun: Boolean(options.dryRun),
    defaultTimeoutMs: DEFAULT_EXEC_TIMEOUT_MS,
    ...(options.verbose ? { echo: (line: string) => reporter.debug(line) } : {}),
    ...(io.signal ? { signal: io.signal } : {}),
  });
  return {
    cwd: io.cwd,
    env: io.env,
    reporter,
    exec,
    masker,
    cleanup: new Cleanup(),
    dryRun: Boolean(options.dryRun),
    ci,
    ...(options.config ? { configPath: options.config } : {}),
    ...(io.signal ? { signal: io.signal } : {}),
    ...(io.stdin ? { stdin: io.stdin } : {}),
  };
}
