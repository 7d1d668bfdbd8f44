// A rollback, or a deploy's automatic rollback, whose rollout fails leaves the inventory in
// `failed` with what ran and why, and `gitops status` says so (exit 1).
import assert from 'node:assert/strict';
import { describe, it as test } from 'node:test';
import { type ClusterFixture, clusterFixture } from './support/cluster.js';
import { deployWeb, inventoryData } from './support/live.js';
import { WEB_IMAGE_CONFIG, webEnvironmentFiles } from './support/manifests.js';

async function fixture(t: Parameters<typeof clusterFixture>[0]) {
  return clusterFixture(
    t,
    webEnvironmentFiles('staging'),
    { staging: '    namespace: staging\n    timeout: 30s\n' },
    WEB_IMAGE_CONFIG,
  );
}

function deploy(cluster: ClusterFixture, tag: string, ...extra: string[]) {
  return cluster.gitops(['--json', ...deployWeb('staging', tag), ...extra]);
}

interface StatusDoc {
  environments: Array<{ phase: string; note?: string; failure?: { action: string; reason: string } }>;
}

async function status(cluster: ClusterFixture) {
  const result = await cluster.gitops(['--json', 'status', '--env', 'staging']);
  return {
    code: result.code,
    stderr: result.stderr,
    doc: (JSON.parse(result.stdout) as StatusDoc).environments[0]!,
  };
}

describe('failures are recorded', { concurrency: true }, () => {
  test('a rollback whose rollout fails: exit 4, inventory failed with the reason, status says so', async (t) => {
    const cluster = await fixture(t);
    const v1 = await deploy(cluster, '1.0.0');
    assert.equal(v1.code, 0, v1.stderr);
    const good = (JSON.parse(v1.stdout) as { revision: string }).revision;
    assert.equal((await deploy(cluster, '2.0.0')).code, 0);

    cluster.server.workloads.setDefault({ mode: 'stuck' });
    const rollback = await cluster.gitops([
      'rollback',
      good.slice(0, 12),
      '--env',
      'staging',
      '--timeout',
      '3s',
    ]);
    cluster.server.workloads.setDefault({ mode: 'ready', afterMs: 50 });
    assert.equal(rollback.code, 4, rollback.stderr);

    const recorded = inventoryData(cluster, 'staging');
    assert.equal(recorded.phase, 'failed');
    assert.equal(recorded.failedAction, 'rollback');
    assert.match(recorded.failure ?? '', /rollout of Deployment\/staging\/web failed/);
    assert.equal(recorded.revision, cluster.remote.head(), 'the rollback commit is what failed');

    const reported = await status(cluster);
    assert.equal(reported.code, 1, reported.stderr);
    assert.equal(reported.doc.phase, 'failed');
    assert.equal(reported.doc.failure?.action, 'rollback');
    assert.match(
      reported.doc.note ?? '',
      /the rollback of [0-9a-f]{12} failed: rollout of Deployment\/staging\/web failed/,
    );
    assert.match(reported.stderr, /the rollback of [0-9a-f]{12} failed: rollout/);
  });

  test('an auto-rollback whose rollout fails: exit 4, inventory failed with the reason, status says so', async (t) => {
    const cluster = await fixture(t);
    assert.equal((await deploy(cluster, '1.0.0')).code, 0);
    cluster.server.workloads.setDefault({ mode: 'stuck' });
    const bad = await deploy(cluster, '6.6.6', '--auto-rollback', '--timeout', '3s');
    cluster.server.workloads.setDefault({ mode: 'ready', afterMs: 50 });
    assert.equal(bad.code, 4, bad.stderr);
    assert.match(bad.stderr, /rollback's rollout did not become healthy/);

    const recorded = inventoryData(cluster, 'staging');
    assert.equal(recorded.phase, 'failed');
    assert.equal(recorded.failedAction, 'auto-rollback');
    assert.match(recorded.failure ?? '', /rollout of Deployment\/staging\/web failed/);
    assert.equal(recorded.revision, cluster.remote.head(), 'the revert commit is what failed');

    const reported = await status(cluster);
    assert.equal(reported.code, 1, reported.stderr);
    assert.equal(reported.doc.failure?.action, 'auto-rollback');
    assert.match(reported.doc.note ?? '', /the auto-rollback of [0-9a-f]{12} failed: rollout/);
  });
});
