// Readiness of one object as kubectl rollout status (Deployments, StatefulSets, DaemonSets),
// kubectl wait --for=condition=complete (Jobs) and kstatus (everything else) judge it: a table of
// objects, each with the state and message it must get. No cluster.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rolloutReadiness, workloadHealth } from '../src/cluster/readiness.js';
import { workloadHealth as workloadHealthFromRollout } from '../src/cluster/rollout.js';
import type { KubeObject } from '../src/kube/objects.js';

function object(
  apiVersion: string,
  kind: string,
  parts: { generation?: number; spec?: unknown; status?: unknown; metadata?: Record<string, unknown> },
): KubeObject {
  return {
    apiVersion,
    kind,
    metadata: {
      name: 'web',
      namespace: 'staging',
      ...(parts.generation === undefined ? {} : { generation: parts.generation }),
      ...parts.metadata,
    },
    ...(parts.spec === undefined ? {} : { spec: parts.spec }),
    ...(parts.status === undefined ? {} : { status: parts.status }),
  };
}

const deployment = (spec: unknown, status: unknown, generation = 2) =>
  object('apps/v1', 'Deployment', { generation, spec, status });
const statefulSet = (spec: unknown, status: unknown, generation = 2) =>
  object('apps/v1', 'StatefulSet', { generation, spec, status });
const daemonSet = (spec: unknown, status: unknown, generation = 2) =>
  object('apps/v1', 'DaemonSet', { generation, spec, status });
const job = (spec: unknown, status: unknown) => object('batch/v1', 'Job', { generation: 1, spec, status });
const custom = (parts: Parameters<typeof object>[2]) => object('example.com/v1', 'Widget', parts);

const rolling = { type: 'RollingUpdate', rollingUpdate: { partition: 0 } };

const cases: Array<{ name: string; object: KubeObject; state: string; message: string }> = [
  // Deployment
  {
    name: 'deployment: the new generation is not observed yet (the status is the previous rollout)',
    object: deployment(
      { replicas: 2 },
      { observedGeneration: 1, replicas: 2, updatedReplicas: 2, availableReplicas: 2 },
    ),
    state: 'progressing',
    message: 'Waiting for deployment spec update to be observed...',
  },
  {
    name: 'deployment: progress deadline exceeded',
    object: deployment(
      { replicas: 2 },
      {
        observedGeneration: 2,
        replicas: 2,
        updatedReplicas: 1,
        conditions: [
          { type: 'Available', status: 'True' },
          { type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded' },
        ],
      },
    ),
    state: 'failed',
    message: 'deployment "web" exceeded its progress deadline',
  },
  {
    name: 'deployment: new replicas not all updated',
    object: deployment(
      { replicas: 3 },
      { observedGeneration: 2, replicas: 3, updatedReplicas: 1, availableReplicas: 3 },
    ),
    state: 'progressing',
    message: 'Waiting for deployment "web" rollout to finish: 1 out of 3 new replicas have been updated...',
  },
  {
    name: 'deployment: old replicas pending termination',
    object: deployment(
      { replicas: 3 },
      { observedGeneration: 2, replicas: 4, updatedReplicas: 3, availableReplicas: 3 },
    ),
    state: 'progressing',
    message: 'Waiting for deployment "web" rollout to finish: 1 old replicas are pending termination...',
  },
  {
    name: 'deployment: updated replicas not all available',
    object: deployment(
      { replicas: 3 },
      { observedGeneration: 2, replicas: 3, updatedReplicas: 3, availableReplicas: 2 },
    ),
    state: 'progressing',
    message: 'Waiting for deployment "web" rollout to finish: 2 of 3 updated replicas are available...',
  },
  {
    name: 'deployment: rolled out',
    object: deployment(
      { replicas: 3 },
      {
        observedGeneration: 2,
        replicas: 3,
        updatedReplicas: 3,
        availableReplicas: 3,
        conditions: [{ type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable' }],
      },
    ),
    state: 'ready',
    message: 'deployment "web" successfully rolled out',
  },
  {
    name: 'deployment: observed generation ahead of the one read is observed too',
    object: deployment(
      { replicas: 1 },
      { observedGeneration: 3, replicas: 1, updatedReplicas: 1, availableReplicas: 1 },
    ),
    state: 'ready',
    message: 'deployment "web" successfully rolled out',
  },
  {
    name: 'deployment: scaled to zero',
    object: deployment({ replicas: 0 }, { observedGeneration: 2 }),
    state: 'ready',
    message: 'deployment "web" successfully rolled out',
  },
  {
    name: 'deployment: no status at all yet (just created)',
    object: deployment({ replicas: 1 }, undefined, 1),
    state: 'progressing',
    message: 'Waiting for deployment spec update to be observed...',
  },
  {
    name: 'deployment of extensions/v1beta1 follows the same rules',
    object: object('extensions/v1beta1', 'Deployment', {
      generation: 1,
      spec: { replicas: 1 },
      status: { observedGeneration: 1, replicas: 1, updatedReplicas: 0 },
    }),
    state: 'progressing',
    message: 'Waiting for deployment "web" rollout to finish: 0 out of 1 new replicas have been updated...',
  },
  // StatefulSet
  {
    name: 'statefulset: OnDelete cannot be followed and counts as ready',
    object: statefulSet({ replicas: 2, updateStrategy: { type: 'OnDelete' } }, { observedGeneration: 1 }),
    state: 'ready',
    message:
      'statefulset "web" uses the OnDelete update strategy: its rollout cannot be followed (rollout status is only available for RollingUpdate strategy type)',
  },
  {
    name: 'statefulset: never observed (observedGeneration 0)',
    object: statefulSet({ replicas: 2, updateStrategy: rolling }, { observedGeneration: 0 }, 1),
    state: 'progressing',
    message: 'Waiting for statefulset spec update to be observed...',
  },
  {
    name: 'statefulset: new generation not observed',
    object: statefulSet(
      { replicas: 2, updateStrategy: rolling },
      { observedGeneration: 1, readyReplicas: 2 },
    ),
    state: 'progressing',
    message: 'Waiting for statefulset spec update to be observed...',
  },
  {
    name: 'statefulset: pods not ready',
    object: statefulSet(
      { replicas: 3, updateStrategy: rolling },
      { observedGeneration: 2, readyReplicas: 1 },
    ),
    state: 'progressing',
    message: 'Waiting for 2 pods to be ready...',
  },
  {
    name: 'statefulset: partitioned rollout in progress',
    object: statefulSet(
      { replicas: 5, updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 2 } } },
      { observedGeneration: 2, readyReplicas: 5, updatedReplicas: 1 },
    ),
    state: 'progressing',
    message: 'Waiting for partitioned roll out to finish: 1 out of 3 new pods have been updated...',
  },
  {
    name: 'statefulset: partitioned rollout complete',
    object: statefulSet(
      { replicas: 5, updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 2 } } },
      { observedGeneration: 2, readyReplicas: 5, updatedReplicas: 3 },
    ),
    state: 'ready',
    message: 'partitioned roll out complete: 3 new pods have been updated...',
  },
  {
    name: 'statefulset: the server-defaulted partition 0 waits for every pod to be updated',
    object: statefulSet(
      { replicas: 3, updateStrategy: rolling },
      { observedGeneration: 2, readyReplicas: 3, updatedReplicas: 2 },
    ),
    state: 'progressing',
    message: 'Waiting for partitioned roll out to finish: 2 out of 3 new pods have been updated...',
  },
  {
    name: 'statefulset without rollingUpdate: revisions differ',
    object: statefulSet(
      { replicas: 2, updateStrategy: { type: 'RollingUpdate' } },
      {
        observedGeneration: 2,
        readyReplicas: 2,
        updatedReplicas: 1,
        currentRevision: 'web-1',
        updateRevision: 'web-2',
      },
    ),
    state: 'progressing',
    message: 'waiting for statefulset rolling update to complete 1 pods at revision web-2...',
  },
  {
    name: 'statefulset without rollingUpdate: revisions match',
    object: statefulSet(
      { replicas: 2 },
      {
        observedGeneration: 2,
        readyReplicas: 2,
        currentReplicas: 2,
        currentRevision: 'web-2',
        updateRevision: 'web-2',
      },
    ),
    state: 'ready',
    message: 'statefulset rolling update complete 2 pods at revision web-2...',
  },
  // DaemonSet
  {
    name: 'daemonset: OnDelete cannot be followed and counts as ready',
    object: daemonSet({ updateStrategy: { type: 'OnDelete' } }, { observedGeneration: 1 }),
    state: 'ready',
    message:
      'daemon set "web" uses the OnDelete update strategy: its rollout cannot be followed (rollout status is only available for RollingUpdate strategy type)',
  },
  {
    name: 'daemonset: new generation not observed',
    object: daemonSet(
      { updateStrategy: { type: 'RollingUpdate' } },
      { observedGeneration: 1, desiredNumberScheduled: 2, updatedNumberScheduled: 2, numberAvailable: 2 },
    ),
    state: 'progressing',
    message: 'Waiting for daemon set spec update to be observed...',
  },
  {
    name: 'daemonset: pods not all updated',
    object: daemonSet(
      {},
      { observedGeneration: 2, desiredNumberScheduled: 3, updatedNumberScheduled: 1, numberAvailable: 3 },
    ),
    state: 'progressing',
    message: 'Waiting for daemon set "web" rollout to finish: 1 out of 3 new pods have been updated...',
  },
  {
    name: 'daemonset: updated pods not all available',
    object: daemonSet(
      {},
      { observedGeneration: 2, desiredNumberScheduled: 3, updatedNumberScheduled: 3, numberAvailable: 2 },
    ),
    state: 'progressing',
    message: 'Waiting for daemon set "web" rollout to finish: 2 of 3 updated pods are available...',
  },
  {
    name: 'daemonset: rolled out',
    object: daemonSet(
      {},
      { observedGeneration: 2, desiredNumberScheduled: 3, updatedNumberScheduled: 3, numberAvailable: 3 },
    ),
    state: 'ready',
    message: 'daemon set "web" successfully rolled out',
  },
  {
    name: 'daemonset: no node to run on is rolled out (nothing desired)',
    object: daemonSet({}, { observedGeneration: 2, desiredNumberScheduled: 0 }),
    state: 'ready',
    message: 'daemon set "web" successfully rolled out',
  },
  // Job
  {
    name: 'job: complete',
    object: job(
      { completions: 1 },
      {
        succeeded: 1,
        conditions: [
          { type: 'SuccessCriteriaMet', status: 'True' },
          { type: 'Complete', status: 'True' },
        ],
      },
    ),
    state: 'ready',
    message: 'job "web" complete',
  },
  {
    name: 'job: failed, with its reason and message',
    object: job(
      {},
      {
        failed: 7,
        conditions: [
          {
            type: 'Failed',
            status: 'True',
            reason: 'BackoffLimitExceeded',
            message: 'Job has reached the specified backoff limit',
          },
        ],
      },
    ),
    state: 'failed',
    message: 'job "web" failed: BackoffLimitExceeded: Job has reached the specified backoff limit',
  },
  {
    name: 'job: a False Complete condition is not completion',
    object: job(
      { completions: 3 },
      { succeeded: 1, active: 1, conditions: [{ type: 'Complete', status: 'False' }] },
    ),
    state: 'progressing',
    message: 'Waiting for job "web" to complete: 1 of 3 succeeded, 1 active, 0 failed',
  },
  {
    name: 'job: suspended',
    object: job({}, { conditions: [{ type: 'Suspended', status: 'True' }] }),
    state: 'progressing',
    message: 'job "web" is suspended',
  },
  {
    name: 'job: not started (no status)',
    object: job({ parallelism: 2 }, undefined),
    state: 'progressing',
    message: 'Waiting for job "web" to complete: 0 of 2 succeeded, 0 active, 0 failed',
  },
  // Any other kind: kstatus
  {
    name: 'other kind: no status is current',
    object: custom({ generation: 4, spec: { size: 1 } }),
    state: 'ready',
    message: 'Resource is current',
  },
  {
    name: 'other kind: a status without conditions or observedGeneration is current',
    object: custom({ generation: 4, status: { phase: 'Whatever' } }),
    state: 'ready',
    message: 'Resource is current',
  },
  {
    name: 'other kind: generation not observed',
    object: custom({
      generation: 4,
      status: { observedGeneration: 3, conditions: [{ type: 'Ready', status: 'True' }] },
    }),
    state: 'progressing',
    message: 'Widget generation is 4, but latest observed generation is 3',
  },
  {
    name: 'other kind: Reconciling=True',
    object: custom({
      generation: 4,
      status: {
        observedGeneration: 4,
        conditions: [
          { type: 'Reconciling', status: 'True', reason: 'Provisioning', message: 'creating the bucket' },
        ],
      },
    }),
    state: 'progressing',
    message: 'Reconciling: Provisioning: creating the bucket',
  },
  {
    name: 'other kind: Stalled=True fails',
    object: custom({
      generation: 4,
      status: {
        observedGeneration: 4,
        conditions: [
          { type: 'Stalled', status: 'True', reason: 'QuotaExceeded', message: 'no buckets left' },
        ],
      },
    }),
    state: 'failed',
    message: 'Stalled: QuotaExceeded: no buckets left',
  },
  {
    name: 'other kind: Reconciling=False and Stalled=False are normal',
    object: custom({
      status: {
        conditions: [
          { type: 'Reconciling', status: 'False' },
          { type: 'Stalled', status: 'False' },
        ],
      },
    }),
    state: 'ready',
    message: 'Resource is current',
  },
  {
    name: 'other kind: Ready=True',
    object: custom({ status: { conditions: [{ type: 'Ready', status: 'True', reason: 'Succeeded' }] } }),
    state: 'ready',
    message: 'Ready: Succeeded',
  },
  {
    name: 'other kind: Ready=False is still reconciling',
    object: custom({
      status: {
        conditions: [{ type: 'Ready', status: 'False', reason: 'Pending', message: 'waiting for DNS' }],
      },
    }),
    state: 'progressing',
    message: 'not Ready: Pending: waiting for DNS',
  },
  {
    name: 'other kind: being deleted',
    object: custom({ metadata: { deletionTimestamp: '2025-01-01T00:00:00Z' }, status: {} }),
    state: 'progressing',
    message: 'Widget "web" is being deleted',
  },
  {
    name: 'a Deployment kind of another API group is judged by kstatus, not by the Deployment rules',
    object: object('example.com/v1', 'Deployment', { generation: 1, spec: { replicas: 3 }, status: {} }),
    state: 'ready',
    message: 'Resource is current',
  },
];

for (const item of cases) {
  test(`readiness: ${item.name}`, () => {
    assert.deepEqual(rolloutReadiness(item.object), { state: item.state, message: item.message });
  });
}

test('workloadHealth: ready by the rollout rules, with the count people look for', () => {
  assert.equal(workloadHealthFromRollout, workloadHealth, 'rollout.ts re-exports the same function');
  assert.deepEqual(
    workloadHealth(
      deployment(
        { replicas: 2 },
        { observedGeneration: 2, replicas: 2, updatedReplicas: 2, availableReplicas: 2 },
      ),
    ),
    { ready: true, detail: '2/2 available' },
  );
  assert.deepEqual(
    workloadHealth(
      deployment(
        { replicas: 2 },
        { observedGeneration: 1, replicas: 2, updatedReplicas: 2, availableReplicas: 2 },
      ),
    ),
    { ready: false, detail: '2/2 available, not yet observed' },
  );
  assert.deepEqual(
    workloadHealth(
      deployment(
        { replicas: 2 },
        {
          observedGeneration: 2,
          replicas: 2,
          updatedReplicas: 1,
          availableReplicas: 1,
          conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded' }],
        },
      ),
    ),
    { ready: false, detail: '1/2 available, deployment "web" exceeded its progress deadline' },
  );
  // A DaemonSet has neither spec.replicas nor availableReplicas: its own counts are used.
  assert.deepEqual(
    workloadHealth(
      daemonSet(
        {},
        { observedGeneration: 2, desiredNumberScheduled: 3, updatedNumberScheduled: 3, numberAvailable: 3 },
      ),
    ),
    { ready: true, detail: '3/3 available' },
  );
});
