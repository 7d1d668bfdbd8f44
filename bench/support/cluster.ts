/**
 * The benchmarks' cluster: the test fixture (tests/support/cluster.ts: env repo, app dir,
 * gitops.yaml), but with gitops, kubectl and the floors talking to the API server directly. The
 * test fixture puts a recording, fault-injecting TLS proxy in front of it, inside this process;
 * every request through it would cost both sides of a ratio the same extra time, and that
 * shrinks every ratio towards 1.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { kubeTools } from '@gitops/kube-apiserver/kube-tools';
import { kubeconfigYaml } from '../../test/control-plane/control-plane.js';
import type { UpstreamAccess } from '../../test/control-plane/proxy.js';
import { sharedCluster, upstreamFromKubeconfig } from '../../test/control-plane/shared.js';
import { tempDir } from '../../test/support/cli.js';
import { type ClusterFixture, clusterFixture } from '../../test/support/cluster.js';
import { type ProcessResult, runProcess } from './process.js';

let described: string | undefined;

/** Which API server the bench ran against (for the results' header), once one was used. */
export function clusterDescription(): string | undefined {
  return described;
}

export interface BenchCluster {
  fixture: ClusterFixture;
  /** App directory holding gitops.yaml. */
  app: string;
  /** Environment for gitops, kubectl and the floors: KUBECONFIG straight to the API server. */
  env: Record<string, string | undefined>;
  kubeconfigPath: string;
  /** How this process reaches the API server (for watches). */
  access: UpstreamAccess;
  kubectl(
    args: readonly string[],
    options?: { input?: string; okCodes?: readonly number[] },
  ): Promise<ProcessResult>;
  /** Deletes namespaces and waits until they are gone (their objects with them). */
  deleteNamespaces(names: readonly string[]): Promise<void>;
}

/** See clusterFixture: files of the env repo, environments of gitops.yaml, extra config. */
export async function benchCluster(
  owner: { after(fn: () => unknown): void },
  files: Record<string, string>,
  environments: Record<string, string>,
  extraConfig = '',
): Promise<BenchCluster> {
  const t = { after: (fn: () => void | Promise<void>) => owner.after(fn) };
  const fixture = await clusterFixture(t, files, environments, extraConfig);
  const shared = await sharedCluster();
  let kubeconfigPath = fixture.server.kubeconfigPath;
  if (shared.kind === 'control-plane' && shared.upstream.token) {
    kubeconfigPath = join(tempDir(t, 'gitops-bench-kube-'), 'kubeconfig');
    writeFileSync(kubeconfigPath, kubeconfigYaml({ ...shared.upstream, token: shared.upstream.token }), {
      mode: 0o600,
    });
  } else if (shared.kind === 'external' && process.env.GITOPS_TEST_KUBECONFIG) {
    kubeconfigPath = process.env.GITOPS_TEST_KUBECONFIG;
  }
  described ??=
    shared.kind === 'embedded'
      ? 'EMBEDDED Node API server inside the bench process (no real control plane; figures not comparable)'
      : `${shared.kind === 'control-plane' ? 'local control plane (etcd, kube-apiserver, controllers, kwok nodes)' : 'external cluster'} ${fixture.server.version}, reached directly`;
  const env = { ...fixture.env, KUBECONFIG: kubeconfigPath };
  const access = upstreamFromKubeconfig(kubeconfigPath);
  const kubectl: BenchCluster['kubectl'] = (args, options = {}) =>
    runProcess(kubeTools().kubectl, args, {
      env,
      ...(options.input !== undefined ? { input: options.input } : {}),
      ...(options.okCodes ? { okCodes: options.okCodes } : {}),
    });
  return {
    fixture,
    app: fixture.app,
    env,
    kubeconfigPath,
    access,
    kubectl,
    async deleteNamespaces(names) {
      if (names.length === 0) return;
      await kubectl(['delete', 'namespace', '--ignore-not-found', '--wait=true', '--timeout=600s', ...names]);
    },
  };
}
