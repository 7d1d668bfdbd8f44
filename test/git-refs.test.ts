import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isGitopsError } from '../src/core/errors.js';
import { isFullSha, refNameProblem, validateRevisionArgument } from '../src/core/git-refs.js';

function refusal(text: string, options = {}): { message: string; exitCode: number; hint?: string } {
  try {
    validateRevisionArgument(text, options);
  } catch (error) {
    assert.ok(isGitopsError(error), `not a GitopsError: ${String(error)}`);
    return { message: error.message, exitCode: error.exitCode, ...(error.hint ? { hint: error.hint } : {}) };
  }
  assert.fail(`"${text}" was accepted`);
}

test('accepts shas, branches, tags and commit suffixes unchanged', () => {
  for (const revision of [
    '3f2a1c9',
    '3f2a1c9e0b1d2c3f4a5b6c7d8e9f0a1b2c3d4e5f',
    'a'.repeat(64),
    'main',
    'release/1.4',
    'v1.4.2',
    'HEAD',
    'HEAD~1',
    'main^2',
    'v1.2^{commit}',
    'main@{1}',
    'feature/ABC-123_fix+more',
  ]) {
    assert.equal(validateRevisionArgument(revision), revision);
  }
});

test('refuses option-looking arguments, shell syntax, whitespace and control characters with exit 2', () => {
  const cases: Array<[string, RegExp]> = [
    ['--upload-pack=touch /tmp/pwned', /starts with "-", so git would read it as an option/],
    ['-n', /starts with "-"/],
    ['HEAD~1; rm -rf /', /contains ";"/],
    ['main|cat', /contains "\|"/],
    ['$(id)', /contains "\$"/],
    ['`id`', /contains "`"/],
    ['a&b', /contains "&"/],
    ['main>out', /contains ">"/],
    ["it's", /contains "'"/],
    ['main branch', /contains whitespace/],
    ['main\tx', /control character/],
    ['main\nGitops-Actor: mallory', /line break/],
    ['main\r', /line break/],
    ['a\u0000b', /control character/],
    ['\u001b[31mred', /control character/],
    ['HEAD:secrets.yaml', /contains ":"/],
    ['main..feature', /"\.\.", a range/],
    ['../../etc/passwd', /"\.\.", a range/],
    ['', /empty/],
    ['x'.repeat(300), /longer than 256/],
    ['.hidden', /not a valid ref name/],
    ['refs/heads/main.lock', /not a valid ref name/],
    ['a//b', /not a valid ref name/],
    ['main/', /not a valid ref name/],
    ['main?', /contains "\?"/],
    ['ma*in', /contains "\*"/],
    ['ref\u00e9', /contains "é", which no revision holds/],
  ];
  for (const [text, pattern] of cases) {
    const error = refusal(text);
    assert.equal(error.exitCode, 2, text);
    assert.match(error.message, pattern, `${JSON.stringify(text)}: ${error.message}`);
    assert.match(error.hint ?? '', /commit sha/);
    // The message shows control characters escaped, never raw (a newline could forge a log line).
    assert.doesNotMatch(error.message, /[\n\r\u0000\u001b]/);
  }
});

test('names the argument as the caller calls it', () => {
  const error = refusal('HEAD~1; rm -rf /', { what: 'rollback <sha>' });
  assert.match(error.message, /^rollback <sha> "HEAD~1; rm -rf \/" is not a git revision: it contains ";"/);
  assert.match(refusal('-x').message, /^revision "-x"/);
});

test('ranges only where the caller allows them, each side checked', () => {
  assert.equal(validateRevisionArgument('v1.0..v1.1', { allowRange: true }), 'v1.0..v1.1');
  assert.equal(validateRevisionArgument('abc1234...main', { allowRange: true }), 'abc1234...main');
  assert.equal(validateRevisionArgument('main', { allowRange: true }), 'main');
  assert.match(refusal('--output=x..main', { allowRange: true }).message, /one side .* starts with "-"/);
  assert.match(refusal('..main', { allowRange: true }).message, /one side .* empty/);
  assert.match(refusal('a..b..c', { allowRange: true }).message, /more than one range operator/);
  assert.match(refusal('a..b;id', { allowRange: true }).message, /contains ";"/);
  assert.match(refusal('a....b', { allowRange: true }).message, /not a valid ref name/);
});

test('isFullSha knows SHA-1 and SHA-256 object names', () => {
  assert.equal(isFullSha('3f2a1c9e0b1d2c3f4a5b6c7d8e9f0a1b2c3d4e5f'), true);
  assert.equal(isFullSha('a'.repeat(64)), true);
  assert.equal(isFullSha('3f2a1c9'), false);
  assert.equal(isFullSha('3F2A1C9E0B1D2C3F4A5B6C7D8E9F0A1B2C3D4E5F'), false);
});

test('refNameProblem accepts branch names and refuses what git check-ref-format or a shell would', () => {
  for (const name of ['main', 'release/1.4', 'env/prod-eu', 'v1.2.3', 'feature_x+y', 'user@host']) {
    assert.equal(refNameProblem(name), undefined, name);
  }
  const cases: Array<[string, RegExp]> = [
    ['--upload-pack=touch /tmp/pwned', /starts with "-"/],
    ['main; rm -rf /', /contains ";"/],
    ['main branch', /whitespace/],
    ['main\n', /control character/],
    ['a..b', /contains "\.\."/],
    ['HEAD~1', /contains "~"/],
    ['main^', /contains "\^"/],
    ['refs:x', /contains ":"/],
    ['main@{1}', /contains "@\{"/],
    ['.hidden', /not a valid ref name/],
    ['x.lock', /not a valid ref name/],
    ['a//b', /not a valid ref name/],
    ['main/', /not a valid ref name/],
    ['main.', /not a valid ref name/],
    ['@', /not a valid ref name/],
    ['', /empty/],
  ];
  for (const [name, pattern] of cases) assert.match(refNameProblem(name) ?? 'accepted', pattern, name);
});
