import assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { FreezeWindow } from '../src/config/types.js';
import { activeFreezes, freezeEnd } from '../src/gates/freeze.js';
import { runCli } from './support/cli.js';
import { clusterFixture } from './support/cluster.js';
import { git } from './support/git.js';
import { REGISTRY, WEB_IMAGE_CONFIG, webEnvironmentFiles } from './support/manifests.js';
import { assertMatchesSchema } from './support/schemas.js';
import { uniqueName } from './support/test-cluster.js';

const IMAGES = WEB_IMAGE_CONFIG;

function fixture(t: Parameters<typeof clusterFixture>[0], extra = '') {
  const ns = uniqueName('staging');
  return clusterFixture(
    t,
    webEnvironmentFiles('staging', { namespace: ns }),
    { staging: `    namespace: ${ns}\n    timeout: 3m\n` },
    IMAGES + extra,
  );
}

function trailers(bare: string, sha: string): string {
  return git(bare, ['log', '-1', '--format=%(trailers:only,unfold)', sha]);
}

const deploy = (tag: string, ...extra: string[]) => [
  '--json',
  'deploy',
  '--env',
  'staging',
  '--skip-build',
  '--image',
  `web=${REGISTRY}/web:${tag}`,
  ...extra,
];

test('lock → deploy and rollback exit 5 with who/when/why; --force --reason deploys and records it; unlock → deploy works', async (t) => {
  const cluster = await fixture(t);
  const first = await cluster.gitops(deploy('1.0.0'));
  assert.equal(first.code, 0, first.stderr);
  const good = (JSON.parse(first.stdout) as { revision: string }).revision;

  const noReason = await cluster.gitops(['lock', 'staging']);
  assert.equal(noReason.code, 2, noReason.stderr);

  const locked = await runCli(['--json', 'lock', 'staging', '--reason', 'incident 42: database migration'], {
    cwd: cluster.app,
    env: { ...cluster.env, GITHUB_ACTOR: 'alice' },
  });
  assert.equal(locked.code, 0, locked.stderr);
  const lockDoc = JSON.parse(locked.stdout) as { commit: string; lock: { lockedAt: string } };
  assert.equal(cluster.remote.head(), lockDoc.commit);
  assert.match(trailers(cluster.remote.bare, lockDoc.commit), /^Gitops-Action: lock$/m);
  assert.match(trailers(cluster.remote.bare, lockDoc.commit), /^Gitops-Actor: alice$/m);
  assert.match(cluster.remote.show('.gitops/locks/staging.yaml'), /lockedBy: alice/);

  const again = await cluster.gitops(['lock', 'staging', '--reason', 'me too']);
  assert.equal(again.code, 5, again.stderr);
  assert.match(again.stderr, /already locked by alice/);

  const head = cluster.remote.head();
  const blocked = await cluster.gitops(deploy('2.0.0'));
  assert.equal(blocked.code, 5, blocked.stderr);
  const blockedDoc = JSON.parse(blocked.stdout) as { error: { code: string; message: string } };
  assert.equal(blockedDoc.error.code, 'ENVIRONMENT_LOCKED');
  assert.ok(
    blocked.stderr.includes(`locked by alice at ${lockDoc.lock.lockedAt}: incident 42: database migration`),
    blocked.stderr,
  );
  assert.match(blocked.stderr, /--force --reason/);
  assert.equal(cluster.remote.head(), head, 'nothing pushed');

  const rollback = await cluster.gitops(['rollback', good.slice(0, 12), '--env', 'staging']);
  assert.equal(rollback.code, 5, rollback.stderr);
  assert.match(rollback.stderr, /locked by alice/);

  const forceWithoutReason = await cluster.gitops(deploy('2.0.0', '--force'));
  assert.equal(forceWithoutReason.code, 2, forceWithoutReason.stderr);
  assert.equal(cluster.remote.head(), head);

  const status = await cluster.gitops(['--json', 'status', '--env', 'staging']);
  const statusDoc = JSON.parse(status.stdout) as { environments: Array<{ lock: { lockedBy: string } }> };
  assertMatchesSchema('status', statusDoc);
  assert.equal(statusDoc.environments[0]!.lock.lockedBy, 'alice');
  assert.match(status.stderr, /locked by alice/);

  const forced = await cluster.gitops(deploy('2.0.0', '--force', '--reason', 'hotfix for incident 42'));
  assert.equal(forced.code, 0, forced.stderr);
  const forcedDoc = JSON.parse(forced.stdout) as { revision: string };
  assertMatchesSchema('deploy', forcedDoc);
  const forcedTrailers = trailers(cluster.remote.bare, forcedDoc.revision);
  assert.match(forcedTrailers, /^Gitops-Override: locked by alice at .*: incident 42: database migration$/m);
  assert.match(forcedTrailers, /^Gitops-Override-Reason: hotfix for incident 42$/m);
  assert.match(forced.stderr, /overriding: staging is locked by alice/);

  const unlocked = await runCli(['--json', 'unlock', 'staging', '--reason', 'migration done'], {
    cwd: cluster.app,
    env: { ...cluster.env, GITHUB_ACTOR: 'bob' },
  });
  assert.equal(unlocked.code, 0, unlocked.stderr);
  const unlockCommit = cluster.remote.head();
  assert.match(trailers(cluster.remote.bare, unlockCommit), /^Gitops-Action: unlock$/m);
  assert.throws(() => cluster.remote.show('.gitops/locks/staging.yaml'));
  const twice = await cluster.gitops(['unlock', 'staging']);
  assert.equal(twice.code, 0, twice.stderr);
  assert.equal(cluster.remote.head(), unlockCommit, 'unlocking an unlocked environment commits nothing');

  const after = await cluster.gitops(deploy('3.0.0'));
  assert.equal(after.code, 0, after.stderr);
  const afterRevision = (JSON.parse(after.stdout) as { revision: string }).revision;
  assert.doesNotMatch(trailers(cluster.remote.bare, afterRevision), /Gitops-Override/);
});

test('a freeze window covering now: deploy exits 5 before anything is pushed; --force --reason records the freeze', async (t) => {
  const now = Date.now();
  const from = new Date(now - 3_600_000).toISOString();
  const to = new Date(now + 3_600_000).toISOString();
  const cluster = await fixture(t);
  const first = await cluster.gitops(deploy('1.0.0'));
  assert.equal(first.code, 0, first.stderr);
  appendFileSync(
    join(cluster.app, 'gitops.yaml'),
    `freezes:\n  - from: "${from}"\n    to: "${to}"\n    reason: end-of-year freeze\n`,
  );
  const head = cluster.remote.head();
  const blocked = await cluster.gitops(deploy('2.0.0'));
  assert.equal(blocked.code, 5, blocked.stderr);
  assert.equal((JSON.parse(blocked.stdout) as { error: { code: string } }).error.code, 'ENVIRONMENT_FROZEN');
  assert.match(blocked.stderr, /freeze freezes\[0\] .*: end-of-year freeze/);
  assert.equal(cluster.remote.head(), head, 'nothing pushed');

  const status = await cluster.gitops(['--json', 'status', '--env', 'staging']);
  const statusDoc = JSON.parse(status.stdout) as { environments: Array<{ freezes: string[] }> };
  assertMatchesSchema('status', statusDoc);
  assert.equal(statusDoc.environments[0]!.freezes.length, 1);

  const forced = await cluster.gitops(deploy('2.0.0', '--force', '--reason', 'security fix'));
  assert.equal(forced.code, 0, forced.stderr);
  const revision = (JSON.parse(forced.stdout) as { revision: string }).revision;
  assert.match(
    trailers(cluster.remote.bare, revision),
    /^Gitops-Override: freeze freezes\[0\] .*end-of-year freeze$/m,
  );
  assert.match(trailers(cluster.remote.bare, revision), /^Gitops-Override-Reason: security fix$/m);
});

test('freeze windows: absolute and weekly (UTC), per environment and global; bad windows are exit 2', () => {
  const at = new Date('2026-12-25T10:30:00Z'); // a Friday
  const window = (fields: Partial<FreezeWindow>): FreezeWindow => ({
    from: '2026-12-20T00:00:00Z',
    to: '2027-01-02T00:00:00Z',
    days: [],
    reason: 'holidays',
    ...fields,
  });
  assert.equal(freezeEnd(window({}), at, 'freezes[0]')?.toISOString(), '2027-01-02T00:00:00.000Z');
  assert.equal(freezeEnd(window({ to: '2026-12-25T10:30:00Z' }), at, 'f'), undefined, 'the end is exclusive');
  const weekly = window({ days: ['fri'], from: '10:00', to: '24:00' });
  assert.equal(freezeEnd(weekly, at, 'f')?.toISOString(), '2026-12-26T00:00:00.000Z');
  assert.equal(freezeEnd({ ...weekly, days: ['thu'] }, at, 'f'), undefined);
  assert.equal(freezeEnd({ ...weekly, from: '11:00' }, at, 'f'), undefined);
  assert.throws(() => freezeEnd(window({ to: '2026-12-01T00:00:00Z' }), at, 'f'), { exitCode: 2 });
  assert.throws(() => freezeEnd(window({ from: '10:00' }), at, 'f'), { exitCode: 2 });
  const active = activeFreezes(
    { freezes: [window({ from: '2027-01-01T00:00:00Z', to: '2027-01-05T00:00:00Z' })] },
    { name: 'production', freezes: [weekly] },
    at,
  );
  assert.deepEqual(
    active.map((freeze) => freeze.key),
    ['environments.production.freezes[0]'],
  );
});
