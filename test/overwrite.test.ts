// Overwrite for real: fields someone added by hand (another field manager) are gone after
// `deploy --on-drift overwrite` and after `rollback` — server-side apply alone never removes them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ClusterFixture, clusterFixture } from './support/cluster.js';
import { deployWeb } from './support/live.js';
import { namespaceYaml, WEB_IMAGE_CONFIG, webDeploymentYaml } from './support/manifests.js';
import { uniqueName } from './support/test-cluster.js';

const CRONJOB = `apiVersion: batch/v1
kind: CronJob
metadata:
  name: nightly
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
            - name: job
              image: registry.example.com/acme/job:1.0.0
`;

type Live = {
  metadata: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: Record<string, unknown> & {
    suspend?: boolean;
    template?: { spec: { containers: Array<{ resources?: { limits?: unknown } }> } };
  };
};

async function live(cluster: ClusterFixture, namespace: string) {
  const get = async (apiVersion: string, kind: string, name: string) =>
    (await cluster.server.getObject({ apiVersion, kind, namespace, name })) as unknown as Live;
  return {
    web: await get('apps/v1', 'Deployment', 'web'),
    nightly: await get('batch/v1', 'CronJob', 'nightly'),
  };
}

/** A label, an annotation, a resource limit (kubectl) and `spec.suspend` (a merge patch). */
async function changeByHand(cluster: ClusterFixture, namespace: string): Promise<void> {
  for (const args of [
    ['label', 'deployment/web', 'team=night-shift'],
    ['annotate', 'deployment/web', 'note=hand-made'],
    ['set', 'resources', 'deployment/web', '--limits=cpu=200m,memory=64Mi'],
    ['patch', 'cronjob/nightly', '--type=merge', '-p', '{"spec":{"suspend":true}}'],
  ]) {
    const result = await cluster.kubectl([...args, '-n', namespace]);
    assert.equal(result.code, 0, result.stderr);
  }
  const changed = await live(cluster, namespace);
  assert.equal(changed.web.metadata.labels?.team, 'night-shift');
  assert.equal(changed.nightly.spec.suspend, true);
  const diff = await cluster.gitops(['diff', '--env', 'staging']);
  assert.equal(diff.code, 1, 'the hand-made fields are drift');
}

async function assertGone(cluster: ClusterFixture, namespace: string, label: string): Promise<void> {
  const after = await live(cluster, namespace);
  assert.equal(after.web.metadata.labels?.team, undefined, `${label}: label`);
  assert.equal(after.web.metadata.annotations?.note, undefined, `${label}: annotation`);
  assert.equal(after.web.spec.template?.spec.containers[0]?.resources?.limits, undefined, `${label}: limits`);
  assert.notEqual(after.nightly.spec.suspend, true, `${label}: spec.suspend`);
  const diff = await cluster.gitops(['diff', '--env', 'staging']);
  assert.equal(diff.code, 0, `${label}: diff in sync\n${diff.stderr}`);
}

test('hand-added label, annotation, limits and spec.suspend: deploy --on-drift overwrite and rollback remove them; diff exits 0', async (t) => {
  const ns = uniqueName('staging');
  const cluster = await clusterFixture(
    t,
    {
      'envs/staging/namespace.yaml': namespaceYaml(ns),
      'envs/staging/web.yaml': webDeploymentYaml(),
      'envs/staging/nightly.yaml': CRONJOB,
    },
    { staging: `    namespace: ${ns}\n    timeout: 3m\n` },
    WEB_IMAGE_CONFIG,
  );
  const v1 = await cluster.gitops(['--json', ...deployWeb('staging', '1.0.0')]);
  assert.equal(v1.code, 0, v1.stderr);
  const v1Revision = (JSON.parse(v1.stdout) as { revision: string }).revision;

  await changeByHand(cluster, ns);
  const blocked = await cluster.gitops(deployWeb('staging', '2.0.0'));
  assert.equal(blocked.code, 5, blocked.stderr);
  const overwrite = await cluster.gitops([...deployWeb('staging', '2.0.0'), '--on-drift', 'overwrite']);
  assert.equal(overwrite.code, 0, overwrite.stderr);
  assert.match(overwrite.stderr, /removed \d+ field\(s\) git does not declare/);
  await assertGone(cluster, ns, 'deploy --on-drift overwrite');

  await changeByHand(cluster, ns);
  const rollback = await cluster.gitops(['rollback', v1Revision.slice(0, 12), '--env', 'staging']);
  assert.equal(rollback.code, 0, rollback.stderr);
  await assertGone(cluster, ns, 'rollback');
});
