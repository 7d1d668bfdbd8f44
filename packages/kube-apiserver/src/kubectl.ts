// Running the real kubectl against a test server.

import { spawn } from 'node:child_process';
import { type KubeApiServer, kubectlBinary } from './index.js';

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/**
 * Runs `kubectl ARGS` against `server` with its isolated environment (no shell). `input` is
 * piped to stdin (use `-f -`). Never rejects on a non-zero exit: assert on `code`.
 */
export function runKubectl(
  server: KubeApiServer,
  args: string[],
  options: { input?: string; env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<KubectlResult> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(kubectlBinary(), args, {
      env: server.kubectlEnv(options.env),
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: options.timeoutMs ?? 30_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => {
      stdout += c;
    });
    child.stderr.on('data', (c) => {
      stderr += c;
    });
    child.on('error', reject);
    child.on('close', (code, signal) =>
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr, ms: Date.now() - started }),
    );
    child.stdin.end(options.input ?? '');
  });
}
