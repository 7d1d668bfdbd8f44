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
    /** How errors name the command (default: the command and its first arguments). */
    name?: string;
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
        const lines = (result.stderr.trim() || result.stdout.trim()).split('\n');
        // gitops says what failed on its `error:` line; other tools on their last line.
        const why = lines.find((line) => line.startsWith('error:')) ?? lines.at(-1) ?? '';
        const name = options.name ?? `${command.split('/').at(-1)} ${args.slice(0, 3).join(' ')}`;
        reject(
          new Error(
            `${name} exited ${result.code}${signal ? ` (${signal})` : ''}: ${why}\n${lines.slice(-8).join('\n')}`,
          ),
        );
      }
    });
    child.stdin.end(options.input ?? '');
  });
}

/** The built CLI (bin/gitops.cjs) as a child process, as CI runs it. Needs `npm run build`. */
export function gitops(
  args: readonly string[],
  options: { cwd: string; env: Record<string, string | undefined>; okCodes?: readonly number[] },
): Promise<ProcessResult> {
  const name = `gitops ${args
    .filter((arg) => !arg.startsWith('-'))
    .slice(0, 1)
    .join(' ')}`;
  return runProcess(process.execPath, [binPath, ...args], { ...options, timeoutMs: 600_000, name });
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

/** gitops' `--json` document: the result, and how long each step took. */
export interface GitopsDocument {
  ok: boolean;
  steps?: Array<{ title: string; status: string; durationMs: number }>;
  [key: string]: unknown;
}

/** Runs gitops with `--json` and returns its document. */
export async function gitopsJson(
  args: readonly string[],
  options: { cwd: string; env: Record<string, string | undefined>; okCodes?: readonly number[] },
): Promise<{ result: ProcessResult; document: GitopsDocument }> {
  const result = await gitops(['--json', ...args], options);
  try {
    return { result, document: JSON.parse(result.stdout) as GitopsDocument };
  } catch {
    throw new Error(`gitops ${args[0]} --json printed no JSON document: ${result.stdout.slice(0, 200)}`);
  }
}

/** The steps of a `--json` document as figures named `step: <title>` (a step run twice adds up). */
export function stepFigures(document: GitopsDocument): Record<string, number> {
  const figures: Record<string, number> = {};
  for (const step of document.steps ?? []) {
    const name = `step: ${step.title}`;
    figures[name] = (figures[name] ?? 0) + step.durationMs;
  }
  return figures;
}
