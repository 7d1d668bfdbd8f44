// When has a workload finished rolling out? Pure functions of one object as the API server
// returns it (spec, metadata.generation, status), so a watch can judge every event it receives.
//
// Deployments, StatefulSets and DaemonSets follow `kubectl rollout status` rule for rule and
// message for message (kubectl pkg/polymorphichelpers/rollout_status.go), so a deploy reports
// what people already know from kubectl. Jobs are judged by their Complete and Failed
// conditions, as `kubectl wait --for=condition=complete` does. Every other kind follows the
// generic kstatus rules (sigs.k8s.io/cli-utils pkg/kstatus/status: generic.go and the README's
// Ready condition): observed generation, then Reconciling, Stalled and Ready conditions.
import { groupOf, type KubeObject } from '../kube/objects.js';

export type ReadinessState = 'ready' | 'progressing' | 'failed';

export interface Readiness {
  state: ReadinessState;
  /** kubectl's words where kubectl has a rule: "deployment \"web\" successfully rolled out". */
  message: string;
}

interface Condition {
  type?: string;
  status?: string;
  reason?: string;
  message?: string;
}

type Fields = Record<string, unknown>;

function fields(value: unknown): Fields {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Fields) : {};
}

/** A number the API left out is Go's zero value, as kubectl reads it. */
function count(value: unknown): number {
  return typeof value === 'number' ? value : 0;
}

/** A pointer field (spec.replicas, partition): absent is not zero, kubectl then skips the check. */
function optionalCount(value: unknown): number | undefined {
  return typeof value === 'number' ? value : undefined;
}

function conditionsOf(status: Fields): Condition[] {
  return Array.isArray(status.conditions) ? (status.conditions as Condition[]) : [];
}

function condition(status: Fields, type: string): Condition | undefined {
  return conditionsOf(status).find((item) => item?.type === type);
}

function isTrue(status: Fields, type: string): Condition | undefined {
  const found = condition(status, type);
  return found?.status === 'True' ? found : undefined;
}

const ready = (message: string): Readiness => ({ state: 'ready', message });
const progressing = (message: string): Readiness => ({ state: 'progressing', message });
const failed = (message: string): Readiness => ({ state: 'failed', message });

/**
 * The update strategy's type, with the API server's default for an object that does not say:
 * objects read from the server always carry one, hand-written ones (tests) may not.
 */
function strategyType(spec: Fields): string {
  const type = fields(spec.updateStrategy).type;
  return typeof type === 'string' && type ? type : 'RollingUpdate';
}

/**
 * OnDelete replaces a pod only when someone deletes it: the controller starts no rollout, so there
 * is nothing to follow. kubectl refuses with an error, which would fail every deploy of such a
 * workload although nothing is wrong, and waiting would only run into the timeout. It counts as
 * ready, and the message says the rollout was not followed.
 */
function notFollowable(kind: string, name: string, type: string): Readiness {
  return ready(
    `${kind} "${name}" uses the ${type} update strategy: its rollout cannot be followed (rollout status is only available for RollingUpdate strategy type)`,
  );
}

function deploymentReadiness(object: KubeObject): Readiness {
  const name = object.metadata.name;
  const spec = fields(object.spec);
  const status = fields(object.status);
  // Right after an apply the controller may not have seen the new spec yet; the status then
  // still describes the previous rollout and must not count.
  if (count(object.metadata.generation) > count(status.observedGeneration))
    return progressing('Waiting for deployment spec update to be observed...');
  if (condition(status, 'Progressing')?.reason === 'ProgressDeadlineExceeded')
    return failed(`deployment "${name}" exceeded its progress deadline`);
  const wanted = optionalCount(spec.replicas);
  const updated = count(status.updatedReplicas);
  if (wanted !== undefined && updated < wanted)
    return progressing(
      `Waiting for deployment "${name}" rollout to finish: ${updated} out of ${wanted} new replicas have been updated...`,
    );
  const replicas = count(status.replicas);
  if (replicas > updated)
    return progressing(
      `Waiting for deployment "${name}" rollout to finish: ${replicas - updated} old replicas are pending termination...`,
    );
  const available = count(status.availableReplicas);
  if (available < updated)
    return progressing(
      `Waiting for deployment "${name}" rollout to finish: ${available} of ${updated} updated replicas are available...`,
    );
  return ready(`deployment "${name}" successfully rolled out`);
}

function statefulSetReadiness(object: KubeObject): Readiness {
  const name = object.metadata.name;
  const spec = fields(object.spec);
  const status = fields(object.status);
  const type = strategyType(spec);
  if (type !== 'RollingUpdate') return notFollowable('statefulset', name, type);
  const observed = count(status.observedGeneration);
  if (observed === 0 || count(object.metadata.generation) > observed)
    return progressing('Waiting for statefulset spec update to be observed...');
  const wanted = optionalCount(spec.replicas);
  const readyReplicas = count(status.readyReplicas);
  if (wanted !== undefined && readyReplicas < wanted)
    return progressing(`Waiting for ${wanted - readyReplicas} pods to be ready...`);
  const updated = count(status.updatedReplicas);
  const rollingUpdate = spec.updateStrategy ? fields(spec.updateStrategy).rollingUpdate : undefined;
  // The API server always fills in rollingUpdate (partition 0), so in practice this branch decides:
  // the pods at or above the partition are updated. kubectl says so in these words.
  if (rollingUpdate !== undefined && rollingUpdate !== null) {
    const partition = optionalCount(fields(rollingUpdate).partition);
    if (wanted !== undefined && partition !== undefined && updated < wanted - partition)
      return progressing(
        `Waiting for partitioned roll out to finish: ${updated} out of ${wanted - partition} new pods have been updated...`,
      );
    return ready(`partitioned roll out complete: ${updated} new pods have been updated...`);
  }
  const updateRevision = typeof status.updateRevision === 'string' ? status.updateRevision : '';
  const currentRevision = typeof status.currentRevision === 'string' ? status.currentRevision : '';
  if (updateRevision !== currentRevision)
    return progressing(
      `waiting for statefulset rolling update to complete ${updated} pods at revision ${updateRevision}...`,
    );
  return ready(
    `statefulset rolling update complete ${count(status.currentReplicas)} pods at revision ${currentRevision}...`,
  );
}

function daemonSetReadiness(object: KubeObject): Readiness {
  const name = object.metadata.name;
  const spec = fields(object.spec);
  const status = fields(object.status);
  const type = strategyType(spec);
  if (type !== 'RollingUpdate') return notFollowable('daemon set', name, type);
  if (count(object.metadata.generation) > count(status.observedGeneration))
    return progressing('Waiting for daemon set spec update to be observed...');
  const desired = count(status.desiredNumberScheduled);
  const updated = count(status.updatedNumberScheduled);
  if (updated < desired)
    return progressing(
      `Waiting for daemon set "${name}" rollout to finish: ${updated} out of ${desired} new pods have been updated...`,
    );
  const available = count(status.numberAvailable);
  if (available < desired)
    return progressing(
      `Waiting for daemon set "${name}" rollout to finish: ${available} of ${desired} updated pods are available...`,
    );
  return ready(`daemon set "${name}" successfully rolled out`);
}

function jobReadiness(object: KubeObject): Readiness {
  const name = object.metadata.name;
  const spec = fields(object.spec);
  const status = fields(object.status);
  if (isTrue(status, 'Complete')) return ready(`job "${name}" complete`);
  const failure = isTrue(status, 'Failed');
  if (failure) {
    const why = [failure.reason, failure.message].filter(Boolean).join(': ');
    return failed(`job "${name}" failed${why ? `: ${why}` : ''}`);
  }
  // A suspended Job runs no pods and will not complete until someone resumes it; it is still
  // waited for, as `kubectl wait --for=condition=complete` would, and the message says why.
  if (isTrue(status, 'Suspended')) return progressing(`job "${name}" is suspended`);
  const completions = optionalCount(spec.completions) ?? optionalCount(spec.parallelism) ?? 1;
  return progressing(
    `Waiting for job "${name}" to complete: ${count(status.succeeded)} of ${completions} succeeded, ${count(status.active)} active, ${count(status.failed)} failed`,
  );
}

/** kstatus's generic rules, for kinds without a rule of their own (custom resources above all). */
function genericReadiness(object: KubeObject): Readiness {
  const kind = object.kind;
  if (object.metadata.deletionTimestamp)
    return progressing(`${kind} "${object.metadata.name}" is being deleted`);
  if (object.status === undefined || object.status === null) return ready('Resource is current');
  const status = fields(object.status);
  // A controller that publishes observedGeneration has not acted on a spec it has not observed.
  // Without the field there is nothing to compare (kstatus is lenient there too).
  const generation = optionalCount(object.metadata.generation);
  const observed = optionalCount(status.observedGeneration);
  if (generation !== undefined && observed !== undefined && observed !== generation)
    return progressing(`${kind} generation is ${generation}, but latest observed generation is ${observed}`);
  const reconciling = isTrue(status, 'Reconciling');
  if (reconciling) return progressing(describe('Reconciling', reconciling));
  const stalled = isTrue(status, 'Stalled');
  if (stalled) return failed(describe('Stalled', stalled));
  const readyCondition = condition(status, 'Ready');
  if (readyCondition?.status === 'True') return ready(describe('Ready', readyCondition));
  if (readyCondition?.status === 'False') return progressing(describe('not Ready', readyCondition));
  return ready('Resource is current');
}

function describe(what: string, found: Condition): string {
  const why = [found.reason, found.message].filter(Boolean).join(': ');
  return why ? `${what}: ${why}` : what;
}

/**
 * Where the rollout of this object stands, judged from the object alone. `failed` is final
 * (a progress deadline, a failed Job, a Stalled condition); `progressing` may still turn ready.
 */
export function rolloutReadiness(object: KubeObject): Readiness {
  const group = groupOf(object.apiVersion);
  const legacy = group === 'apps' || group === 'extensions';
  if (legacy && object.kind === 'Deployment') return deploymentReadiness(object);
  if (legacy && object.kind === 'DaemonSet') return daemonSetReadiness(object);
  if (group === 'apps' && object.kind === 'StatefulSet') return statefulSetReadiness(object);
  if (group === 'batch' && object.kind === 'Job') return jobReadiness(object);
  return genericReadiness(object);
}

/**
 * One line for `gitops status`: ready by the same rules as the rollout wait, with the replica
 * count people look for ("2/3 available").
 */
export function workloadHealth(object: KubeObject): { ready: boolean; detail: string } {
  const readiness = rolloutReadiness(object);
  const spec = fields(object.spec);
  const status = fields(object.status);
  const observed = count(status.observedGeneration) >= count(object.metadata.generation);
  const [available, wanted] =
    object.kind === 'DaemonSet'
      ? [count(status.numberAvailable), count(status.desiredNumberScheduled)]
      : [count(status.availableReplicas), optionalCount(spec.replicas) ?? 1];
  const notes = [
    observed ? '' : 'not yet observed',
    readiness.state === 'failed' ? readiness.message : '',
  ].filter(Boolean);
  return {
    ready: readiness.state === 'ready',
    detail: `${available}/${wanted} available${notes.length ? `, ${notes.join(', ')}` : ''}`,
  };
}
