import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { colorLevel, PLAIN } from '../src/cli/color.js';
import { chooseFormat, createReporter, type OutputFormat } from '../src/cli/reporter.js';
import { usageError } from '../src/core/errors.js';
import { Masker } from '../src/core/mask.js';
import { tempDir } from './support/cli.js';

function capture() {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (chunk) => {
    text += chunk;
  });
  return { stream, read: () => text };
}

function reporterFor(format: OutputFormat, env: Record<string, string | undefined> = {}) {
  const out = capture();
  const err = capture();
  const masker = Masker.fromEnv(env);
  const reporter = createReporter({
    stdout: out.stream,
    stderr: err.stream,
    env,
    masker,
    format,
    json: true,
    verbose: false,
    quiet: false,
    color: PLAIN,
  });
  return { reporter, out, err, masker };
}

test('format: GitHub Actions wins, a TTY outside CI gets spinners, everything else is plain', () => {
  assert.equal(chooseFormat({ isTTY: true, ci: false, githubActions: false }), 'tty');
  assert.equal(chooseFormat({ isTTY: true, ci: true, githubActions: false }), 'plain');
  assert.equal(chooseFormat({ isTTY: false, ci: false, githubActions: false }), 'plain');
  assert.equal(chooseFormat({ isTTY: false, ci: true, githubActions: true }), 'github');
});

test('colour: NO_COLOR and --no-color switch it off, FORCE_COLOR forces it on a pipe', () => {
  assert.equal(colorLevel({}, true, undefined), 2);
  assert.equal(colorLevel({ NO_COLOR: '1' }, true, undefined), 0);
  assert.equal(colorLevel({}, true, false), 0);
  assert.equal(colorLevel({}, false, undefined), 0);
  assert.equal(colorLevel({ FORCE_COLOR: '1' }, false, undefined), 1);
  assert.equal(colorLevel({ TERM: 'dumb' }, true, undefined), 0);
});

test('plain steps: one line at start, one at end with the duration, no ANSI', async () => {
  const { reporter, err } = reporterFor('plain');
  await reporter.step('bump images', async (step) => {
    step.log('envs/staging/web.yaml:12 web:1 → web:2');
    step.detail('1 change');
  });
  await assert.rejects(
    reporter.step('push', async () => {
      throw usageError('USAGE', 'nope');
    }),
  );
  const lines = err.read().trimEnd().split('\n');
  assert.equal(lines[0], '▸ bump images');
  assert.equal(lines[1], '  envs/staging/web.yaml:12 web:1 → web:2');
  assert.match(lines[2]!, /^✓ bump images — 1 change \(\d+ms\)$/);
  assert.equal(lines[3], '▸ push');
  assert.match(lines[4]!, /^✗ push \(\d+ms\)$/);
  assert.doesNotMatch(err.read(), /\u001b\[/);
  assert.deepEqual(
    reporter.steps.map((step) => step.status),
    ['ok', 'failed'],
  );
});

test('GitHub Actions: a group per step, an ::error annotation with file and line, a step summary', async (t) => {
  const dir = tempDir(t);
  const summaryFile = join(dir, 'summary.md');
  writeFileSync(summaryFile, '');
  const { reporter, err } = reporterFor('github', {
    GITHUB_ACTIONS: 'true',
    GITHUB_STEP_SUMMARY: summaryFile,
  });
  await reporter.step('drift check', async () => {});
  reporter.error(
    usageError('MANIFEST_INVALID', 'bad indentation, 100% sure', {
      location: { file: 'envs/staging/web.yaml', line: 12, column: 3 },
    }),
  );
  reporter.summary('| environment | result |\n|---|---|\n| staging | ok |');
  const text = err.read();
  assert.match(text, /^::group::drift check$/m);
  assert.match(text, /^::endgroup::$/m);
  assert.match(
    text,
    /^::error title=MANIFEST_INVALID,file=envs\/staging\/web\.yaml,line=12,col=3::bad indentation, 100%25 sure$/m,
  );
  assert.equal(
    readFileSync(summaryFile, 'utf8'),
    '| environment | result |\n|---|---|\n| staging | ok |\n\n',
  );
});

test('masking covers stderr, the JSON document and the step summary', async (t) => {
  const dir = tempDir(t);
  const summaryFile = join(dir, 'summary.md');
  writeFileSync(summaryFile, '');
  const secret = 'ghp_s3cr3tvalue123';
  const { reporter, err, out } = reporterFor('github', {
    GITHUB_ACTIONS: 'true',
    GITHUB_STEP_SUMMARY: summaryFile,
    GITOPS_TOKEN: secret,
  });
  reporter.info(`pushing to https://x-access-token:${secret}@github.com/acme/env.git`);
  reporter.error(usageError('USAGE', `push failed with ${secret}`));
  reporter.summary(`token ${secret}`);
  reporter.result({
    ok: false,
    url: `https://bot:${secret}@example.com/repo.git`,
    nested: [{ value: secret }],
  });
  for (const text of [err.read(), out.read(), readFileSync(summaryFile, 'utf8')]) {
    assert.ok(!text.includes(secret), `secret leaked in: ${text}`);
    assert.match(text, /\*\*\*/);
  }
  assert.match(err.read(), /https:\/\/\*\*\*@github\.com\/acme\/env\.git/);
});
