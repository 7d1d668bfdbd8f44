import { Cleanup, type Context } from '../core/context.js';
import { Exec } from '../core/exec.js';
import { Masker } from '../core/mask.js';
import { detectCI, isGitHubActions } from './ci.js';
import { colorLevel } from './color.js';
import type { CliIO, GlobalOptions } from './io.js';
import { type CliReporter, chooseFormat, createReporter } from './reporter.js';

/** The core context plus what only the CLI knows: its reporter, CI mode and standard input. */
export interface CliContext extends Context {
  reporter: CliReporter;
  ci: boolean;
  /** Standard input, for `--…-stdin` options (passwords are never taken as arguments). */
  stdin?: NodeJS.ReadableStream;
}

const DEFAULT_EXEC_TIMEOUT_MS = 10 * 60 * 1000;

export function createContext(io: CliIO, options: GlobalOptions): CliContext {
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
    timeoutHint: 'raise --timeout or check what the command waits for',
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
