// What the real control plane gives the suite that the embedded server cannot: rollouts through
// real ReplicaSets whose pods kwok makes Ready, revision history, namespaces that pass through
// Terminating, and the kinds real environment repos hold (PodDisruptionBudget, NetworkPolicy,
// ClusterRole/ClusterRoleBinding, PersistentVolumeClaim) deployed and diffed clean.
import assert from 'node:assert/strict';
import { describe, it as test } from 'node:test';
import { type ClusterFixture, clusterFixture } from './support/cluster.js';
import { REGISTRY, WEB_IMAGE_CONFIG, webEnvironmentFiles } from './support/manifests.js';
import { uniqueName } from './support/test-cluster.js';

/** These tests describe a real cluster: under CI they must run on one. */
function requireRealCluster(cluster: ClusterFixture, t: { skip(reason: string): void }): boolean {
  if (cluster.server.kind !== 'embedded') return true;
  if (process.env.CI === 'true') throw new Error('CI=true: this test needs the real control plane');
  t.skip('needs a real control plane (the embedded server runs no controllers)');
  return false;
}

function deploy(cluster: ClusterFixture, tag: string) {
  return cluster.gitops([
    'deploy',
    '--env',
    'staging',
    '--skip-build',
    '--image',
    `web=${REGISTRY}/web:${tag}`,
  ]);
}

describe('the real control plane', { concurrency: true }, () => {
  test('a rollout goes through ReplicaSets and kwok-ready pods; rollout history has the revisions; a deleted namespace is Terminating', async (t) => {
    const ns = uniqueName('rollout');
    const cluster = await clusterFixture(
      t,
      webEnvironmentFiles('staging', { namespace: ns, replicas: 2 }),
      { staging: `    namespace: ${ns}\n    timeout: 3m\n` },
      WEB_IMAGE_CONFIG,
    );
    if (!requireRealCluster(cluster, t)) return;
    assert.match(cluster.server.version, /^v1\.32\./);
    for (const tag of ['1.0.0', '2.0.0']) {
      const result = await deploy(cluster, tag);
      assert.equal(result.code, 0, result.stderr);
    }

    const replicaSets = await cluster.server.listObjects('apps/v1', 'ReplicaSet', ns);
    assert.deepEqual(
      replicaSets.map((rs) => [rs.spec.template.spec.containers[0].image, rs.spec.replicas]).sort(),
      [
        [`${REGISTRY}/web:1.0.0`, 0],
        [`${REGISTRY}/web:2.0.0`, 2],
      ],
      'the deployment controller made one ReplicaSet per revision and scaled the old one down',
    );
    const pods = await cluster.server.listObjects('v1', 'Pod', ns);
    const running = pods.filter((pod) => !pod.metadata.deletionTimestamp);
    assert.equal(running.length, 2);
    for (const pod of running) {
      assert.ok(pod.spec.nodeName?.startsWith('kwok-node-'), 'the scheduler bound it to a fake node');
      assert.equal(pod.status.phase, 'Running');
      assert.ok(
        pod.status.conditions.some(
          (condition: { type: string; status: string }) =>
            condition.type === 'Ready' && condition.status === 'True',
        ),
        'kwok made it Ready',
      );
      assert.equal(pod.metadata.ownerReferences[0].kind, 'ReplicaSet');
    }

    const history = await cluster.kubectl(['rollout', 'history', 'deployment/web', '-n', ns]);
    assert.equal(history.code, 0, history.stderr);
    assert.match(history.stdout, /^1\s/m);
    assert.match(history.stdout, /^2\s/m);

    const deleted = await cluster.kubectl(['delete', 'namespace', ns, '--wait=false']);
    assert.equal(deleted.code, 0, deleted.stderr);
    const namespace = await cluster.server.getObject({ apiVersion: 'v1', kind: 'Namespace', name: ns });
    assert.ok(namespace, 'the namespace is still there while its content is deleted');
    assert.equal(namespace.status.phase, 'Terminating');
  });

  test('an environment with a PodDisruptionBudget, a NetworkPolicy, a ClusterRole + ClusterRoleBinding and a PVC deploys and diffs clean', async (t) => {
    const ns = uniqueName('kinds');
    const role = uniqueName('web-reader');
    const cluster = await clusterFixture(
      t,
      {
        ...webEnvironmentFiles('staging', { namespace: ns }),
        'envs/staging/policy.yaml': `apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: web
spec:
  minAvailable: 1
  selector:
    matchLabels: {app: web}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: web
spec:
  podSelector:
    matchLabels: {app: web}
  policyTypes: [Ingress]
  ingress:
    - from:
        - podSelector: {}
      ports:
        - port: 8080
`,
        'envs/staging/rbac.yaml': `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: ${role}
rules:
  - apiGroups: [""]
    resources: [configmaps]
    verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: ${role}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: ${role}
subjects:
  - kind: ServiceAccount
    name: default
    namespace: ${ns}
`,
        'envs/staging/storage.yaml': `apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: data
spec:
  accessModes: [ReadWriteOnce]
  resources:
    requests:
      storage: 1Gi
`,
      },
      {
        staging: `    namespace: ${ns}\n    timeout: 3m\n    policies:\n      clusterScopedKinds: [Namespace, ClusterRole, ClusterRoleBinding]\n`,
      },
      WEB_IMAGE_CONFIG,
    );
    if (!requireRealCluster(cluster, t)) return;
    const result = await deploy(cluster, '1.0.0');
    assert.equal(result.code, 0, result.stderr);
    for (const [apiVersion, kind, namespace, name] of [
      ['policy/v1', 'PodDisruptionBudget', ns, 'web'],
      ['networking.k8s.io/v1', 'NetworkPolicy', ns, 'web'],
      ['rbac.authorization.k8s.io/v1', 'ClusterRole', undefined, role],
      ['rbac.authorization.k8s.io/v1', 'ClusterRoleBinding', undefined, role],
      ['v1', 'PersistentVolumeClaim', ns, 'data'],
    ] as const) {
      const live = await cluster.server.getObject({
        apiVersion,
        kind,
        name,
        ...(namespace ? { namespace } : {}),
      });
      assert.ok(live, `${kind}/${name} is in the cluster`);
    }
    const diff = await cluster.gitops(['--json', 'diff', '--env', 'staging']);
    assert.equal(diff.code, 0, `${diff.stderr}\n${diff.stdout}`);
    const document = JSON.parse(diff.stdout) as { inSync: boolean; counts: Record<string, number> };
    assert.equal(document.inSync, true);
    assert.equal(document.counts['in-sync'], 7);
  });
});
