// Long steps show counts on a terminal (objects applied, workloads ready), and nothing of it in
// CI or piped output.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCli } from './support/cli.js';
import { clusterFixture } from './support/cluster.js';
import { REGISTRY, WEB_IMAGE_CONFIG, webEnvironmentFiles } from './support/manifests.js';
import { uniqueName } from './support/test-cluster.js';

test('on a terminal the rollout wait counts ready workloads; piped output has no progress', async (t) => {
  const ns = uniqueName('progress');
  const cluster = await clusterFixture(
    t,
    webEnvironmentFiles('staging', { namespace: ns }),
    { staging: `    namespace: ${ns}\n    timeout: 3m\n` },
    WEB_IMAGE_CONFIG,
  );
  // "slow" images take 4 s to become ready: long enough for the spinner to draw the count.
  const deploy = (tag: string, isTTY: boolean) =>
    runCli(['deploy', '--env', 'staging', '--skip-build', '--image', `web=${REGISTRY}/web:${tag}`], {
      cwd: cluster.app,
      env: { ...cluster.env, CI: 'false', TERM: 'xterm' },
      isTTY,
    });
  const terminal = await deploy('1.0.0-slow', true);
  assert.equal(terminal.code, 0, terminal.stderr);
  assert.match(terminal.stderr, /wait for the rollout.*0\/1 workload\(s\) ready/);
  const piped = await deploy('2.0.0-slow', false);
  assert.equal(piped.code, 0, piped.stderr);
  assert.doesNotMatch(piped.stderr, /\d+\/\d+ workload\(s\) ready/);
  assert.doesNotMatch(piped.stderr, /\u001b\[/, 'no escape codes when piped');
});
