import { Cleanup, type Context } from '../core/context.js';
import type { Exec, ExecRunner, ExecSettings } from '../core/exec.js';
import { Masker } from '../core/mask.js';
import { detectCI, isGitHubActions } from './ci.js';
import { type ColorLevel, colorLevel, loadPalette, type Palette, PLAIN } from './color.js';
import type { CliIO, GlobalOptions } from './io.js';
import { type CliReporter, chooseFormat, createReporter, type OutputFormat } from './reporter.js';

/** The core context plus what only the CLI knows: its reporter, CI mode and standard input. */
export interface CliContext extends Context {
  reporter: CliReporter;
  ci: boolean;
  /** Standard input, for `--…-stdin` options (passwords are never taken as arguments). */
  stdin?: NodeJS.ReadableStream;
}

const DEFAULT_EXEC_TIMEOUT_MS = 10 * 60 * 1000;

/**
 * `new Exec(settings)`, built on the first run(): usage and config errors never need the
 * subprocess wrapper (nor execa, which it loads on its own first run). The settings object is the
 * one given (dry run, masking, echo, abort signal), so results, skips and errors are the same.
 */
function lazyExec(settings: ExecSettings): ExecRunner {
  let loaded: Promise<Exec> | undefined;
  const exec = () => {
    loaded ??= import('../core/exec.js').then(({ Exec }) => new Exec(settings));
    return loaded;
  };
  return {
    settings,
    get dryRun() {
      return settings.dryRun;
    },
    async run(file, args, options) {
      return (await exec()).run(file, args, options);
    },
    async runDirect(file, args, options) {
      return (await exec()).runDirect(file, args, options);
    },
  };
}

/** CI mode, the output format and its colour level, from the flags and the environment. */
function outputOf(
  io: CliIO,
  options: GlobalOptions,
): { ci: boolean; format: OutputFormat; level: ColorLevel } {
  const ci = options.ci ?? detectCI(io.env);
  const format = chooseFormat({ isTTY: io.isTTY, ci, githubActions: isGitHubActions(io.env) });
  return { ci, format, level: colorLevel(io.env, io.isTTY && format === 'tty', options.color) };
}

/** The context of a command: createContext with the colours its output gets (chalk only for colour). */
export async function openContext(io: CliIO, options: GlobalOptions): Promise<CliContext> {
  return createContext(io, options, await loadPalette(outputOf(io, options).level));
}

/** The context, with plain output unless given a palette (openContext gives the one the output needs). */
export function createContext(io: CliIO, options: GlobalOptions, palette: Palette = PLAIN): CliContext {
  const masker = Masker.fromEnv(io.env);
  const { ci, format } = outputOf(io, options);
  const reporter = createReporter({
    stdout: io.stdout,
    stderr: io.stderr,
    env: io.env,
    masker,
    format,
    json: Boolean(options.json),
    verbose: Boolean(options.verbose),
    quiet: Boolean(options.quiet),
    color: palette,
  });
  const exec = lazyExec({
    env: io.env,
    masker,
    dryRun: Boolean(options.dryRun),
    defaultTimeoutMs: DEFAULT_EXEC_TIMEOUT_MS,
    timeoutHint: 'raise --timeout or check what the command waits for',
    ...(options.verbose ? { echo: (line: string) => reporter.debug(line) } : {}),
    ...(io.signal ? { signal: io.signal } : {}),
  });
  const context: CliContext = {
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
  };
  // Read through on first use: the process's stdin stream is built only when a command asks.
  if ('stdin' in io) Object.defineProperty(context, 'stdin', { get: () => io.stdin, enumerable: true });
  return context;
}
