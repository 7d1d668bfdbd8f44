import { ExecError } from '../core/exec.js';
import { displayName, type KubeObject, WORKLOAD_KINDS } from '../kube/objects.js';
import type { Kubectl } from './kubectl.js';
import { isTransient, kubectlMessage, READ_ATTEMPTS } from './kubectl.js';

export interface RolloutOutcome {
  object: string;
  ok: boolean;
  durationMs: number;
  /** kubectl's last words: "successfully rolled out", "exceeded its progress deadline", a timeout. */
  message: string;
}

/** Workloads and (when asked) Jobs among the objects: what a deploy waits for. */
export function waitables(objects: readonly KubeObject[], waitForJobs: boolean): KubeObject[] {
  return objects.filter(
    (object) => WORKLOAD_KINDS.has(object.kind) || (waitForJobs && object.kind === 'Job'),
  );
}

/**
 * Following a rollout only reads, so a transient API failure (500, 429, a reset or hung request)
 * is retried while the deadline lasts, a bounded number of times; a rollout that itself failed
 * or ran out of time is not (issue 10: never a false success, never a false failure from one 500).
 */
async function waitOne(kubectl: Kubectl, object: KubeObject, deadline: number): Promise<RolloutOutcome> {
  const started = performance.now();
  for (let attempt = 1; ; attempt++) {
    const outcome = await waitOnce(kubectl, object, deadline);
    if (outcome.ok || !outcome.transient || attempt >= READ_ATTEMPTS || Date.now() >= deadline - 1000) {
      return {
        object: outcome.object,
        ok: outcome.ok,
        durationMs: Math.round(performance.now() - started),
        message: outcome.message,
      };
    }
    await new Promise((resolve) => setTimeout(resolve, 250 * attempt));
  }
}

async function waitOnce(
  kubectl: Kubectl,
  object: KubeObject,
  deadline: number,
): Promise<RolloutOutcome & { transient: boolean }> {
  const started = performance.now();
  const seconds = Math.max(1, Math.ceil((deadline - Date.now()) / 1000));
  const namespace = object.metadata.namespace ? ['-n', object.metadata.namespace] : [];
  const target = `${object.kind.toLowerCase()}/${object.metadata.name}`;
  // `rollout status` follows Deployments, StatefulSets and DaemonSets to the end (or the
  // progress deadline); Jobs have no rollout, they complete.
  const args =
    object.kind === 'Job'
      ? ['wait', '--for=condition=complete', target, ...namespace, `--timeout=${seconds}s`]
      : ['rollout', 'status', target, ...namespace, `--timeout=${seconds}s`];
  try {
    const result = await kubectl.run(args, { timeoutMs: seconds * 1000 + 15_000, read: true });
    return {
      object: displayName(object),
      ok: true,
      durationMs: Math.round(performance.now() - started),
      message: result.stdout.trim().split('\n').at(-1) ?? 'done',
      transient: false,
    };
  } catch (error) {
    // An interrupt is not a failed rollout: it ends the deploy (exit 130), it is not judged here.
    if (!(error instanceof ExecError)) throw error;
    const message = kubectlMessage(error.stderrTail) || error.message;
    return {
      object: displayName(object),
      ok: false,
      durationMs: Math.round(performance.now() - started),
      message,
      transient: isTransient(error),
    };
  }
}

/** Waits for every workload at once (bounded by the shared deadline); never reports success for one that did not finish. */
export async function waitForRollouts(
  kubectl: Kubectl,
  objects: readonly KubeObject[],
  timeoutMs: number,
  /** Called as each workload finishes: how many are done of how many. */
  onProgress?: (done: number, total: number, failed: number) => void,
): Promise<RolloutOutcome[]> {
  const deadline = Date.now() + timeoutMs;
  const concurrency = 4;
  const queue = [...objects];
  const outcomes: RolloutOutcome[] = [];
  await Promise.all(
    Array.from({ length: Math.min(concurrency, queue.length) }, async () => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        outcomes.push(await waitOne(kubectl, next, deadline));
        onProgress?.(outcomes.length, objects.length, outcomes.filter((outcome) => !outcome.ok).length);
      }
    }),
  );
  return outcomes.sort((a, b) => a.object.localeCompare(b.object));
}

interface WorkloadStatus {
  replicas?: number;
  updatedReplicas?: number;
  availableReplicas?: number;
  observedGeneration?: number;
}

/** Ready as `kubectl rollout status` judges a Deployment (observed generation, updated and available replicas). */
export function workloadHealth(object: KubeObject): { ready: boolean; detail: string } {
  const status = (object.status ?? {}) as WorkloadStatus;
  const wanted = (object.spec as { replicas?: number } | undefined)?.replicas ?? 1;
  const generation = typeof object.metadata.generation === 'number' ? object.metadata.generation : 0;
  const observed = (status.observedGeneration ?? 0) >= generation;
  const ready =
    observed && (status.updatedReplicas ?? 0) >= wanted && (status.availableReplicas ?? 0) >= wanted;
  return {
    ready,
    detail: `${status.availableReplicas ?? 0}/${wanted} available${observed ? '' : ', not yet observed'}`,
  };
}
