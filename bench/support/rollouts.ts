/**
 * An observer of rollouts beside the one measured: a watch of the Deployments of a namespace
 * that notes, to the millisecond, when each one appeared (or got a new spec) and when its rollout
 * was complete (as `kubectl rollout status` judges it). The API's own timestamps have whole
 * seconds only.
 */
import { request } from 'node:https';
import type { UpstreamAccess } from '../../test/control-plane/proxy.js';

interface DeploymentEvent {
  type: string;
  object: {
    metadata: { name: string; generation?: number };
    spec?: { replicas?: number };
    status?: {
      observedGeneration?: number;
      replicas?: number;
      updatedReplicas?: number;
      availableReplicas?: number;
    };
  };
}

function rolledOut(object: DeploymentEvent['object']): boolean {
  const wanted = object.spec?.replicas ?? 1;
  const status = object.status ?? {};
  return (
    (status.observedGeneration ?? 0) >= (object.metadata.generation ?? 1) &&
    (status.updatedReplicas ?? 0) === wanted &&
    (status.availableReplicas ?? 0) === wanted &&
    (status.replicas ?? 0) === wanted
  );
}

export interface RolloutWatch {
  /** Resolves once `count` Deployments rolled out, or rejects after `timeoutMs`. */
  allDone(count: number, timeoutMs: number): Promise<void>;
  /** Per Deployment: milliseconds from its creation (first seen) to its complete rollout. */
  durations(): Map<string, number>;
  /** Resolves once `count` Deployments were seen (those that exist show at once), or rejects. */
  allSeen(count: number, timeoutMs: number): Promise<void>;
  /**
   * Resolves once `count` Deployments that existed when the watch began got a new spec
   * (generation) and rolled it out, or rejects after `timeoutMs`.
   */
  allUpdated(count: number, timeoutMs: number): Promise<void>;
  /**
   * Per Deployment updated while watched: when the watch saw its new generation and when it saw
   * that generation rolled out (performance.now() of this process).
   */
  updates(): Map<string, { changedAt: number; doneAt: number }>;
  stop(): void;
}

/** Starts watching the Deployments of `namespace` (it need not exist yet); resolves once the watch is open. */
export function watchRollouts(access: UpstreamAccess, namespace: string): Promise<RolloutWatch> {
  const seen = new Map<string, number>();
  const done = new Map<string, number>();
  /** The generation each Deployment had when first seen, and the one an update brought. */
  const generations = new Map<string, number>();
  const updating = new Map<string, { generation: number; changedAt: number; doneAt?: number }>();
  const waiters = new Set<() => void>();
  const waitFor = (what: string, count: number, have: () => number, timeoutMs: number) =>
    new Promise<void>((settle, fail) => {
      const check = () => {
        if (have() < count) return;
        waiters.delete(check);
        clearTimeout(timer);
        settle();
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        fail(new Error(`the watch saw ${have()} of ${count} ${what}`));
      }, timeoutMs);
      waiters.add(check);
      check();
    });
  return new Promise((resolve, reject) => {
    const req = request(
      new URL(`/apis/apps/v1/namespaces/${namespace}/deployments?watch=1`, access.url),
      {
        ca: access.caPem,
        ...(access.clientCertPem ? { cert: access.clientCertPem, key: access.clientKeyPem } : {}),
        headers: access.token ? { Authorization: `Bearer ${access.token}` } : {},
      },
      (res) => {
        if (res.statusCode !== 200) {
          reject(new Error(`watch of deployments in ${namespace}: HTTP ${res.statusCode}`));
          res.resume();
          return;
        }
        let buffer = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          const now = performance.now();
          buffer += chunk;
          let newline = buffer.indexOf('\n');
          while (newline >= 0) {
            const line = buffer.slice(0, newline);
            buffer = buffer.slice(newline + 1);
            newline = buffer.indexOf('\n');
            if (!line.trim()) continue;
            const event = JSON.parse(line) as DeploymentEvent;
            const name = event.object.metadata.name;
            const generation = event.object.metadata.generation ?? 1;
            if (!seen.has(name)) seen.set(name, now);
            if (!done.has(name) && rolledOut(event.object)) done.set(name, now);
            if (!generations.has(name)) generations.set(name, generation);
            else if (generation > generations.get(name)! && !updating.has(name))
              updating.set(name, { generation, changedAt: now });
            const update = updating.get(name);
            if (
              update &&
              update.doneAt === undefined &&
              generation >= update.generation &&
              rolledOut(event.object)
            )
              update.doneAt = now;
          }
          for (const waiter of waiters) waiter();
        });
        res.on('error', () => undefined);
        const updated = () => [...updating.values()].filter((update) => update.doneAt !== undefined).length;
        resolve({
          allDone: (count, timeoutMs) => waitFor('rollouts complete', count, () => done.size, timeoutMs),
          durations: () => new Map([...done].map(([name, at]) => [name, at - seen.get(name)!])),
          allSeen: (count, timeoutMs) => waitFor('Deployments', count, () => seen.size, timeoutMs),
          allUpdated: (count, timeoutMs) => waitFor('updates rolled out', count, updated, timeoutMs),
          updates: () =>
            new Map(
              [...updating]
                .filter(([, update]) => update.doneAt !== undefined)
                .map(([name, update]) => [name, { changedAt: update.changedAt, doneAt: update.doneAt! }]),
            ),
          stop: () => req.destroy(),
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}
