import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from './support/cli.js';
import { clusterFixture } from './support/cluster.js';
import { git } from './support/git.js';
import { uniqueName } from './support/test-cluster.js';

const REGISTRY = 'registry.example.com/acme';
const deployment = (ns: string) => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: ${ns}
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: ${REGISTRY}/web:1.0.0
`;

test('deploy in GitHub Actions: a group per step, the summary table, masking, and a file:line annotation for a broken manifest', async (t) => {
  const ns = uniqueName('ci');
  const cluster = await clusterFixture(
    t,
    {
      'envs/staging/ns.yaml': `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${ns}\n`,
      'envs/staging/web.yaml': deployment(ns),
    },
    { staging: `    namespace: ${ns}\n` },
    `images:\n  - name: web\n    repository: ${REGISTRY}/web\n`,
  );
  const summary = join(tempDir(t), 'summary.md');
  writeFileSync(summary, '');
  const token = 'ghs_PlantedTokenValue123456';
  const env = {
    ...cluster.env,
    GITHUB_ACTIONS: 'true',
    CI: 'true',
    GITHUB_STEP_SUMMARY: summary,
    DEPLOY_TOKEN: token,
  };
  const { runCli } = await import('./support/cli.js');
  const deploy = await runCli(
    ['--verbose', 'deploy', '--env', 'staging', '--skip-build', '--image', `web=${REGISTRY}/web:2.0.0`],
    {
      cwd: cluster.app,
      env: env,
    },
  );
  assert.equal(deploy.code, 0, deploy.stderr);
  for (const step of [
    'preflight',
    'drift check',
    'bump images',
    'policy gate',
    'commit and push',
    'apply and prune',
    'wait for the rollout',
    'verify',
    'record',
  ]) {
    assert.match(deploy.stderr, new RegExp(`^::group::${step}$`, 'm'), `group for ${step}`);
  }
  assert.equal(
    deploy.stderr.match(/^::group::/gm)?.length,
    deploy.stderr.match(/^::endgroup::$/gm)?.length,
    'groups are closed',
  );
  const table = readFileSync(summary, 'utf8');
  assert.match(table, /\| environment \| image \| env sha \| duration \| result \|/);
  assert.match(
    table,
    new RegExp(
      `\\| staging \\| web: ${REGISTRY}/web:1\\.0\\.0 → ${REGISTRY}/web:2\\.0\\.0 \\| [0-9a-f]{12} \\| \\d+\\.\\ds \\| ✓ deployed \\|`,
    ),
  );

  // A manifest that breaks: the error names the file and line, as an annotation too.
  git(cluster.remote.seed, ['pull', '--quiet', '--ff-only', 'origin', 'main']);
  writeFileSync(
    join(cluster.remote.seed, 'envs/staging/broken.yaml'),
    `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: broken\ndata:\n  key: [unclosed\n  token: ${token}\n`,
  );
  git(cluster.remote.seed, ['add', '-A']);
  git(cluster.remote.seed, ['commit', '--quiet', '-m', 'a broken manifest']);
  git(cluster.remote.seed, ['push', '--quiet', 'origin', 'main']);
  const broken = await runCli(
    ['--verbose', 'deploy', '--env', 'staging', '--skip-build', '--image', `web=${REGISTRY}/web:3.0.0`],
    {
      cwd: cluster.app,
      env: env,
    },
  );
  assert.equal(broken.code, 2, broken.stderr);
  assert.match(
    broken.stderr,
    /^::error title=MANIFEST_YAML,file=envs\/staging\/broken\.yaml,line=7,col=3::not valid YAML at line 7/m,
  );
  assert.match(readFileSync(summary, 'utf8'), /\| staging \| .* \| ✗ MANIFEST_YAML \|/);
  for (const text of [
    deploy.stdout,
    deploy.stderr,
    broken.stdout,
    broken.stderr,
    readFileSync(summary, 'utf8'),
  ]) {
    assert.ok(!text.includes(token), 'the planted token is masked everywhere');
    // action.yml says gitops masks by itself and writes no ::add-mask:: (which would print the
    // secret to hide it): both halves hold.
    assert.doesNotMatch(text, /::add-mask::/);
  }
  const action = readFileSync(new URL('../action.yml', import.meta.url), 'utf8');
  assert.match(action, /masks secrets itself in everything it prints \(no `::add-mask::`/);
  assert.doesNotMatch(action, /(writes|prints|emits) `?::add-mask::/);
});

test('a misspelt config key or malformed YAML: exit 2 through the CLI, file:line, a suggestion, no stack trace', async (t) => {
  const { runCli, tempDir: temp } = await import('./support/cli.js');
  const dir = temp(t);
  writeFileSync(
    join(dir, 'gitops.yaml'),
    'version: 1\nenvRepo:\n  url: ../env\nenviroments:\n  staging:\n    path: envs/staging\n',
  );
  const typo = await runCli(['diff', '--env', 'staging'], { cwd: dir });
  assert.equal(typo.code, 2, typo.stderr);
  assert.match(typo.stderr, /gitops\.yaml:4:1: unknown key "enviroments".*did you mean "environments"/);
  assert.doesNotMatch(typo.stderr, /\n\s+at /);

  writeFileSync(join(dir, 'gitops.yaml'), 'version: 1\nenvRepo:\n  url: "../env\n  branch: main\n');
  const yaml = await runCli(['--json', 'deploy', '--env', 'staging'], { cwd: dir });
  assert.equal(yaml.code, 2, yaml.stderr);
  assert.match(yaml.stderr, /gitops\.yaml:\d+:\d+: .*not valid YAML/);
  assert.equal((JSON.parse(yaml.stdout) as { error: { code: string } }).error.code, 'CONFIG_YAML');
  assert.doesNotMatch(yaml.stderr, /\n\s+at /);
});
