import assert from 'node:assert/strict';
import { chmodSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { baseEnv, runBin, runCli, tempDir } from './support/cli.js';
import { createRemote, git, gitTestEnv, writeFiles } from './support/git.js';

const REGISTRY = 'registry.example.com/acme';

function deployment(name: string, tag: string): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
spec:
  template:
    spec:
      containers:
        - name: ${name}
          image: ${REGISTRY}/${name}:${tag} # pinned by gitops
`;
}

/** An env repo with `envs` environments, each running `images` services, and an app dir with gitops.yaml. */
function setup(t: { after(fn: () => void): void }, envs: string[], images: string[]) {
  const files: Record<string, string> = {};
  for (const env of envs)
    for (const image of images) files[`envs/${env}/${image}.yaml`] = deployment(image, '1.0.0');
  const remote = createRemote(t, files);
  const app = tempDir(t, 'gitops-app-');
  const environments = envs.map((env) => `  ${env}:\n    path: envs/${env}\n`).join('');
  const imageList = images
    .map((image) => `  - name: ${image}\n    repository: ${REGISTRY}/${image}\n`)
    .join('');
  writeFileSync(
    join(app, 'gitops.yaml'),
    `version: 1\nimages:\n${imageList}envRepo:\n  url: ${remote.bare}\n  branch: main\nenvironments:\n${environments}`,
  );
  return { remote, app };
}

const env = (extra: Record<string, string> = {}) =>
  baseEnv({ ...gitTestEnv, GIT_CONFIG_GLOBAL: '/dev/null', ...extra });

test('bump clones, edits one token, commits with trailers and pushes; the second run changes nothing', async (t) => {
  const { remote, app } = setup(t, ['staging'], ['web']);
  const before = remote.show('envs/staging/web.yaml');
  const result = await runCli(
    ['--json', 'bump', '--env', 'staging', '--image', `web=${REGISTRY}/web:1.1.0`],
    {
      cwd: app,
      env: env({
        GITHUB_ACTOR: 'octocat',
        GITHUB_SHA: 'f'.repeat(40),
        GITHUB_SERVER_URL: 'https://github.com',
        GITHUB_REPOSITORY: 'acme/app',
        GITHUB_RUN_ID: '42',
      }),
    },
  );
  assert.equal(result.code, 0, result.stderr);
  const document = JSON.parse(result.stdout) as {
    ok: boolean;
    changed: boolean;
    commit: string;
    attempts: number;
    changes: unknown[];
  };
  assert.equal(document.ok, true);
  assert.equal(document.changed, true);
  assert.equal(document.commit, remote.head());
  assert.equal(remote.show('envs/staging/web.yaml'), before.replace(':1.0.0', ':1.1.0').trimEnd());
  const message = git(remote.bare, ['log', '-1', '--format=%B', 'main']);
  assert.match(message, /^bump\(staging\): web 1\.0\.0 → 1\.1\.0$/m);
  const trailers = git(remote.bare, ['log', '-1', '--format=%(trailers:only,unfold)', 'main']);
  assert.match(trailers, /^Gitops-Environment: staging$/m);
  assert.match(trailers, /^Gitops-Action: bump$/m);
  assert.match(trailers, new RegExp(`^Gitops-Image: web=${REGISTRY}/web:1\\.1\\.0$`, 'm'));
  assert.match(trailers, /^Gitops-Source-Commit: f{40}$/m);
  assert.match(trailers, /^Gitops-Build-Url: https:\/\/github\.com\/acme\/app\/actions\/runs\/42$/m);
  assert.match(trailers, /^Gitops-Actor: octocat$/m);

  const again = await runCli(['--json', 'bump', '--env', 'staging', '--image', `web=${REGISTRY}/web:1.1.0`], {
    cwd: app,
    env: env(),
  });
  assert.equal(again.code, 0, again.stderr);
  assert.equal((JSON.parse(again.stdout) as { changed: boolean }).changed, false);
  assert.match(again.stderr, /already up to date/);
  assert.equal(remote.log().length, 2, 'no second commit');
});

test('bump --dry-run shows the diff and changes nothing; --no-push commits in a kept clone', async (t) => {
  const { remote, app } = setup(t, ['staging'], ['web']);
  const dry = await runCli(
    ['--dry-run', 'bump', '--env', 'staging', '--image', `web=${REGISTRY}/web:2.0.0`],
    { cwd: app, env: env() },
  );
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stderr, /^-\s+image: registry\.example\.com\/acme\/web:1\.0\.0 # pinned by gitops$/m);
  assert.match(dry.stderr, /^\+\s+image: registry\.example\.com\/acme\/web:2\.0\.0 # pinned by gitops$/m);
  assert.equal(remote.log().length, 1);

  const local = await runCli(
    ['--json', 'bump', '--no-push', '--env', 'staging', '--image', `web=${REGISTRY}/web:2.0.0`],
    { cwd: app, env: env() },
  );
  assert.equal(local.code, 0, local.stderr);
  const document = JSON.parse(local.stdout) as { commit: string; pushed: boolean; checkoutDir: string };
  assert.equal(document.pushed, false);
  assert.equal(git(document.checkoutDir, ['rev-parse', 'HEAD']), document.commit);
  assert.equal(remote.log().length, 1, 'nothing pushed');
  t.after(() => rmSync(join(document.checkoutDir, '..'), { recursive: true, force: true }));
});

test('20 bump processes at once against one remote: 20 commits, 20 new values, all exit 0', async (t) => {
  const envs = ['staging', 'production', 'qa', 'dev'];
  const images = ['web', 'api', 'worker', 'cron', 'mail'];
  const { remote, app } = setup(t, envs, images);
  const jobs = envs.flatMap((e) =>
    images.map((image) => ({ e, image, tag: `2.${envs.indexOf(e)}.${images.indexOf(image)}` })),
  );
  assert.equal(jobs.length, 20);
  const results = await Promise.all(
    jobs.map((job) =>
      runBin(
        ['--json', 'bump', '--env', job.e, '--image', `${job.image}=${REGISTRY}/${job.image}:${job.tag}`],
        {
          cwd: app,
          env: env(),
          timeoutMs: 180_000,
        },
      ),
    ),
  );
  for (const [index, result] of results.entries())
    assert.equal(result.code, 0, `job ${index}: ${result.stderr}`);
  assert.equal(remote.log().length, 21, 'exactly 20 new commits');
  for (const job of jobs)
    assert.match(
      remote.show(`envs/${job.e}/${job.image}.yaml`),
      new RegExp(`:${job.tag.replace(/\./g, '\\.')} #`),
    );
  assert.ok(
    remote.parents().every((parents) => parents.length === 2 || parents.length === 1),
    'linear history',
  );
  const attempts = results.map((result) => (JSON.parse(result.stdout) as { attempts: number }).attempts);
  t.diagnostic(`push attempts per process: ${attempts.join(' ')}`);
});

test('10 processes bump the same image to 10 tags: clear outcomes, one final value, linear history, no false success', async (t) => {
  const { remote, app } = setup(t, ['staging'], ['web']);
  const tags = Array.from({ length: 10 }, (_, index) => `3.0.${index}`);
  const results = await Promise.all(
    tags.map((tag) =>
      runBin(['--json', 'bump', '--env', 'staging', '--image', `web=${REGISTRY}/web:${tag}`], {
        cwd: app,
        env: env(),
        timeoutMs: 180_000,
      }),
    ),
  );
  const final = remote.show('envs/staging/web.yaml');
  const finalTags = tags.filter((tag) => final.includes(`:${tag} `));
  assert.equal(finalTags.length, 1, 'exactly one of the 10 values');
  const history = git(remote.bare, ['log', '--format=%(trailers:key=Gitops-Image,valueonly)', 'main']);
  for (const [index, result] of results.entries()) {
    const document = JSON.parse(result.stdout) as { ok: boolean; commit?: string; error?: { code: string } };
    if (result.code === 0) {
      assert.ok(document.commit, `process ${index} succeeded with a commit`);
      assert.match(
        history,
        new RegExp(`web:${tags[index]!.replace(/\./g, '\\.')}`),
        `process ${index}'s value reached the remote`,
      );
      assert.equal(git(remote.bare, ['cat-file', '-t', document.commit!]), 'commit');
    } else {
      assert.equal(result.code, 3, result.stderr);
      assert.equal(document.error?.code, 'PUSH_ATTEMPTS_EXHAUSTED');
    }
  }
  assert.ok(
    remote.parents().every((parents) => parents.length <= 2),
    'no merge commits',
  );
});

test('a pre-receive hook that rejects: exit 3 with its message, remote unchanged, temp clone removed', async (t) => {
  const { remote, app } = setup(t, ['staging'], ['web']);
  writeFiles(remote.bare, {
    'hooks/pre-receive': '#!/bin/sh\necho "deploys to staging are frozen (INC-42)" >&2\nexit 1\n',
  });
  chmodSync(join(remote.bare, 'hooks/pre-receive'), 0o755);
  const scratch = tempDir(t, 'gitops-tmp-');
  const result = await runBin(['bump', '--env', 'staging', '--image', `web=${REGISTRY}/web:9.9.9`], {
    cwd: app,
    env: env({ TMPDIR: scratch }),
  });
  assert.equal(result.code, 3, result.stderr);
  assert.match(result.stderr, /deploys to staging are frozen \(INC-42\)/);
  assert.doesNotMatch(result.stderr, /\n\s+at /);
  assert.equal(remote.log().length, 1);
  assert.deepEqual(readdirSync(scratch), [], 'temp clone removed');
});

test('a token in the URL or in the token variable never appears in stdout or stderr, with --verbose, on failure', async (t) => {
  const { app } = setup(t, ['staging'], ['web']);
  const token = 'ghp_ShouldNeverBePrinted9876';
  const config = readFileSync(join(app, 'gitops.yaml'), 'utf8');
  writeFileSync(
    join(app, 'gitops.yaml'),
    config.replace(
      /url: .*/,
      `url: http://bot:${token}@127.0.0.1:9/acme/env.git\n  tokenEnv: ENV_REPO_TOKEN`,
    ),
  );
  const result = await runBin(
    ['--verbose', '--json', 'bump', '--env', 'staging', '--image', `web=${REGISTRY}/web:1.2.3`],
    {
      cwd: app,
      env: env({ ENV_REPO_TOKEN: token }),
    },
  );
  assert.equal(result.code, 3, result.stderr);
  assert.ok(!result.stdout.includes(token) && !result.stderr.includes(token), 'token leaked');
  assert.match(result.stderr, /\$ git clone/);
});
