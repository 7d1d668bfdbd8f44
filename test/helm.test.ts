// The Helm layout of examples/env-helm, rendered by the real helm 3.17 (`helm template`) and
// deployed to the real control plane: deploy, a second deploy that changes only the values file,
// and a diff that finds the cluster as the chart renders it.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { repoRoot } from './support/cli.js';
import { clusterFixture } from './support/cluster.js';
import { uniqueName } from './support/test-cluster.js';

const EXAMPLE = join(repoRoot, 'examples', 'env-helm');
const REPOSITORY = '127.0.0.1:5000/demo/web';

function exampleFiles(): Record<string, string> {
  const files: Record<string, string> = {};
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (!name.endsWith('.md') && name !== 'gitops.yaml')
        files[relative(EXAMPLE, path)] = readFileSync(path, 'utf8');
    }
  };
  walk(EXAMPLE);
  return files;
}

test('a Helm chart environment is rendered by helm template, deployed, bumped in its values file and diffs clean', async (t) => {
  const ns = uniqueName('helm');
  const cluster = await clusterFixture(
    t,
    exampleFiles(),
    {
      staging: `    chart: ../../charts/web\n    helmValues: [values.yaml]\n    namespace: ${ns}\n    timeout: 3m\n`,
    },
    `images:\n  - name: web\n    repository: ${REPOSITORY}\n`,
  );
  const first = await cluster.gitops([
    '--json',
    'deploy',
    '--env',
    'staging',
    '--skip-build',
    '--image',
    `web=${REPOSITORY}:v2`,
  ]);
  assert.equal(first.code, 0, first.stderr);
  assert.match(
    cluster.remote.show('envs/staging/values.yaml'),
    /^ {2}tag: v2$/m,
    'the image tag was written to the values file, nowhere else',
  );
  assert.doesNotMatch(cluster.remote.show('charts/web/values.yaml'), /tag: v2/);

  const live = await cluster.server.getObject({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    namespace: ns,
    name: 'web',
  });
  assert.ok(live, 'the chart rendered Deployment web into the environment namespace');
  assert.equal(live.spec.template.spec.containers[0].image, `${REPOSITORY}:v2`);
  assert.equal(live.metadata.labels['helm.sh/chart'], 'web-0.1.0', 'helm rendered the chart labels');
  const namespace = await cluster.server.getObject({ apiVersion: 'v1', kind: 'Namespace', name: ns });
  assert.ok(namespace, 'the chart rendered the Namespace (createNamespace)');

  const diff = await cluster.gitops(['diff', '--env', 'staging']);
  assert.equal(diff.code, 0, diff.stderr);
  assert.match(diff.stderr, /staging: in sync/);

  const second = await cluster.gitops([
    'deploy',
    '--env',
    'staging',
    '--skip-build',
    '--image',
    `web=${REPOSITORY}:v3`,
  ]);
  assert.equal(second.code, 0, second.stderr);
  const after = await cluster.server.getObject({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    namespace: ns,
    name: 'web',
  });
  assert.equal(after?.spec.template.spec.containers[0].image, `${REPOSITORY}:v3`);
  assert.equal((await cluster.gitops(['diff', '--env', 'staging'])).code, 0);
});
