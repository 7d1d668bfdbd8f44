// Before anything is pushed, the API server sees the whole rendered set (a server-side dry run):
// what it would refuse stops the run with its message, the object and file:line, and the remote
// head stays where it was. An environment shipping a CRD with its custom resources diffs and
// deploys at the first attempt (CRs of CRDs not installed yet are missing, not an error).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ClusterFixture, clusterFixture } from './support/cluster.js';
import { crdYaml } from './support/crds.js';
import { commitToRemote } from './support/git.js';
import { deployWeb } from './support/live.js';
import { namespaceYaml, REGISTRY, WEB_IMAGE_CONFIG, webDeploymentYaml } from './support/manifests.js';
import { uniqueName } from './support/test-cluster.js';

interface ErrorDocument {
  error: { code: string; message: string; location?: { file: string; line?: number } };
}

function commit(
  cluster: ClusterFixture,
  files: Record<string, string>,
  message: string,
  remove: string[] = [],
) {
  return commitToRemote(cluster.remote, files, message, remove);
}

/** Runs a gitops command that must be refused by the dry run; returns the error document. */
async function refused(cluster: ClusterFixture, args: string[]): Promise<ErrorDocument['error']> {
  const head = cluster.remote.head();
  const result = await cluster.gitops(['--json', ...args]);
  assert.equal(result.code, 5, result.stderr);
  const { error } = JSON.parse(result.stdout) as ErrorDocument;
  assert.equal(error.code, 'SERVER_DRY_RUN_REFUSED', error.message);
  assert.equal(cluster.remote.head(), head, 'nothing pushed');
  return error;
}

test('CRD and custom resource in one environment: diff before the first deploy exits 1 (the CR is missing), deploy exits 0, the CR is in the cluster', async (t) => {
  const ns = uniqueName('staging');
  const group = `${uniqueName('widgets')}.example.com`;
  const cluster = await clusterFixture(
    t,
    {
      'envs/staging/namespace.yaml': namespaceYaml(ns),
      'envs/staging/crd.yaml': crdYaml(group, 'Widget'),
      'envs/staging/widget.yaml': `apiVersion: ${group}/v1\nkind: Widget\nmetadata:\n  name: blue\nspec:\n  colour: blue\n`,
    },
    { staging: `    namespace: ${ns}\n    timeout: 3m\n` },
  );
  const before = await cluster.gitops(['--json', 'diff', '--env', 'staging']);
  assert.equal(before.code, 1, before.stderr);
  const report = JSON.parse(before.stdout) as { objects: Array<{ kind: string; state: string }> };
  assert.deepEqual(report.objects.map((object) => [object.kind, object.state]).sort(), [
    ['CustomResourceDefinition', 'missing'],
    ['Namespace', 'missing'],
    ['Widget', 'missing'],
  ]);
  const deploy = await cluster.gitops(['deploy', '--env', 'staging', '--skip-build']);
  assert.equal(deploy.code, 0, deploy.stderr);
  assert.match(deploy.stderr, /1 wait for the CRD this apply installs/);
  const widget = await cluster.server.getObject({
    apiVersion: `${group}/v1`,
    kind: 'Widget',
    namespace: ns,
    name: 'blue',
  });
  assert.deepEqual((widget as { spec?: unknown } | undefined)?.spec, { colour: 'blue' });
  const after = await cluster.gitops(['diff', '--env', 'staging']);
  assert.equal(after.code, 0, after.stderr);
});

test('a namespace that does not exist, an invalid object, an immutable field: refused before the push with the server message and file:line', async (t) => {
  const ns = uniqueName('staging');
  const missing = uniqueName('nowhere');
  const cluster = await clusterFixture(
    t,
    {
      'envs/staging/namespace.yaml': namespaceYaml(ns),
      'envs/staging/web.yaml': webDeploymentYaml(),
    },
    // The environment may write to the missing namespace: the policy gate lets it through, and the
    // API server's dry run is what refuses it.
    { staging: `    namespace: ${ns}\n    namespaces: [${ns}, ${missing}]\n    timeout: 3m\n` },
    WEB_IMAGE_CONFIG,
  );
  const first = await cluster.gitops(deployWeb('staging', '1.0.0'));
  assert.equal(first.code, 0, first.stderr);

  commit(
    cluster,
    {
      'envs/staging/elsewhere.yaml': `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: stray\n  namespace: ${missing}\ndata:\n  a: b\n`,
    },
    'a ConfigMap in a namespace nobody creates',
  );
  const namespace = await refused(cluster, deployWeb('staging', '2.0.0'));
  assert.match(
    namespace.message,
    new RegExp(
      `envs/staging/elsewhere\\.yaml:1: ConfigMap/${missing}/stray: namespace ${missing} does not exist`,
    ),
  );
  assert.deepEqual(namespace.location, { file: 'envs/staging/elsewhere.yaml', line: 1 });

  commit(
    cluster,
    {
      'envs/staging/elsewhere.yaml': `apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  selector: {app: web}\n  ports:\n    - port: 70000\n`,
    },
    'an invalid Service',
  );
  const invalid = await refused(cluster, deployWeb('staging', '2.0.0'));
  assert.match(
    invalid.message,
    new RegExp(
      `envs/staging/elsewhere\\.yaml:1: Service/${ns}/web: .*spec\\.ports\\[0\\]\\.port: Invalid value: 70000`,
    ),
  );

  commit(
    cluster,
    { 'envs/staging/web.yaml': webDeploymentYaml().replaceAll('app: web', 'app: web-2') },
    'a new selector',
    ['envs/staging/elsewhere.yaml'],
  );
  const immutable = await refused(cluster, deployWeb('staging', '2.0.0'));
  assert.match(
    immutable.message,
    /envs\/staging\/web\.yaml:1: Deployment\/.*\/web: .*spec\.selector.*field is immutable/,
  );
  const image = (await cluster.server.getObject({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    namespace: ns,
    name: 'web',
  })) as {
    spec: { template: { spec: { containers: Array<{ image: string }> } } };
  };
  assert.equal(image.spec.template.spec.containers[0]?.image, `${REGISTRY}/web:1.0.0`, 'nothing applied');
});

test('a first deploy that creates its namespace: its objects are checked too, and an invalid one is refused', async (t) => {
  const ns = uniqueName('fresh');
  const cluster = await clusterFixture(
    t,
    {
      'envs/staging/namespace.yaml': namespaceYaml(ns),
      'envs/staging/service.yaml': `apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  selector: {app: web}\n  ports:\n    - port: 70000\n`,
      'envs/staging/settings.yaml': `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  a: b\n`,
    },
    { staging: `    namespace: ${ns}\n` },
  );
  cluster.server.clearRequests();
  const error = await refused(cluster, ['deploy', '--env', 'staging', '--skip-build']);
  assert.match(error.message, /envs\/staging\/service\.yaml:1: Service\/.*\/web: .*Invalid value: 70000/);
  assert.doesNotMatch(error.message, /ConfigMap/, 'the valid ConfigMap is not refused');
  assert.equal(await cluster.server.getObject({ apiVersion: 'v1', kind: 'Namespace', name: ns }), undefined);
  // The namespace is known to be absent before the dry run: each of its objects is asked once,
  // as a create in the stand-in namespace, not first as an apply the server can only refuse.
  const dryRuns = cluster.server.requests
    .filter((request) => request.query.dryRun === 'All')
    .map((request) => `${request.method} ${request.path}`)
    .sort();
  assert.deepEqual(dryRuns, [
    `PATCH /api/v1/namespaces/${ns}`,
    'POST /api/v1/namespaces/default/configmaps',
    'POST /api/v1/namespaces/default/services',
  ]);
});

test('rollback and promote run the same dry run: a target the server refuses is not pushed', async (t) => {
  const ns = { staging: uniqueName('staging'), production: uniqueName('production') };
  const extra = uniqueName('extra');
  const gone = uniqueName('gone');
  const stray = (namespace: string) =>
    `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: stray\n  namespace: ${namespace}\ndata:\n  a: b\n`;
  const cluster = await clusterFixture(
    t,
    {
      'envs/staging/namespace.yaml': namespaceYaml(ns.staging),
      'envs/staging/web.yaml': webDeploymentYaml(),
      'envs/staging/stray.yaml': stray(extra),
      'envs/production/namespace.yaml': namespaceYaml(ns.production),
      'envs/production/web.yaml': webDeploymentYaml(),
      'envs/production/stray.yaml': stray(gone),
    },
    {
      staging: `    namespace: ${ns.staging}\n    namespaces: [${ns.staging}, ${extra}]\n    timeout: 3m\n`,
      production: `    namespace: ${ns.production}\n    namespaces: [${ns.production}, ${gone}]\n    timeout: 3m\n    promoteFrom: staging\n`,
    },
    WEB_IMAGE_CONFIG,
  );
  const created = await cluster.kubectl(['create', 'namespace', extra]);
  assert.equal(created.code, 0, created.stderr);
  const first = await cluster.gitops(deployWeb('staging', '1.0.0'));
  assert.equal(first.code, 0, first.stderr);
  const target = cluster.remote.head();

  const promote = await refused(cluster, ['promote', '--to', 'production']);
  assert.match(
    promote.message,
    new RegExp(`envs/production/stray\\.yaml:1: ConfigMap/${gone}/stray: namespace ${gone} does not exist`),
  );

  commit(cluster, {}, 'the stray ConfigMap goes', ['envs/staging/stray.yaml']);
  const second = await cluster.gitops(deployWeb('staging', '2.0.0'));
  assert.equal(second.code, 0, second.stderr);
  const deleted = await cluster.kubectl(['delete', 'namespace', extra, '--wait=true', '--timeout=120s']);
  assert.equal(deleted.code, 0, deleted.stderr);
  const rollback = await refused(cluster, ['rollback', target.slice(0, 12), '--env', 'staging']);
  assert.match(
    rollback.message,
    new RegExp(`envs/staging/stray\\.yaml:1: ConfigMap/${extra}/stray: namespace ${extra} does not exist`),
  );
});
