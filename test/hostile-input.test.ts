// Hostile and broken input (issue 10): every case drives the real CLI against real git and must end
// with exit 2, an `error:` line naming what is wrong and where, no stack trace, and nothing written
// (the remote's history and the checkout's bytes are compared before and after).
// Inputs live in test/fixtures/bad/; the 50 MB manifest and the symlinks are made at run time.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { baseEnv, type CliResult, repoRoot, runBin, runCli, tempDir } from './support/cli.js';
import { createRemote, git, type TestRemote, writeFiles } from './support/git.js';

const BAD = join(repoRoot, 'test', 'fixtures', 'bad');

const DEPLOYMENT = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
        - name: web
          image: ghcr.io/acme/web:1.0.0
`;

const IMAGE = 'web=ghcr.io/acme/web:1.1.0';

/**
 * Child processes for the resource-exhaustion cases get a 64 MB V8 heap: finishing with exit 2 under
 * it shows memory stays bounded (a 50 MB file decoded to a string, or an expanded alias bomb, would
 * not fit and the process would die with an out-of-memory abort instead).
 */
const BOUNDED = baseEnv({ NODE_OPTIONS: '--max-old-space-size=64' });

function config(url: string, extra = ''): string {
  return `version: 1
images:
  - name: web
    repository: ghcr.io/acme/web
    context: .
envRepo:
  url: ${url}
  branch: main
environments:
  staging:
    path: envs/staging
${extra}`;
}

type After = { after(fn: () => void): void };

/** An env repo (bare remote) seeded with `files` and an app dir whose gitops.yaml points at it. */
function setup(t: After, files: Record<string, string | Buffer> = {}) {
  const text: Record<string, string> = { 'envs/staging/deployment.yaml': DEPLOYMENT };
  const binary: Record<string, Buffer> = {};
  for (const [path, content] of Object.entries(files)) {
    if (typeof content === 'string') text[path] = content;
    else binary[path] = content;
  }
  const remote = createRemote(t, text);
  if (Object.keys(binary).length > 0) {
    for (const [path, content] of Object.entries(binary)) {
      mkdirSync(join(remote.seed, path, '..'), { recursive: true });
      writeFileSync(join(remote.seed, path), content);
    }
    git(remote.seed, ['add', '-A']);
    git(remote.seed, ['commit', '--quiet', '-m', 'binary fixtures']);
    git(remote.seed, ['push', '--quiet', 'origin', 'main']);
  }
  const app = tempDir(t, 'gitops-app-');
  writeFileSync(join(app, 'gitops.yaml'), config(remote.bare));
  return { remote, app, before: remote.log() };
}

/** Every file under `dir` (following nothing) with its bytes, for "nothing written" checks. */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    const path = join(entry.parentPath, entry.name);
    if (path.includes(`${join(dir, '.git')}`)) continue;
    out.set(
      path.slice(dir.length + 1),
      entry.isFile() ? readFileSync(path).toString('base64') : entry.isSymbolicLink() ? 'symlink' : 'dir',
    );
  }
  return out;
}

/** exit 2, `error:` with the expected message, a hint, no stack trace. */
function assertRefused(result: CliResult, message: RegExp): void {
  assert.equal(result.code, 2, `exit ${result.code}\nstderr:\n${result.stderr}`);
  assert.match(result.stderr, /^error: /m, result.stderr);
  assert.match(result.stderr, message, result.stderr);
  assert.doesNotMatch(result.stderr, /^\s+at .+[:(]\d+:\d+\)?$/m, `a stack trace leaked:\n${result.stderr}`);
  assert.doesNotMatch(result.stderr, /unexpected failure/, result.stderr);
}

function assertRemoteUnchanged(remote: TestRemote, before: string[]): void {
  assert.deepEqual(remote.log(), before, 'the remote must not move');
}

function bump(app: string, extra: string[] = [], env: 'bin' | 'cli' = 'cli'): Promise<CliResult> {
  const args = ['bump', '--env', 'staging', '--image', IMAGE, ...extra];
  return env === 'bin'
    ? runBin(args, { cwd: app, env: BOUNDED, timeoutMs: 120_000 })
    : runCli(args, { cwd: app });
}

// --- gitops.yaml -----------------------------------------------------------------------------

const configCases: Array<{ fixture: string; message: RegExp }> = [
  { fixture: 'malformed.yaml', message: /gitops\.yaml:\d+:\d+: .*not valid YAML/ },
  {
    fixture: 'duplicate-keys.yaml',
    message: /gitops\.yaml:10:\d+: .*not valid YAML: Map keys must be unique/,
  },
  { fixture: 'alias-bomb.yaml', message: /gitops\.yaml:\d+(:\d+)?: .*alias/ },
  { fixture: 'non-utf8.yaml', message: /gitops\.yaml:11:\d+: .*not valid UTF-8/ },
  { fixture: 'control-characters.yaml', message: /gitops\.yaml:11: .*control character U\+0007 at line 11/ },
  {
    fixture: 'escaped-nul.yaml',
    message: /gitops\.yaml:11: .*control character U\+0000 in a value at line 11/,
  },
  { fixture: 'deep-nesting.yaml', message: /gitops\.yaml:11: .*nested more than 256 levels deep at line 11/ },
  { fixture: 'path-escape.yaml', message: /gitops\.yaml:11:\d+: .*must stay inside the env repo/ },
  { fixture: 'helm-values-escape.yaml', message: /gitops\.yaml:13:\d+: .*helmValues.*must stay inside/ },
  { fixture: 'chart-escape.yaml', message: /gitops\.yaml:12:\d+: .*chart.*must stay inside/ },
  { fixture: 'env-name-slash.yaml', message: /gitops\.yaml:10:\d+: .*"\.\.\/prod".*DNS-1123/ },
  { fixture: 'branch-option.yaml', message: /gitops\.yaml:7:\d+: .*envRepo\.branch/ },
  { fixture: 'branch-shell.yaml', message: /gitops\.yaml:7:\d+: .*envRepo\.branch/ },
];

for (const { fixture, message } of configCases) {
  test(`gitops.yaml: ${fixture} is refused with its position, nothing written`, async (t) => {
    const { remote, app, before } = setup(t);
    const text = readFileSync(join(BAD, 'config', fixture))
      .toString('latin1')
      .replace('${ENV_REPO_URL}', remote.bare);
    writeFileSync(join(app, 'gitops.yaml'), Buffer.from(text, 'latin1'));
    const result = await bump(app);
    assertRefused(result, message);
    assertRemoteUnchanged(remote, before);
    assert.ok(!existsSync('/tmp/gitops-pwned'), 'no command ran');
  });
}

test('gitops.yaml: an envRepo.url that looks like an option is a path, never an option', async (t) => {
  const { remote, app, before } = setup(t);
  writeFileSync(join(app, 'gitops.yaml'), readFileSync(join(BAD, 'config', 'url-option.yaml')));
  const result = await bump(app);
  assertRefused(result, /env repo .*--upload-pack=touch .*could not be found/);
  assertRemoteUnchanged(remote, before);
  assert.ok(!existsSync('/tmp/gitops-pwned'), 'no command ran');
});

test('--config pointing outside the repo at a file that is not a config is refused', async (t) => {
  const { remote, app, before } = setup(t);
  const result = await bump(app, ['--config', '../../../../../../etc/hostname']);
  assertRefused(result, /hostname/);
  assertRemoteUnchanged(remote, before);
});

// --- env-repo manifests ----------------------------------------------------------------------

const manifestCases: Array<{ fixture: string; message: RegExp }> = [
  {
    fixture: 'malformed.yaml',
    message: /envs\/staging\/deployment\.yaml:12: not valid YAML at line 12: Flow sequence/,
  },
  { fixture: 'duplicate-keys.yaml', message: /envs\/staging\/deployment\.yaml:11: duplicate key "image"/ },
  {
    fixture: 'alias-bomb.yaml',
    message: /envs\/staging\/deployment\.yaml:\d+: aliases expand this document by more than 100000 nodes/,
  },
  {
    fixture: 'non-utf8.yaml',
    message: /envs\/staging\/deployment\.yaml:6: not valid UTF-8 at line 6 \(byte 0xe9\)/,
  },
  { fixture: 'deep-nesting.yaml', message: /envs\/staging\/deployment\.yaml:\d+: / },
  {
    fixture: 'control-characters.yaml',
    message: /envs\/staging\/deployment\.yaml:6: control character U\+0007 at line 6: /,
  },
  { fixture: 'image-shell.yaml', message: /no reference to web was found in envs\/staging/ },
];

for (const { fixture, message } of manifestCases) {
  test(`manifest: ${fixture} is refused with file:line, the remote does not move`, async (t) => {
    const bytes = readFileSync(join(BAD, 'manifests', fixture));
    const { remote, app, before } = setup(t, { 'envs/staging/deployment.yaml': bytes });
    const result = await bump(app, [], 'bin');
    assertRefused(result, message);
    assertRemoteUnchanged(remote, before);
    assert.equal(remote.show('envs/staging/deployment.yaml'), bytes.toString('utf8').trimEnd());
    assert.ok(!existsSync('/tmp/gitops-pwned'), 'no command ran');
  });

  test(`manifest: ${fixture} in a local checkout (--no-commit) is refused and left byte for byte`, async (t) => {
    const dir = tempDir(t, 'gitops-envdir-');
    writeFiles(dir, {
      'envs/staging/other.yaml': DEPLOYMENT.replace('name: web\nspec', 'name: other\nspec'),
    });
    writeFileSync(join(dir, 'envs/staging/deployment.yaml'), readFileSync(join(BAD, 'manifests', fixture)));
    const app = tempDir(t, 'gitops-app-');
    writeFileSync(join(app, 'gitops.yaml'), config('../unused'));
    const before = snapshot(dir);
    const result = await bump(app, ['--env-repo-dir', dir, '--no-commit']);
    if (fixture === 'image-shell.yaml') {
      // The other file holds a real reference: it is changed, the hostile values are not references.
      assert.equal(result.code, 0, result.stderr);
      assert.equal(
        readFileSync(join(dir, 'envs/staging/deployment.yaml'), 'utf8'),
        readFileSync(join(BAD, 'manifests', fixture), 'utf8'),
      );
      return;
    }
    assertRefused(result, message);
    assert.deepEqual(snapshot(dir), before, 'nothing written');
  });
}

// Memory is what this bounds (BOUNDED caps the heap); how fast the refusal is, bench/ measures.
test('manifest: a 50 MB manifest holding the image is refused with bounded memory', async (t) => {
  const dir = tempDir(t, 'gitops-envdir-');
  const big = join(dir, 'envs', 'staging', 'big.yaml');
  mkdirSync(join(dir, 'envs', 'staging'), { recursive: true });
  writeFileSync(join(dir, 'envs/staging/deployment.yaml'), DEPLOYMENT);
  // One ConfigMap with 50 MB of data, and the image at the very end.
  const line = `  k: "${'x'.repeat(1000)}"\n`;
  const chunks = ['apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\ndata:\n'];
  for (let i = 0; i < 50_000; i++) chunks.push(line.replace('k:', `k${i}:`));
  chunks.push('---\n', DEPLOYMENT);
  writeFileSync(big, chunks.join(''));
  const app = tempDir(t, 'gitops-app-');
  writeFileSync(join(app, 'gitops.yaml'), config('../unused'));
  const before = snapshot(dir);
  const result = await runBin(
    ['bump', '--env', 'staging', '--image', IMAGE, '--env-repo-dir', dir, '--no-commit'],
    { cwd: app, env: BOUNDED, timeoutMs: 180_000 },
  );
  assertRefused(result, /envs\/staging\/big\.yaml: .*MB.*larger than/);
  assert.deepEqual(snapshot(dir), before, 'nothing written, not even the small file');
});

test('kustomize: a base outside the env repo is never read, so it cannot steer the edit', async (t) => {
  const root = tempDir(t, 'gitops-kustomize-');
  const outside = join(root, 'outside');
  const dir = join(root, 'env');
  writeFiles(outside, {
    'kustomization.yaml': 'resources:\n  - deployment.yaml\n',
    'deployment.yaml': DEPLOYMENT,
  });
  git(root, ['init', '--quiet', dir]);
  writeFiles(dir, { 'envs/staging/kustomization.yaml': 'resources:\n  - ../../../outside\n' });
  const app = tempDir(t, 'gitops-app-');
  writeFileSync(join(app, 'gitops.yaml'), config('../unused'));
  const before = snapshot(dir);
  const result = await bump(app, ['--env-repo-dir', dir, '--no-commit']);
  // Read, the base would add an `images:` entry to the kustomization; unread, there is nothing to do.
  assertRefused(result, /no reference to web was found in envs\/staging/);
  assert.deepEqual(snapshot(dir), before);
});

// --- symlinks ------------------------------------------------------------------------------

test('env repo: a file symlink pointing outside the repo is refused, the target is not touched', async (t) => {
  const outside = tempDir(t, 'gitops-outside-');
  writeFileSync(join(outside, 'secret.yaml'), DEPLOYMENT);
  const dir = tempDir(t, 'gitops-envdir-');
  git(dir, ['init', '--quiet']);
  writeFiles(dir, { 'envs/staging/deployment.yaml': DEPLOYMENT });
  symlinkSync(join(outside, 'secret.yaml'), join(dir, 'envs/staging/linked.yaml'));
  const app = tempDir(t, 'gitops-app-');
  writeFileSync(join(app, 'gitops.yaml'), config('../unused'));
  const before = snapshot(dir);
  const result = await bump(app, ['--env-repo-dir', dir, '--no-commit']);
  assertRefused(result, /envs\/staging\/linked\.yaml.* symlink .*outside the env repo/);
  assert.deepEqual(snapshot(dir), before);
  assert.equal(readFileSync(join(outside, 'secret.yaml'), 'utf8'), DEPLOYMENT);
});

test('env repo: a directory symlink pointing outside the repo is refused, the target is not touched', async (t) => {
  const outside = tempDir(t, 'gitops-outside-');
  writeFileSync(join(outside, 'deployment.yaml'), DEPLOYMENT);
  const dir = tempDir(t, 'gitops-envdir-');
  git(dir, ['init', '--quiet']);
  writeFiles(dir, { 'envs/staging/deployment.yaml': DEPLOYMENT });
  symlinkSync(outside, join(dir, 'envs/staging/base'));
  const app = tempDir(t, 'gitops-app-');
  writeFileSync(join(app, 'gitops.yaml'), config('../unused'));
  const before = snapshot(dir);
  const result = await bump(app, ['--env-repo-dir', dir, '--no-commit']);
  assertRefused(result, /envs\/staging\/base.* symlink .*outside the env repo/);
  assert.deepEqual(snapshot(dir), before);
  assert.equal(readFileSync(join(outside, 'deployment.yaml'), 'utf8'), DEPLOYMENT);
});

test('env repo: the environment directory itself a symlink leading outside is refused', async (t) => {
  const outside = tempDir(t, 'gitops-outside-');
  writeFileSync(join(outside, 'deployment.yaml'), DEPLOYMENT);
  const dir = tempDir(t, 'gitops-envdir-');
  git(dir, ['init', '--quiet']);
  mkdirSync(join(dir, 'envs'));
  symlinkSync(outside, join(dir, 'envs/staging'));
  const app = tempDir(t, 'gitops-app-');
  writeFileSync(join(app, 'gitops.yaml'), config('../unused'));
  const result = await bump(app, ['--env-repo-dir', dir, '--no-commit']);
  assertRefused(result, /envs\/staging.* outside the env repo/);
  assert.equal(readFileSync(join(outside, 'deployment.yaml'), 'utf8'), DEPLOYMENT);
});

test('env repo: symlinks committed to the remote (file and directory) are refused, the remote does not move', async (t) => {
  const outside = tempDir(t, 'gitops-outside-');
  writeFileSync(join(outside, 'deployment.yaml'), DEPLOYMENT);
  const { remote, app, before } = setup(t);
  symlinkSync(join(outside, 'deployment.yaml'), join(remote.seed, 'envs/staging/linked.yaml'));
  symlinkSync(outside, join(remote.seed, 'envs/staging/base'));
  git(remote.seed, ['add', '-A']);
  git(remote.seed, ['commit', '--quiet', '-m', 'symlinks']);
  git(remote.seed, ['push', '--quiet', 'origin', 'main']);
  const seeded = remote.log();
  assert.equal(seeded.length, before.length + 1);
  const result = await bump(app);
  assertRefused(result, /envs\/staging\/(base|linked\.yaml).* symlink .*outside the env repo/);
  assertRemoteUnchanged(remote, seeded);
  assert.equal(readFileSync(join(outside, 'deployment.yaml'), 'utf8'), DEPLOYMENT);
});

// --- arguments -----------------------------------------------------------------------------

// --source-commit is only written into a commit trailer (never to git's argv), so these are audit
// pollution rather than injection; src/bump/command.ts should pass it through validateRevisionArgument.

const argumentCases: Array<{ name: string; args: string[]; message: RegExp }> = [
  {
    name: '--env with ..',
    args: ['--env', '../production'],
    message: /--env "\.\.\/production" is not an environment name/,
  },
  {
    name: '--env with /',
    args: ['--env', 'staging/../../etc'],
    message: /--env "staging\/\.\.\/\.\.\/etc" is not an environment name/,
  },
  {
    name: '--env like an option',
    args: ['--env', '--upload-pack=touch /tmp/gitops-pwned'],
    message: /--upload-pack/,
  },
  { name: '--env with shell', args: ['--env', 'staging; rm -rf /'], message: /is not an environment name/ },
  {
    name: '--image with ;',
    args: ['--env', 'staging', '--image', 'web=ghcr.io/acme/web:1.1.0;rm -rf /'],
    message: /image reference "ghcr\.io\/acme\/web:1\.1\.0;rm -rf \/" is invalid: it contains ";"/,
  },
  {
    name: '--image with $()',
    args: ['--env', 'staging', '--image', 'web=ghcr.io/acme/web:$(touch /tmp/gitops-pwned)'],
    message: /it contains "\$"/,
  },
  {
    name: '--image with a backtick',
    args: ['--env', 'staging', '--image', 'web=ghcr.io/acme/web:`id`'],
    message: /it contains "`"/,
  },
  {
    name: '--image with a newline',
    args: ['--env', 'staging', '--image', 'web=ghcr.io/acme/web:1.1.0\nrm -rf /'],
    message: /web:1\.1\.0\\nrm -rf \/" is invalid: it contains a line break/,
  },
  {
    name: '--image like an option',
    args: ['--env', 'staging', '--image', '--upload-pack=touch /tmp/gitops-pwned'],
    message: /invalid: it contains whitespace/,
  },
  {
    name: '--env-repo-dir like an option',
    args: ['--env', 'staging', '--image', IMAGE, '--env-repo-dir', '--upload-pack=touch /tmp/gitops-pwned'],
    message: /--env-repo-dir --upload-pack=touch \/tmp\/gitops-pwned does not exist/,
  },
  {
    name: '--env-repo-dir with shell',
    args: ['--env', 'staging', '--image', IMAGE, '--env-repo-dir', 'HEAD~1; rm -rf /'],
    message: /--env-repo-dir HEAD~1; rm -rf \/ does not exist/,
  },
  {
    name: '--source-commit like an option',
    args: ['--env', 'staging', '--image', IMAGE, '--source-commit', '--upload-pack=touch /tmp/gitops-pwned'],
    message: /--source-commit .*starts with "-"/,
  },
  {
    name: '--source-commit with shell',
    args: ['--env', 'staging', '--image', IMAGE, '--source-commit', 'HEAD~1; rm -rf /'],
    message: /--source-commit "HEAD~1; rm -rf \/".*";"/,
  },
];

for (const { name, args, message } of argumentCases) {
  test(`argument: ${name} is refused, nothing written`, async (t) => {
    const { remote, app, before } = setup(t);
    const needsImage = !args.includes('--image');
    const result = await runCli(['bump', ...args, ...(needsImage ? ['--image', IMAGE] : [])], { cwd: app });
    assertRefused(result, message);
    assertRemoteUnchanged(remote, before);
    assert.ok(!existsSync('/tmp/gitops-pwned'), 'no command ran');
  });
}
