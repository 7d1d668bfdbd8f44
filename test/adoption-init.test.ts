import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { parse } from 'yaml';
import { jenkinsPipelines } from '../src/ci-templates/jenkins.js';
import { DEFAULT_ACTION_REF } from '../src/ci-templates/options.js';
import { readConfig } from '../src/config/load.js';
import { baseEnv, repoRoot, runCli, tempDir } from './support/cli.js';

const version = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string })
  .version;

function gitRepo(t: { after(fn: () => void): void }): string {
  const dir = tempDir(t);
  spawnSync('git', ['init', '-q', dir]);
  return dir;
}

/** A stdin that looks like a terminal and holds the given answers, one per line. */
function terminalInput(lines: string[]): PassThrough & { isTTY: boolean } {
  const stdin = Object.assign(new PassThrough(), { isTTY: true });
  stdin.end(lines.map((line) => `${line}\n`).join(''));
  return stdin;
}

test('init --ci jenkins writes Jenkinsfile and Jenkinsfile.drift at the repository root, from the same generator', async (t) => {
  const dir = gitRepo(t);
  const result = await runCli(
    [
      'init',
      '--ci',
      'jenkins',
      '--environments',
      'dev,staging,production',
      '--image',
      'web=ghcr.io/acme/web',
    ],
    { cwd: dir },
  );
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(Object.keys(readConfig(join(dir, 'gitops.yaml'), {}).environments), [
    'dev',
    'staging',
    'production',
  ]);
  const expected = jenkinsPipelines({
    environments: ['dev', 'staging', 'production'],
    images: [{ name: 'web', repository: 'ghcr.io/acme/web' }],
    branch: 'main',
    actionRef: DEFAULT_ACTION_REF,
    version,
    workingDirectory: '.',
  });
  for (const file of expected) assert.equal(readFileSync(join(dir, file.path), 'utf8'), file.content);
  const pipeline = readFileSync(join(dir, 'Jenkinsfile'), 'utf8');
  assert.match(pipeline, /"\$GITOPS" deploy --env dev --timeout 5m/);
  assert.match(pipeline, /input message: 'Promote dev to staging\?'/);
  assert.match(pipeline, /"\$GITOPS" promote --from staging --to production --timeout 5m/);
  assert.match(readFileSync(join(dir, 'Jenkinsfile.drift'), 'utf8'), /cron\('H\/30 \* \* \* \*'\)/);
  assert.ok(!existsSync(join(dir, '.github')), 'no GitHub files for Jenkins');
  assert.match(result.stderr, /wrote .*Jenkinsfile\.drift/);
});

test('init --ci github in a subdirectory writes the workflows at the root, running in that directory', async (t) => {
  const root = gitRepo(t);
  const dir = join(root, 'services', 'web');
  mkdirSync(dir, { recursive: true });
  const result = await runCli(['--json', 'init', '--ci', 'github', '--action-ref', 'example/gitops@v3'], {
    cwd: dir,
  });
  assert.equal(result.code, 0, result.stderr);
  const document = JSON.parse(result.stdout) as { file: string; files: string[] };
  assert.equal(document.file, join(dir, 'gitops.yaml'));
  assert.equal(document.files.length, 5);
  const deploy = parse(readFileSync(join(root, '.github', 'workflows', 'gitops-deploy.yml'), 'utf8')) as {
    jobs: { deploy: { steps: Array<{ uses?: string; with?: Record<string, string> }> } };
  };
  const step = deploy.jobs.deploy.steps.find((candidate) => candidate.uses === 'example/gitops@v3');
  assert.equal(step?.with?.['working-directory'], 'services/web');
  // A local env repo path needs no token: tokenEnv stays a comment.
  assert.equal(readConfig(join(dir, 'gitops.yaml'), {}).envRepo.tokenEnv, undefined);
});

test('init refuses to overwrite any existing file without --force (exit 2, nothing written), and replaces them with it', async (t) => {
  const dir = gitRepo(t);
  const existing = join(dir, '.github', 'workflows', 'gitops-drift.yml');
  mkdirSync(join(dir, '.github', 'workflows'), { recursive: true });
  writeFileSync(existing, 'name: mine\n');
  const refused = await runCli(['init', '--ci', 'github'], { cwd: dir });
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /gitops-drift\.yml already exists/);
  assert.match(refused.stderr, /--force/);
  assert.equal(readFileSync(existing, 'utf8'), 'name: mine\n');
  assert.ok(!existsSync(join(dir, 'gitops.yaml')), 'all or nothing: gitops.yaml was not written either');
  assert.deepEqual(readdirSync(join(dir, '.github', 'workflows')), ['gitops-drift.yml']);

  const forced = await runCli(['init', '--ci', 'github', '--force'], { cwd: dir });
  assert.equal(forced.code, 0, forced.stderr);
  assert.match(readFileSync(existing, 'utf8'), /name: gitops drift/);
  assert.equal(readdirSync(join(dir, '.github', 'workflows')).length, 4);
});

test('init rejects a stray operand, an unknown CI provider and bad environment names with exit 2', async (t) => {
  const dir = gitRepo(t);
  const stray = await runCli(['init', 'github'], { cwd: dir });
  assert.equal(stray.code, 2);
  assert.match(stray.stderr, /init takes no argument, but was given "github"/);
  assert.match(stray.stderr, /--ci-template github\|jenkins/);
  for (const args of [
    ['init', '--ci', 'gitlab'],
    ['init', '--ci-template', 'gitlab'],
  ]) {
    const unknown = await runCli(args, { cwd: dir });
    assert.equal(unknown.code, 2, args.join(' '));
    assert.match(unknown.stderr, /"gitlab" is not a CI provider gitops writes files for: github, jenkins/);
    assert.doesNotMatch(unknown.stderr, /unexpected argument/);
  }
  const badName = await runCli(['init', '--environments', 'staging,Prod'], { cwd: dir });
  assert.equal(badName.code, 2);
  assert.match(badName.stderr, /environment name "Prod" is not valid/);
  const twice = await runCli(['init', '--environments', 'staging,staging'], { cwd: dir });
  assert.equal(twice.code, 2);
  assert.match(twice.stderr, /listed twice/);
  assert.equal(readdirSync(dir).sort().join(','), '.git', 'nothing written');
});

test('init --ci-template github writes the workflows; init --ci alone says that it wrote no CI files', async (t) => {
  const dir = gitRepo(t);
  const written = await runCli(['--json', 'init', '--ci-template', 'github', '--yes'], { cwd: dir });
  assert.equal(written.code, 0, written.stderr);
  assert.ok(
    (JSON.parse(written.stdout) as { files: string[] }).files.some((file) =>
      file.endsWith('gitops-deploy.yml'),
    ),
  );
  const other = gitRepo(t);
  const plain = await runCli(['init', '--ci', '--yes'], { cwd: other });
  assert.equal(plain.code, 0, plain.stderr);
  assert.match(
    plain.stderr,
    /no CI files written: --ci only switches to plain CI output; pass --ci-template github\|jenkins/,
  );
  assert.equal(readdirSync(other).sort().join(','), '.git,gitops.yaml');
});

test('interactive init asks for the env repo, environments, images and CI, and writes what was answered', async (t) => {
  const dir = gitRepo(t);
  const stdin = terminalInput([
    'https://github.com/acme/env.git',
    'dev,prod',
    'web=ghcr.io/acme/web api=ghcr.io/acme/api',
    'github',
  ]);
  const result = await runCli(['init'], { cwd: dir, stdin, isTTY: true });
  assert.equal(result.code, 0, result.stderr);
  for (const question of ['Env repo', 'Environments', 'Images', 'CI files']) {
    assert.match(result.stderr, new RegExp(`\\? ${question}`));
  }
  const config = readConfig(join(dir, 'gitops.yaml'), {});
  assert.equal(config.envRepo.url, 'https://github.com/acme/env.git');
  assert.equal(config.envRepo.tokenEnv, 'GITOPS_TOKEN');
  assert.deepEqual(Object.keys(config.environments), ['dev', 'prod']);
  assert.deepEqual(
    config.images.map((image) => image.name),
    ['web', 'api'],
  );
  const promote = readFileSync(join(dir, '.github', 'workflows', 'gitops-promote.yml'), 'utf8');
  assert.match(promote, /extra-args: --from dev --to prod/);
});

test('interactive init takes defaults on Enter, asks again after a wrong answer, and skips what flags gave', async (t) => {
  const dir = gitRepo(t);
  const stdin = terminalInput(['', 'Staging', 'staging,production', '', 'gitlab', '']);
  const result = await runCli(['init'], { cwd: dir, stdin, isTTY: true });
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stderr, /environment name "Staging" is not valid/);
  assert.match(result.stderr, /"gitlab" is not one of github, jenkins, none/);
  const config = readConfig(join(dir, 'gitops.yaml'), {});
  assert.equal(config.envRepo.url, '../environments');
  assert.deepEqual(Object.keys(config.environments), ['staging', 'production']);
  assert.deepEqual(config.images, []);
  assert.ok(!existsSync(join(dir, '.github')), '"none" writes no CI files');

  const flagged = await runCli(
    [
      'init',
      '--force',
      '--env-repo',
      '../env',
      '--environments',
      'qa',
      '--image',
      'web=ghcr.io/acme/web',
      '--ci',
      'jenkins',
    ],
    { cwd: dir, stdin: terminalInput([]), isTTY: true },
  );
  assert.equal(flagged.code, 0, flagged.stderr);
  assert.doesNotMatch(flagged.stderr, /\? /, 'every answer came from a flag: no question');
  assert.ok(existsSync(join(dir, 'Jenkinsfile')));
});

test('init never prompts in CI, with --yes or with --json, and a cancelled prompt exits 2', async (t) => {
  for (const [args, env] of [
    [['init'], baseEnv({ CI: 'true' })],
    [['init', '--ci', 'github'], baseEnv({ GITHUB_ACTIONS: 'true', CI: 'true' })],
    [['init', '--yes'], baseEnv()],
    [['--json', 'init'], baseEnv()],
  ] as const) {
    const dir = gitRepo(t);
    const result = await runCli([...args], { cwd: dir, env, stdin: terminalInput([]), isTTY: true });
    assert.equal(result.code, 0, `${args.join(' ')}: ${result.stderr}`);
    assert.doesNotMatch(result.stderr, /\? /, `${args.join(' ')} asked a question`);
    assert.ok(existsSync(join(dir, 'gitops.yaml')));
  }
  const dir = gitRepo(t);
  const cancelled = await runCli(['init'], { cwd: dir, stdin: terminalInput(['../env']), isTTY: true });
  assert.equal(cancelled.code, 2);
  assert.match(cancelled.stderr, /init was cancelled/);
  assert.ok(!existsSync(join(dir, 'gitops.yaml')));
});
