import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { kubeTools } from '@gitops/kube-apiserver/kube-tools';
import { createContext } from '../../src/cli/context.js';
import { applyEnvironment } from '../../src/cluster/apply.js';
import { inventoryNamespace } from '../../src/cluster/inventory.js';
import { detectDrift } from '../../src/drift/detect.js';
import { openSession } from '../../src/operations/session.js';
import { baseEnv, runCli, tempDir } from './cli.js';
import { createRemote, gitTestEnv, type TestRemote } from './git.js';
import { type KubectlResult, runKubectl } from './kubectl.js';
import { type TestCluster, testCluster } from './test-cluster.js';

export interface ClusterFixture {
  server: TestCluster;
  remote: TestRemote;
  /** App directory holding gitops.yaml. */
  app: string;
  env: Record<string, string | undefined>;
  gitops(args: string[]): ReturnType<typeof runCli>;
  kubectl(args: string[], input?: string): Promise<KubectlResult>;
  /** Applies an environment the way a deploy does (real code, in-process), at the branch head. */
  apply(envName: string): Promise<void>;
}

/**
 * A Kubernetes API (see test-cluster.ts), an env repo (bare remote) with the given files, and an app dir whose
 * gitops.yaml points at both. `environments` maps names to extra YAML for that environment
 * (`    path: …` in it replaces the default `envs/<name>`).
 */
export async function clusterFixture(
  t: { after(fn: () => void | Promise<void>): void },
  files: Record<string, string>,
  environments: Record<string, string>,
  extraConfig = '',
): Promise<ClusterFixture> {
  const server = await testCluster(t);
  const remote = createRemote(t, files);
  const app = tempDir(t, 'gitops-app-');
  const envs = Object.entries(environments)
    // An environment's own `path:` line replaces the default envs/<name>.
    .map(
      ([name, extra]) => `  ${name}:\n${/^ {4}path:/m.test(extra) ? '' : `    path: envs/${name}\n`}${extra}`,
    )
    .join('');
  writeFileSync(
    join(app, 'gitops.yaml'),
    `version: 1\nenvRepo:\n  url: ${remote.bare}\n  branch: main\nkubectl:\n  path: ${kubeTools().kubectl}\nenvironments:\n${envs}${extraConfig}`,
  );
  const env = baseEnv({ ...gitTestEnv, GIT_CONFIG_GLOBAL: '/dev/null', ...server.kubectlEnv() });
  return {
    server,
    remote,
    app,
    env,
    gitops: (args) => runCli(args, { cwd: app, env }),
    kubectl: (args, input) => runKubectl(server.kubectlEnv(), args, input === undefined ? {} : { input }),
    async apply(envName) {
      const ctx = createContext(
        { cwd: app, env, stdout: new PassThrough(), stderr: new PassThrough(), isTTY: false },
        {},
      );
      try {
        const session = await openSession(ctx, envName);
        const desired = await session.desiredState(await session.openEnvRepo());
        const namespace = inventoryNamespace(session.environment, session.namespace);
        const drift = await detectDrift(session.cluster, session.environment, desired.objects, namespace);
        await applyEnvironment(session.cluster, session.environment, {
          revision: desired.revision,
          objects: desired.objects.map((item) => item.object),
          prune: drift.objects
            .filter((object) => object.state === 'extra' && object.prunable)
            .map((object) => object.live!),
          inventoryNamespace: namespace,
          ...(drift.inventory ? { previous: drift.inventory } : {}),
        });
      } finally {
        await ctx.cleanup.run();
      }
    },
  };
}
