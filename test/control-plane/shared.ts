// Which Kubernetes the cluster tests run against, decided once per test process:
//   1. GITOPS_TEST_CLUSTER_FILE: the control plane the test runner (test/run.ts) started for the
//      whole suite;
//   2. GITOPS_TEST_KUBECONFIG: an existing cluster (kind, k3s, a shared test cluster);
//   3. the built control plane, started for this process alone (a test file run by hand);
//   4. otherwise the embedded Node API server (packages/kube-apiserver), with a loud line — and
//      under CI=true not at all: the suite's verdict must come from a real control plane.

import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { findControlPlaneBinaries } from './binaries.js';
import { apiRequest, issueCertificates, startControlPlane } from './control-plane.js';
import type { UpstreamAccess } from './proxy.js';

export type ClusterKind = 'control-plane' | 'external' | 'embedded';

export interface RealCluster {
  kind: 'control-plane' | 'external';
  version: string;
  /** How the test process reaches the API server directly (fixtures put a proxy in front). */
  upstream: UpstreamAccess;
  /** Certificate for the fixtures' proxies, signed by `proxyTls.caPem`. */
  proxyTls: { cert: string; key: string; caPem: string };
}

export interface EmbeddedCluster {
  kind: 'embedded';
  reason: string;
}

/** What the test runner hands its test processes (as JSON in GITOPS_TEST_CLUSTER_FILE). */
export interface ClusterHandoff {
  kind: 'control-plane' | 'external';
  version: string;
  upstream: UpstreamAccess;
  proxyTls: { cert: string; key: string; caPem: string };
}

/** A key and certificate for 127.0.0.1, in a temp dir removed at exit. */
export function proxyCertificate(): { cert: string; key: string; caPem: string } {
  const dir = mkdtempSync(join(tmpdir(), 'gitops-proxy-tls-'));
  try {
    const issued = issueCertificates(dir, 'proxy');
    return {
      cert: readFileSync(issued.cert, 'utf8'),
      key: readFileSync(issued.key, 'utf8'),
      caPem: readFileSync(issued.caCert, 'utf8'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface Kubeconfig {
  'current-context'?: string;
  contexts?: Array<{ name: string; context: { cluster: string; user: string } }>;
  clusters?: Array<{
    name: string;
    cluster: { server: string; 'certificate-authority-data'?: string; 'certificate-authority'?: string };
  }>;
  users?: Array<{
    name: string;
    user: {
      token?: string;
      'client-certificate-data'?: string;
      'client-key-data'?: string;
      'client-certificate'?: string;
      'client-key'?: string;
      exec?: unknown;
    };
  }>;
}

/** Server, CA and credentials of a kubeconfig's current context (token or client certificate). */
export function upstreamFromKubeconfig(file: string): UpstreamAccess {
  const config = yaml.load(readFileSync(file, 'utf8')) as Kubeconfig;
  const contextName = config['current-context'];
  const context = config.contexts?.find((entry) => entry.name === contextName)?.context;
  const cluster = config.clusters?.find((entry) => entry.name === context?.cluster)?.cluster;
  const user = config.users?.find((entry) => entry.name === context?.user)?.user;
  if (!context || !cluster) throw new Error(`${file}: no current context with a cluster`);
  const read = (data?: string, path?: string) =>
    data ? Buffer.from(data, 'base64').toString('utf8') : path ? readFileSync(path, 'utf8') : undefined;
  const caPem = read(cluster['certificate-authority-data'], cluster['certificate-authority']);
  if (!cluster.server.startsWith('https://') || !caPem)
    throw new Error(`${file}: the test cluster must be served over https with a certificate authority`);
  if (user?.exec)
    throw new Error(
      `${file}: exec credential plugins are not supported for test clusters; use a token or client certificate`,
    );
  const clientCertPem = read(user?.['client-certificate-data'], user?.['client-certificate']);
  const clientKeyPem = read(user?.['client-key-data'], user?.['client-key']);
  return {
    url: cluster.server.replace(/\/$/, ''),
    caPem,
    ...(user?.token ? { token: user.token } : {}),
    ...(clientCertPem && clientKeyPem ? { clientCertPem, clientKeyPem } : {}),
  };
}

let resolved: Promise<RealCluster | EmbeddedCluster> | undefined;

async function resolve(): Promise<RealCluster | EmbeddedCluster> {
  const handoff = process.env.GITOPS_TEST_CLUSTER_FILE;
  if (handoff) return JSON.parse(readFileSync(handoff, 'utf8')) as ClusterHandoff;

  const external = process.env.GITOPS_TEST_KUBECONFIG;
  if (external) {
    const upstream = upstreamFromKubeconfig(external);
    return {
      kind: 'external',
      version: await serverVersion(upstream),
      upstream,
      proxyTls: proxyCertificate(),
    };
  }

  const binaries = findControlPlaneBinaries();
  if (typeof binaries !== 'string') {
    const plane = await startControlPlane({ binaries, unref: true });
    // This process owns it: stop it when the process ends, however it ends.
    process.once('exit', () => plane.killNow());
    process.once('beforeExit', () => {
      void plane.stop();
    });
    return {
      kind: 'control-plane',
      version: plane.version,
      upstream: { url: plane.url, caPem: plane.caPem, token: plane.token },
      proxyTls: proxyCertificate(),
    };
  }
  if (process.env.CI === 'true')
    throw new Error(`CI=true needs a real control plane: ${binaries}; or set GITOPS_TEST_KUBECONFIG`);
  return { kind: 'embedded', reason: binaries };
}

async function serverVersion(upstream: UpstreamAccess): Promise<string> {
  const response = await apiRequest(upstream, 'GET', '/version');
  return response.json<{ gitVersion: string }>().gitVersion;
}

let warned = false;

/** The cluster this test process runs against (resolved once). */
export async function sharedCluster(): Promise<RealCluster | EmbeddedCluster> {
  resolved ??= resolve();
  const cluster = await resolved;
  if (cluster.kind === 'embedded' && !warned) {
    warned = true;
    process.stderr.write(
      `\n!!! cluster tests run against the EMBEDDED Node API server, not a real control plane: ${cluster.reason}\n\n`,
    );
  }
  return cluster;
}

/** Writes the handoff file for child test processes; returns its path and a remover. */
export function writeHandoff(handoff: ClusterHandoff): { file: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'gitops-test-cluster-'));
  const file = join(dir, 'cluster.json');
  writeFileSync(file, JSON.stringify(handoff), { mode: 0o600 });
  return { file, remove: () => existsSync(dir) && rmSync(dir, { recursive: true, force: true }) };
}
