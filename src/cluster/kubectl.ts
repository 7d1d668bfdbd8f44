import type { EnvironmentConfig, GitopsConfig } from '../config/types.js';
import type { Context } from '../core/context.js';
import type { ExecResult } from '../core/exec.js';

/**
 * The kubectl binary (`kubectl.path`), for what nothing in-process does: `kubectl kustomize`
 * when there is no kustomize binary. Everything that talks to the cluster goes through the
 * in-process client (cluster.ts); the server version a render needs is asked through it.
 */
export class Kubectl {
  constructor(
    private readonly ctx: Context,
    private readonly config: GitopsConfig,
    private readonly environment: EnvironmentConfig,
    /** The cluster's version (`v1.32.9`), for renders that depend on it (Helm's .Capabilities). */
    readonly serverVersion: () => Promise<string | undefined>,
  ) {}

  run(
    args: readonly string[],
    options: { input?: string; read?: boolean; allowFailure?: boolean; timeoutMs?: number } = {},
  ): Promise<ExecResult> {
    const global: string[] = [];
    if (this.environment.kubeconfig) global.push(`--kubeconfig=${this.environment.kubeconfig}`);
    if (this.environment.kubeContext) global.push(`--context=${this.environment.kubeContext}`);
    return this.ctx.exec.run(this.config.kubectl.path, [...global, ...args], {
      cwd: this.config.dir,
      ...options,
    });
  }
}
