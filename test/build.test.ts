import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { baseEnv, runBin, runCli, tempDir } from './support/cli.js';
import {
  createAppRepo,
  gitOut,
  registryImage,
  requireContainerEngine,
  startContainerLab,
  which,
} from './support/containers.js';

interface JsonImage {
  name: string;
  repository: string;
  tag: string;
  tags: string[];
  digest?: string;
  reference: string;
  status: string;
  dirty: boolean;
  durationMs: number;
}

function images(stdout: string): JsonImage[] {
  return (JSON.parse(stdout) as { images: JsonImage[] }).images;
}

test('build pushes a reproducible image, pins the registry digest and reuses it', async (t) => {
  if (!requireContainerEngine(t)) return;
  const lab = await startContainerLab(t);
  const app = createAppRepo(tempDir(t.after), lab.registry, [
    { name: 'web', repository: 'demo/web', tags: ['{branch}'] },
  ]);
  const env = baseEnv(lab.env);
  const sha = gitOut(app, ['rev-parse', 'HEAD']);
  const short = gitOut(app, ['rev-parse', '--short', 'HEAD']);

  const first = await runCli(['build', '--json'], { cwd: app, env });
  assert.equal(first.code, 0, first.stderr);
  const [built] = images(first.stdout);
  assert.ok(built);
  assert.equal(built.status, 'built');
  assert.equal(built.tag, short);
  assert.deepEqual(built.tags, [short, 'main']);
  assert.match(built.digest ?? '', /^sha256:[a-f0-9]{64}$/);
  assert.equal(built.reference, `${lab.registry}/demo/web:${short}@${built.digest}`);
  assert.match(first.stderr, /\[web\] building with podman/);

  // The registry is the authority: its Docker-Content-Digest for the tag is what gitops reported.
  const remote = await registryImage(lab.registry, 'demo/web', short);
  assert.equal(remote?.digest, built.digest);
  assert.equal(remote?.labels['org.opencontainers.image.revision'], sha);
  assert.equal(remote?.labels['org.opencontainers.image.source'], 'https://github.com/acme/demo-app');
  assert.equal(remote?.labels['org.opencontainers.image.created'], '2024-01-02T03:04:05Z');
  assert.equal((await registryImage(lab.registry, 'demo/web', 'main'))?.digest, built.digest);
  assert.equal(await registryImage(lab.registry, 'demo/web', 'latest'), undefined);

  // Second run: the registry has this commit's image, so nothing is built.
  const second = await runCli(['build', '--json'], { cwd: app, env });
  assert.equal(second.code, 0, second.stderr);
  const [reused] = images(second.stdout);
  assert.equal(reused?.status, 'reused');
  assert.equal(reused?.digest, built.digest);
  assert.equal(reused?.reference, built.reference);
  assert.doesNotMatch(second.stderr, /building with/);

  // --rebuild from empty storage, with every file's mtime changed: the same digest again.
  lab.resetStorage();
  const later = new Date('2030-01-01T00:00:00Z');
  for (const file of ['busybox', 'Containerfile', 'www/index.html'])
    utimesSync(join(app, file), later, later);
  const third = await runCli(['build', '--rebuild', '--json'], { cwd: app, env });
  assert.equal(third.code, 0, third.stderr);
  const [rebuilt] = images(third.stdout);
  assert.equal(rebuilt?.status, 'built');
  assert.equal(rebuilt?.digest, built.digest);
});

test('a Containerfile with an error fails with exit 3 and the tail of the engine output', async (t) => {
  if (!requireContainerEngine(t)) return;
  const lab = await startContainerLab(t);
  const dir = tempDir(t.after);
  const app = createAppRepo(dir, lab.registry, [
    { name: 'web', repository: 'demo/broken', dockerfile: 'Broken.Containerfile' },
  ]);
  writeFileSync(join(app, 'Broken.Containerfile'), 'FROM scratch\nCOPY no-such-file.txt /x\n');
  gitOut(app, ['add', '-A']);
  gitOut(app, ['-c', 'user.name=T', '-c', 'user.email=t@example.com', 'commit', '-q', '-m', 'broken']);

  const result = await runCli(['build'], { cwd: app, env: baseEnv(lab.env) });
  assert.equal(result.code, 3, result.stderr);
  assert.match(result.stderr, /error: image web: podman exited with code \d+/);
  assert.match(result.stderr, /no-such-file\.txt/);
  assert.equal(
    await registryImage(lab.registry, 'demo/broken', gitOut(app, ['rev-parse', '--short', 'HEAD'])),
    undefined,
  );
});

test('several images build concurrently with prefixed lines; a dirty tree is never reused', async (t) => {
  if (!requireContainerEngine(t)) return;
  const lab = await startContainerLab(t);
  const app = createAppRepo(tempDir(t.after), lab.registry, [
    { name: 'web', repository: 'demo/web', tags: ['{branch}'] },
    { name: 'api', repository: 'demo/api', tags: ['v-{sha}', '{tag}'] },
  ]);
  const env = baseEnv(lab.env);
  const short = gitOut(app, ['rev-parse', '--short', 'HEAD']);

  // --dry-run asks the registry but builds and pushes nothing.
  const dry = await runCli(['build', '--dry-run', '--json'], { cwd: app, env });
  assert.equal(dry.code, 0, dry.stderr);
  assert.deepEqual(
    images(dry.stdout).map((image) => [image.name, image.status, image.reference]),
    [
      ['web', 'dry-run', `${lab.registry}/demo/web:${short}`],
      ['api', 'dry-run', `${lab.registry}/demo/api:${short}`],
    ],
  );
  assert.equal(await registryImage(lab.registry, 'demo/web', short), undefined);

  const first = await runCli(['build', '--json'], { cwd: app, env });
  assert.equal(first.code, 0, first.stderr);
  const byName = new Map(images(first.stdout).map((image) => [image.name, image]));
  assert.deepEqual(byName.get('api')?.tags, [short, `v-${short}`]);
  assert.match(first.stderr, /tag "\{tag\}" left out/);
  assert.match(first.stderr, /\[web\] built /);
  assert.match(first.stderr, /\[api\] built /);
  // Same Containerfile, context and labels, built at the same time: the same digest, whatever
  // the other build left in the layer cache.
  assert.equal(byName.get('api')?.digest, byName.get('web')?.digest);

  writeFileSync(join(app, 'www', 'index.html'), '<p>changed, not committed</p>\n');
  const dirty = await runCli(['build', '--json', 'web'], { cwd: app, env });
  assert.equal(dirty.code, 0, dirty.stderr);
  const [image] = images(dirty.stdout);
  assert.equal(image?.status, 'built');
  assert.equal(image?.dirty, true);
  assert.deepEqual(image?.tags, [`${short}-dirty`]);
  assert.match(dirty.stderr, /uncommitted changes/);
  // The clean tag still names the committed build.
  assert.equal((await registryImage(lab.registry, 'demo/web', short))?.digest, byName.get('web')?.digest);

  // --no-push: a local build only, so no digest to pin and no registry check.
  const local = await runCli(['build', '--no-push', '--json', 'api'], { cwd: app, env });
  assert.equal(local.code, 0, local.stderr);
  const [api] = images(local.stdout);
  assert.equal(api?.status, 'built');
  assert.equal(api?.digest, undefined);
  assert.equal(api?.reference, `${lab.registry}/demo/api:${short}-dirty`);
  assert.doesNotMatch(local.stderr, /pushing/);
});

test('an extra tag whose local name another build dropped is still pushed (pushes go by image ID)', async (t) => {
  if (!requireContainerEngine(t)) return;
  const podman = which('podman');
  assert.ok(podman, 'podman is needed on PATH');
  const lab = await startContainerLab(t);
  const app = createAppRepo(tempDir(t.after), lab.registry, [
    { name: 'web', repository: 'demo/web', tags: ['{branch}'] },
  ]);
  // podman 4.x keeps every image's names in one file; two builds of the same image at once can
  // leave one build's names rewritten by the other. This wrapper does that on purpose: after a
  // successful build it removes the last --tag, the way the other build would have.
  const bin = tempDir(t.after);
  writeFileSync(
    join(bin, 'podman'),
    `#!/bin/sh
if [ "$1" = build ]; then
  last=""; prev=""
  for arg in "$@"; do [ "$prev" = --tag ] && last="$arg"; prev="$arg"; done
  ${podman} "$@" || exit $?
  exec ${podman} untag "$last" "$last"
fi
exec ${podman} "$@"
`,
    { mode: 0o755 },
  );
  const env = baseEnv({ ...lab.env, PATH: `${bin}:${process.env.PATH}` });
  const short = gitOut(app, ['rev-parse', '--short', 'HEAD']);

  const result = await runCli(['build', '--json'], { cwd: app, env });
  assert.equal(result.code, 0, result.stderr);
  const [image] = images(result.stdout);
  assert.deepEqual(image?.tags, [short, 'main']);
  assert.throws(
    () => lab.podman(['image', 'exists', `${lab.registry}/demo/web:main`]),
    'the wrapper dropped the name',
  );
  assert.equal((await registryImage(lab.registry, 'demo/web', 'main'))?.digest, image?.digest);
  assert.equal((await registryImage(lab.registry, 'demo/web', short))?.digest, image?.digest);
});

test('no container engine on PATH: exit 2 naming the engines looked for and how to get one', async (t) => {
  const bin = join(tempDir(t.after), 'bin');
  mkdirSync(bin);
  const git = which('git');
  assert.ok(git, 'git is needed on PATH');
  symlinkSync(git, join(bin, 'git'));
  const app = tempDir(t.after);
  writeFileSync(
    join(app, 'gitops.yaml'),
    'images:\n  - name: web\n    repository: 127.0.0.1:5000/demo/web\nenvRepo:\n  sameRepo: true\nenvironments:\n  staging:\n    path: envs/staging\n',
  );
  const result = await runCli(['build', '--json'], { cwd: app, env: baseEnv({ PATH: bin }) });
  assert.equal(result.code, 2, result.stderr);
  assert.match(result.stderr, /looked for docker, podman, buildah/);
  assert.match(result.stderr, /hint: install one: podman/);
  const doc = JSON.parse(result.stdout) as {
    ok: boolean;
    error: { code: string; details: { looked: string[] } };
  };
  assert.equal(doc.error.code, 'ENGINE_NOT_FOUND');
  assert.deepEqual(doc.error.details.looked, ['docker', 'podman', 'buildah']);
});

test('unknown image names and malformed --build-arg are usage errors', async (t) => {
  const app = tempDir(t.after);
  writeFileSync(
    join(app, 'gitops.yaml'),
    'images:\n  - name: web\n    repository: 127.0.0.1:5000/demo/web\nenvRepo:\n  sameRepo: true\nenvironments:\n  staging:\n    path: envs/staging\n',
  );
  const unknown = await runCli(['build', 'wbe'], { cwd: app, env: baseEnv() });
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /no image named "wbe"/);
  assert.match(unknown.stderr, /did you mean "web"/);
  const badArg = await runCli(['build', '--build-arg', 'NOVALUE'], { cwd: app, env: baseEnv() });
  assert.equal(badArg.code, 2);
  assert.match(badArg.stderr, /expected NAME=VALUE/);
});

test('registry password from stdin and secret build args never show, even with --verbose', async (t) => {
  if (!requireContainerEngine(t)) return;
  const lab = await startContainerLab(t);
  const app = createAppRepo(tempDir(t.after), lab.registry, [
    { name: 'web', repository: 'demo/secret', dockerfile: 'Secret.Containerfile' },
  ]);
  // The label only proves the value reached the engine; a real Containerfile would use a secret mount.
  writeFileSync(
    join(app, 'Secret.Containerfile'),
    'FROM scratch\nARG API_TOKEN\nCOPY www/ /www/\nLABEL proof=${API_TOKEN}\n',
  );
  gitOut(app, ['add', '-A']);
  gitOut(app, ['-c', 'user.name=T', '-c', 'user.email=t@example.com', 'commit', '-q', '-m', 'secret']);
  const password = 'pw-Zq81sJx0vX';
  const token = 'tok-Hh72kLmP0q';
  // Black box: the built bin, real argv and a real stdin.
  const result = await runBin(
    [
      'build',
      '--verbose',
      '--json',
      '--registry-username',
      'tester',
      '--registry-password-stdin',
      '--build-arg',
      `API_TOKEN=${token}`,
    ],
    { cwd: app, env: baseEnv(lab.env), input: `${password}\n` },
  );
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stderr, /\$ podman login --username tester --password-stdin/);
  assert.match(result.stderr, /--build-arg API_TOKEN /);
  for (const secret of [password, token]) {
    assert.ok(!result.stderr.includes(secret), `stderr shows ${secret}`);
    assert.ok(!result.stdout.includes(secret), `stdout shows ${secret}`);
  }
  const [image] = images(result.stdout);
  const remote = await registryImage(lab.registry, 'demo/secret', image?.tag ?? '');
  assert.equal(remote?.labels.proof, token);
  assert.equal(remote?.digest, image?.digest);
});
