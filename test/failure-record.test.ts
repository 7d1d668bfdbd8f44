// A rollback, or a deploy's automatic rollback, whose rollout fails leaves the inventory in
// `failed` with what ran and why, and `gitops status` says so (exit 1).
import assert from 'node:assert/strict';
import { describe, it as test } from 'node:test';
import { type ClusterFixture, clusterFixture } from './support/cluster.js';
import { deployWeb, inventoryData } from './support/live.js';
import { WEB_IMAGE_CONFIG, webEnvironmentFiles } from './support/manifests.js';
import { uniqueName } from './support/test-cluster.js';

type Fixture = ClusterFixture & { ns: string };

async function fixture(t: Parameters<typeof clusterFixture>[0]): Promise<Fixture> {
  const ns = uniqueName('staging');
  const cluster = await clusterFixture(
    t,
    // Recreate: the failed rollout removes the old pods, so the rollback's own pods must start.
    webEnvironmentFiles('staging', { namespace: ns, recreate: true }),
    { staging: `    namespace: ${ns}\n    timeout: 3m\n` },
    WEB_IMAGE_CONFIG,
  );
  return Object.assign(cluster, { ns });
}

function deploy(cluster: Fixture, tag: string, ...extra: string[]) {
  return cluster.gitops(['--json', ...deployWeb('staging', tag), ...extra]);
}

interface StatusDoc {
  environments: Array<{ phase: string; note?: string; failure?: { action: string; reason: string } }>;
}

async function status(cluster: Fixture) {
  const result = await cluster.gitops(['--json', 'status', '--env', 'staging']);
  return {
    code: result.code,
    stderr: result.stderr,
    doc: (JSON.parse(result.stdout) as StatusDoc).environments[0]!,
  };
}

// Pods of an image tagged "slow" need 4 s to become ready and "stuck" never do
// (test/control-plane/kwok-stages.yaml): a wait of 2 s fails whatever the machine's load.
describe('failures are recorded', { concurrency: true }, () => {
  test('a rollback whose rollout fails: exit 4, inventory failed with the reason, status says so', async (t) => {
    const cluster = await fixture(t);
    const v1 = await deploy(cluster, '1.0.0-slow');
    assert.equal(v1.code, 0, v1.stderr);
    const good = (JSON.parse(v1.stdout) as { revision: string }).revision;
    assert.equal((await deploy(cluster, '2.0.0')).code, 0);

    const rollback = await cluster.gitops([
      'rollback',
      good.slice(0, 12),
      '--env',
      'staging',
      '--timeout',
      '2s',
    ]);
    assert.equal(rollback.code, 4, rollback.stderr);

    const recorded = await inventoryData(cluster, 'staging', cluster.ns);
    assert.equal(recorded.phase, 'failed');
    assert.equal(recorded.failedAction, 'rollback');
    assert.match(recorded.failure ?? '', new RegExp(`rollout of Deployment/${cluster.ns}/web failed`));
    assert.equal(recorded.revision, cluster.remote.head(), 'the rollback commit is what failed');

    const reported = await status(cluster);
    assert.equal(reported.code, 1, reported.stderr);
    assert.equal(reported.doc.phase, 'failed');
    assert.equal(reported.doc.failure?.action, 'rollback');
    assert.match(
      reported.doc.note ?? '',
      new RegExp(`the rollback of [0-9a-f]{12} failed: rollout of Deployment/${cluster.ns}/web failed`),
    );
    assert.match(reported.stderr, /the rollback of [0-9a-f]{12} failed: rollout/);
  });

  test('an auto-rollback whose rollout fails: exit 4, inventory failed with the reason, status says so', async (t) => {
    const cluster = await fixture(t);
    assert.equal((await deploy(cluster, '1.0.0-slow')).code, 0);
    const bad = await deploy(cluster, '6.6.6-stuck', '--auto-rollback', '--timeout', '2s');
    assert.equal(bad.code, 4, bad.stderr);
    assert.match(bad.stderr, /rollback's rollout did not become healthy/);

    const recorded = await inventoryData(cluster, 'staging', cluster.ns);
    assert.equal(recorded.phase, 'failed');
    assert.equal(recorded.failedAction, 'auto-rollback');
    assert.match(recorded.failure ?? '', new RegExp(`rollout of Deployment/${cluster.ns}/web failed`));
    assert.equal(recorded.revision, cluster.remote.head(), 'the revert commit is what failed');

    const reported = await status(cluster);
    assert.equal(reported.code, 1, reported.stderr);
    assert.equal(reported.doc.failure?.action, 'auto-rollback');
    assert.match(reported.doc.note ?? '', /the auto-rollback of [0-9a-f]{12} failed: rollout/);
  });
});
