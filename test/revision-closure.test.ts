// What an environment runs is decided by every file its render reads, not by its directory alone:
// a commit that changes only a kustomize base is pending, listed in history, and rolled back in
// the cluster (or refused when other environments read that file). A remote resource is refused.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { type ClusterFixture, clusterFixture } from './support/cluster.js';
import { commitToRemote } from './support/git.js';
import { namespaceYaml, webDeploymentYaml } from './support/manifests.js';
import { uniqueName } from './support/test-cluster.js';

function configMap(name: string, key: string, value: string): string {
  return `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata:\n  ${key}: ${value}\n`;
}

function overlay(namespace: string, extra: string[]): string {
  return `namespace: ${namespace}\nresources:\n  - namespace.yaml\n  - ../../base\n${extra.map((entry) => `  - ${entry}\n`).join('')}`;
}

function commit(cluster: ClusterFixture, files: Record<string, string>, message: string): string {
  return commitToRemote(cluster.remote, files, message);
}

async function liveData(cluster: ClusterFixture, namespace: string, name: string) {
  const object = (await cluster.server.getObject({ apiVersion: 'v1', kind: 'ConfigMap', namespace, name })) as
    | { data?: Record<string, string> }
    | undefined;
  return object?.data;
}

async function json<T>(
  cluster: ClusterFixture,
  args: string[],
): Promise<{ code: number; doc: T; stderr: string }> {
  const result = await cluster.gitops(['--json', ...args]);
  return { code: result.code, doc: JSON.parse(result.stdout) as T, stderr: result.stderr };
}

interface History {
  liveRevision: string | null;
  entries: Array<{ sha: string; live: boolean }>;
}

test('a base-only commit is pending, in history with the live mark right, and rolled back in the cluster; a shared base is refused unless --include-shared', async (t) => {
  const ns = { staging: uniqueName('staging'), production: uniqueName('production') };
  const cluster = await clusterFixture(
    t,
    {
      'base/kustomization.yaml': 'resources:\n  - deployment.yaml\n  - shared.yaml\n',
      'base/deployment.yaml': webDeploymentYaml(),
      'base/shared.yaml': configMap('shared', 'mode', 'a'),
      // Read by staging only.
      'bases/greeting/kustomization.yaml': 'resources:\n  - greeting.yaml\n',
      'bases/greeting/greeting.yaml': configMap('greeting', 'greeting', 'hello'),
      'envs/staging/kustomization.yaml': overlay(ns.staging, ['../../bases/greeting']),
      'envs/staging/namespace.yaml': namespaceYaml(ns.staging),
      'envs/production/kustomization.yaml': overlay(ns.production, []),
      'envs/production/namespace.yaml': namespaceYaml(ns.production),
    },
    {
      staging: `    namespace: ${ns.staging}\n    timeout: 3m\n`,
      production: `    namespace: ${ns.production}\n    timeout: 3m\n`,
    },
  );
  const seed = cluster.remote.head();
  const first = await cluster.gitops(['deploy', '--env', 'staging', '--skip-build']);
  assert.equal(first.code, 0, first.stderr);

  // A commit that changes only the shared base.
  const sharedChange = commit(
    cluster,
    { 'base/shared.yaml': configMap('shared', 'mode', 'b') },
    'shared mode b',
  );
  const pending = await json<{ environments: Array<{ git: string }> }>(cluster, [
    'status',
    '--env',
    'staging',
  ]);
  assert.equal(pending.doc.environments[0]?.git, 'pending-apply', pending.stderr);
  const before = await json<History>(cluster, ['history', '--env', 'staging']);
  assert.deepEqual(
    before.doc.entries.map((entry) => [entry.sha, entry.live]),
    [
      [sharedChange, false],
      [seed, true],
    ],
  );
  const second = await cluster.gitops(['deploy', '--env', 'staging', '--skip-build']);
  assert.equal(second.code, 0, second.stderr);
  assert.deepEqual(await liveData(cluster, ns.staging, 'shared'), { mode: 'b' });
  // The seed renders with its own base, not today's.
  const atSeed = await cluster.gitops(['diff', '--env', 'staging', '--revision', seed.slice(0, 12)]);
  assert.equal(atSeed.code, 1, atSeed.stderr);
  assert.match(atSeed.stderr, /data\.mode: a → b/);

  // One commit to staging's own base, one to production alone: staging's live content is the former.
  const greeting = commit(
    cluster,
    { 'bases/greeting/greeting.yaml': configMap('greeting', 'greeting', 'bonjour') },
    'greeting bonjour',
  );
  const elsewhere = commit(cluster, { 'envs/production/note.txt': 'production only\n' }, 'production note');
  const third = await cluster.gitops(['deploy', '--env', 'staging', '--skip-build']);
  assert.equal(third.code, 0, third.stderr);
  assert.deepEqual(await liveData(cluster, ns.staging, 'greeting'), { greeting: 'bonjour' });
  const after = await json<History>(cluster, ['history', '--env', 'staging']);
  assert.equal(after.doc.liveRevision, elsewhere, 'the inventory records the head that was applied');
  assert.deepEqual(
    after.doc.entries.map((entry) => [entry.sha, entry.live]),
    [
      [greeting, true],
      [sharedChange, false],
      [seed, false],
    ],
  );
  const upToDate = await json<{ environments: Array<{ git: string }> }>(cluster, [
    'status',
    '--env',
    'staging',
  ]);
  assert.equal(upToDate.doc.environments[0]?.git, 'up-to-date', upToDate.stderr);

  // Back to before the greeting change: only staging reads that base; restored in git and cluster.
  const back = await json<{ revision: string; verified: boolean }>(cluster, [
    'rollback',
    sharedChange.slice(0, 12),
    '--env',
    'staging',
  ]);
  assert.equal(back.code, 0, back.stderr);
  assert.equal(back.doc.verified, true);
  assert.equal(
    cluster.remote.show('bases/greeting/greeting.yaml'),
    configMap('greeting', 'greeting', 'hello').trim(),
  );
  assert.deepEqual(await liveData(cluster, ns.staging, 'greeting'), { greeting: 'hello' });
  const clean = await cluster.gitops(['diff', '--env', 'staging']);
  assert.equal(clean.code, 0, clean.stderr);

  // Back to the seed: the shared base would change for production too.
  const head = cluster.remote.head();
  const refused = await json<{ error: { code: string; message: string } }>(cluster, [
    'rollback',
    seed.slice(0, 12),
    '--env',
    'staging',
  ]);
  assert.equal(refused.code, 5, refused.stderr);
  assert.equal(refused.doc.error.code, 'ROLLBACK_SHARED_FILES');
  assert.match(refused.doc.error.message, /base\/shared\.yaml \(also read by production\)/);
  assert.equal(cluster.remote.head(), head, 'nothing pushed');
  assert.deepEqual(await liveData(cluster, ns.staging, 'shared'), { mode: 'b' });

  const shared = await cluster.gitops([
    'rollback',
    seed.slice(0, 12),
    '--env',
    'staging',
    '--include-shared',
  ]);
  assert.equal(shared.code, 0, shared.stderr);
  assert.match(shared.stderr, /rolled back to/);
  assert.deepEqual(await liveData(cluster, ns.staging, 'shared'), { mode: 'a' });
  assert.equal(cluster.remote.show('base/shared.yaml'), configMap('shared', 'mode', 'a').trim());
  const diff = await cluster.gitops(['diff', '--env', 'staging']);
  assert.equal(diff.code, 0, diff.stderr);
});

test('a remote kustomize resource is refused with its file and line (exit 2); the config switch lets it through to kustomize', async (t) => {
  const ns = uniqueName('staging');
  const cluster = await clusterFixture(
    t,
    {
      'envs/staging/kustomization.yaml': `namespace: ${ns}\nresources:\n  - namespace.yaml\n  - https://127.0.0.1:9/web.yaml\n`,
      'envs/staging/namespace.yaml': namespaceYaml(ns),
    },
    { staging: `    namespace: ${ns}\n` },
  );
  for (const args of [
    ['diff', '--env', 'staging'],
    ['deploy', '--env', 'staging', '--skip-build'],
  ]) {
    const result = await cluster.gitops(['--json', ...args]);
    assert.equal(result.code, 2, result.stderr);
    const error = (JSON.parse(result.stdout) as { error: { code: string; location: unknown } }).error;
    assert.equal(error.code, 'KUSTOMIZE_REMOTE_RESOURCE');
    assert.deepEqual(error.location, { file: 'envs/staging/kustomization.yaml', line: 4 });
    assert.match(result.stderr, /envs\/staging\/kustomization\.yaml:4/);
  }
  const config = join(cluster.app, 'gitops.yaml');
  const { readFileSync } = await import('node:fs');
  writeFileSync(
    config,
    readFileSync(config, 'utf8').replace(
      `namespace: ${ns}\n`,
      `namespace: ${ns}\n    allowRemoteResources: true\n`,
    ),
  );
  // Kustomize is asked to fetch it now (and cannot: nothing listens there): not refused by gitops.
  const allowed = await cluster.gitops(['--json', 'diff', '--env', 'staging']);
  assert.notEqual(
    (JSON.parse(allowed.stdout) as { error?: { code: string } }).error?.code,
    'KUSTOMIZE_REMOTE_RESOURCE',
    allowed.stderr,
  );
});
