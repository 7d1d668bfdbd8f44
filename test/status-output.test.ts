// What `gitops status` prints for people: a line per workload, a way forward for drift and for an
// environment never deployed, and a failed verify called a failure, not an interruption.
import assert from 'node:assert/strict';
import { describe, it as test } from 'node:test';
import { type ClusterFixture, clusterFixture } from './support/cluster.js';
import { deployWeb } from './support/live.js';
import { WEB_IMAGE_CONFIG, webDeploymentYaml, webEnvironmentFiles } from './support/manifests.js';
import { uniqueName } from './support/test-cluster.js';

type Fixture = ClusterFixture & { ns: string };

/** staging with three Deployments: web, api and worker. */
async function fixture(t: Parameters<typeof clusterFixture>[0]): Promise<Fixture> {
  const ns = uniqueName('status');
  const files = webEnvironmentFiles('staging', { namespace: ns });
  for (const name of ['api', 'worker'])
    files[`envs/staging/${name}.yaml`] = webDeploymentYaml({ namespace: ns })
      .replaceAll('name: web', `name: ${name}`)
      .replaceAll('app: web', `app: ${name}`);
  const cluster = await clusterFixture(
    t,
    files,
    { staging: `    namespace: ${ns}\n    timeout: 3m\n` },
    WEB_IMAGE_CONFIG,
  );
  return Object.assign(cluster, { ns });
}

async function inventoryName(cluster: Fixture): Promise<string> {
  const list = await cluster.kubectl(['get', 'configmaps', '-n', cluster.ns, '-o', 'name']);
  const name = list.stdout.split('\n').find((line) => line.includes('gitops-inventory-staging-'));
  assert.ok(name, list.stdout);
  return name.trim();
}

describe('status output', { concurrency: true }, () => {
  test('never deployed: one line saying so with the command, no bare placeholders', async (t) => {
    const cluster = await fixture(t);
    const result = await cluster.gitops(['status', '--env', 'staging']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /not deployed yet {2}branch [0-9a-f]{12}/);
    assert.match(result.stderr, /nothing deployed yet: gitops deploy --env staging deploys the branch head/);
    assert.doesNotMatch(result.stderr, /^\s*—\s*$/m, 'no line holding only a dash');
    assert.doesNotMatch(result.stderr, /live —/);
  });

  test('workloads one per line; drift says to run gitops diff; a failed verify is a failure', async (t) => {
    const cluster = await fixture(t);
    const deployed = await cluster.gitops(deployWeb('staging', '1.0.0'));
    assert.equal(deployed.code, 0, deployed.stderr);

    const healthy = await cluster.gitops(['status', '--env', 'staging']);
    assert.equal(healthy.code, 0, healthy.stderr);
    for (const name of ['api', 'web', 'worker'])
      assert.match(
        healthy.stderr,
        new RegExp(`^ {2}✓ Deployment/${cluster.ns}/${name} \\S+ available$`, 'm'),
      );
    assert.doesNotMatch(healthy.stderr, /available; /, 'workloads are not joined on one line');
    assert.doesNotMatch(healthy.stderr, /gitops diff/, 'no hint while in sync');

    const scaled = await cluster.kubectl(['scale', 'deployment/api', '-n', cluster.ns, '--replicas=3']);
    assert.equal(scaled.code, 0, scaled.stderr);
    const drifted = await cluster.gitops(['status', '--env', 'staging']);
    assert.equal(drifted.code, 1, drifted.stderr);
    assert.match(drifted.stderr, /drift: 1 modified/);
    assert.match(drifted.stderr, /run gitops diff --env staging to see what differs and who changed it/);

    // What a verify failure records (recordFailure: phase failed, the action, the reason), as the
    // inventory holds it after such a run.
    const inventory = await inventoryName(cluster);
    const reason = 'the cluster does not match 0123456789ab after the apply (something changed it at once)';
    const patched = await cluster.kubectl([
      'patch',
      inventory,
      '-n',
      cluster.ns,
      '--type=merge',
      '-p',
      JSON.stringify({ data: { phase: 'failed', failedAction: 'deploy', failure: reason } }),
    ]);
    assert.equal(patched.code, 0, patched.stderr);
    const failed = await cluster.gitops(['status', '--env', 'staging']);
    assert.equal(failed.code, 1, failed.stderr);
    assert.match(failed.stderr, /phase: failed/);
    assert.match(failed.stderr, /the deploy of [0-9a-f]{12} failed: the cluster does not match/);
    assert.doesNotMatch(failed.stderr, /interrupted/);
  });
});
