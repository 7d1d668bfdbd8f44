import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli, tempDir } from './support/cli.js';

const DEPLOYMENT = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
        - name: web
          image: ghcr.io/acme/web:1.0.0 # set by gitops
`;

/** An app dir with gitops.yaml and an env-repo checkout with envs/staging/deployment.yaml. */
function setup(after: (fn: () => void) => void) {
  const root = tempDir(after);
  const app = join(root, 'app');
  const envRepo = join(root, 'env');
  mkdirSync(app);
  mkdirSync(join(envRepo, 'envs', 'staging'), { recursive: true });
  writeFileSync(
    join(app, 'gitops.yaml'),
    'version: 1\nimages:\n  - name: web\n    repository: ghcr.io/acme/web\n    context: .\nenvRepo:\n  url: ../env\n  branch: main\nenvironments:\n  staging:\n    path: envs/staging\n',
  );
  writeFileSync(join(envRepo, 'envs', 'staging', 'deployment.yaml'), DEPLOYMENT);
  return { app, envRepo, manifest: join(envRepo, 'envs', 'staging', 'deployment.yaml') };
}

const local = (envRepo: string) => ['--env-repo-dir', envRepo, '--no-commit'];

test('bump edits one token and prints the change; --json has changed: true', async (t) => {
  const { app, envRepo, manifest } = setup(t.after);
  const result = await runCli(
    ['--json', 'bump', '--env', 'staging', '--image', 'web=ghcr.io/acme/web:1.1.0', ...local(envRepo)],
    { cwd: app },
  );
  assert.equal(result.code, 0, result.stderr);
  assert.equal(readFileSync(manifest, 'utf8'), DEPLOYMENT.replace('web:1.0.0', 'web:1.1.0'));
  assert.match(
    result.stderr,
    /deployment\.yaml:10 {2}ghcr\.io\/acme\/web:1\.0\.0 → ghcr\.io\/acme\/web:1\.1\.0/,
  );
  const document = JSON.parse(result.stdout) as {
    ok: boolean;
    changed: boolean;
    changes: Array<{ file: string; line: number; old: string; new: string }>;
  };
  assert.equal(document.ok, true);
  assert.equal(document.changed, true);
  assert.deepEqual(document.changes, [
    {
      file: 'envs/staging/deployment.yaml',
      line: 10,
      image: 'web',
      old: 'ghcr.io/acme/web:1.0.0',
      new: 'ghcr.io/acme/web:1.1.0',
    },
  ]);

  // The same bump again: nothing to do, and it says so.
  const again = await runCli(
    ['--json', 'bump', '--env', 'staging', '--image', 'web=ghcr.io/acme/web:1.1.0', ...local(envRepo)],
    { cwd: app },
  );
  assert.equal(again.code, 0, again.stderr);
  const second = JSON.parse(again.stdout) as { changed: boolean; seen: Array<{ reason: string }> };
  assert.equal(second.changed, false);
  assert.deepEqual(
    second.seen.map((seen) => seen.reason),
    ['already up to date'],
  );
  assert.match(again.stderr, /already up to date/);
});

test('bump --dry-run shows the diff and writes nothing', async (t) => {
  const { app, envRepo, manifest } = setup(t.after);
  const result = await runCli(
    ['bump', '--env', 'staging', '--image', 'ghcr.io/acme/web:2.0.0', '--dry-run', ...local(envRepo)],
    { cwd: app },
  );
  assert.equal(result.code, 0, result.stderr);
  assert.equal(readFileSync(manifest, 'utf8'), DEPLOYMENT);
  assert.match(result.stderr, /-\s+image: ghcr\.io\/acme\/web:1\.0\.0 # set by gitops/);
  assert.match(result.stderr, /\+\s+image: ghcr\.io\/acme\/web:2\.0\.0 # set by gitops/);
  assert.match(result.stderr, /would change 1 reference/);
});

for (const [reference, reason] of [
  ['ghcr.io/acme/Web:1.0', /must be lowercase, "Web" is not/],
  ['ghcr.io/acme/web:', /the tag after ":" is empty/],
  ['ghcr.io/acme/web@sha256:abc', /digest "sha256:abc" is not algorithm:hex/],
  ['ghcr.io/acme/web:1.0;rm -rf /', /whitespace|";"/],
  ['ghcr.io/acme/web:1.0\nx', /line break/],
] as const) {
  test(`bump rejects the reference ${JSON.stringify(reference)} with exit 2`, async (t) => {
    const { app, envRepo, manifest } = setup(t.after);
    const result = await runCli(
      ['--json', 'bump', '--env', 'staging', '--image', `web=${reference}`, ...local(envRepo)],
      { cwd: app },
    );
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, reason);
    assert.ok(result.stderr.includes(JSON.stringify(reference).slice(1, -1)), result.stderr);
    const document = JSON.parse(result.stdout) as { ok: boolean; error: { code: string } };
    assert.equal(document.error.code, 'IMAGE_REFERENCE_INVALID');
    assert.equal(readFileSync(manifest, 'utf8'), DEPLOYMENT);
  });
}

test('bump --no-commit without --env-repo-dir is a usage error (exit 2): there would be nothing to keep', async (t) => {
  const { app } = setup(t.after);
  const result = await runCli(
    ['bump', '--env', 'staging', '--image', 'web=ghcr.io/acme/web:1.1.0', '--no-commit'],
    {
      cwd: app,
    },
  );
  assert.equal(result.code, 2);
  assert.match(result.stderr, /--no-commit .* needs --env-repo-dir/);
});

test('bump refuses a file with duplicate keys and writes nothing at all (exit 2)', async (t) => {
  const { app, envRepo, manifest } = setup(t.after);
  const broken = join(envRepo, 'envs', 'staging', 'worker.yaml');
  const text = DEPLOYMENT.replace('  name: web\n', '  name: worker\n  name: worker2\n');
  writeFileSync(broken, text);
  const result = await runCli(
    ['bump', '--env', 'staging', '--image', 'web=ghcr.io/acme/web:1.1.0', ...local(envRepo)],
    {
      cwd: app,
    },
  );
  assert.equal(result.code, 2, result.stderr);
  assert.match(result.stderr, /worker\.yaml:5: duplicate key "name"/);
  assert.equal(readFileSync(manifest, 'utf8'), DEPLOYMENT);
  assert.equal(readFileSync(broken, 'utf8'), text);
});

test('bump of an image the environment does not use is an error naming it', async (t) => {
  const { app, envRepo } = setup(t.after);
  const result = await runCli(
    ['bump', '--env', 'staging', '--image', 'ghcr.io/acme/api:1.0.0', ...local(envRepo)],
    {
      cwd: app,
    },
  );
  assert.equal(result.code, 2);
  assert.match(result.stderr, /no reference to ghcr\.io\/acme\/api/);
});

test('bump with a config name whose repository differs from the reference is exit 2', async (t) => {
  const { app, envRepo } = setup(t.after);
  const result = await runCli(
    ['bump', '--env', 'staging', '--image', 'web=ghcr.io/acme/api:1.0.0', ...local(envRepo)],
    {
      cwd: app,
    },
  );
  assert.equal(result.code, 2);
  assert.match(result.stderr, /"web" is ghcr\.io\/acme\/web, but the reference names ghcr\.io\/acme\/api/);
});
