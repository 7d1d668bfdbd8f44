import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { githubWorkflows } from '../src/ci-templates/github.js';
import { DEFAULT_ACTION_REF, exampleOptions } from '../src/ci-templates/options.js';
import { readConfig } from '../src/config/load.js';
import { repoRoot, runCli, tempDir } from './support/cli.js';

interface ActionInput {
  description: string;
  required?: boolean;
  default?: string;
}
interface ActionStep {
  id?: string;
  name?: string;
  run?: string;
  uses?: string;
  env?: Record<string, string>;
}
interface ActionFile {
  inputs: Record<string, ActionInput>;
  outputs: Record<string, { description: string; value: string }>;
  runs: { using: string; steps: ActionStep[] };
}
interface WorkflowStep {
  id?: string;
  uses?: string;
  with?: Record<string, unknown>;
  run?: string;
  env?: Record<string, string>;
}
interface Workflow {
  name: string;
  on: Record<string, unknown>;
  jobs: Record<string, { steps: WorkflowStep[]; environment?: string }>;
}

const action = parse(readFileSync(join(repoRoot, 'action.yml'), 'utf8')) as ActionFile;
const runStep = action.runs.steps.find((step) => step.id === 'run')!;

/**
 * Checks a workflow against action.yml: every step that uses the gitops action passes only its
 * inputs and all required ones, and every `steps.<id>.outputs.<name>` read of such a step is an
 * output of the action. Returns how many gitops steps it found.
 */
function checkWorkflow(file: string, text: string, actionRef: string): number {
  const workflow = parse(text) as Workflow;
  assert.ok(workflow.name && workflow.on && workflow.jobs, `${file}: a workflow with name, on and jobs`);
  let found = 0;
  for (const [jobName, job] of Object.entries(workflow.jobs)) {
    const gitopsIds = new Set<string>();
    for (const step of job.steps) {
      if (step.uses !== actionRef) continue;
      found += 1;
      if (step.id) gitopsIds.add(step.id);
      for (const key of Object.keys(step.with ?? {})) {
        assert.ok(key in action.inputs, `${file} job ${jobName}: with.${key} is not an input of action.yml`);
      }
      for (const [name, input] of Object.entries(action.inputs)) {
        if (input.required)
          assert.ok(name in (step.with ?? {}), `${file} job ${jobName}: input ${name} missing`);
      }
    }
    const jobText = JSON.stringify(job);
    for (const match of jobText.matchAll(/steps\.([\w-]+)\.outputs\.([\w-]+)/g)) {
      const [, id, output] = match as unknown as [string, string, string];
      if (!gitopsIds.has(id)) continue;
      assert.ok(
        output in action.outputs,
        `${file} job ${jobName}: reads output ${output}, not in action.yml`,
      );
    }
  }
  return found;
}

test('action.yml: a composite action with the documented inputs and outputs, each output set by the run step', () => {
  assert.equal(action.runs.using, 'composite');
  for (const name of [
    'command',
    'env',
    'images',
    'timeout',
    'extra-args',
    'working-directory',
    'version',
    'token',
  ]) {
    assert.ok(action.inputs[name]?.description, `input ${name} is documented`);
  }
  assert.equal(action.inputs.command?.required, true);
  for (const name of ['env-sha', 'image-digests', 'result-json']) {
    assert.equal(action.outputs[name]?.value, `\${{ steps.run.outputs.${name} }}`);
  }
  for (const name of Object.keys(action.outputs)) {
    assert.match(runStep.run!, new RegExp(`write\\('${name}'`), `the run step writes ${name}`);
  }
  // Inputs reach the scripts only through env: no `${{ inputs.… }}` inside a run block.
  for (const step of action.runs.steps) {
    assert.doesNotMatch(
      step.run ?? '',
      /\$\{\{/,
      `step "${step.name}" splices an expression into its script`,
    );
  }
});

test('every example workflow uses only inputs of action.yml and reads only its outputs', () => {
  const dir = join(repoRoot, 'examples', 'github-actions');
  const files = readdirSync(dir).filter((name) => name.endsWith('.yml'));
  assert.deepEqual(files.sort(), [
    'gitops-deploy.yml',
    'gitops-drift.yml',
    'gitops-promote.yml',
    'gitops-rollback.yml',
  ]);
  let steps = 0;
  for (const name of files) {
    steps += checkWorkflow(name, readFileSync(join(dir, name), 'utf8'), DEFAULT_ACTION_REF);
  }
  assert.equal(steps, 4, 'one gitops step per workflow');
  const deploy = parse(readFileSync(join(dir, 'gitops-deploy.yml'), 'utf8')) as Workflow;
  assert.deepEqual(deploy.on, { push: { branches: ['main'] } });
  const drift = parse(readFileSync(join(dir, 'gitops-drift.yml'), 'utf8')) as Workflow;
  assert.deepEqual((drift.on.schedule as Array<{ cron: string }>)[0], { cron: '*/30 * * * *' });
  const promote = parse(readFileSync(join(dir, 'gitops-promote.yml'), 'utf8')) as Workflow;
  assert.ok('workflow_dispatch' in promote.on);
  assert.equal(promote.jobs['promote-production']?.environment, 'production', 'approval via the environment');
  const rollback = parse(readFileSync(join(dir, 'gitops-rollback.yml'), 'utf8')) as Workflow;
  const rollbackStep = rollback.jobs.rollback!.steps.find((step) => step.uses === DEFAULT_ACTION_REF)!;
  assert.equal(rollbackStep.with?.['extra-args'], '${{ inputs.sha }}');
});

test('generated workflows stay within the action for other environment lists, images and directories', () => {
  const options = {
    ...exampleOptions('1.2.3'),
    environments: ['dev', 'staging', 'prod-eu'],
    images: [
      { name: 'web', repository: 'docker.io/acme/web' },
      { name: 'api', repository: '127.0.0.1:5000/acme/api' },
    ],
    workingDirectory: 'deploy/app',
    actionRef: 'example/gitops@v2',
  };
  const files = githubWorkflows(options);
  for (const file of files) checkWorkflow(file.path, file.content, 'example/gitops@v2');
  const promote = parse(files.find((file) => file.path.endsWith('promote.yml'))!.content) as Workflow;
  assert.deepEqual(Object.keys(promote.jobs), ['promote-staging', 'promote-prod-eu']);
  const deploy = files.find((file) => file.path.endsWith('deploy.yml'))!.content;
  assert.match(deploy, /docker login docker\.io/);
  assert.doesNotMatch(deploy, /docker login 127\.0\.0\.1/, 'no login for a loopback registry');
  assert.match(deploy, /working-directory: deploy\/app/);
  const single = githubWorkflows({ ...options, environments: ['prod'] }).map((file) => file.path);
  assert.ok(!single.some((path) => path.endsWith('promote.yml')), 'no promote workflow with one environment');
});

test('`gitops init --ci github` in an empty git repo writes a config and workflows the CLI and the action accept', async (t) => {
  const dir = tempDir(t);
  spawnSync('git', ['init', '-q', dir]);
  const result = await runCli(
    [
      'init',
      '--ci',
      'github',
      '--env-repo',
      'https://github.com/acme/environments.git',
      '--image',
      'web=ghcr.io/acme/web',
    ],
    { cwd: dir },
  );
  assert.equal(result.code, 0, result.stderr);
  const config = readConfig(join(dir, 'gitops.yaml'), {});
  assert.equal(
    config.envRepo.tokenEnv,
    'GITOPS_TOKEN',
    'the token the workflows pass is the one gitops reads',
  );
  assert.deepEqual(Object.keys(config.environments), ['staging', 'production']);
  const workflows = readdirSync(join(dir, '.github', 'workflows')).sort();
  assert.deepEqual(workflows, [
    'gitops-deploy.yml',
    'gitops-drift.yml',
    'gitops-promote.yml',
    'gitops-rollback.yml',
  ]);
  for (const name of workflows) {
    const text = readFileSync(join(dir, '.github', 'workflows', name), 'utf8');
    assert.equal(checkWorkflow(name, text, DEFAULT_ACTION_REF), 1);
    assert.equal(text, readFileSync(join(repoRoot, 'examples', 'github-actions', name), 'utf8'));
  }
});

/** Runs the action's run step in bash with a stand-in for gitops that records its argv and prints `document`. */
function runActionStep(
  t: { after(fn: () => void): void },
  inputs: Record<string, string>,
  document: unknown,
  exitCode = 0,
): { argv: string[]; outputs: Record<string, string>; code: number; token: [string | null, string | null] } {
  const dir = tempDir(t);
  const fake = join(dir, 'fake-gitops.js');
  writeFileSync(
    fake,
    `require('node:fs').writeFileSync(${JSON.stringify(join(dir, 'argv.json'))}, JSON.stringify(process.argv.slice(2)));
require('node:fs').writeFileSync(${JSON.stringify(join(dir, 'token.json'))}, JSON.stringify([process.env.GITOPS_TOKEN ?? null, process.env.INPUT_TOKEN ?? null]));
process.stdout.write(${JSON.stringify(typeof document === 'string' ? document : JSON.stringify(document))});
process.exitCode = ${exitCode};
`,
  );
  chmodSync(fake, 0o755);
  const outputFile = join(dir, 'output');
  writeFileSync(outputFile, '');
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    RUNNER_TEMP: dir,
    GITHUB_OUTPUT: outputFile,
    GITOPS_BIN: fake,
    INPUT_COMMAND: '',
    INPUT_ENV: '',
    INPUT_IMAGES: '',
    INPUT_TIMEOUT: '',
    INPUT_EXTRA_ARGS: '',
    INPUT_TOKEN: '',
  };
  for (const [key, value] of Object.entries(inputs))
    env[`INPUT_${key.toUpperCase().replace(/-/g, '_')}`] = value;
  const result = spawnSync('bash', ['-e', '-c', runStep.run!], { cwd: dir, env, encoding: 'utf8' });
  const outputs: Record<string, string> = {};
  for (const match of readFileSync(outputFile, 'utf8').matchAll(/^([\w-]+)<<(\S+)\n([\s\S]*?)\n\2$/gm)) {
    outputs[match[1]!] = match[3]!;
  }
  return {
    argv: JSON.parse(readFileSync(join(dir, 'argv.json'), 'utf8')) as string[],
    outputs,
    code: result.status ?? -1,
    token: JSON.parse(readFileSync(join(dir, 'token.json'), 'utf8')) as [string | null, string | null],
  };
}

test('the action turns inputs into one argument each, with no shell evaluation, and exports GITOPS_TOKEN', (t) => {
  const { argv, code, token } = runActionStep(
    t,
    {
      command: 'deploy',
      env: 'staging',
      images: 'web=ghcr.io/acme/web:1.2.3,api=ghcr.io/acme/api@sha256:abc\n  worker=ghcr.io/acme/worker:2 ',
      timeout: '5m',
      'extra-args': '--skip-build  $(touch pwned) *',
      token: 'ghp_secret',
    },
    { ok: true },
  );
  assert.equal(code, 0);
  assert.deepEqual(token, ['ghp_secret', null], 'the token is GITOPS_TOKEN, and only that');
  assert.deepEqual(argv, [
    '--json',
    'deploy',
    '--skip-build',
    '$(touch',
    'pwned)',
    '*',
    '--env',
    'staging',
    '--image',
    'web=ghcr.io/acme/web:1.2.3',
    '--image',
    'api=ghcr.io/acme/api@sha256:abc',
    '--image',
    'worker=ghcr.io/acme/worker:2',
    '--timeout',
    '5m',
  ]);
  const rollback = runActionStep(
    t,
    { command: 'rollback', env: 'production', 'extra-args': 'abc1234' },
    { ok: true },
  );
  assert.deepEqual(rollback.argv, ['--json', 'rollback', 'abc1234', '--env', 'production']);
});

test('the action sets env-sha, image-digests, result-json and exit-code from the --json document, and keeps the exit code', (t) => {
  const deployDoc = {
    ok: true,
    environment: 'staging',
    revision: '0123456789abcdef0123456789abcdef01234567',
    previousRevision: null,
    images: [
      { name: 'web', old: 'ghcr.io/acme/web:v1', new: 'ghcr.io/acme/web:abc1234@sha256:1111' },
      { name: 'api', reference: 'ghcr.io/acme/api:abc1234', digest: 'sha256:2222' },
    ],
  };
  const deploy = runActionStep(t, { command: 'deploy', env: 'staging' }, deployDoc);
  assert.equal(deploy.code, 0);
  assert.equal(deploy.outputs['env-sha'], deployDoc.revision);
  assert.deepEqual(JSON.parse(deploy.outputs['image-digests']!), {
    web: 'ghcr.io/acme/web:abc1234@sha256:1111',
    api: 'ghcr.io/acme/api:abc1234@sha256:2222',
  });
  // rollback: `commit` is null when the target was already in place; `revision` is the head.
  const rollback = runActionStep(
    t,
    { command: 'rollback', env: 'staging' },
    { ok: true, commit: null, revision: 'cafe' },
  );
  assert.equal(rollback.outputs['env-sha'], 'cafe');
  assert.deepEqual(JSON.parse(deploy.outputs['result-json']!), deployDoc);
  assert.equal(deploy.outputs['exit-code'], '0');

  const drift = runActionStep(
    t,
    { command: 'diff', env: 'production' },
    { ok: true, revision: 'feedbeef' },
    1,
  );
  assert.equal(drift.code, 1, 'drift (exit 1) fails the step');
  assert.equal(drift.outputs['env-sha'], 'feedbeef');
  assert.equal(drift.outputs['exit-code'], '1');
  assert.equal(drift.outputs['image-digests'], '{}');

  const crashed = runActionStep(t, { command: 'deploy', env: 'staging' }, 'not json', 3);
  assert.equal(crashed.code, 3);
  assert.equal(crashed.outputs['result-json'], '{}');
});
