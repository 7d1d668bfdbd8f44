import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clusterFixture } from './support/cluster.js';
import { commitToRemote, git } from './support/git.js';
import { deployWeb, liveWebImage } from './support/live.js';
import { REGISTRY, WEB_IMAGE_CONFIG, type WebOptions, webEnvironmentFiles } from './support/manifests.js';
import { assertMatchesSchema } from './support/schemas.js';
import { uniqueName } from './support/test-cluster.js';

function envFiles(env: string, namespace: string, options: WebOptions = {}): Record<string, string> {
  return webEnvironmentFiles(env, {
    replicas: 2,
    comment: 'set by gitops',
    service: true,
    namespace,
    ...options,
  });
}

const IMAGES = WEB_IMAGE_CONFIG;

async function fixture(
  t: Parameters<typeof clusterFixture>[0],
  envs = ['staging'],
  options: WebOptions = {},
) {
  const ns = Object.fromEntries(envs.map((env) => [env, uniqueName(env)])) as Record<string, string>;
  const files = Object.assign({}, ...envs.map((env) => envFiles(env, ns[env]!, options))) as Record<
    string,
    string
  >;
  const environments = Object.fromEntries(
    envs.map((env) => [env, `    namespace: ${ns[env]}\n    timeout: 3m\n`]),
  );
  return Object.assign(await clusterFixture(t, files, environments, IMAGES), { ns });
}

async function liveImage(cluster: Awaited<ReturnType<typeof fixture>>, env = 'staging'): Promise<string> {
  const live = (await cluster.server.getObject({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    namespace: cluster.ns[env] ?? env,
    name: 'web',
  })) as { spec: { template: { spec: { containers: Array<{ image: string }> } } } } | undefined;
  return live?.spec.template.spec.containers[0]?.image ?? '';
}

function trailers(remote: { bare: string }, sha: string): string {
  return git(remote.bare, ['log', '-1', '--format=%(trailers:only,unfold)', sha]);
}

test('deploy v1 → deploy v2 → rollback to v1: git and cluster agree, trailers, diff in sync', async (t) => {
  const cluster = await fixture(t);
  const seed = cluster.remote.head();
  const v1 = await cluster.gitops([
    '--json',
    'deploy',
    '--env',
    'staging',
    '--skip-build',
    '--image',
    `web=${REGISTRY}/web:1.0.0`,
  ]);
  assert.equal(v1.code, 0, v1.stderr);
  const v1Doc = JSON.parse(v1.stdout) as {
    revision: string;
    verified: boolean;
    steps: Array<{ title: string; status: string; durationMs: number }>;
  };
  assert.equal(v1Doc.verified, true);
  assert.equal(await liveImage(cluster), `${REGISTRY}/web:1.0.0`);
  assert.deepEqual(
    v1Doc.steps.map((step) => step.title),
    [
      'preflight',
      'build',
      'get the env repo',
      'drift check',
      'bump images',
      'policy gate',
      'ownership',
      'server dry run',
      'commit and push',
      'wait for the apply lease',
      'apply and prune',
      'wait for the rollout',
      'verify',
      'record',
    ],
  );

  const v2 = await cluster.gitops([
    '--json',
    'deploy',
    '--env',
    'staging',
    '--skip-build',
    '--image',
    `web=${REGISTRY}/web:2.0.0`,
  ]);
  assert.equal(v2.code, 0, v2.stderr);
  const v2Doc = JSON.parse(v2.stdout) as { revision: string; previousRevision: string };
  assert.equal(v2Doc.previousRevision, v1Doc.revision);
  assert.equal(await liveImage(cluster), `${REGISTRY}/web:2.0.0`);

  const rollback = await cluster.gitops([
    '--json',
    'rollback',
    v1Doc.revision.slice(0, 8),
    '--env',
    'staging',
  ]);
  assert.equal(rollback.code, 0, rollback.stderr);
  const rollbackDoc = JSON.parse(rollback.stdout) as { revision: string; target: string };
  assert.equal(rollbackDoc.target, v1Doc.revision);
  assert.equal(await liveImage(cluster), `${REGISTRY}/web:1.0.0`);

  const log = cluster.remote.log();
  assert.equal(log.length, 4, 'three new commits on the env repo');
  assert.equal(log[3], seed);
  assert.match(trailers(cluster.remote, v1Doc.revision), /^Gitops-Action: deploy$/m);
  assert.match(
    trailers(cluster.remote, v1Doc.revision),
    new RegExp(`^Gitops-Image: web=${REGISTRY}/web:1\\.0\\.0$`, 'm'),
  );
  assert.match(trailers(cluster.remote, rollbackDoc.revision), /^Gitops-Action: rollback$/m);
  assert.match(
    trailers(cluster.remote, rollbackDoc.revision),
    new RegExp(`^Gitops-Rollback-To: ${v1Doc.revision}$`, 'm'),
  );
  assert.equal(
    cluster.remote.show('envs/staging/web.yaml'),
    git(cluster.remote.bare, ['show', `${v1Doc.revision}:envs/staging/web.yaml`]),
  );

  const diff = await cluster.gitops(['diff', '--env', 'staging']);
  assert.equal(diff.code, 0, diff.stderr);
  assertMatchesSchema('deploy', v1Doc);
  assertMatchesSchema('deploy', v2Doc);
  assertMatchesSchema('rollback', rollbackDoc);

  const history = await cluster.gitops(['--json', 'history', '--env', 'staging', '--limit', '10']);
  assert.equal(history.code, 0, history.stderr);
  const historyDoc = JSON.parse(history.stdout) as {
    liveRevision: string;
    entries: Array<{ sha: string; action: string; live: boolean; images: string[] }>;
  };
  assertMatchesSchema('history', historyDoc);
  assert.deepEqual(
    historyDoc.entries.slice(0, 3).map((entry) => [entry.sha, entry.action, entry.live]),
    [
      [rollbackDoc.revision, 'rollback', true],
      [v2Doc.revision, 'deploy', false],
      [v1Doc.revision, 'deploy', false],
    ],
  );
  assert.deepEqual(historyDoc.entries[1]!.images, [`web=${REGISTRY}/web:2.0.0`]);
  assert.match(history.stderr, new RegExp(`● ${rollbackDoc.revision.slice(0, 12)} .*rollback.*\\(live\\)`));

  const status = await cluster.gitops(['--json', 'status', '--env', 'staging']);
  assert.equal(status.code, 0, status.stderr);
  const statusDoc = JSON.parse(status.stdout) as {
    environments: Array<{ git: string; phase: string; drift: { inSync: boolean } }>;
  };
  assertMatchesSchema('status', statusDoc);
  assert.equal(statusDoc.environments[0]!.git, 'up-to-date');
  assert.equal(statusDoc.environments[0]!.phase, 'verified');
  assert.equal(statusDoc.environments[0]!.drift.inSync, true);

  const again = await cluster.gitops([
    '--json',
    'deploy',
    '--env',
    'staging',
    '--skip-build',
    '--image',
    `web=${REGISTRY}/web:1.0.0`,
  ]);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(
    (JSON.parse(again.stdout) as { changed: boolean }).changed,
    false,
    'same images again changes nothing',
  );
  assert.equal(cluster.remote.log().length, 4);
});

test('drift gate: after kubectl scale, deploy exits 5 and shows it; --on-drift overwrite deploys and removes it', async (t) => {
  const cluster = await fixture(t);
  const first = await cluster.gitops([
    'deploy',
    '--env',
    'staging',
    '--skip-build',
    '--image',
    `web=${REGISTRY}/web:1.0.0`,
  ]);
  assert.equal(first.code, 0, first.stderr);
  const scaled = await cluster.kubectl([
    'scale',
    'deployment/web',
    '-n',
    cluster.ns.staging!,
    '--replicas=7',
  ]);
  assert.equal(scaled.code, 0, scaled.stderr);
  const head = cluster.remote.head();

  const blocked = await cluster.gitops([
    'deploy',
    '--env',
    'staging',
    '--skip-build',
    '--image',
    `web=${REGISTRY}/web:2.0.0`,
  ]);
  assert.equal(blocked.code, 5, blocked.stderr);
  assert.match(blocked.stderr, /spec\.replicas: 2 → 7 by kubectl[.\d]* \(scale\)/);
  assert.match(blocked.stderr, /has drifted from the deployed revision/);
  assert.equal(cluster.remote.head(), head, 'nothing pushed');

  const overwrite = await cluster.gitops([
    'deploy',
    '--env',
    'staging',
    '--skip-build',
    '--on-drift',
    'overwrite',
    '--image',
    `web=${REGISTRY}/web:2.0.0`,
  ]);
  assert.equal(overwrite.code, 0, overwrite.stderr);
  const diff = await cluster.gitops(['diff', '--env', 'staging']);
  assert.equal(diff.code, 0, diff.stderr);
  const live = (await cluster.server.getObject({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    namespace: cluster.ns.staging!,
    name: 'web',
  })) as { spec: { replicas: number } };
  assert.equal(live.spec.replicas, 2);
});

/** progressDeadlineSeconds of the stuck-rollout tests' Deployment (see the first of them). */
const STUCK_DEADLINE_SECONDS = 10;

test('a stuck rollout with --auto-rollback: exit 4, a revert commit, live back on the previous image', async (t) => {
  // The rollout fails by its progress deadline, not a test timeout. The deadline also bounds the
  // good rollouts (the first deploy, the rollback's): 3 s was exceeded by one of those on a loaded
  // machine, 10 s leaves room for a slow controller and still fails the stuck one quickly.
  const cluster = await fixture(t, ['staging'], { progressDeadlineSeconds: STUCK_DEADLINE_SECONDS });
  const first = await cluster.gitops([
    '--json',
    'deploy',
    '--env',
    'staging',
    '--skip-build',
    '--image',
    `web=${REGISTRY}/web:1.0.0`,
  ]);
  assert.equal(first.code, 0, first.stderr);
  const good = (JSON.parse(first.stdout) as { revision: string }).revision;
  // Pods of an image tagged "stuck" run but never become ready (test/control-plane/kwok-stages.yaml).
  const bad = await cluster.gitops([
    'deploy',
    '--env',
    'staging',
    '--skip-build',
    '--auto-rollback',
    '--image',
    `web=${REGISTRY}/web:6.6.6-stuck`,
  ]);
  assert.equal(bad.code, 4, bad.stderr);
  assert.match(
    bad.stderr,
    new RegExp(`is back on ${good.slice(0, 12)} \\(revert commit [0-9a-f]{12}, verified\\)`),
  );
  const head = cluster.remote.head();
  assert.match(trailers(cluster.remote, head), /^Gitops-Action: rollback$/m);
  assert.match(trailers(cluster.remote, head), new RegExp(`^Gitops-Rollback-To: ${good}$`, 'm'));
  assert.match(trailers(cluster.remote, head), /^Gitops-Reverts: [0-9a-f]{40}$/m);
  assert.equal(await liveImage(cluster), `${REGISTRY}/web:1.0.0`);
});

test('a failed rollout without --auto-rollback: exit 4 and the exact rollback command', async (t) => {
  const cluster = await fixture(t, ['staging'], { progressDeadlineSeconds: STUCK_DEADLINE_SECONDS });
  const first = await cluster.gitops([
    '--json',
    'deploy',
    '--env',
    'staging',
    '--skip-build',
    '--image',
    `web=${REGISTRY}/web:1.0.0`,
  ]);
  assert.equal(first.code, 0, first.stderr);
  const good = (JSON.parse(first.stdout) as { revision: string }).revision;
  const bad = await cluster.gitops([
    'deploy',
    '--env',
    'staging',
    '--skip-build',
    '--image',
    `web=${REGISTRY}/web:6.6.6-stuck`,
  ]);
  assert.equal(bad.code, 4, bad.stderr);
  assert.match(bad.stderr, /progress deadline/);
  assert.ok(bad.stderr.includes(`gitops rollback ${good.slice(0, 12)} --env staging`), bad.stderr);
  const status = await cluster.gitops(['diff', '--env', 'staging']);
  assert.equal(status.code, 0, 'git says 6.6.6 and the cluster has it (unhealthy): no drift');
});

for (const [rule, prune] of [
  ['pruning off', '    prune:\n      enabled: false\n'],
  ['prune.protect', '    prune:\n      protect: [ConfigMap/old]\n'],
] as const) {
  test(`${rule}: an object gone from git is kept, said as a warning, and the deploy still verifies (exit 0)`, async (t) => {
    const ns = uniqueName('staging');
    const cluster = await clusterFixture(
      t,
      {
        ...envFiles('staging', ns),
        'envs/staging/old.yaml': `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: old\ndata:\n  a: b\n`,
      },
      { staging: `    namespace: ${ns}\n    timeout: 3m\n${prune}` },
      IMAGES,
    );
    const first = await cluster.gitops(deployWeb('staging', '1.0.0'));
    assert.equal(first.code, 0, first.stderr);
    commitToRemote(cluster.remote, {}, 'old is no longer needed', ['envs/staging/old.yaml']);
    const second = await cluster.gitops(deployWeb('staging', '2.0.0'));
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stderr, new RegExp(`ConfigMap/${ns}/old left git but is kept`));
    assert.ok(
      await cluster.server.getObject({ apiVersion: 'v1', kind: 'ConfigMap', namespace: ns, name: 'old' }),
    );
    assert.equal(await liveWebImage(cluster, ns), `${REGISTRY}/web:2.0.0`);
  });
}

test('rollback with a bad sha exits 2 and leaves the remote unchanged', async (t) => {
  const cluster = await fixture(t);
  const first = await cluster.gitops([
    'deploy',
    '--env',
    'staging',
    '--skip-build',
    '--image',
    `web=${REGISTRY}/web:1.0.0`,
  ]);
  assert.equal(first.code, 0, first.stderr);
  const head = cluster.remote.head();
  for (const sha of [
    'deadbeefdeadbeef',
    '--upload-pack=touch /tmp/pwned',
    'HEAD~1; rm -rf /',
    'a'.repeat(40),
  ]) {
    const result = await cluster.gitops(['--json', 'rollback', sha, '--env', 'staging']);
    assert.equal(result.code, 2, `${sha}: ${result.stderr}`);
    assertMatchesSchema('rollback', JSON.parse(result.stdout));
    assert.doesNotMatch(result.stderr, /\n\s+at /);
  }
  assert.equal(cluster.remote.head(), head);
});

test('two deploys to two environments of the same env repo at the same time both succeed', async (t) => {
  const cluster = await fixture(t, ['staging', 'qa']);
  const [staging, qa] = await Promise.all([
    cluster.gitops(['deploy', '--env', 'staging', '--skip-build', '--image', `web=${REGISTRY}/web:3.0.0`]),
    cluster.gitops(['deploy', '--env', 'qa', '--skip-build', '--image', `web=${REGISTRY}/web:3.1.0`]),
  ]);
  assert.equal(staging!.code, 0, staging!.stderr);
  assert.equal(qa!.code, 0, qa!.stderr);
  assert.equal(await liveImage(cluster, 'staging'), `${REGISTRY}/web:3.0.0`);
  assert.equal(await liveImage(cluster, 'qa'), `${REGISTRY}/web:3.1.0`);
  assert.equal(cluster.remote.log().length, 3);
});

test('promote copies the images running in staging to production through commit, apply, wait, verify', async (t) => {
  const ns = { staging: uniqueName('staging'), production: uniqueName('production') };
  const files = { ...envFiles('staging', ns.staging), ...envFiles('production', ns.production) };
  const cluster = Object.assign(
    await clusterFixture(
      t,
      files,
      {
        staging: `    namespace: ${ns.staging}\n`,
        production: `    namespace: ${ns.production}\n    promoteFrom: staging\n`,
      },
      IMAGES,
    ),
    { ns },
  );
  const digest = `sha256:${'ab'.repeat(32)}`;
  const staging = await cluster.gitops([
    'deploy',
    '--env',
    'staging',
    '--skip-build',
    '--image',
    `web=${REGISTRY}/web:4.0.0@${digest}`,
  ]);
  assert.equal(staging.code, 0, staging.stderr);

  const head = cluster.remote.head();
  const preview = await cluster.gitops(['--dry-run', '--json', 'promote', '--to', 'production']);
  assert.equal(preview.code, 0, preview.stderr);
  assert.ok(preview.stderr.includes(`+          image: ${REGISTRY}/web:4.0.0@${digest}`), preview.stderr);
  assertMatchesSchema('promote', JSON.parse(preview.stdout));
  assert.equal(cluster.remote.head(), head, 'the dry run pushes nothing');
  assert.equal(await liveImage(cluster, 'production'), '', 'and applies nothing');

  const wrong = await cluster.gitops(['promote', '--from', 'production', '--to', 'staging']);
  assert.equal(wrong.code, 2, wrong.stderr);

  const promoted = await cluster.gitops(['--json', 'promote', '--to', 'production']);
  assert.equal(promoted.code, 0, promoted.stderr);
  const document = JSON.parse(promoted.stdout) as { revision: string };
  assertMatchesSchema('promote', document);
  assert.equal(await liveImage(cluster, 'production'), `${REGISTRY}/web:4.0.0@${digest}`);
  const trailerText = trailers(cluster.remote, document.revision);
  assert.match(trailerText, /^Gitops-Action: promote$/m);
  assert.match(trailerText, /^Gitops-Promoted-From: staging@[0-9a-f]{40}$/m);
});
