// Issue 10, item 3: secret values never appear in any output. Known values are planted (Secret data
// in git, a value changed by hand in the cluster, tokens in envRepo.tokenEnv and in the env-repo URL,
// a registry password in the environment); every command's stdout, stderr and the GitHub step
// summary are searched for each value and its base64 form.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { type CliResult, runCli, tempDir } from './support/cli.js';
import { clusterFixture } from './support/cluster.js';
import { REGISTRY, WEB_IMAGE_CONFIG, webDeploymentYaml } from './support/manifests.js';
import { uniqueName } from './support/test-cluster.js';

const b64 = (text: string) => Buffer.from(text).toString('base64');

const PLANTED = {
  gitSecret: 'planted-git-secret-7f3a9c41',
  handSecret: 'planted-hand-secret-e1d2b7',
  tokenEnv: 'ghp_plantedTokenValue0123456789',
  urlToken: 'planted-url-token-5b6c0d',
  registryPassword: 'planted-registry-pw-9d8e11',
};

const NAMESPACE = uniqueName('staging');
const FILES = {
  'envs/staging/namespace.yaml': `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${NAMESPACE}\n`,
  'envs/staging/secret.yaml': `apiVersion: v1
kind: Secret
metadata:
  name: db-credentials
type: Opaque
data:
  password: ${b64(PLANTED.gitSecret)}
`,
  'envs/staging/web.yaml': webDeploymentYaml({ comment: 'set by gitops' }),
};

/** Every planted value, raw and base64 (a Secret's data is base64 on the wire and in git). */
function needles(): Array<[string, string]> {
  return Object.entries(PLANTED).flatMap(([name, value]) => [
    [name, value] as [string, string],
    [`${name} (base64)`, b64(value)] as [string, string],
  ]);
}

test('planted secrets never appear in stdout, stderr, --json, --verbose or the GitHub step summary', async (t) => {
  const cluster = await clusterFixture(
    t,
    FILES,
    {
      staging: `    namespace: ${NAMESPACE}\n    timeout: 3m\n    policies:\n      allowPlaintextSecrets: [db-credentials]\n`,
    },
    WEB_IMAGE_CONFIG,
  );
  const configPath = join(cluster.app, 'gitops.yaml');
  const config = readFileSync(configPath, 'utf8').replace(
    '  branch: main\n',
    '  branch: main\n  tokenEnv: GITOPS_ENV_TOKEN\n',
  );
  writeFileSync(configPath, config);
  const env = {
    ...cluster.env,
    GITOPS_ENV_TOKEN: PLANTED.tokenEnv,
    REGISTRY_PASSWORD: PLANTED.registryPassword,
  };
  const outputs: Array<{ label: string; text: string }> = [];
  const run = async (label: string, args: string[], extraEnv: Record<string, string> = {}) => {
    const result: CliResult = await runCli(args, { cwd: cluster.app, env: { ...env, ...extraEnv } });
    outputs.push(
      { label: `${label} stdout`, text: result.stdout },
      { label: `${label} stderr`, text: result.stderr },
    );
    return result;
  };
  const image = (tag: string) => ['--image', `web=${REGISTRY}/web:${tag}`];

  assert.equal((await run('bump', ['bump', '--env', 'staging', ...image('1.0.0')])).code, 0);
  const v1 = await run('deploy v1', [
    '--json',
    'deploy',
    '--env',
    'staging',
    '--skip-build',
    ...image('1.0.0'),
  ]);
  assert.equal(v1.code, 0, v1.stderr);
  const v1Revision = (JSON.parse(v1.stdout) as { revision: string }).revision;

  // A person changes the Secret by hand: drift that diff must report without printing either value.
  const patched = await cluster.kubectl([
    'patch',
    'secret',
    'db-credentials',
    '-n',
    NAMESPACE,
    '--type',
    'merge',
    '-p',
    JSON.stringify({ data: { password: b64(PLANTED.handSecret) } }),
  ]);
  assert.equal(patched.code, 0, patched.stderr);

  const summary = join(tempDir(t, 'gitops-summary-'), 'summary.md');
  writeFileSync(summary, '');
  const github = { GITHUB_ACTIONS: 'true', CI: 'true', GITHUB_STEP_SUMMARY: summary };
  for (const [label, args, extra] of [
    ['diff', ['diff', '--env', 'staging'], {}],
    ['diff --all', ['diff', '--env', 'staging', '--all'], {}],
    ['diff --json', ['--json', 'diff', '--env', 'staging'], {}],
    ['diff --verbose', ['--verbose', 'diff', '--env', 'staging'], {}],
    ['diff (GitHub Actions)', ['diff', '--env', 'staging'], github],
  ] as Array<[string, string[], Record<string, string>]>) {
    const result = await run(label, args, extra);
    assert.equal(result.code, 1, `${label} reports the drift\n${result.stderr}`);
    assert.match(result.stdout + result.stderr, /db-credentials/, `${label} names the Secret`);
  }

  const status = await run('status', ['--json', 'status', '--env', 'staging']);
  assert.equal(status.code, 1, status.stderr);
  assert.equal((await run('history', ['--json', 'history', '--env', 'staging'])).code, 0);
  assert.equal((await run('history (plain)', ['history', '--env', 'staging'])).code, 0);

  // Deploys that print the drift they overwrite, verbosely, in GitHub Actions with a step summary.
  const v2 = await run(
    'deploy v2',
    ['--verbose', 'deploy', '--env', 'staging', '--skip-build', '--on-drift', 'overwrite', ...image('2.0.0')],
    github,
  );
  assert.equal(v2.code, 0, v2.stderr);
  assert.equal((await run('status after v2', ['status', '--env', 'staging'])).code, 0);
  const rollback = await run(
    'rollback',
    ['--verbose', '--json', 'rollback', v1Revision.slice(0, 12), '--env', 'staging'],
    github,
  );
  assert.equal(rollback.code, 0, rollback.stderr);

  // A token inside the env-repo URL: the clone fails, and its error must not carry the token.
  writeFileSync(
    configPath,
    config.replace(
      / {2}url: .*\n/,
      `  url: https://x-access-token:${PLANTED.urlToken}@127.0.0.1:9/acme/env.git\n`,
    ),
  );
  for (const [label, args] of [
    ['diff (token URL)', ['--verbose', 'diff', '--env', 'staging']],
    [
      'deploy (token URL)',
      ['--verbose', '--json', 'deploy', '--env', 'staging', '--skip-build', ...image('3.0.0')],
    ],
    ['status (token URL)', ['--json', 'status', '--env', 'staging']],
  ] as Array<[string, string[]]>) {
    const result = await run(label, args, github);
    assert.notEqual(result.code, 0, `${label} fails (nothing listens there)`);
    // The URL is reported (so the check below sees where the token would have been), masked.
    assert.match(result.stdout + result.stderr, /127\.0\.0\.1:9/, label);
  }
  outputs.push({ label: 'GitHub step summary', text: readFileSync(summary, 'utf8') });
  assert.ok(outputs.at(-1)!.text.includes('gitops deploy'), 'the step summary was written');

  const leaks: string[] = [];
  for (const [name, value] of needles()) {
    for (const output of outputs) {
      const count = output.text.split(value).length - 1;
      if (count > 0) leaks.push(`${name} × ${count} in ${output.label}`);
    }
  }
  assert.deepEqual(leaks, [], `planted values leaked:\n${leaks.join('\n')}`);
  // The check is not vacuous: the outputs are many and name what they hide.
  assert.ok(outputs.length >= 30, `${outputs.length} outputs searched`);
});
