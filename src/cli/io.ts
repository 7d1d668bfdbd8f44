import type { Readable, Writable } from 'node:stream';

/** Everything outside the process a command touches, injectable so tests run the real code in-process. */
export interface CliIO {
  cwd: string;
  env: Record<string, string | undefined>;
  stdout: Writable;
  stderr: Writable;
  stdin?: Readable;
  /** Whether stderr is an interactive terminal (spinners, colour). */
  isTTY: boolean;
  /** Aborted when the user interrupts (SIGINT/SIGTERM); running children are killed. */
  signal?: AbortSignal;
}

/** Global options, as commander parses them. */
export interface GlobalOptions {
  config?: string;
  json?: boolean;
  verbose?: boolean;
  quiet?: boolean;
  color?: boolean;
  ci?: boolean;
  dryRun?: boolean;
}
