import type { ExecRunner } from './exec.js';
import type { Masker } from './mask.js';
import type { Reporter } from './reporter.js';

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
  exec: ExecRunner;
  masker: Masker;
  cleanup: Cleanup;
  dryRun: boolean;
  configPath?: string;
  signal?: AbortSignal;
}

/** What an operation returns: its exit code (0 by default) and the fields of its `--json` document. */
export interface OperationOutcome {
  exitCode?: number;
  result?: Record<string, unknown>;
}
