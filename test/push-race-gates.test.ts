// A deploy whose push is beaten by another one lands on a head holding others' commits. Before
// it pushes there, that head is judged again by every gate the first attempt passed — not only
// the lock and the policies, but ownership and the server dry run: an object the other commit
// added may belong to someone else, or be one the API server refuses. Nothing is pushed then.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { runCli, tempDir } from './support/cli.js';
import { type ClusterFixture, clusterFixture } from './support/cluster.js';
import { deployWeb, liveWebImage } from './support/live.js';
import { namespaceYaml, REGISTRY, WEB_IMAGE_CONFIG, webDeploymentYaml } from './support/manifests.js';
import { uniqueName } from './support/test-cluster.js';

type Test = { after(fn: () => void | Promise<void>): void };

/**
 * The environment for a gitops run whose first `git push` is beaten: right before it, another
 * clone pushes a commit adding `files` to main, as a second CI job would. Returns that env and
 * the other commit's sha.
 */
function racedBy(t: Test, cluster: ClusterFixture, files: Record<string, string>) {
  const realGit = execFileSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).trim();
  const gitIn = (dir: string, args: string[]) =>
    execFileSync(realGit, ['-C', dir, ...args], { env: cluster.env, encoding: 'utf8' }).trim();
  const other = tempDir(t, 'gitops-other-job-');
  execFileSync(realGit, ['clone', '--quiet', cluster.remote.bare, other], { env: cluster.env });
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(other, path)), { recursive: true });
    writeFileSync(join(other, path), text);
  }
  gitIn(other, ['add', '-A']);
  gitIn(other, ['commit', '--quiet', '-m', 'another job: more objects for staging']);
  const bin = tempDir(t, 'gitops-racing-git-');
  const raced = join(bin, 'raced');
  writeFileSync(
    join(bin, 'git'),
    `#!/bin/sh\nif [ "$1" = push ] && [ ! -e '${raced}' ]; then\n  : > '${raced}'\n  '${realGit}' -C '${other}' push --quiet origin HEAD:main || exit 99\nfi\nexec '${realGit}' "$@"\n`,
  );
  chmodSync(join(bin, 'git'), 0o755);
  return {
    env: { ...cluster.env, PATH: `${bin}:${cluster.env.PATH}` },
    otherCommit: gitIn(other, ['rev-parse', 'HEAD']),
  };
}

async function deployedEnvironment(t: Test): Promise<{ cluster: ClusterFixture; ns: string }> {
  const ns = uniqueName('staging');
  const cluster = await clusterFixture(
    t,
    { 'envs/staging/namespace.yaml': namespaceYaml(ns), 'envs/staging/web.yaml': webDeploymentYaml() },
    { staging: `    namespace: ${ns}\n    timeout: 3m\n` },
    WEB_IMAGE_CONFIG,
  );
  const first = await cluster.gitops(deployWeb('staging', '1.0.0'));
  assert.equal(first.code, 0, first.stderr);
  return { cluster, ns };
}

/** Runs the raced deploy, which must be refused with `code` (exit 5) and push nothing of its own. */
async function refusedAfterRace(
  t: Test,
  cluster: ClusterFixture,
  files: Record<string, string>,
  code: string,
): Promise<{ message: string; location?: { file: string; line?: number } }> {
  const { env, otherCommit } = racedBy(t, cluster, files);
  const result = await runCli(['--json', ...deployWeb('staging', '2.0.0')], { cwd: cluster.app, env });
  assert.equal(result.code, 5, result.stderr);
  assert.match(result.stderr, /remote moved; re-applying the edit on the new head \(attempt 2\)/);
  const { error } = JSON.parse(result.stdout) as {
    error: { code: string; message: string; location?: { file: string; line?: number } };
  };
  assert.equal(error.code, code, error.message);
  assert.equal(
    cluster.remote.head(),
    otherCommit,
    "the other job's commit is the head; this run pushed nothing",
  );
  return error;
}

test('a push retry on a head whose new object the API server refuses: refused by the dry run, nothing pushed or applied', async (t) => {
  const { cluster, ns } = await deployedEnvironment(t);
  const error = await refusedAfterRace(
    t,
    cluster,
    {
      'envs/staging/port.yaml': `apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  selector: {app: web}\n  ports:\n    - port: 70000\n`,
    },
    'SERVER_DRY_RUN_REFUSED',
  );
  assert.match(error.message, /envs\/staging\/port\.yaml:1: Service\/.*\/web: .*Invalid value: 70000/);
  assert.deepEqual(error.location, { file: 'envs/staging/port.yaml', line: 1 });
  assert.equal(await liveWebImage(cluster, ns), `${REGISTRY}/web:1.0.0`, 'nothing applied');
});

test("a push retry on a head that declares a Helm release's object: refused by the ownership gate, the object untouched", async (t) => {
  const { cluster, ns } = await deployedEnvironment(t);
  // What `helm install` leaves on the objects of a release.
  const made = await cluster.kubectl(
    ['apply', '-f', '-'],
    `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: ${ns}\n  labels: {app.kubernetes.io/managed-by: Helm}\n  annotations: {meta.helm.sh/release-name: billing, meta.helm.sh/release-namespace: ${ns}}\ndata:\n  owner: billing\n`,
  );
  assert.equal(made.code, 0, made.stderr);
  const error = await refusedAfterRace(
    t,
    cluster,
    {
      'envs/staging/settings.yaml': `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  owner: staging\n`,
    },
    'OBJECT_OWNED_ELSEWHERE',
  );
  assert.match(
    error.message,
    /envs\/staging\/settings\.yaml:1: ConfigMap\/.*\/settings is owned by .*billing/,
  );
  const live = (await cluster.server.getObject({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    namespace: ns,
    name: 'settings',
  })) as { data: Record<string, string> };
  assert.deepEqual(live.data, { owner: 'billing' });
  assert.equal(await liveWebImage(cluster, ns), `${REGISTRY}/web:1.0.0`, 'nothing applied');
});
