import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { repoRoot, tempDir } from './support/cli.js';
import { git } from './support/git.js';

/**
 * The README's demo command from a clone of the committed tree (node_modules linked in, as
 * `npm ci` would have installed them): it must exit 0 and tell the story step by step.
 */
test('npm run demo in a fresh clone: deploy v1, v2, diff, drift by hand, rollback, history', {
  timeout: 240_000,
}, (t) => {
  const clone = join(tempDir(t, 'gitops-demo-clone-'), 'gitops');
  git(repoRoot, ['clone', '--quiet', '--no-hardlinks', repoRoot, clone]);
  symlinkSync(join(repoRoot, 'node_modules'), join(clone, 'node_modules'), 'dir');
  const result = spawnSync('npm', ['run', '--silent', 'demo'], {
    cwd: clone,
    env: { ...process.env, npm_config_loglevel: 'error' },
    encoding: 'utf8',
    timeout: 230_000,
  });
  const output = `${result.stdout}${result.stderr}`;
  assert.equal(result.status, 0, output.slice(-4000));
  for (const step of [
    '1/7 deploy v1',
    '2/7 deploy v2',
    '3/7 diff',
    '4/7 a change by hand',
    '5/7 diff',
    '6/7 rollback to v1',
    '7/7 history',
  ]) {
    assert.ok(output.includes(`━━ ${step} ━━`), `the demo narrates "${step}"`);
  }
  assert.match(output, /staging: in sync/);
  assert.match(
    output,
    /stdout \(--json\): \{"environment":"staging","revision":"[0-9a-f]{12}"/,
    'the JSON is shown',
  );
  assert.match(output, /spec\.replicas: \d → 5 by kubectl[.\d]* \(scale\)/);
  assert.match(output, /staging rolled back to [0-9a-f]{12}/);
  assert.match(output, /● [0-9a-f]{12} .*rollback.*\(live\)/);
  assert.match(output, /demo finished in \d+\.\d+s/);
});
