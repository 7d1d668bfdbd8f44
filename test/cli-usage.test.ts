// The CLI's own usage errors and help: what a newcomer types wrong first.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { baseEnv, runCli, tempDir } from './support/cli.js';
import { gitTestEnv } from './support/git.js';

test('a misspelt option is reported as unknown, with the option it resembles, before any required option', async (t) => {
  const cwd = tempDir(t);
  const typo = await runCli(['diff', '--evn', 'staging'], { cwd });
  assert.equal(typo.code, 2);
  assert.match(typo.stderr, /unknown option '--evn'/);
  assert.match(typo.stderr, /Did you mean --env\?/);
  assert.doesNotMatch(typo.stderr, /required option/);
  const missing = await runCli(['diff'], { cwd });
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /required option '--env <name>' not specified/);
  const json = await runCli(['--json', 'deploy', '--evn', 'staging'], { cwd });
  assert.equal(json.code, 2);
  assert.match(
    (JSON.parse(json.stdout) as { error: { message: string } }).error.message,
    /unknown option '--evn'/,
  );
});

test('help of a command lists the global options too', async (t) => {
  const help = await runCli(['help', 'deploy'], { cwd: tempDir(t) });
  assert.equal(help.code, 0);
  for (const option of ['--json', '--dry-run', '--verbose', '--config <path>', '--ci'])
    assert.ok(help.stdout.includes(option), `help deploy lists ${option}`);
  assert.match(help.stdout, /Global Options:/);
});

test('gitops build reads only the images of gitops.yaml: no envRepo or environments needed', async (t) => {
  const cwd = tempDir(t);
  writeFileSync(
    join(cwd, 'gitops.yaml'),
    'version: 1\nimages:\n  - name: web\n    repository: 127.0.0.1:5000/demo/web\n    context: .\n',
  );
  const build = await runCli(['build'], { cwd });
  assert.equal(build.code, 2);
  assert.doesNotMatch(build.stderr, /envRepo is required|environments is required/);
  assert.match(build.stderr, /not inside a git repository/, 'it got past the config to the build itself');
  const diff = await runCli(['diff', '--env', 'staging'], { cwd });
  assert.equal(diff.code, 2);
  assert.match(diff.stderr, /envRepo is required/, 'commands that deploy still need it');
});

test('a missing env repo is named with the reason git gives, not its boilerplate', async (t) => {
  const cwd = tempDir(t);
  const missing = join(tempDir(t), 'no-such-repo.git');
  writeFileSync(
    join(cwd, 'gitops.yaml'),
    `version: 1\nenvRepo:\n  url: ${missing}\nenvironments:\n  staging:\n    path: envs/staging\n`,
  );
  const diff = await runCli(['diff', '--env', 'staging'], { cwd, env: baseEnv({ ...gitTestEnv }) });
  assert.equal(diff.code, 2, diff.stderr);
  assert.match(
    diff.stderr,
    /the env repo file:\/\/.*no-such-repo\.git could not be found: '.*no-such-repo\.git' does not appear to be a git repository/,
  );
  assert.doesNotMatch(diff.stderr, /and the repository exists/);
});
