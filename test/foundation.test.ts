import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { readConfig } from '../src/config/load.js';
import { baseEnv, runBin, runCli, tempDir } from './support/cli.js';

const ANSI = /\u001b\[/;
const SPINNER_FRAMES = /[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]/;

const VALID_CONFIG = `version: 1
images:
  - name: web
    repository: registry.example.com/acme/web
envRepo:
  url: ../environments
  branch: main
environments:
  staging:
    path: envs/staging
`;

test('gitops init writes a config that validates, and refuses to overwrite it without --force', async (t) => {
  const dir = tempDir(t);
  const first = await runCli(['init', '--image', 'web=ghcr.io/acme/web'], { cwd: dir });
  assert.equal(first.code, 0, first.stderr);
  const file = join(dir, 'gitops.yaml');
  const config = readConfig(file, {});
  assert.deepEqual(Object.keys(config.environments), ['staging', 'production']);
  assert.equal(config.environments.production?.promoteFrom, 'staging');
  assert.equal(config.images[0]?.repository, 'ghcr.io/acme/web');
  const before = readFileSync(file, 'utf8');

  const second = await runCli(['init'], { cwd: dir });
  assert.equal(second.code, 2);
  assert.match(second.stderr, /already exists/);
  assert.match(second.stderr, /--force/);
  assert.equal(readFileSync(file, 'utf8'), before, 'the existing file is untouched');

  const forced = await runCli(['init', '--force', '--environments', 'dev'], { cwd: dir });
  assert.equal(forced.code, 0, forced.stderr);
  assert.deepEqual(Object.keys(readConfig(file, {}).environments), ['dev']);
});

test('a misspelt top-level key exits 2 naming file:line and the nearest valid key, without a stack trace', async (t) => {
  const dir = tempDir(t);
  writeFileSync(
    join(dir, 'gitops.yaml'),
    VALID_CONFIG.replace(
      'environments:\n  staging:\n    path: envs/staging\n',
      'enviroments:\n  staging:\n    path: x\n',
    ),
  );
  // `init --dry-run` would not read the config; use the loader through a black-box run of a reading command
  // once one exists. Here the loader is exercised directly and through --config on the CLI below.
  assert.throws(
    () => readConfig(join(dir, 'gitops.yaml'), {}),
    (error: Error & { location?: { line?: number }; exitCode?: number }) => {
      assert.equal(error.exitCode, 2);
      assert.match(error.message, /unknown key "enviroments"/);
      assert.match(error.message, /did you mean "environments"/);
      assert.equal(error.location?.line, 8);
      return true;
    },
  );
});

test('malformed YAML exits 2 with file:line:column', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'gitops.yaml');
  writeFileSync(file, 'version: 1\nenvRepo:\n  url: "unterminated\n  branch: main\n');
  assert.throws(
    () => readConfig(file, {}),
    (error: Error & { location?: { line?: number; column?: number }; exitCode?: number }) => {
      assert.equal(error.exitCode, 2);
      assert.match(error.message, /not valid YAML/);
      assert.ok(error.location?.line && error.location.column, 'line and column are known');
      return true;
    },
  );
});

test('duplicate keys, wrong types, bad names and unset variables are each reported with their location', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'gitops.yaml');
  writeFileSync(file, `${VALID_CONFIG}  staging:\n    path: again\n`);
  assert.throws(() => readConfig(file, {}), /not valid YAML.*[Mm]ap keys must be unique/);

  writeFileSync(
    file,
    `${VALID_CONFIG.replace('branch: main', 'branch: main\n  pushAttempts: many')}  Prod/../x:\n    path: p\n    promoteFrom: stagin\n    timeout: \${DEPLOY_TIMEOUT}\n`,
  );
  try {
    readConfig(file, {});
    assert.fail('expected an error');
  } catch (error) {
    const message = (error as Error).message;
    assert.match(message, /2 problems/);
    assert.match(message, /gitops\.yaml:8:17: envRepo\.pushAttempts must be a whole number/);
    assert.match(message, /name "Prod\/\.\.\/x" in environments is not valid/);
  }

  writeFileSync(file, `${VALID_CONFIG}    promoteFrom: stagin\n    timeout: \${DEPLOY_TIMEOUT}\n`);
  try {
    readConfig(file, {});
    assert.fail('expected an error');
  } catch (error) {
    const message = (error as Error).message;
    assert.match(message, /environment variable DEPLOY_TIMEOUT is not set/);
    assert.match(
      message,
      /gitops\.yaml:11:\d+: environments\.staging\.promoteFrom names "stagin".*did you mean "staging"/,
    );
  }
  writeFileSync(file, `${VALID_CONFIG}    timeout: \${DEPLOY_TIMEOUT}\n    namespace: \${NS:-web}\n`);
  const config = readConfig(file, { DEPLOY_TIMEOUT: '90s' });
  assert.equal(config.environments.staging?.namespace, 'web');
  assert.equal(config.environments.staging?.timeout, '90s');
});

test('the config is found from a subdirectory, up to the repository root', async (t) => {
  const { findConfigFile } = await import('../src/config/load.js');
  const { mkdirSync } = await import('node:fs');
  const dir = tempDir(t);
  writeFileSync(join(dir, 'gitops.yaml'), VALID_CONFIG);
  mkdirSync(join(dir, '.git'));
  mkdirSync(join(dir, 'a', 'b'), { recursive: true });
  assert.equal(findConfigFile(join(dir, 'a', 'b')), join(dir, 'gitops.yaml'));
  mkdirSync(join(dir, 'a', '.git'));
  assert.throws(() => findConfigFile(join(dir, 'a', 'b')), /no gitops\.yaml found/);
});

test("outside any git repository only the working directory is searched: a parent's gitops.yaml is not used", async (t) => {
  const { findConfigFile } = await import('../src/config/load.js');
  const { mkdirSync } = await import('node:fs');
  const dir = tempDir(t);
  // A gitops.yaml planted above the working directory (a shared runner's /tmp, a home directory).
  writeFileSync(join(dir, 'gitops.yaml'), VALID_CONFIG);
  mkdirSync(join(dir, 'work'));
  assert.throws(
    () => findConfigFile(join(dir, 'work')),
    (error: Error & { code?: string }) =>
      error.code === 'CONFIG_NOT_FOUND' && /not inside a git repository/.test(error.message),
  );
  const result = await runCli(['--json', 'status', '--env', 'staging'], { cwd: join(dir, 'work') });
  assert.equal(result.code, 2, result.stderr);
  assert.equal((JSON.parse(result.stdout) as { error: { code: string } }).error.code, 'CONFIG_NOT_FOUND');
  assert.match(result.stderr, /no gitops\.yaml found in .*work \(not inside a git repository/);
  // The working directory's own file is found.
  writeFileSync(join(dir, 'work', 'gitops.yaml'), VALID_CONFIG);
  assert.equal(findConfigFile(join(dir, 'work')), join(dir, 'work', 'gitops.yaml'));
});

test('--json on a failing command prints exactly one JSON document on stdout; the message is on stderr', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'gitops.yaml'), VALID_CONFIG);
  const result = await runCli(['--json', 'init'], { cwd: dir });
  assert.equal(result.code, 2);
  const document = JSON.parse(result.stdout) as { ok: boolean; error: { code: string; exitCode: number } };
  assert.equal(document.ok, false);
  assert.equal(document.error.code, 'CONFIG_EXISTS');
  assert.equal(document.error.exitCode, 2);
  assert.match(result.stderr, /error: .*already exists/);
  assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace without --verbose');

  const usage = await runCli(['--json', 'init', '--no-such-flag'], { cwd: dir });
  assert.equal(usage.code, 2);
  assert.equal((JSON.parse(usage.stdout) as { ok: boolean }).ok, false);
});

test('--verbose shows the stack of a known error; without it there is none', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'gitops.yaml'), VALID_CONFIG);
  const quiet = await runCli(['init'], { cwd: dir });
  assert.doesNotMatch(quiet.stderr, /at .*\.ts:\d+/);
  const verbose = await runCli(['--verbose', 'init'], { cwd: dir });
  assert.match(verbose.stderr, /at .*init\.ts:\d+/);
});

test('black box: --version, --help lists only working commands, exit code 2 on an unknown command', async (t) => {
  const dir = tempDir(t);
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  const version = await runBin(['--version'], { cwd: dir });
  assert.equal(version.code, 0);
  assert.equal(version.stdout.trim(), pkg.version);

  const help = await runBin(['--help'], { cwd: dir });
  assert.equal(help.code, 0);
  const commands = [...help.stdout.split('Commands:')[1]!.matchAll(/^ {2}(\w+)/gm)].map((match) => match[1]);
  const { buildProgram } = await import('../src/cli/main.js');
  const registered = (
    await buildProgram(
      { cwd: dir, env: {}, stdout: process.stdout, stderr: process.stderr, isTTY: false },
      { exitCode: 0 },
    )
  ).commands.map((command) => command.name());
  assert.deepEqual(commands.sort(), [...registered, 'help'].sort());
  assert.ok(commands.includes('init'));

  const unknown = await runBin(['deploi'], { cwd: dir });
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown command 'deploi'/);

  const helpInit = await runBin(['help', 'init'], { cwd: dir });
  assert.equal(helpInit.code, 0);
  assert.match(helpInit.stdout, /--force/);
});

test('piped output has no ANSI escapes and no spinner frames, even when stderr looks like a TTY in CI', async (t) => {
  const dir = tempDir(t);
  const piped = await runBin(['init'], { cwd: dir, env: baseEnv({ FORCE_COLOR: undefined }) });
  assert.equal(piped.code, 0, piped.stderr);
  assert.doesNotMatch(piped.stderr, ANSI);
  const inCi = await runCli(['init', '--force'], { cwd: dir, env: baseEnv({ CI: 'true' }), isTTY: true });
  assert.equal(inCi.code, 0);
  assert.doesNotMatch(inCi.stderr, SPINNER_FRAMES);
  assert.doesNotMatch(inCi.stderr, ANSI);
});

test('absent sections get every nested default (build, kubectl, prune, policies)', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'gitops.yaml');
  writeFileSync(file, VALID_CONFIG);
  const config = readConfig(file, {});
  assert.deepEqual(config.build, { engine: 'auto', pin: 'digest', concurrency: 2 });
  assert.deepEqual(config.kubectl, { path: 'kubectl' });
  assert.deepEqual(config.environments.staging?.prune, { enabled: true, protect: [] });
  assert.equal(config.environments.staging?.policies.requireResourceLimits, false);
  assert.equal(config.envRepo.pushAttempts, undefined, 'no cap on attempts: the push retries for a time');
  assert.equal(config.envRepo.pushTimeout, '5m');
  assert.equal(config.envRepo.pushBackoff, '400ms');
  assert.deepEqual(config.environments.staging?.lease, { duration: '60s', wait: '15m' });
});
