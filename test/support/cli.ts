import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { run } from '../../src/cli/main.js';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
export const binPath = join(repoRoot, 'bin', 'gitops.cjs');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

function collect(stream: PassThrough): () => string {
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  return () => Buffer.concat(chunks).toString('utf8');
}

/** A minimal environment: tests must not inherit the developer's CI or colour settings by accident. */
export function baseEnv(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    TMPDIR: process.env.TMPDIR,
    LANG: 'C.UTF-8',
    CI: 'false',
    ...extra,
  };
}

/** Runs the CLI in-process (the real code, no subprocess) with captured streams. */
export async function runCli(
  args: string[],
  options: { cwd: string; env?: Record<string, string | undefined>; isTTY?: boolean; stdin?: Readable },
): Promise<CliResult> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const readOut = collect(stdout);
  const readErr = collect(stderr);
  const code = await run(args, {
    cwd: options.cwd,
    env: options.env ?? baseEnv(),
    stdout,
    stderr,
    isTTY: options.isTTY ?? false,
    ...(options.stdin ? { stdin: options.stdin } : {}),
  });
  stdout.end();
  stderr.end();
  return { code, stdout: readOut(), stderr: readErr() };
}

/** Runs the built bin/gitops.cjs as a child process (black-box: real argv, real exit code). */
export function runBin(
  args: string[],
  options: {
    cwd: string;
    env?: Record<string, string | undefined>;
    input?: string;
    timeoutMs?: number;
    /** Node's own options, before the script (`--import <hook>`). */
    nodeArgs?: string[];
    /** Another copy of the entry point (a built tree copied elsewhere); default: this repo's. */
    bin?: string;
  },
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...(options.nodeArgs ?? []), options.bin ?? binPath, ...args], {
      cwd: options.cwd,
      env: (options.env ?? baseEnv()) as NodeJS.ProcessEnv,
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: options.timeoutMs ?? 120_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}

/**
 * A temp directory removed after the test. Pass the test context `t` (preferred); a bare
 * `t.after` loses its binding, so for a function the directory is removed when the process exits.
 */
export function tempDir(
  owner: { after(fn: () => void): void } | ((fn: () => void) => void),
  prefix = 'gitops-test-',
): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const remove = () => rmSync(dir, { recursive: true, force: true });
  if (typeof owner === 'function') removeAtExit(remove);
  else owner.after(remove);
  return dir;
}

/** One `exit` listener for every such dir: a listener each made Node warn of a leak past ten. */
const atExit: (() => void)[] = [];
function removeAtExit(remove: () => void): void {
  if (atExit.length === 0)
    process.once('exit', () => {
      for (const each of atExit) each();
    });
  atExit.push(remove);
}
