// Ownership: an environment touches only what it owns. Two apps or two env repos with the same
// environment name, objects applied by hand or by `helm install`, another environment's
// namespace, cluster-scoped kinds, prune of adopted objects and namespaces, and an environment an
// earlier release deployed under its bare name.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it as test } from 'node:test';
import { kubeTools } from '@gitops/kube-apiserver/kube-tools';
import { runCli, tempDir } from './support/cli.js';
import { type ClusterFixture, clusterFixture } from './support/cluster.js';
import { createRemote, git } from './support/git.js';
import { deployWeb } from './support/live.js';
import { REGISTRY, WEB_IMAGE_CONFIG } from './support/manifests.js';
import { uniqueName } from './support/test-cluster.js';

function deployment(name: string, tag = '1.0.0', namespace?: string): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
${namespace ? `  namespace: ${namespace}\n` : ''}spec:
  replicas: 1
  selector:
    matchLabels: {app: ${name}}
  template:
    metadata:
      labels: {app: ${name}}
    spec:
      containers:
        - name: app
          image: ${REGISTRY}/${name}:${tag}
`;
}

const configMap = (name: string, value: string, namespace?: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n${namespace ? `  namespace: ${namespace}\n` : ''}data:\n  value: ${value}\n`;

const namespaceYaml = (name: string) => `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${name}\n`;

interface DiffDoc {
  inSync: boolean;
  counts: Record<string, number>;
  objects: Array<{
    kind: string;
    name: string;
    state: string;
    owner?: string;
    differences: Array<{ path: string }>;
  }>;
}

type Cli = (args: string[]) => ReturnType<typeof runCli>;

async function diffOf(gitops: Cli, env = 'staging'): Promise<{ code: number; doc: DiffDoc; stderr: string }> {
  const result = await gitops(['--json', 'diff', '--env', env]);
  assert.ok(result.code === 0 || result.code === 1, result.stderr);
  return { code: result.code, doc: JSON.parse(result.stdout) as DiffDoc, stderr: result.stderr };
}

const names = (doc: DiffDoc) => doc.objects.map((object) => `${object.kind}/${object.name}`).sort();

/** Another app dir with its own gitops.yaml (same cluster, same kubectl). */
function secondApp(
  t: Parameters<typeof tempDir>[0],
  cluster: ClusterFixture,
  url: string,
  environments: string,
): Cli {
  const app = tempDir(t, 'gitops-app-b-');
  writeFileSync(
    join(app, 'gitops.yaml'),
    `version: 1\nenvRepo:\n  url: ${url}\n  branch: main\nkubectl:\n  path: ${kubeTools().kubectl}\nenvironments:\n${environments}`,
  );
  return (args) => runCli(args, { cwd: app, env: cluster.env });
}

function commit(cluster: ClusterFixture, change: (seed: string) => void, message: string): void {
  const { seed } = cluster.remote;
  git(seed, ['pull', '--quiet', '--rebase', 'origin', 'main']);
  change(seed);
  git(seed, ['add', '-A']);
  git(seed, ['commit', '--quiet', '-m', message]);
  git(seed, ['push', '--quiet', 'origin', 'main']);
}

const get = (cluster: ClusterFixture, kind: string, name: string, namespace?: string) =>
  cluster.server.getObject({
    apiVersion: kind === 'Deployment' ? 'apps/v1' : 'v1',
    kind,
    name,
    ...(namespace ? { namespace } : {}),
  });

describe('ownership', { concurrency: true }, () => {
  test('two apps with an environment "staging" in one namespace and one env repo never touch each other', async (t) => {
    const ns = uniqueName('shared');
    const cluster = await clusterFixture(
      t,
      {
        'apps/a/staging/app.yaml': `${namespaceYaml(ns)}---\n${deployment('alpha')}`,
        'apps/b/staging/app.yaml': deployment('bravo'),
      },
      { staging: `    path: apps/a/staging\n    namespace: ${ns}\n    timeout: 3m\n` },
    );
    const appB = secondApp(
      t,
      cluster,
      cluster.remote.bare,
      `  staging:\n    path: apps/b/staging\n    namespace: ${ns}\n    timeout: 3m\n`,
    );

    for (const [label, gitops] of [
      ['a', cluster.gitops],
      ['b', appB],
      ['a again', cluster.gitops],
      ['b again', appB],
    ] as const) {
      const result = await gitops(['deploy', '--env', 'staging', '--skip-build', '--on-drift', 'overwrite']);
      assert.equal(result.code, 0, `${label}: ${result.stderr}`);
    }
    const diffA = await diffOf(cluster.gitops);
    assert.equal(diffA.code, 0, diffA.stderr);
    assert.deepEqual(names(diffA.doc), ['Deployment/alpha', `Namespace/${ns}`]);
    const diffB = await diffOf(appB);
    assert.equal(diffB.code, 0, diffB.stderr);
    assert.deepEqual(names(diffB.doc), ['Deployment/bravo']);
    for (const name of ['alpha', 'bravo'])
      assert.ok(await get(cluster, 'Deployment', name, ns), `${name} is still there`);
  });

  test('an object another environment took over with --adopt: diff and status of the first name the new owner', async (t) => {
    const ns = uniqueName('taken');
    const cluster = await clusterFixture(
      t,
      {
        'apps/a/staging/app.yaml': `${namespaceYaml(ns)}---\n${configMap('shared', 'from-a')}`,
        'apps/b/staging/app.yaml': configMap('shared', 'from-b'),
      },
      { staging: `    path: apps/a/staging\n    namespace: ${ns}\n    timeout: 3m\n` },
    );
    const appB = secondApp(
      t,
      cluster,
      cluster.remote.bare,
      `  staging:\n    path: apps/b/staging\n    namespace: ${ns}\n    timeout: 3m\n`,
    );
    assert.equal((await cluster.gitops(['deploy', '--env', 'staging', '--skip-build'])).code, 0);
    const refused = await appB(['deploy', '--env', 'staging', '--skip-build']);
    assert.equal(refused.code, 5, refused.stderr);
    const taken = await appB(['deploy', '--env', 'staging', '--skip-build', '--adopt']);
    assert.equal(taken.code, 0, taken.stderr);

    const diff = await diffOf(cluster.gitops);
    assert.equal(diff.code, 1);
    const shared = diff.doc.objects.find((object) => object.name === 'shared')!;
    assert.equal(shared.state, 'foreign');
    assert.match(shared.owner ?? '', /^environment staging \(.*apps\/b\/staging\)$/);
    const status = await cluster.gitops(['status', '--env', 'staging']);
    assert.equal(status.code, 1, status.stderr);
    assert.match(
      status.stderr,
      new RegExp(`ConfigMap/${ns}/shared is owned by environment staging \\(.*apps/b/staging\\)`),
    );
  });

  test('two env repos with an environment "staging" in one namespace: separate inventories, no git error', async (t) => {
    const ns = uniqueName('two-repos');
    const cluster = await clusterFixture(
      t,
      { 'envs/staging/app.yaml': `${namespaceYaml(ns)}---\n${deployment('alpha')}` },
      { staging: `    namespace: ${ns}\n    timeout: 3m\n` },
    );
    const otherRepo = createRemote(t, { 'envs/staging/app.yaml': deployment('bravo') });
    const appB = secondApp(
      t,
      cluster,
      otherRepo.bare,
      `  staging:\n    path: envs/staging\n    namespace: ${ns}\n    timeout: 3m\n`,
    );
    for (const gitops of [cluster.gitops, appB, cluster.gitops]) {
      const result = await gitops(['deploy', '--env', 'staging', '--skip-build']);
      assert.equal(result.code, 0, result.stderr);
    }
    const inventories = (await cluster.server.listObjects('v1', 'ConfigMap', ns))
      .map((object) => String(object.metadata.name))
      .filter((name) => name.startsWith('gitops-inventory-'));
    assert.equal(inventories.length, 2, `one inventory per environment: ${inventories.join(', ')}`);
    assert.deepEqual(names((await diffOf(appB)).doc), ['Deployment/bravo']);
    assert.equal((await diffOf(cluster.gitops)).code, 0);
  });

  test("another environment's namespace or Namespace is refused before the push; removed from git, nothing of it is deleted", async (t) => {
    const staging = uniqueName('staging');
    const production = uniqueName('production');
    const cluster = await clusterFixture(
      t,
      {
        'envs/staging/app.yaml': `${namespaceYaml(staging)}---\n${deployment('web')}`,
        'envs/production/app.yaml': `${namespaceYaml(production)}---\n${deployment('web')}`,
      },
      {
        staging: `    namespace: ${staging}\n    timeout: 3m\n`,
        production: `    namespace: ${production}\n    timeout: 3m\n`,
      },
      WEB_IMAGE_CONFIG,
    );
    for (const env of ['staging', 'production']) {
      const result = await cluster.gitops(['deploy', '--env', env, '--skip-build']);
      assert.equal(result.code, 0, result.stderr);
    }

    // An object in production's namespace: outside staging's namespaces, refused by the gate.
    commit(
      cluster,
      (seed) =>
        writeFileSync(
          join(seed, 'envs/staging/intruder.yaml'),
          configMap('intruder', 'intruding', production),
        ),
      'staging reaches into production',
    );
    let head = cluster.remote.head();
    const intruding = await cluster.gitops(deployWeb('staging', '2.0.0'));
    assert.equal(intruding.code, 5, intruding.stderr);
    assert.match(
      intruding.stderr,
      new RegExp(
        `envs/staging/intruder\\.yaml:1: ConfigMap/intruder: namespace ${production} is not one of staging's`,
      ),
    );
    assert.equal(cluster.remote.head(), head, 'nothing pushed');

    // production's Namespace itself: staging may declare Namespaces, but this one is production's.
    commit(
      cluster,
      (seed) => {
        rmSync(join(seed, 'envs/staging/intruder.yaml'));
        writeFileSync(join(seed, 'envs/staging/steal.yaml'), namespaceYaml(production));
      },
      "staging declares production's Namespace",
    );
    head = cluster.remote.head();
    const stealing = await cluster.gitops(deployWeb('staging', '2.0.0'));
    assert.equal(stealing.code, 5, stealing.stderr);
    assert.match(stealing.stderr, new RegExp(`Namespace/${production} is owned by environment production`));
    assert.match(stealing.stderr, /--adopt/);
    assert.equal(cluster.remote.head(), head, 'nothing pushed');

    commit(cluster, (seed) => rmSync(join(seed, 'envs/staging/steal.yaml')), 'staging stays in its lane');
    const fine = await cluster.gitops(deployWeb('staging', '2.0.0'));
    assert.equal(fine.code, 0, fine.stderr);
    assert.ok(await get(cluster, 'Namespace', production), "production's Namespace is intact");
    assert.ok(await get(cluster, 'Deployment', 'web', production), "production's Deployment is intact");
    assert.equal((await diffOf(cluster.gitops, 'production')).code, 0);
  });

  test('objects applied by hand are reported present, adopted by the deploy, and released (not deleted) when they leave git', async (t) => {
    const ns = uniqueName('adopt');
    const cluster = await clusterFixture(
      t,
      {
        'envs/staging/app.yaml': `${namespaceYaml(ns)}---\n${deployment('web')}---\n${configMap('settings', 'from-git')}`,
      },
      { staging: `    namespace: ${ns}\n    timeout: 3m\n` },
    );
    // Before gitops: the namespace and a ConfigMap made with plain (client-side) kubectl apply.
    const byHand = await cluster.kubectl(
      ['apply', '-f', '-'],
      `${namespaceYaml(ns)}---\n${configMap('settings', 'by-hand', ns)}`,
    );
    assert.equal(byHand.code, 0, byHand.stderr);

    const before = await diffOf(cluster.gitops);
    assert.equal(before.code, 1, before.stderr);
    const states = Object.fromEntries(
      before.doc.objects.map((object) => [`${object.kind}/${object.name}`, object]),
    );
    assert.equal(states['ConfigMap/settings']?.state, 'unmanaged', 'present, not missing');
    assert.deepEqual(
      states['ConfigMap/settings']?.differences.map((difference) => difference.path),
      ['data.value'],
      'with its real differences',
    );
    assert.equal(states[`Namespace/${ns}`]?.state, 'unmanaged');
    assert.equal(states['Deployment/web']?.state, 'missing');
    assert.match(before.stderr, /present, not managed/);
    assert.doesNotMatch(before.stderr, /ConfigMap\/[^\s]+settings\s+missing/);

    const deploy = await cluster.gitops(['deploy', '--env', 'staging', '--skip-build']);
    assert.equal(deploy.code, 0, deploy.stderr);
    assert.match(deploy.stderr, /adopts .*ConfigMap\/[^ ,]+\/settings/);
    assert.equal((await get(cluster, 'ConfigMap', 'settings', ns))?.data.value, 'from-git');
    assert.equal((await diffOf(cluster.gitops)).code, 0);

    // It leaves git: adopted, so released — gitops' marks removed, the object kept.
    commit(
      cluster,
      (seed) =>
        writeFileSync(join(seed, 'envs/staging/app.yaml'), `${namespaceYaml(ns)}---\n${deployment('web')}`),
      'settings is no longer ours',
    );
    const release = await cluster.gitops(['deploy', '--env', 'staging', '--skip-build']);
    assert.equal(release.code, 0, release.stderr);
    assert.match(release.stderr, /released ConfigMap\/[^ ]+\/settings/);
    const kept = await get(cluster, 'ConfigMap', 'settings', ns);
    assert.ok(kept, 'not deleted');
    assert.equal(kept.metadata.labels?.['gitops.dev/environment'], undefined);
    assert.equal((await diffOf(cluster.gitops)).code, 0);
  });

  test('objects of a helm install are reported with their owner and refused without --adopt', async (t) => {
    const ns = uniqueName('helm-owned');
    const cluster = await clusterFixture(
      t,
      { 'envs/staging/app.yaml': `${namespaceYaml(ns)}---\n${configMap('web-settings', 'from-git')}` },
      { staging: `    namespace: ${ns}\n    timeout: 3m\n` },
    );
    const chart = join(tempDir(t, 'gitops-chart-'), 'settings');
    mkdirSync(join(chart, 'templates'), { recursive: true });
    writeFileSync(join(chart, 'Chart.yaml'), 'apiVersion: v2\nname: settings\nversion: 0.1.0\n');
    writeFileSync(join(chart, 'templates', 'cm.yaml'), configMap('web-settings', 'from-helm'));
    // Not spawnSync: the test's API proxy runs in this process and must keep answering.
    const namespace = await cluster.kubectl(['create', 'namespace', ns]);
    assert.equal(namespace.code, 0, namespace.stderr);
    const installed = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      execFile(
        kubeTools().helm,
        ['install', 'legacy-settings', chart, '--namespace', ns],
        { env: cluster.server.kubectlEnv() as NodeJS.ProcessEnv },
        (error, _stdout, stderr) => resolve({ code: error ? 1 : 0, stderr }),
      );
    });
    assert.equal(installed.code, 0, installed.stderr);

    const before = await diffOf(cluster.gitops);
    assert.equal(before.code, 1);
    const settings = before.doc.objects.find((object) => object.name === 'web-settings')!;
    assert.equal(settings.state, 'foreign');
    assert.equal(settings.owner, `Helm release ${ns}/legacy-settings`);
    assert.match(before.stderr, new RegExp(`Helm release ${ns}/legacy-settings`));

    const head = cluster.remote.head();
    const refused = await cluster.gitops(['deploy', '--env', 'staging', '--skip-build']);
    assert.equal(refused.code, 5, refused.stderr);
    assert.match(
      refused.stderr,
      new RegExp(
        `envs/staging/app\\.yaml:\\d+: ConfigMap/${ns}/web-settings is owned by Helm release ${ns}/legacy-settings`,
      ),
    );
    assert.equal(cluster.remote.head(), head);
    assert.equal((await get(cluster, 'ConfigMap', 'web-settings', ns))?.data.value, 'from-helm', 'untouched');

    const adopted = await cluster.gitops(['deploy', '--env', 'staging', '--skip-build', '--adopt']);
    assert.equal(adopted.code, 0, adopted.stderr);
    assert.match(adopted.stderr, /takes over ConfigMap\/[^ ]+\/web-settings from Helm release/);
    const taken = await get(cluster, 'ConfigMap', 'web-settings', ns);
    assert.equal(taken?.data.value, 'from-git');
    assert.equal(
      taken?.metadata.annotations?.['meta.helm.sh/release-name'],
      undefined,
      "Helm's claim is removed",
    );
    assert.equal((await diffOf(cluster.gitops)).code, 0);
  });

  test('a cluster-scoped kind outside policies.clusterScopedKinds is refused with file:line', async (t) => {
    const ns = uniqueName('scoped');
    const role = uniqueName('reader');
    const cluster = await clusterFixture(
      t,
      {
        'envs/staging/app.yaml': namespaceYaml(ns),
        'envs/staging/rbac.yaml': `apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: ${role}\nrules: []\n`,
      },
      { staging: `    namespace: ${ns}\n    timeout: 3m\n` },
    );
    const head = cluster.remote.head();
    const refused = await cluster.gitops(['deploy', '--env', 'staging', '--skip-build']);
    assert.equal(refused.code, 5, refused.stderr);
    assert.match(
      refused.stderr,
      /envs\/staging\/rbac\.yaml:1: ClusterRole\/[^:]+: ClusterRole is cluster-scoped and not in environments\.staging\.policies\.clusterScopedKinds/,
    );
    assert.equal(cluster.remote.head(), head);
    assert.equal(
      await cluster.server.getObject({
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRole',
        name: role,
      }),
      undefined,
    );
  });

  test('a Namespace that left git is kept while it holds objects gitops does not own', async (t) => {
    const ns = uniqueName('keep');
    const home = uniqueName('home');
    const cluster = await clusterFixture(
      t,
      {
        'envs/staging/home.yaml': `${namespaceYaml(home)}---\n${configMap('marker', 'home-marker')}`,
        'envs/staging/extra.yaml': namespaceYaml(ns),
      },
      { staging: `    namespace: ${home}\n    timeout: 3m\n` },
    );
    assert.equal((await cluster.gitops(['deploy', '--env', 'staging', '--skip-build'])).code, 0);
    const foreign = await cluster.kubectl(['apply', '-f', '-'], configMap('not-gitops', 'keep-me', ns));
    assert.equal(foreign.code, 0, foreign.stderr);
    commit(cluster, (seed) => rmSync(join(seed, 'envs/staging/extra.yaml')), 'drop the extra namespace');
    const deploy = await cluster.gitops(['deploy', '--env', 'staging', '--skip-build']);
    assert.equal(deploy.code, 0, deploy.stderr);
    assert.match(
      deploy.stderr,
      new RegExp(`Namespace/${ns} left git but is kept: it holds objects gitops does not own`),
    );
    const kept = await get(cluster, 'Namespace', ns);
    assert.ok(kept && !kept.metadata.deletionTimestamp, 'not deleted');
  });

  test('an environment deployed by a release before environment ids (bare-name label and inventory) deploys, diffs and prunes after the upgrade', async (t) => {
    const ns = uniqueName('legacy');
    const cluster = await clusterFixture(
      t,
      {
        'envs/staging/app.yaml': `${namespaceYaml(ns)}---\n${deployment('web')}---\n${configMap('old-settings', 'v1')}`,
      },
      { staging: `    namespace: ${ns}\n    timeout: 3m\n` },
      WEB_IMAGE_CONFIG,
    );
    const seeded = cluster.remote.head();
    // What gitops 0.1 left in the cluster: objects labelled with the bare environment name and the
    // revision they came from, and the inventory ConfigMap named after the environment.
    const legacyLabel = (yaml: string) =>
      yaml.replace(
        /^metadata:\n/m,
        `metadata:\n  labels: {gitops.dev/environment: staging}\n  annotations: {gitops.dev/revision: ${seeded}}\n`,
      );
    const old = [namespaceYaml(ns), deployment('web', '1.0.0', ns), configMap('old-settings', 'v1', ns)].map(
      legacyLabel,
    );
    const inventory = `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: gitops-inventory-staging\n  namespace: ${ns}\n  labels: {gitops.dev/inventory: staging}\ndata:\n  kinds: ConfigMap,Deployment.apps,Namespace\n  namespaces: ${ns}\n  revision: ${seeded}\n  verifiedRevision: ${seeded}\n  phase: verified\n`;
    // Another app's object with the same bare label, applied from a commit this env repo lacks.
    const strangers = legacyLabel(configMap('strangers', 'theirs', ns)).replace(seeded, 'f'.repeat(40));
    const applied = await cluster.kubectl(
      ['apply', '--server-side', '--field-manager=gitops', '-f', '-'],
      [...old, inventory, strangers].join('---\n'),
    );
    assert.equal(applied.code, 0, applied.stderr);

    const before = await diffOf(cluster.gitops);
    assert.equal(before.code, 0, `an upgraded gitops sees the environment in sync\n${before.stderr}`);
    assert.doesNotMatch(JSON.stringify(before.doc), /strangers/);

    commit(
      cluster,
      (seed) =>
        writeFileSync(join(seed, 'envs/staging/app.yaml'), `${namespaceYaml(ns)}---\n${deployment('web')}`),
      'old-settings leaves git',
    );
    const deploy = await cluster.gitops(deployWeb('staging', '2.0.0'));
    assert.equal(deploy.code, 0, deploy.stderr);
    assert.match(deploy.stderr, /pruned ConfigMap\/[^ ]+\/old-settings/);
    const web = await get(cluster, 'Deployment', 'web', ns);
    assert.match(
      web?.metadata.labels?.['gitops.dev/environment'] ?? '',
      /^staging-[0-9a-f]{10}$/,
      'relabelled with the id',
    );
    assert.ok(await get(cluster, 'ConfigMap', 'strangers', ns), "the other app's object is untouched");
    assert.equal(
      await get(cluster, 'ConfigMap', 'gitops-inventory-staging', ns),
      undefined,
      'the old inventory is gone',
    );
    assert.equal((await diffOf(cluster.gitops)).code, 0);
  });
});
