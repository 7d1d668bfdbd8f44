import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDuration } from '../src/config/duration.js';
import { closest } from '../src/config/suggest.js';
import { Exec, ExecError } from '../src/core/exec.js';
import { looksSecretName, Masker } from '../src/core/mask.js';

function exec(options: { dryRun?: boolean; env?: Record<string, string>; echo?: string[] } = {}) {
  const env = { PATH: process.env.PATH, ...options.env };
  return new Exec({
    env,
    masker: Masker.fromEnv(env),
    dryRun: options.dryRun ?? false,
    defaultTimeoutMs: 30_000,
    ...(options.echo ? { echo: (line: string) => options.echo!.push(line) } : {}),
  });
}

test('masking: credentials in URLs become ***@host', () => {
  const masker = new Masker();
  assert.equal(
    masker.mask('fatal: unable to access https://user:tok3n@github.com/acme/env.git/'),
    'fatal: unable to access https://***@github.com/acme/env.git/',
  );
  assert.equal(masker.mask('ssh://git@host/repo and http://token@h'), 'ssh://***@host/repo and http://***@h');
  assert.equal(masker.mask('user@example.com is not a URL'), 'user@example.com is not a URL');
});

test('masking: values of secret-looking variables are replaced, others kept', () => {
  const masker = Masker.fromEnv({
    GITHUB_TOKEN: 'ghs_abcdef123456',
    REGISTRY_PASSWORD: 'p@ss w0rd!',
    AWS_SECRET_ACCESS_KEY: 'AKIAxyz/+=',
    API_KEY: 'k3y-value',
    npm_package_keywords: 'gitops',
    HOME: '/root',
    SHORT_TOKEN: 'ab',
  });
  const line = 'ghs_abcdef123456 p@ss w0rd! AKIAxyz/+= k3y-value gitops /root ab p%40ss%20w0rd!';
  assert.equal(masker.mask(line), '*** *** *** *** gitops /root ab ***');
  assert.ok(looksSecretName('GITOPS_TOKEN'));
  assert.ok(looksSecretName('db-password'));
  assert.ok(!looksSecretName('KEYWORDS'));
  assert.ok(!looksSecretName('MONKEY_BUSINESS'));
});

for (const way of ['run', 'runDirect'] as const) {
  test(`exec (${way}): a non-zero exit becomes an ExecError with the exit code and the tail of stderr`, async () => {
    await assert.rejects(
      exec()[way]('sh', ['-c', 'echo first >&2; echo last-line >&2; exit 7'], { cwd: process.cwd() }),
      (error: unknown) => {
        assert.ok(error instanceof ExecError);
        assert.equal(error.commandExitCode, 7);
        assert.equal(error.exitCode, 3);
        assert.match(error.stderrTail, /last-line$/);
        assert.match(error.message, /exited with code 7/);
        return true;
      },
    );
    const allowed = await exec()[way]('sh', ['-c', 'exit 3'], { cwd: process.cwd(), allowFailure: true });
    assert.equal(allowed.exitCode, 3);
  });

  // timedOut is only set when the wrapper's own timer killed the command (sleep 10 would otherwise
  // have ended by itself): no clock is read here, so a slow machine cannot fail it.
  test(`exec (${way}): a timeout kills the command and says so`, async () => {
    await assert.rejects(
      exec()[way]('sleep', ['10'], { cwd: process.cwd(), timeoutMs: 300 }),
      (error: unknown) => {
        assert.ok(error instanceof ExecError);
        assert.equal(error.timedOut, true);
        assert.equal(error.code, 'EXEC_TIMEOUT');
        return true;
      },
    );
  });

  test(`exec (${way}): arguments are never interpreted by a shell`, async () => {
    const result = await exec()[way]('printf', ['%s', '$(echo pwned); rm -rf / `id`'], {
      cwd: process.cwd(),
    });
    assert.equal(result.stdout, '$(echo pwned); rm -rf / `id`');
  });

  test(`exec (${way}): --dry-run skips every command not declared a read, runs reads; --verbose echo is masked`, async () => {
    const echo: string[] = [];
    const runner = exec({ dryRun: true, echo, env: { PUSH_TOKEN: 'supersecret' } });
    const skipped = await runner[way]('sh', ['-c', 'exit 9'], { cwd: process.cwd() });
    assert.equal(skipped.skipped, true);
    const read = await runner[way]('echo', ['hello'], { cwd: process.cwd(), read: true });
    assert.equal(read.stdout, 'hello\n');
    await runner[way]('echo', ['https://bot:supersecret@example.com'], { cwd: process.cwd(), read: true });
    assert.deepEqual(echo, [
      "$ sh -c 'exit 9'  # skipped (--dry-run)",
      '$ echo hello',
      '$ echo https://***@example.com',
    ]);
  });

  test(`exec (${way}): a missing program is a usage error naming it`, async () => {
    await assert.rejects(exec()[way]('no-such-binary-xyz', [], { cwd: process.cwd() }), (error: unknown) => {
      assert.equal((error as { code: string }).code, 'COMMAND_NOT_FOUND');
      assert.equal((error as { exitCode: number }).exitCode, 2);
      assert.match((error as Error).message, /no-such-binary-xyz was not found/);
      return true;
    });
  });

  test(`exec (${way}): input reaches the command, stderr is handed on as it comes`, async () => {
    const chunks: string[] = [];
    const result = await exec()[way]('sh', ['-c', 'cat; echo progress >&2'], {
      cwd: process.cwd(),
      input: 'a commit message\n',
      read: true,
      onStderr: (text) => chunks.push(text),
    });
    assert.equal(result.stdout, 'a commit message\n');
    assert.equal(result.stderr, 'progress\n');
    assert.equal(chunks.join(''), 'progress\n');
  });

  test(`exec (${way}): an interrupt stops the running command, even one that ignores SIGTERM`, async () => {
    const interrupt = new AbortController();
    const env = { PATH: process.env.PATH };
    const runner = new Exec({
      env,
      masker: Masker.fromEnv(env),
      dryRun: false,
      defaultTimeoutMs: 30_000,
      signal: interrupt.signal,
    });
    // The shell prints once its trap is set: the interrupt comes while it runs and ignores SIGTERM.
    const running = runner[way]('sh', ['-c', 'trap "" TERM; echo ready >&2; while :; do sleep 1; done'], {
      cwd: process.cwd(),
      read: true,
      onStderr: () => interrupt.abort(),
    });
    await assert.rejects(running, (error: unknown) => {
      assert.equal((error as { code: string }).code, 'INTERRUPTED');
      assert.equal((error as { exitCode: number }).exitCode, 130);
      return true;
    });
    await assert.rejects(
      runner[way]('true', [], { cwd: process.cwd(), read: true }),
      /interrupted before running: true/,
    );
  });
}

test('durations and suggestions', () => {
  assert.equal(parseDuration('90s'), 90_000);
  assert.equal(parseDuration('1h30m'), 5_400_000);
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('12'), 12_000);
  assert.throws(() => parseDuration('soon'), /not a duration/);
  assert.equal(closest('enviroments', ['images', 'environments', 'envRepo']), 'environments');
  assert.equal(closest('zzzz', ['images', 'environments']), undefined);
});
