// Running the real kubectl in tests.

import { spawn } from 'node:child_process';
import { kubeTools } from '@gitops/kube-apiserver/kube-tools';

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `kubectl ARGS` with `env` (a test cluster's kubectlEnv(); no shell). `input` is piped
 * to stdin (use `-f -`). Never rejects on a non-zero exit: assert on `code`.
 */
export function runKubectl(
  env: Record<string, string>,
  args: string[],
  options: { input?: string; timeoutMs?: number } = {},
): Promise<KubectlResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(kubeTools().kubectl, args, {
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: options.timeoutMs ?? 60_000,
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
