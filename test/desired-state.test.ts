// The desired state of an environment at a revision of the env repo, from gitops' own clone: the
// clone's tree stands for a revision whose render inputs hold what the head's hold (commits of
// other environments lie between them); any other revision is exported and rendered apart.
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { createContext } from '../src/cli/context.js';
import type { Cluster } from '../src/cluster/cluster.js';
import type { EnvironmentConfig, GitopsConfig } from '../src/config/types.js';
import { openEnvRepo } from '../src/git/checkout.js';
import { EnvironmentSession } from '../src/operations/session.js';
import { baseEnv, tempDir } from './support/cli.js';
import { commitToRemote, createRemote, gitTestEnv } from './support/git.js';

const deployment = (tag: string) =>
  `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n        - name: web\n          image: ghcr.io/acme/web:${tag}\n`;

function images(objects: Awaited<ReturnType<EnvironmentSession['render']>>): string[] {
  return objects.map(
    (item) =>
      (item.object.spec as { template: { spec: { containers: [{ image: string }] } } }).template.spec
        .containers[0].image,
  );
}

test('desired state: a revision that renders as the head does is rendered from the clone; one that does not is exported', async (t) => {
  const remote = createRemote(t, {
    'envs/staging/web.yaml': deployment('1.0.0'),
    'envs/production/web.yaml': deployment('1.0.0'),
  });
  const seeded = remote.head();
  const staged = commitToRemote(remote, { 'envs/staging/web.yaml': deployment('2.0.0') }, 'staging 2.0.0');
  // The head: a commit of the other environment only.
  commitToRemote(remote, { 'envs/production/web.yaml': deployment('2.0.0') }, 'production 2.0.0');

  const app = tempDir(t, 'gitops-desired-');
  let echoed = '';
  const stderr = new PassThrough();
  stderr.on('data', (chunk) => {
    echoed += chunk;
  });
  const ctx = createContext(
    {
      cwd: app,
      env: baseEnv({ ...gitTestEnv, GIT_CONFIG_GLOBAL: '/dev/null' }),
      stdout: new PassThrough(),
      stderr,
      isTTY: false,
    },
    { verbose: true },
  );
  t.after(() => ctx.cleanup.run());
  const config = {
    dir: app,
    envRepo: { url: remote.bare, branch: 'main', sameRepo: false },
    helm: { path: 'helm' },
  } as GitopsConfig;
  const staging = {
    name: 'staging',
    path: 'envs/staging',
    helmValues: [],
    allowRemoteResources: false,
    ignoreDifferences: [],
  } as unknown as EnvironmentConfig;
  // No cluster behind it: a plain-YAML render asks nothing of it.
  const cluster = { serverVersion: async () => undefined } as unknown as Cluster;
  const session = new EnvironmentSession(ctx, config, staging, cluster, 'staging');
  const checkout = await openEnvRepo(ctx, config, staging);
  const exports = () => echoed.match(/\$ git --work-tree=/g)?.length ?? 0;

  const same = await session.desiredState(checkout, staged);
  assert.equal(same.revision, staged);
  assert.deepEqual(images(same.objects), ['ghcr.io/acme/web:2.0.0']);
  assert.equal(exports(), 0, 'rendered from the clone: only production changed since');

  const older = await session.desiredState(checkout, seeded);
  assert.equal(older.revision, seeded);
  assert.deepEqual(images(older.objects), ['ghcr.io/acme/web:1.0.0'], 'what that commit renders');
  assert.equal(exports(), 1, 'its staging files differ from the head: exported');
});
