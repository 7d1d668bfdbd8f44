import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { createContext } from '../src/cli/context.js';
import type { EnvRepoConfig, GitopsConfig } from '../src/config/types.js';
import { deepenToAncestor, fetchBranchHead, isAncestor } from '../src/git/ancestry.js';
import { openEnvRepo } from '../src/git/checkout.js';
import { commitMessage, commitSubject, parseTrailers } from '../src/git/message.js';
import { classifyPushFailure, writeAndPush } from '../src/git/write.js';
import { renderInputs, workingTreeFiles } from '../src/manifests/inputs.js';
import { baseEnv, tempDir } from './support/cli.js';
import { testConfig, testEnvironment } from './support/config.js';
import { commitToRemote, createRemote, git, gitTestEnv, writeFiles } from './support/git.js';

function context(cwd: string, env: Record<string, string | undefined> = {}) {
  const stderr = new PassThrough();
  let text = '';
  stderr.on('data', (chunk) => {
    text += chunk;
  });
  const ctx = createContext(
    { cwd, env: baseEnv({ ...gitTestEnv, ...env }), stdout: new PassThrough(), stderr, isTTY: false },
    { verbose: true },
  );
  return { ctx, stderr: () => text };
}

function configFor(url: string, dir: string, envRepo: Partial<EnvRepoConfig> = {}): GitopsConfig {
  const config = testConfig(dir, url);
  return { ...config, envRepo: { ...config.envRepo, ...envRepo } };
}

const environment = (path: string) => testEnvironment(path);

let editCounter = 0;

/** An edit that sets the content of one file (relative to the checkout root) in whatever checkout it runs in. */
function setFile(dir: () => string, path: string, content: string) {
  return async () => {
    const file = join(dir(), path);
    const before = existsSync(file) ? readFileSync(file, 'utf8') : undefined;
    if (before === content) return { changed: false, files: [], message: '' };
    writeFileSync(file, content);
    // Distinct messages: two identical commits (same tree, parent, message, second) share a sha.
    editCounter += 1;
    return { changed: true, files: [path], message: `set ${path} (edit ${editCounter})\n` };
  };
}

test('the clone is shallow, single-branch and sparse: only the environment and its kustomize bases', async (t) => {
  const remote = createRemote(t, {
    'envs/staging/kustomization.yaml': 'resources:\n  - ../../base\n  - extra.yaml\n',
    'envs/staging/extra.yaml': 'kind: ConfigMap\n',
    'envs/production/kustomization.yaml': 'resources: [../../base]\n',
    'base/kustomization.yaml': 'resources: [deploy.yaml, ../components/shared]\n',
    'base/deploy.yaml': 'kind: Deployment\n',
    'components/shared/kustomization.yaml': 'resources: []\n',
    'unrelated/big.yaml': 'x: 1\n',
  });
  git(remote.seed, ['commit', '--quiet', '--allow-empty', '-m', 'second']);
  git(remote.seed, ['push', '--quiet', 'origin', 'main']);
  const dir = tempDir(t);
  const { ctx } = context(dir);
  t.after(() => ctx.cleanup.run());
  const checkout = await openEnvRepo(ctx, configFor(remote.bare, dir), environment('envs/staging'));
  assert.equal(checkout.temporary, true);
  assert.ok(existsSync(join(checkout.dir, 'envs/staging/extra.yaml')));
  assert.ok(
    existsSync(join(checkout.dir, 'base/deploy.yaml')),
    'kustomize base outside the env is checked out',
  );
  assert.ok(existsSync(join(checkout.dir, 'components/shared/kustomization.yaml')), 'transitively');
  assert.ok(!existsSync(join(checkout.dir, 'envs/production')), 'other environments are not');
  assert.ok(!existsSync(join(checkout.dir, 'unrelated')), 'unrelated paths are not');
  assert.equal(git(checkout.dir, ['rev-list', '--count', 'HEAD']), '1', 'depth 1');
  assert.equal(git(checkout.dir, ['rev-parse', '--is-shallow-repository']), 'true');
  assert.equal(
    git(checkout.dir, ['config', 'maintenance.auto']),
    'false',
    'no housekeeping after each fetch and commit in a clone removed at exit',
  );
  const scratch = join(checkout.dir, '..');
  await ctx.cleanup.run();
  assert.ok(!existsSync(scratch), 'the temp clone is removed by the clean-up');
});

test('the branch head: asked of the remote when it may still be the commit this run has, fetched when it moved', async (t) => {
  const remote = createRemote(t, { 'envs/staging/web.yaml': 'kind: Deployment\n' });
  const dir = tempDir(t);
  const { ctx, stderr } = context(dir);
  t.after(() => ctx.cleanup.run());
  const checkout = await openEnvRepo(ctx, configFor(remote.bare, dir), environment('envs/staging'));
  const cloned = remote.head();
  const fetches = () => stderr().match(/\$ git fetch /g)?.length ?? 0;
  assert.equal(await fetchBranchHead(checkout, { have: cloned }), cloned);
  assert.equal(fetches(), 0, 'the remote is where the clone is: nothing to fetch');

  const pushed = commitToRemote(remote, { 'envs/staging/web.yaml': 'kind: Deployment # 2\n' }, 'moved');
  assert.equal(await fetchBranchHead(checkout, { have: cloned }), pushed);
  assert.equal(fetches(), 1);
  assert.equal(git(checkout.dir, ['cat-file', '-t', pushed]), 'commit', 'the new head is in the clone');
  assert.equal(await fetchBranchHead(checkout), pushed, 'without a commit to compare with: fetched');
  assert.equal(fetches(), 2);
});

test('an older revision: the shallow clone is deepened before it is asked about, then knows its history', async (t) => {
  const remote = createRemote(t, { 'envs/staging/web.yaml': 'kind: Deployment\n' });
  const deployed = remote.head();
  commitToRemote(remote, { 'envs/production/web.yaml': 'kind: Deployment\n' }, 'production');
  const head = commitToRemote(remote, { 'envs/production/web.yaml': 'kind: Deployment # 2\n' }, 'again');
  const dir = tempDir(t);
  const { ctx, stderr } = context(dir);
  t.after(() => ctx.cleanup.run());
  const checkout = await openEnvRepo(ctx, configFor(remote.bare, dir), environment('envs/staging'));
  const count = (pattern: RegExp) => stderr().match(pattern)?.length ?? 0;
  assert.equal(await deepenToAncestor(checkout, deployed, head, 50), true);
  assert.equal(count(/\$ git merge-base /g), 1, 'asked once, after the history came');
  assert.equal(count(/\$ git fetch --quiet --depth=50 /g), 1);
  assert.equal(await isAncestor(checkout, deployed, head), true, 'and the answer is local now');
  assert.equal(count(/\$ git fetch /g), 1);
  const other = commitToRemote(remote, { 'envs/staging/web.yaml': 'kind: Deployment # 3\n' }, 'not fetched');
  assert.equal(
    await deepenToAncestor(checkout, other, head, 50),
    false,
    'a commit after the head is not before it',
  );
  assert.equal(count(/\$ git fetch --quiet --unshallow /g), 0, 'and the whole history is not fetched for it');
});

test('the push check of a fresh clone: a job that may not push is refused; a missing environment is said first', async (t) => {
  const remote = createRemote(t, { 'envs/staging/web.yaml': 'kind: Deployment\n' });
  const dir = tempDir(t);
  // Pushes go somewhere that is not a repository; clones still come from the remote.
  const { ctx, stderr } = context(dir, {
    GIT_CONFIG_COUNT: '1',
    GIT_CONFIG_KEY_0: 'remote.origin.pushurl',
    GIT_CONFIG_VALUE_0: `file://${dir}/no-such-remote.git`,
  });
  t.after(() => ctx.cleanup.run());
  const config = configFor(remote.bare, dir);
  await assert.rejects(
    openEnvRepo(ctx, config, environment('envs/staging'), { checkPush: true }),
    (error: Error & { code?: string }) => error.code === 'PUSH_NETWORK',
  );
  assert.match(stderr(), /\$ git push --dry-run /);
  await assert.rejects(
    openEnvRepo(ctx, config, environment('envs/missing'), { checkPush: true }),
    (error: Error & { code?: string }) => error.code === 'ENV_PATH_MISSING',
  );
  const opened = await openEnvRepo(ctx, config, environment('envs/staging'));
  assert.equal(opened.temporary, true, 'without the check it opens');
});

test('render inputs: remote bases are reported with their line, paths leaving the repo are ignored, patches count', async (t) => {
  const root = tempDir(t);
  writeFiles(root, {
    'envs/a/kustomization.yaml':
      'resources:\n  - https://github.com/x/y//base?ref=v1\n  - ../../../outside\n  - ../../shared/cm.yaml\npatches:\n  - path: ../../patches/replicas.yaml\n',
    'shared/cm.yaml': 'kind: ConfigMap\n',
    'patches/replicas.yaml': 'kind: Deployment\n',
  });
  const inputs = await renderInputs(workingTreeFiles(root), { envPath: 'envs/a', helmValues: [] });
  assert.equal(inputs.layout, 'kustomize');
  assert.deepEqual(inputs.paths, ['envs/a', 'patches/replicas.yaml', 'shared/cm.yaml']);
  assert.deepEqual(inputs.remote, [
    { url: 'https://github.com/x/y//base?ref=v1', file: 'envs/a/kustomization.yaml', line: 2 },
  ]);
});

test('a missing branch or environment path is a usage error naming it', async (t) => {
  const remote = createRemote(t, { 'envs/staging/a.yaml': 'a: 1\n' });
  const dir = tempDir(t);
  const { ctx } = context(dir);
  t.after(() => ctx.cleanup.run());
  await assert.rejects(
    openEnvRepo(ctx, configFor(remote.bare, dir, { branch: 'nope' }), environment('envs/staging')),
    (error: Error & { exitCode: number }) => {
      assert.equal(error.exitCode, 2);
      assert.match(error.message, /branch "nope" does not exist/);
      return true;
    },
  );
  await assert.rejects(
    openEnvRepo(ctx, configFor(remote.bare, dir), environment('envs/qa')),
    /envs\/qa does not exist in the env repo/,
  );
});

test('when the remote moved, the edit is re-applied on the new head and pushed; history stays linear', async (t) => {
  const remote = createRemote(t, { 'envs/staging/a.txt': 'a0\n', 'envs/staging/b.txt': 'b0\n' });
  const dir = tempDir(t);
  const first = context(dir);
  const second = context(dir);
  t.after(() => first.ctx.cleanup.run());
  t.after(() => second.ctx.cleanup.run());
  const config = configFor(remote.bare, dir);
  const one = await openEnvRepo(first.ctx, config, environment('envs/staging'));
  const two = await openEnvRepo(second.ctx, config, environment('envs/staging'));

  const pushedOne = await writeAndPush(first.ctx, one, config.envRepo, {
    push: true,
    edit: setFile(() => one.dir, 'envs/staging/a.txt', 'a1\n'),
  });
  assert.equal(pushedOne.attempts, 1);
  const attempts: number[] = [];
  const edit = setFile(() => two.dir, 'envs/staging/b.txt', 'b1\n');
  const pushedTwo = await writeAndPush(second.ctx, two, config.envRepo, {
    push: true,
    edit: async (attempt) => {
      attempts.push(attempt);
      return edit();
    },
  });
  assert.deepEqual(attempts, [1, 2], 'rejected once, re-applied on the new head');
  assert.equal(pushedTwo.attempts, 2);
  assert.equal(remote.show('envs/staging/a.txt'), 'a1');
  assert.equal(remote.show('envs/staging/b.txt'), 'b1');
  assert.equal(remote.head(), pushedTwo.commit);
  assert.ok(
    remote.parents().every((parents) => parents.length <= 2),
    'no merge commits',
  );
  assert.equal(remote.log().length, 3);
  assert.match(second.stderr(), /moved on the remote \(attempt 1\)/);
});

test('when the new head already holds the change, nothing is committed and that is reported', async (t) => {
  const remote = createRemote(t, { 'envs/staging/a.txt': 'a0\n' });
  const dir = tempDir(t);
  const first = context(dir);
  const second = context(dir);
  t.after(() => first.ctx.cleanup.run());
  t.after(() => second.ctx.cleanup.run());
  const config = configFor(remote.bare, dir);
  const one = await openEnvRepo(first.ctx, config, environment('envs/staging'));
  const two = await openEnvRepo(second.ctx, config, environment('envs/staging'));
  await writeAndPush(first.ctx, one, config.envRepo, {
    push: true,
    edit: setFile(() => one.dir, 'envs/staging/a.txt', 'same\n'),
  });
  const result = await writeAndPush(second.ctx, two, config.envRepo, {
    push: true,
    edit: setFile(() => two.dir, 'envs/staging/a.txt', 'same\n'),
  });
  assert.deepEqual(
    { already: result.alreadyOnRemote, commit: result.commit, attempts: result.attempts },
    { already: true, commit: undefined, attempts: 2 },
    second.stderr(),
  );
  assert.equal(remote.log().length, 2);
});

test('a pre-receive hook rejection is not retried and carries the hook message', async (t) => {
  const remote = createRemote(t, { 'envs/staging/a.txt': 'a0\n' });
  writeFiles(remote.bare, {
    'hooks/pre-receive': '#!/bin/sh\necho "env repo is frozen until Monday" >&2\nexit 1\n',
  });
  git(remote.bare, ['update-index', '--help'].slice(0, 0).concat(['config', 'core.hooksPath', 'hooks']));
  const { chmodSync } = await import('node:fs');
  chmodSync(join(remote.bare, 'hooks/pre-receive'), 0o755);
  const dir = tempDir(t);
  const { ctx } = context(dir);
  t.after(() => ctx.cleanup.run());
  const config = configFor(remote.bare, dir);
  const checkout = await openEnvRepo(ctx, config, environment('envs/staging'));
  let edits = 0;
  await assert.rejects(
    writeAndPush(ctx, checkout, config.envRepo, {
      push: true,
      edit: async (attempt) => {
        edits = attempt;
        return setFile(() => checkout.dir, 'envs/staging/a.txt', 'a1\n')();
      },
    }),
    (error: Error & { exitCode: number; code: string }) => {
      assert.equal(error.exitCode, 3);
      assert.equal(error.code, 'PUSH_REJECTED_BY_HOOK');
      assert.match(error.message, /env repo is frozen until Monday/);
      return true;
    },
  );
  assert.equal(edits, 1);
  assert.equal(remote.log().length, 1, 'the remote is unchanged');
});

test('push failures are classified so that only a moved remote is retried', () => {
  assert.equal(
    classifyPushFailure(' ! [rejected]        HEAD -> main (fetch first)\nerror: failed to push some refs'),
    'moved',
  );
  assert.equal(
    classifyPushFailure(
      " ! [remote rejected] HEAD -> main (cannot lock ref 'refs/heads/main': is at 1 but expected 2)",
    ),
    'moved',
  );
  assert.equal(classifyPushFailure(' ! [remote rejected] HEAD -> main (pre-receive hook declined)'), 'hook');
  assert.equal(
    classifyPushFailure('remote: error: GH006: Protected branch update failed for refs/heads/main.'),
    'protected',
  );
  assert.equal(
    classifyPushFailure("fatal: Authentication failed for 'https://github.com/acme/env.git/'"),
    'auth',
  );
  assert.equal(
    classifyPushFailure("fatal: could not read Username for 'https://x': terminal prompts disabled"),
    'auth',
  );
  assert.equal(
    classifyPushFailure("fatal: unable to access 'https://h/': Could not resolve host: h"),
    'network',
  );
});

test('commit messages: subject under 72 chars, a body per change, trailers git interpret-trailers reads', async (t) => {
  const changes = [
    {
      image: 'web',
      old: 'ghcr.io/acme/web:1.2.3',
      new: 'ghcr.io/acme/web:1.2.4@sha256:' + 'a'.repeat(64),
      file: 'envs/staging/web.yaml',
      line: 12,
    },
  ];
  assert.equal(
    commitSubject({ environment: 'staging', action: 'bump', changes }),
    'bump(staging): web 1.2.3 → 1.2.4',
  );
  const many = ['web', 'api', 'worker', 'scheduler', 'frontend-with-a-long-name'].map((image, index) => ({
    image,
    old: `r/${image}:1.0.${index}`,
    new: `r/${image}:1.1.${index}`,
    file: 'k.yaml',
    line: index + 1,
  }));
  const subject = commitSubject({ environment: 'production', action: 'deploy', changes: many });
  assert.ok(subject.length <= 72, subject);
  assert.match(subject, /^deploy\(production\): 5 images: web 1\.1\.0, api 1\.1\.1/);

  const message = commitMessage({
    environment: 'staging',
    action: 'bump',
    changes,
    images: { web: changes[0]!.new },
    provenance: {
      sourceCommit: 'abc123',
      sourceRepo: 'https://github.com/acme/app',
      buildUrl: 'https://ci/1',
      actor: 'octocat\nGitops-Action: forged',
    },
  });
  const dir = tempDir(t);
  const parsed = parseTrailers(git(dir, ['interpret-trailers', '--parse'], message));
  assert.deepEqual(parsed, [
    ['Gitops-Environment', 'staging'],
    ['Gitops-Action', 'bump'],
    ['Gitops-Image', `web=${changes[0]!.new}`],
    ['Gitops-Source-Commit', 'abc123'],
    ['Gitops-Source-Repo', 'https://github.com/acme/app'],
    ['Gitops-Build-Url', 'https://ci/1'],
    ['Gitops-Actor', 'octocat Gitops-Action: forged'],
  ]);
  assert.match(message, /^- web: ghcr\.io\/acme\/web:1\.2\.3 → .* \(envs\/staging\/web\.yaml:12\)$/m);
});

test('an HTTPS token is handed over by askpass, reaches the server, and never appears in any output', async (t) => {
  const token = 'ghp_TopSecretToken1234567890';
  const seen: string[] = [];
  const server = createServer((request, response) => {
    const auth = request.headers.authorization;
    if (!auth) {
      response.writeHead(401, { 'WWW-Authenticate': 'Basic realm="git"' });
      response.end();
      return;
    }
    seen.push(Buffer.from(auth.replace(/^Basic /, ''), 'base64').toString());
    response.writeHead(403);
    response.end('forbidden');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const port = (server.address() as { port: number }).port;
  const dir = tempDir(t);
  const { ctx, stderr } = context(dir, { GITOPS_ENV_TOKEN: token });
  t.after(() => ctx.cleanup.run());
  const config = configFor(`http://127.0.0.1:${port}/acme/env.git`, dir, { tokenEnv: 'GITOPS_ENV_TOKEN' });
  await assert.rejects(
    openEnvRepo(ctx, config, environment('envs/staging')),
    (error: Error & { exitCode: number }) => {
      assert.equal(error.exitCode, 3);
      assert.ok(!error.message.includes(token));
      return true;
    },
  );
  assert.deepEqual(seen, [`x-access-token:${token}`], 'git sent the token from askpass');
  assert.ok(!stderr().includes(token), 'verbose output does not contain the token');
  assert.match(stderr(), /\$ git clone/);

  // A token written into the URL itself is masked too.
  const inUrl = context(dir);
  t.after(() => inUrl.ctx.cleanup.run());
  await assert.rejects(
    openEnvRepo(
      inUrl.ctx,
      configFor(`http://bot:${token}@127.0.0.1:${port}/acme/env.git`, dir),
      environment('envs/staging'),
    ),
    (error: Error) => {
      assert.ok(!error.message.includes(token));
      return true;
    },
  );
  assert.ok(!inUrl.stderr().includes(token));
  assert.match(inUrl.stderr(), /http:\/\/\*\*\*@127\.0\.0\.1/);
});

test('a commit signed with an SSH key passes git verify-commit with an allowed-signers file', async (t) => {
  const { execFileSync } = await import('node:child_process');
  const remote = createRemote(t, { 'envs/staging/a.txt': 'a0\n' });
  const dir = tempDir(t);
  const key = join(dir, 'signing_key');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'gitops-bot', '-f', key]);
  const publicKey = readFileSync(`${key}.pub`, 'utf8').trim();
  const allowedSigners = join(dir, 'allowed_signers');
  writeFileSync(allowedSigners, `author@example.com ${publicKey}\n`);
  const globalConfig = join(dir, 'gitconfig');
  writeFileSync(
    globalConfig,
    `[gpg]\n\tformat = ssh\n[user]\n\tsigningkey = ${key}\n[commit]\n\tgpgsign = true\n`,
  );
  const { ctx } = context(dir, { GIT_CONFIG_GLOBAL: globalConfig });
  t.after(() => ctx.cleanup.run());
  const config = configFor(remote.bare, dir);
  const checkout = await openEnvRepo(ctx, config, environment('envs/staging'));
  const result = await writeAndPush(ctx, checkout, config.envRepo, {
    push: true,
    edit: setFile(() => checkout.dir, 'envs/staging/a.txt', 'signed\n'),
  });
  const verify = execFileSync(
    'git',
    ['-c', `gpg.ssh.allowedSignersFile=${allowedSigners}`, 'verify-commit', result.commit!],
    {
      cwd: remote.bare,
      env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  assert.equal(typeof verify, 'string', 'verify-commit exits 0');
});
