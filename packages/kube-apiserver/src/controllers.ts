// Scriptable stand-ins for the workload controllers. A real cluster's kube-controller-manager
// writes workload status; here the test decides what the status becomes and when.
// The fields follow what `kubectl rollout status` reads
// (https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#deployment-status).

import { isObject } from './fieldset.js';
import type { JsonObject } from './schema.js';

/** How a workload's status evolves after each spec change (generation bump). */
export type RolloutBehaviour =
  /** Observed at once, all replicas updated and available after `afterMs` (default 50). */
  | { mode: 'ready'; afterMs?: number; observeAfterMs?: number }
  /** Observed, but no replica is ever updated: `rollout status` waits until its --timeout. */
  | { mode: 'stuck'; observeAfterMs?: number }
  /** Stuck, then the Progressing condition turns False/ProgressDeadlineExceeded after `afterMs` (default 100). */
  | { mode: 'progressDeadlineExceeded'; afterMs?: number; observeAfterMs?: number }
  /** Replicas are updated but never become available (Available=False/MinimumReplicasUnavailable). */
  | { mode: 'unavailable'; afterMs?: number; observeAfterMs?: number }
  /** The server never touches status; the test writes it through the status subresource. */
  | { mode: 'manual' };

export const DEFAULT_BEHAVIOUR: RolloutBehaviour = { mode: 'ready', afterMs: 50 };

export const WORKLOAD_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet', 'Job'];

/**
 * The behaviour the test control plane's fake kubelets (kwok stages) give pods by their image
 * tag, so that tests break a rollout the same way on either server: a tag containing `stuck`
 * never becomes ready, `crash` crash-loops (replicas updated, never available), `slow` is
 * ready after 4 s.
 */
export function behaviourOfImages(obj: JsonObject): RolloutBehaviour | undefined {
  const spec = isObject(obj.spec) ? obj.spec : {};
  const template = isObject(spec.template)
    ? spec.template
    : isObject(spec.jobTemplate)
      ? spec.jobTemplate
      : {};
  const podSpec = isObject(template.spec) ? template.spec : {};
  const containers = Array.isArray(podSpec.containers) ? podSpec.containers : [];
  const tags = containers
    .map((container) => (isObject(container) && typeof container.image === 'string' ? container.image : ''))
    .map((image) => image.slice(image.lastIndexOf('/') + 1).split(':')[1] ?? '');
  if (tags.some((tag) => tag.includes('stuck'))) {
    // The deployment controller reports a stalled rollout once progressDeadlineSeconds pass.
    const deadline = typeof spec.progressDeadlineSeconds === 'number' ? spec.progressDeadlineSeconds : 600;
    return deadline < 60 ? { mode: 'progressDeadlineExceeded', afterMs: deadline * 1000 } : { mode: 'stuck' };
  }
  if (tags.some((tag) => tag.includes('crash'))) return { mode: 'unavailable' };
  if (tags.some((tag) => tag.includes('slow'))) return { mode: 'ready', afterMs: 4000 };
  return undefined;
}

function condition(type: string, status: string, reason: string, message: string, now: string): JsonObject {
  return { type, status, lastUpdateTime: now, lastTransitionTime: now, reason, message };
}

function rsName(obj: JsonObject): string {
  const meta = obj.metadata as JsonObject;
  const hash = String(meta.generation ?? 1)
    .padStart(3, '0')
    .split('')
    .reverse()
    .join('');
  return `${meta.name}-${hash}c5d8f9b`.slice(0, 63);
}

export type Phase = 'observed' | 'progressing' | 'done' | 'deadline' | 'unavailable';

/** The status a workload has in `phase` of its rollout. `prev` is the current status. */
export function workloadStatus(kind: string, obj: JsonObject, phase: Phase, now: string): JsonObject {
  const meta = obj.metadata as JsonObject;
  const spec = isObject(obj.spec) ? obj.spec : {};
  const prev = isObject(obj.status) ? obj.status : {};
  const generation = Number(meta.generation ?? 1);
  const desired = typeof spec.replicas === 'number' ? spec.replicas : 1;
  const ready = phase === 'done';
  const name = String(meta.name);
  const oldAvailable = typeof prev.availableReplicas === 'number' ? prev.availableReplicas : 0;
  switch (kind) {
    case 'Deployment': {
      const updated = ready || phase === 'unavailable' ? desired : 0;
      const available = ready ? desired : phase === 'unavailable' ? 0 : Math.min(oldAvailable, desired);
      const status: JsonObject = {
        observedGeneration: generation,
        replicas: ready || phase === 'unavailable' ? desired : Math.max(desired, oldAvailable),
        updatedReplicas: updated,
        readyReplicas: available,
        availableReplicas: available,
        ...(desired - available > 0 ? { unavailableReplicas: desired - available } : {}),
      };
      if (available === 0) delete status.readyReplicas;
      const availableCond =
        available >= desired - Math.floor(desired / 4)
          ? condition(
              'Available',
              'True',
              'MinimumReplicasAvailable',
              'Deployment has minimum availability.',
              now,
            )
          : condition(
              'Available',
              'False',
              'MinimumReplicasUnavailable',
              'Deployment does not have minimum availability.',
              now,
            );
      const rs = rsName(obj);
      const progressing =
        phase === 'deadline'
          ? condition(
              'Progressing',
              'False',
              'ProgressDeadlineExceeded',
              `ReplicaSet "${rs}" has timed out progressing.`,
              now,
            )
          : ready
            ? condition(
                'Progressing',
                'True',
                'NewReplicaSetAvailable',
                `ReplicaSet "${rs}" has successfully progressed.`,
                now,
              )
            : condition(
                'Progressing',
                'True',
                'ReplicaSetUpdated',
                `ReplicaSet "${rs}" is progressing.`,
                now,
              );
      status.conditions = [availableCond, progressing];
      return status;
    }
    case 'StatefulSet': {
      const revision = `${name}-${rsName(obj).slice(name.length + 1, name.length + 11)}`;
      const updated = ready || phase === 'unavailable' ? desired : 0;
      return {
        observedGeneration: generation,
        replicas: desired,
        readyReplicas: ready ? desired : 0,
        currentReplicas: updated,
        updatedReplicas: updated,
        availableReplicas: ready ? desired : 0,
        currentRevision: ready ? revision : String(prev.currentRevision ?? revision),
        updateRevision: revision,
        collisionCount: 0,
      };
    }
    case 'DaemonSet': {
      const n = ready || phase === 'unavailable' ? 1 : 0;
      return {
        observedGeneration: generation,
        desiredNumberScheduled: 1,
        currentNumberScheduled: 1,
        numberMisscheduled: 0,
        numberReady: ready ? 1 : 0,
        updatedNumberScheduled: n,
        numberAvailable: ready ? 1 : 0,
        ...(ready ? {} : { numberUnavailable: 1 }),
      };
    }
    case 'Job': {
      if (ready) {
        return {
          startTime: String(prev.startTime ?? now),
          completionTime: now,
          succeeded: 1,
          ready: 0,
          terminating: 0,
          uncountedTerminatedPods: {},
          conditions: [
            condition(
              'SuccessCriteriaMet',
              'True',
              'CompletionsReached',
              'Reached expected number of succeeded pods',
              now,
            ),
            condition(
              'Complete',
              'True',
              'CompletionsReached',
              'Reached expected number of succeeded pods',
              now,
            ),
          ],
        };
      }
      return {
        startTime: String(prev.startTime ?? now),
        active: 1,
        ready: 0,
        terminating: 0,
        uncountedTerminatedPods: {},
      };
    }
    default:
      return prev;
  }
}

/** The phases a behaviour walks through, with the delay before each. */
export function plan(behaviour: RolloutBehaviour): { phase: Phase; atMs: number }[] {
  switch (behaviour.mode) {
    case 'manual':
      return [];
    case 'ready': {
      const observe = behaviour.observeAfterMs ?? 0;
      return [
        { phase: 'progressing', atMs: observe },
        { phase: 'done', atMs: Math.max(observe, behaviour.afterMs ?? 50) },
      ];
    }
    case 'stuck':
      return [{ phase: 'progressing', atMs: behaviour.observeAfterMs ?? 0 }];
    case 'progressDeadlineExceeded': {
      const observe = behaviour.observeAfterMs ?? 0;
      return [
        { phase: 'progressing', atMs: observe },
        { phase: 'deadline', atMs: Math.max(observe, behaviour.afterMs ?? 100) },
      ];
    }
    case 'unavailable': {
      const observe = behaviour.observeAfterMs ?? 0;
      return [
        { phase: 'progressing', atMs: observe },
        { phase: 'unavailable', atMs: Math.max(observe, behaviour.afterMs ?? 50) },
      ];
    }
  }
}
