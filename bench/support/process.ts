import { spawn } from 'node:child_process';
import { binPath } from '../../test/support/cli.js';

export interface ProcessResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command without a shell and waits for it without blocking the event loop (the test
 * cluster's proxy may live in this process). Throws when the exit code is not in `okCodes`,
 * with the command and the tail of its stderr.
 */
export function runProcess(
  command: string,
  args: readonly string[],
  options: {
    env: Record<string, string | undefined>;
    cwd?: string;
    input?: string;
    okCodes?: readonly number[];
    timeoutMs?: number;
  },
): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: options.env as NodeJS.ProcessEnv,
      ...(options.cwd ? { cwd: options.cwd } : {}),
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: options.timeoutMs ?? 300_000,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const result = {
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      };
      if ((options.okCodes ?? [0]).includes(result.code)) resolve(result);
      else {
        const tail =
          result.stderr.trim().split('\n').slice(-5).join('\n') || result.stdout.trim().slice(-500);
        reject(
          new Error(
            `${command.split('/').at(-1)} ${args.slice(0, 3).join(' ')} exited ${result.code}${signal ? ` (${signal})` : ''}: ${tail}`,
          ),
        );
      }
    });
    child.stdin.end(options.input ?? '');
  });
}

/** The built CLI (bin/gitops.js) as a child process, as CI runs it. Needs `npm run build`. */
export function gitops(
  args: readonly string[],
  options: { cwd: string; env: Record<string, string | undefined>; okCodes?: readonly number[] },
): Promise<ProcessResult> {
  return runProcess(process.execPath, [binPath, ...args], { ...options, timeoutMs: 600_000 });
}

/** Clean-ups of a bench file, run in reverse order (the owner the test fixtures expect). */
export class Scope {
  private readonly cleanups: Array<() => unknown> = [];

  after(fn: () => unknown): void {
    this.cleanups.push(fn);
  }

  async close(): Promise<void> {
    for (const cleanup of this.cleanups.reverse()) {
      try {
        await cleanup();
      } catch (error) {
        process.stderr.write(
          `  clean-up failed: ${error instanceof Error ? error.message : String(error)}\n`,
        );
      }
    }
  }
}
