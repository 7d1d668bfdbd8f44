// The git layer (on the exec wrapper): argument arrays, credentials masked in the echo and in
// errors, --dry-run skipping every call not declared a read, timeouts, commit messages on stdin,
// and what it asks once: HEAD of gitops' own clone, the files of a commit.
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { createContext } from '../src/cli/context.js';
import { ExecError } from '../src/core/exec.js';
import { Git } from '../src/git/runner.js';
import { filesAt } from '../src/git/tree.js';
import { baseEnv, tempDir } from './support/cli.js';
import { git, gitTestEnv, writeFiles } from './support/git.js';
import { slowGitDir } from './support/process.js';

function context(
  cwd: string,
  options: { dryRun?: boolean; env?: Record<string, string> } = {},
): { ctx: ReturnType<typeof createContext>; stderr: () => string } {
  const stderr = new PassThrough();
  let text = '';
  stderr.on('data', (chunk) => {
    text += chunk;
  });
  const ctx = createContext(
    {
      cwd,
      env: baseEnv({ ...gitTestEnv, GIT_CONFIG_GLOBAL: '/dev/null', ...options.env }),
      stdout: new PassThrough(),
      stderr,
      isTTY: false,
    },
    { verbose: true, ...(options.dryRun ? { dryRun: true } : {}) },
  );
  return { ctx, stderr: () => text };
}

function repository(t: Parameters<typeof tempDir>[0]): string {
  const dir = tempDir(t, 'gitops-runner-');
  git(dir, ['init', '--quiet', '-b', 'main']);
  git(dir, ['commit', '--quiet', '--allow-empty', '-m', 'first']);
  return dir;
}

test('git: reads return stdout, a commit message goes in on stdin, failures keep exit code and stderr', async (t) => {
  const dir = repository(t);
  const { ctx } = context(dir);
  const repo = new Git(ctx, dir);
  assert.match(await repo.output(['rev-parse', 'HEAD']), /^[0-9a-f]{40}$/);
  await repo.run(['commit', '--quiet', '--allow-empty', '-F', '-'], {
    input: 'second\n\nbody; $(id) `id`\n',
  });
  assert.equal(git(dir, ['log', '-1', '--format=%B']), 'second\n\nbody; $(id) `id`');
  const missing = await repo.read(['cat-file', '-e', 'HEAD:nothing'], { allowFailure: true });
  assert.notEqual(missing.exitCode, 0);
  assert.equal(await repo.tryOutput(['config', 'no.such-key']), undefined);
  await assert.rejects(repo.read(['rev-parse', '--verify', 'no-such-ref']), (error: unknown) => {
    assert.ok(error instanceof ExecError);
    assert.equal(error.code, 'EXEC_FAILED');
    assert.equal(error.commandExitCode, 128);
    assert.match(error.stderrTail, /Needed a single revision/);
    return true;
  });
});

test('git: --dry-run skips every call not declared a read, and says so under --verbose', async (t) => {
  const dir = repository(t);
  const head = git(dir, ['rev-parse', 'HEAD']);
  const { ctx, stderr } = context(dir, { dryRun: true });
  const repo = new Git(ctx, dir);
  const skipped = await repo.run(['commit', '--quiet', '--allow-empty', '-m', 'not made']);
  assert.equal(skipped.skipped, true);
  assert.equal(git(dir, ['rev-parse', 'HEAD']), head, 'nothing was committed');
  assert.equal(await repo.output(['rev-parse', 'HEAD']), head, 'reads still run');
  assert.match(stderr(), /\$ git commit --quiet --allow-empty -m 'not made' {2}# skipped \(--dry-run\)/);
  assert.match(stderr(), /\$ git rev-parse HEAD\n/);
});

test('git: credentials are masked in the echo and in the error of a failed call', async (t) => {
  const dir = repository(t);
  const { ctx, stderr } = context(dir, { env: { GITOPS_ENV_TOKEN: 'sekret-token-123' } });
  const url = 'https://bot:sekret-token-123@127.0.0.1:9/acme/env.git';
  await assert.rejects(
    new Git(ctx, dir).read(['ls-remote', url], { timeoutMs: 30_000 }),
    (error: unknown) => {
      assert.ok(error instanceof ExecError);
      assert.doesNotMatch(`${error.message}\n${error.stderrTail}`, /sekret-token-123/);
      assert.match(error.message, /https:\/\/\*\*\*@127\.0\.0\.1:9/);
      return true;
    },
  );
  assert.doesNotMatch(stderr(), /sekret-token-123/);
  assert.match(stderr(), /\$ git ls-remote https:\/\/\*\*\*@127\.0\.0\.1:9\/acme\/env\.git/);
});

test('git: a call that outlives its timeout is stopped and reported as EXEC_TIMEOUT', async (t) => {
  const dir = repository(t);
  const shim = slowGitDir(tempDir(t, 'gitops-slow-git-'));
  const { ctx } = context(dir, {
    env: {
      PATH: `${shim}:${process.env.PATH}`,
      GITOPS_TEST_SLOW_GIT: 'status',
      GITOPS_TEST_SLOW_SECONDS: '10',
    },
  });
  // timedOut is set only when the timeout killed git (the shim would have slept 10 s): no clock read.
  await assert.rejects(new Git(ctx, dir).read(['status'], { timeoutMs: 500 }), (error: unknown) => {
    assert.ok(error instanceof ExecError);
    assert.equal(error.code, 'EXEC_TIMEOUT');
    assert.equal(error.timedOut, true);
    assert.match(error.message, /git status timed out/);
    return true;
  });
});

test("git: in gitops' own clone HEAD is read once until a command that can move it runs", async (t) => {
  const dir = repository(t);
  const first = git(dir, ['rev-parse', 'HEAD']);
  const { ctx, stderr } = context(dir);
  const echoes = () => stderr().match(/\$ git rev-parse HEAD\n/g)?.length ?? 0;
  const own = new Git(ctx, dir, {}, { soleWriter: true });
  assert.equal(await own.head(), first);
  await own.read(['ls-tree', 'HEAD']);
  assert.equal(await own.head(), first);
  assert.equal(echoes(), 1, 'a read in between keeps what HEAD is');
  await own.run(['commit', '--quiet', '--allow-empty', '-m', 'second']);
  const second = git(dir, ['rev-parse', 'HEAD']);
  assert.notEqual(second, first);
  assert.equal(await own.head(), second, 'a commit makes it ask again');
  await own.run(['reset', '--quiet', '--hard', first]);
  assert.equal(await own.head(), first, 'and so does a reset');
  assert.equal(echoes(), 3);

  // A checkout someone else may change (--env-repo-dir) is asked every time.
  const shared = new Git(ctx, dir);
  assert.equal(await shared.head(), first);
  git(dir, ['commit', '--quiet', '--allow-empty', '-m', 'by someone else']);
  assert.equal(await shared.head(), git(dir, ['rev-parse', 'HEAD']));
});

test('git: the files of a commit named by its full sha are listed once per run; HEAD is listed afresh', async (t) => {
  const dir = repository(t);
  writeFiles(dir, { 'envs/staging/web.yaml': 'kind: Deployment\n' });
  git(dir, ['add', '-A']);
  git(dir, ['commit', '--quiet', '-m', 'staging']);
  const sha = git(dir, ['rev-parse', 'HEAD']);
  const { ctx, stderr } = context(dir);
  const repo = new Git(ctx, dir);
  const listings = () => stderr().match(/\$ git ls-tree /g)?.length ?? 0;
  assert.equal(await filesAt(repo, sha).kind('envs/staging/web.yaml'), 'file');
  assert.equal(await filesAt(repo, sha).read('envs/staging/web.yaml'), 'kind: Deployment\n');
  assert.equal(await filesAt(repo, sha).read('envs/staging/web.yaml'), 'kind: Deployment\n');
  assert.equal(listings(), 1);
  assert.equal(stderr().match(/\$ git cat-file blob /g)?.length, 1);
  assert.equal(await filesAt(repo, 'HEAD').kind('envs/staging/web.yaml'), 'file');
  assert.equal(await filesAt(repo, 'HEAD').kind('envs/staging/web.yaml'), 'file');
  assert.equal(listings(), 3, 'HEAD can move: each caller lists it');
});

test('git: clone reports its progress lines where a terminal shows them', async (t) => {
  const dir = repository(t);
  writeFiles(dir, { 'a.txt': 'a\n', 'b.txt': 'b\n' });
  git(dir, ['add', '-A']);
  git(dir, ['commit', '--quiet', '-m', 'files']);
  const { ctx } = context(dir);
  const seen: string[] = [];
  const reporter = Object.assign(Object.create(ctx.reporter), {
    progress: (text: string) => seen.push(text),
  });
  const target = `${tempDir(t, 'gitops-runner-clone-')}/repo`;
  await new Git({ ...ctx, reporter }, dir).read(['clone', '--quiet', '--', `file://${dir}`, target]);
  // Which stages a small clone shows depends on git's own delays; each line says how far one is.
  assert.ok(seen.length > 0, 'progress was reported');
  for (const line of seen) assert.match(line, /^clone [a-z]+ \d+% \(\d+\/\d+\)$/);
  assert.ok(
    seen.some((line) => / 100% /.test(line)),
    seen.join('\n'),
  );
});
