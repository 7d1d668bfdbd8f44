// gitops reaches the cluster in-process: deploy, diff, status, rollback and history of a plain-YAML
// environment start no kubectl process. kubectl.path points at a wrapper that records every call
// (and a `kubectl` on PATH does the same), so a call anywhere — a step, a gate, a clean-up — shows.
import assert from 'node:assert/strict';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { it as test } from 'node:test';
import { kubeTools } from '@gitops/kube-apiserver/kube-tools';
import { tempDir } from './support/cli.js';
import { clusterFixture } from './support/cluster.js';
import { deployWeb, liveWebImage } from './support/live.js';
import { REGISTRY, WEB_IMAGE_CONFIG, webEnvironmentFiles } from './support/manifests.js';
import { uniqueName } from './support/test-cluster.js';

test('deploy, diff, status, rollback and history of a plain-YAML environment start no kubectl process', async (t) => {
  const ns = uniqueName('inproc');
  const cluster = await clusterFixture(
    t,
    webEnvironmentFiles('staging', { namespace: ns }),
    { staging: `    namespace: ${ns}\n    timeout: 2m\n` },
    WEB_IMAGE_CONFIG,
  );
  const bin = tempDir(t, 'gitops-kubectl-spy-');
  const calls = join(bin, 'calls.log');
  const spy = join(bin, 'kubectl');
  writeFileSync(spy, `#!/bin/sh\necho "kubectl $*" >> '${calls}'\nexec '${kubeTools().kubectl}' "$@"\n`);
  chmodSync(spy, 0o755);
  const configPath = join(cluster.app, 'gitops.yaml');
  writeFileSync(
    configPath,
    readFileSync(configPath, 'utf8').replace(/^ {2}path: .*kubectl.*$/m, `  path: ${spy}`),
  );
  assert.match(readFileSync(configPath, 'utf8'), new RegExp(`path: ${spy}`));
  cluster.env.PATH = `${bin}:${cluster.env.PATH}`;

  const run = async (args: string[], codes: number[] = [0]) => {
    const result = await cluster.gitops(['--verbose', ...args]);
    assert.ok(codes.includes(result.code), `${args.join(' ')} exited ${result.code}\n${result.stderr}`);
    // The --verbose echo lists every child process gitops starts (`$ git …`) and every request.
    const started = result.stderr.split('\n').filter((line) => /^\s*\$ \S*kubectl\b/.test(line));
    assert.deepEqual(started, [], `${args.join(' ')} started kubectl`);
    return result;
  };

  await run(deployWeb('staging', '1.0.0'));
  const first = cluster.remote.head();
  await run(deployWeb('staging', '2.0.0'));
  assert.equal(await liveWebImage(cluster, ns), `${REGISTRY}/web:2.0.0`);
  const diff = await run(['diff', '--env', 'staging']);
  assert.match(diff.stderr, /GET \/apis\/apps\/v1\/namespaces\//, 'the reads are echoed as requests');
  await run(['status', '--env', 'staging']);
  await run(['history', '--env', 'staging']);
  await run(['rollback', first, '--env', 'staging']);
  assert.equal(await liveWebImage(cluster, ns), `${REGISTRY}/web:1.0.0`);

  assert.equal(existsSync(calls) ? readFileSync(calls, 'utf8') : '', '', 'no kubectl process ran');
});
