// One Kubernetes API for a test: the shared real control plane (or an existing cluster) behind a
// private fault-injecting proxy, or — only where no real control plane exists and CI is not
// set — the embedded Node API server. Tests see the same interface either way.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { startKubeApiServer } from '@gitops/kube-apiserver';
import { kubeTools } from '@gitops/kube-apiserver/kube-tools';
import { apiRequest, kubeconfigYaml } from '../control-plane/control-plane.js';
import { type FaultRule, type RequestLogEntry, startApiProxy } from '../control-plane/proxy.js';
import { type ClusterKind, type RealCluster, sharedCluster } from '../control-plane/shared.js';

export type { FaultRule, RequestLogEntry } from '../control-plane/proxy.js';

// biome-ignore lint/suspicious/noExplicitAny: API objects are arbitrary JSON.
export type JsonObject = Record<string, any>;

/** Identifies an object. `apiVersion` like `apps/v1`, `v1`; no namespace for cluster-scoped kinds. */
export interface ObjectRef {
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
}

export interface TestCluster {
  kind: ClusterKind;
  /** Server version, e.g. v1.32.9. */
  version: string;
  /** A kubeconfig with one context `test` (namespace `default`) for this test. */
  kubeconfigPath: string;
  /** KUBECONFIG, a private HOME (kubectl's discovery cache), PATH with helm, LANG. */
  kubectlEnv(extra?: Record<string, string>): Record<string, string>;
  /** Every request this test's clients sent, in order. */
  requests: RequestLogEntry[];
  clearRequests(): void;
  faults: { add(rule: FaultRule): void; clear(): void };
  /** A live object, read straight from the API server (not logged), or undefined. */
  getObject(ref: ObjectRef): Promise<JsonObject | undefined>;
  /** Live objects of a kind, optionally in one namespace. */
  listObjects(apiVersion: string, kind: string, namespace?: string): Promise<JsonObject[]>;
  stop(): Promise<void>;
}

let namespaceCounter = 0;
const RUN_ID = `${process.pid.toString(36)}${Date.now().toString(36).slice(-3)}`;

/**
 * A namespace name no other test uses, even on a shared cluster: `staging` → `staging-k2x9a1`.
 * Tests name every namespace (and cluster-scoped object) through this.
 */
export function uniqueName(base: string): string {
  namespaceCounter += 1;
  return `${base}-${RUN_ID}${namespaceCounter.toString(36)}`.slice(0, 63);
}

function toolPath(): string {
  return [dirname(kubeTools().helm), process.env.PATH ?? '/usr/bin:/bin'].join(delimiter);
}

interface Resource {
  name: string;
  namespaced: boolean;
}

const discovery = new Map<string, Promise<Map<string, Resource>>>();

async function resourceFor(cluster: RealCluster, apiVersion: string, kind: string): Promise<Resource> {
  let resources = discovery.get(apiVersion);
  if (!resources) {
    resources = apiRequest(
      cluster.upstream,
      'GET',
      apiVersion === 'v1' ? '/api/v1' : `/apis/${apiVersion}`,
    ).then((response) => {
      const list = response.json<{
        resources?: Array<{ name: string; kind: string; namespaced: boolean }>;
      }>();
      return new Map(
        (list.resources ?? [])
          .filter((resource) => !resource.name.includes('/'))
          .map((resource) => [resource.kind, { name: resource.name, namespaced: resource.namespaced }]),
      );
    });
    discovery.set(apiVersion, resources);
  }
  const found = (await resources).get(kind);
  if (!found) {
    discovery.delete(apiVersion);
    throw new Error(`the cluster serves no ${kind} in ${apiVersion}`);
  }
  return found;
}

function collectionPath(apiVersion: string, resource: Resource, namespace?: string): string {
  const prefix = apiVersion === 'v1' ? '/api/v1' : `/apis/${apiVersion}`;
  return resource.namespaced && namespace
    ? `${prefix}/namespaces/${namespace}/${resource.name}`
    : `${prefix}/${resource.name}`;
}

async function realTestCluster(cluster: RealCluster): Promise<TestCluster> {
  const proxy = await startApiProxy(cluster.upstream, cluster.proxyTls);
  const dir = mkdtempSync(join(tmpdir(), 'gitops-test-kube-'));
  const home = join(dir, 'home');
  mkdirSync(home);
  const kubeconfigPath = join(dir, 'kubeconfig');
  // The proxy presents the real credentials upstream; this token only reaches the proxy.
  writeFileSync(
    kubeconfigPath,
    kubeconfigYaml({ url: proxy.url, caPem: cluster.proxyTls.caPem, token: 'gitops-test' }),
  );
  return {
    kind: cluster.kind,
    version: cluster.version,
    kubeconfigPath,
    kubectlEnv: (extra = {}) => ({
      PATH: toolPath(),
      HOME: home,
      KUBECONFIG: kubeconfigPath,
      LANG: 'C.UTF-8',
      ...extra,
    }),
    requests: proxy.requests,
    clearRequests: () => {
      proxy.requests.length = 0;
    },
    faults: proxy.faults,
    async getObject(ref) {
      const resource = await resourceFor(cluster, ref.apiVersion, ref.kind);
      const response = await apiRequest(
        cluster.upstream,
        'GET',
        `${collectionPath(ref.apiVersion, resource, ref.namespace)}/${ref.name}`,
      );
      if (response.status === 404) return undefined;
      if (response.status !== 200)
        throw new Error(`GET ${ref.kind} ${ref.name}: ${response.status} ${response.body}`);
      return response.json<JsonObject>();
    },
    async listObjects(apiVersion, kind, namespace) {
      const resource = await resourceFor(cluster, apiVersion, kind);
      const response = await apiRequest(
        cluster.upstream,
        'GET',
        collectionPath(apiVersion, resource, namespace),
      );
      if (response.status !== 200) throw new Error(`LIST ${kind}: ${response.status} ${response.body}`);
      const items = response.json<{ items: JsonObject[] }>().items;
      return items.sort((a, b) =>
        `${a.metadata.namespace ?? ''}/${a.metadata.name}`.localeCompare(
          `${b.metadata.namespace ?? ''}/${b.metadata.name}`,
        ),
      );
    },
    async stop() {
      await proxy.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function embeddedTestCluster(): Promise<TestCluster> {
  const server = await startKubeApiServer();
  return {
    kind: 'embedded',
    version: 'embedded',
    kubeconfigPath: server.kubeconfigPath,
    kubectlEnv: (extra = {}) => server.kubectlEnv({ PATH: toolPath(), ...extra }),
    requests: server.requests,
    clearRequests: () => server.clearRequests(),
    faults: server.faults,
    getObject: async (ref) => server.getObject(ref),
    listObjects: async (apiVersion, kind, namespace) => server.listObjects(apiVersion, kind, namespace),
    stop: () => server.stop(),
  };
}

/** A cluster for one test, stopped by the test's `after`. */
export async function testCluster(t: { after(fn: () => void | Promise<void>): void }): Promise<TestCluster> {
  const shared = await sharedCluster();
  const cluster = shared.kind === 'embedded' ? await embeddedTestCluster() : await realTestCluster(shared);
  t.after(() => cluster.stop());
  return cluster;
}
