// A deploy renders its temp clone for the gates and again, once committed, to apply it: the
// session renders a tree once while its bytes stay the same, and again as soon as a file changed
// (after a bump the render must see the new files). The renderer here is a stand-in helm that
// prints the chart's template and counts its runs.
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { createContext } from '../src/cli/context.js';
import type { Cluster } from '../src/cluster/cluster.js';
import type { EnvironmentConfig, GitopsConfig } from '../src/config/types.js';
import { EnvironmentSession } from '../src/operations/session.js';
import { baseEnv, tempDir } from './support/cli.js';

const template = (image: string) =>
  `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n        - name: web\n          image: ${image}\n`;

function setup(t: { after(fn: () => void): void }, environment: Partial<EnvironmentConfig> = {}) {
  const root = tempDir(t, 'gitops-session-render-');
  const tree = { dir: join(root, 'repo'), envDir: join(root, 'repo', 'envs', 'staging') };
  mkdirSync(join(tree.envDir, 'chart', 'templates'), { recursive: true });
  writeFileSync(join(tree.envDir, 'chart', 'Chart.yaml'), 'apiVersion: v2\nname: web\nversion: 1.0.0\n');
  writeFileSync(join(tree.envDir, 'chart', 'templates', 'web.yaml'), template('ghcr.io/acme/web:1.0.0'));
  mkdirSync(join(tree.dir, '.git'));
  const runs = join(root, 'helm-runs');
  writeFileSync(runs, '');
  const helm = join(root, 'helm');
  // `helm template <release> <chart> ...`: the chart's one template, as helm prints it.
  writeFileSync(
    helm,
    `#!/bin/sh\necho run >> '${runs}'\nprintf -- '---\\n# Source: web/templates/web.yaml\\n'\ncat "$3/templates/web.yaml"\n`,
  );
  chmodSync(helm, 0o755);
  const ctx = createContext(
    { cwd: root, env: baseEnv(), stdout: new PassThrough(), stderr: new PassThrough(), isTTY: false },
    {},
  );
  const config = { helm: { path: helm } } as GitopsConfig;
  const staging = {
    name: 'staging',
    path: 'envs/staging',
    chart: './chart',
    helmValues: [],
    allowRemoteResources: false,
    ...environment,
  } as EnvironmentConfig;
  // No cluster behind it: the render asks only for the server's version, which it may lack.
  const cluster = { serverVersion: async () => undefined } as unknown as Cluster;
  const session = new EnvironmentSession(ctx, config, staging, cluster, 'staging');
  const helmRuns = () => readFileSync(runs, 'utf8').split('\n').filter(Boolean).length;
  return { tree, session, helmRuns };
}

const images = (objects: Awaited<ReturnType<EnvironmentSession['render']>>) =>
  objects.map(
    (item) =>
      (item.object.spec as { template: { spec: { containers: [{ image: string }] } } }).template.spec
        .containers[0].image,
  );

test('a tree with the same bytes is rendered once per run; a changed file renders it again', async (t) => {
  const { tree, session, helmRuns } = setup(t);
  const first = await session.render(tree);
  assert.deepEqual(images(first), ['ghcr.io/acme/web:1.0.0']);
  assert.equal(first[0]!.object.metadata.namespace, 'staging');
  // What a caller does with its objects is its own: the next render is not changed by it.
  first[0]!.object.metadata.name = 'changed-by-a-caller';
  const second = await session.render(tree);
  assert.equal(helmRuns(), 1);
  assert.deepEqual(second[0]!.object.metadata, { name: 'web', namespace: 'staging' });
  assert.deepEqual(second[0]!.source, { file: 'envs/staging/chart/templates/web.yaml', line: 1 });

  // A bump: the same tree, other bytes.
  writeFileSync(join(tree.envDir, 'chart', 'templates', 'web.yaml'), template('ghcr.io/acme/web:1.1.0'));
  assert.deepEqual(images(await session.render(tree)), ['ghcr.io/acme/web:1.1.0']);
  assert.equal(helmRuns(), 2);
  // Any file of the tree counts, named by the environment or not; a new file too.
  writeFileSync(join(tree.dir, 'README.md'), 'env repo\n');
  await session.render(tree);
  assert.equal(helmRuns(), 3);
  await session.render(tree);
  assert.equal(helmRuns(), 3);
  // Another session (another run) renders for itself.
  const other = setup(t);
  await other.session.render(tree);
  assert.equal(helmRuns() + other.helmRuns(), 4);
});

test('a render that reads more than the tree is never reused', async (t) => {
  const { tree, session, helmRuns } = setup(t, { allowRemoteResources: true });
  await session.render(tree);
  await session.render(tree);
  assert.equal(helmRuns(), 2);
});

test('a render that failed is not remembered', async (t) => {
  const { tree, session, helmRuns } = setup(t);
  writeFileSync(join(tree.envDir, 'chart', 'templates', 'web.yaml'), 'kind: [\n');
  await assert.rejects(session.render(tree), { code: 'MANIFEST_YAML' });
  await assert.rejects(session.render(tree), { code: 'MANIFEST_YAML' });
  assert.equal(helmRuns(), 2);
});
