// --dry-run of the commands that write: each exits 0, says what it would do, and writes nothing —
// the env repo's remote head, the cluster (no write request reaches the API server) and the
// inventory stay as they were.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ClusterFixture, clusterFixture } from './support/cluster.js';
import { deployWeb, inventoryData, liveWebImage } from './support/live.js';
import { WEB_IMAGE_CONFIG, webEnvironmentFiles } from './support/manifests.js';
import { assertMatchesSchema } from './support/schemas.js';
import { uniqueName } from './support/test-cluster.js';

/** Runs `check` and asserts that it left the remote, the cluster and the inventories untouched. */
type Fixture = ClusterFixture & { ns: { staging: string; production: string } };

async function liveState(cluster: Fixture) {
  return {
    staging: [
      await liveWebImage(cluster, cluster.ns.staging),
      await inventoryData(cluster, 'staging', cluster.ns.staging),
    ],
    production: [
      await liveWebImage(cluster, cluster.ns.production),
      await inventoryData(cluster, 'production', cluster.ns.production),
    ],
  };
}

async function writesNothing(
  cluster: Fixture,
  label: string,
  check: () => Promise<void>,
  options: { serverDryRun: boolean } = { serverDryRun: true },
): Promise<void> {
  const head = cluster.remote.head();
  const before = await liveState(cluster);
  cluster.server.clearRequests();
  await check();
  assert.equal(cluster.remote.head(), head, `${label}: nothing pushed`);
  // Server-side dry runs (`dryRun=All`) are asked on purpose: the API server persists nothing.
  const writes = cluster.server.requests.filter(
    (request) => !['get', 'watch'].includes(request.verb) && request.query.dryRun !== 'All',
  );
  assert.equal(
    cluster.server.requests.some((request) => request.query.dryRun === 'All'),
    options.serverDryRun,
    `${label}: the API server was asked for a dry run (${options.serverDryRun})`,
  );
  assert.deepEqual(
    writes.map((request) => `${request.method} ${request.path}`),
    [],
    `${label}: no write reached the API server`,
  );
  assert.deepEqual(await liveState(cluster), before, `${label}: cluster and inventory unchanged`);
}

test('--dry-run deploy, rollback <sha>, promote and lock exit 0, say what they would do and write nothing', async (t) => {
  const ns = { staging: uniqueName('staging'), production: uniqueName('production') };
  const cluster: Fixture = Object.assign(
    await clusterFixture(
      t,
      {
        ...webEnvironmentFiles('staging', { namespace: ns.staging }),
        ...webEnvironmentFiles('production', { namespace: ns.production }),
      },
      {
        staging: `    namespace: ${ns.staging}\n    timeout: 3m\n`,
        production: `    namespace: ${ns.production}\n    timeout: 3m\n    promoteFrom: staging\n`,
      },
      WEB_IMAGE_CONFIG,
    ),
    { ns },
  );
  const deploy = (tag: string, ...global: string[]) =>
    cluster.gitops([...global, ...deployWeb('staging', tag)]);
  const v1 = await deploy('1.0.0', '--json');
  assert.equal(v1.code, 0, v1.stderr);
  const v1Revision = (JSON.parse(v1.stdout) as { revision: string }).revision;
  const v2 = await deploy('2.0.0');
  assert.equal(v2.code, 0, v2.stderr);

  await writesNothing(cluster, 'deploy', async () => {
    const result = await deploy('3.0.0', '--dry-run', '--json');
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /\+\s+image: registry\.example\.com\/acme\/web:3\.0\.0/);
    assert.match(
      result.stderr,
      /dry run: 1 change\(s\) would be committed to staging; nothing was pushed or applied/,
    );
    const document = JSON.parse(result.stdout) as {
      dryRun: boolean;
      steps: Array<{ title: string; status: string }>;
    };
    assertMatchesSchema('deploy', document);
    assert.equal(document.dryRun, true);
    const skipped = document.steps.filter((step) => step.status === 'skipped').map((step) => step.title);
    for (const title of ['commit and push', 'apply and prune', 'wait for the rollout', 'verify', 'record'])
      assert.ok(skipped.includes(title), `${title} is reported as skipped: ${skipped.join(', ')}`);
  });

  await writesNothing(cluster, 'rollback', async () => {
    const result = await cluster.gitops([
      '--dry-run',
      '--json',
      'rollback',
      v1Revision.slice(0, 12),
      '--env',
      'staging',
    ]);
    assert.equal(result.code, 0, result.stderr);
    // What the restoring commit would change, and no claim that anything was applied.
    assert.match(result.stderr, /-\s+image: registry\.example\.com\/acme\/web:2\.0\.0/);
    assert.match(result.stderr, /\+\s+image: registry\.example\.com\/acme\/web:1\.0\.0/);
    assert.match(
      result.stderr,
      /dry run: would roll back staging to [0-9a-f]{12}; nothing was pushed or applied/,
    );
    assert.doesNotMatch(
      result.stderr,
      /✓ (commit and push the rollback|apply and prune|wait for the rollout|verify)/,
    );
    const document = JSON.parse(result.stdout) as { target: string; verified: boolean; dryRun: boolean };
    assertMatchesSchema('rollback', document);
    assert.equal(document.target, v1Revision);
    assert.equal(document.verified, false);
    assert.equal(document.dryRun, true);
  });

  await writesNothing(cluster, 'promote', async () => {
    const result = await cluster.gitops(['--dry-run', '--json', 'promote', '--to', 'production']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /\+\s+image: registry\.example\.com\/acme\/web:2\.0\.0/);
    assertMatchesSchema('promote', JSON.parse(result.stdout));
  });

  await writesNothing(
    cluster,
    'lock',
    async () => {
      const result = await cluster.gitops([
        '--dry-run',
        '--json',
        'lock',
        'staging',
        '--reason',
        'maintenance',
      ]);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stderr, /dry run: would lock staging \(maintenance\); nothing was pushed/);
      const document = JSON.parse(result.stdout) as { locked: boolean; dryRun: boolean };
      assert.deepEqual([document.locked, document.dryRun], [true, true]);
    },
    { serverDryRun: false },
  );
  assert.doesNotMatch(cluster.remote.show('envs/staging/web.yaml'), /web:3\.0\.0/);
});
