// Property-based tests of the image reference parser (issue 10), after the distribution grammar
// quoted in src/images/reference.ts: generated valid references round-trip and normalise
// consistently; generated invalid ones are refused with exit-2 errors; nothing ever crashes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { isGitopsError } from '../src/core/errors.js';
import {
  formatImageReference,
  type ImageReference,
  normalizeRepository,
  parseImageReference,
  tryParseImageReference,
} from '../src/images/reference.js';

// FC_SEED=<seed printed by fast-check on a failure> reproduces it.
const settings = { numRuns: 300, ...(process.env.FC_SEED ? { seed: Number(process.env.FC_SEED) } : {}) };

const domainComponent = fc.stringMatching(/^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]{0,8}[a-zA-Z0-9])$/);
const port = fc.integer({ min: 1, max: 65535 }).map((n) => `:${n}`);
/** A registry host the parser must recognise as one: it has a ".", a port, or is localhost. */
const domain = fc.oneof(
  fc
    .tuple(fc.array(domainComponent, { minLength: 2, maxLength: 4 }), fc.option(port, { nil: '' }))
    .map(([parts, suffix]) => `${parts.join('.')}${suffix}`),
  fc.tuple(domainComponent, port).map(([host, suffix]) => `${host}${suffix}`),
  fc.option(port, { nil: '' }).map((suffix) => `localhost${suffix}`),
  fc.constantFrom('docker.io', 'index.docker.io', 'ghcr.io', '127.0.0.1:5000', '[::1]:5000'),
);
const pathComponent = fc.stringMatching(/^[a-z0-9]{1,6}(?:(?:[_.]|__|-{1,3})[a-z0-9]{1,6}){0,2}$/);
const path = fc.array(pathComponent, { minLength: 1, maxLength: 4 }).map((parts) => parts.join('/'));
const tag = fc.oneof(
  fc.stringMatching(/^\w[\w.-]{0,30}$/),
  // Tags that YAML would read as something other than a string, and the longest allowed.
  fc.constantFrom('1.10', '1e3', 'true', 'no', 'null', '0x10', '010', '2024-01-01', '1_000', 'x'.repeat(128)),
);
const hex = (length: number) =>
  fc
    .array(fc.constantFrom(...'0123456789abcdef'), { minLength: length, maxLength: length })
    .map((chars) => chars.join(''));
const digest = fc.oneof(
  hex(64).map((h) => `sha256:${h}`),
  hex(128).map((h) => `sha512:${h}`),
  // Unregistered algorithms take any length of at least 32 hex digits.
  fc.tuple(fc.constantFrom('blake3', 'multihash+base58'), hex(40)).map(([a, h]) => `${a}:${h}`),
);

interface Parts {
  domain: string | undefined;
  path: string;
  tag: string | undefined;
  digest: string | undefined;
}

const parts: fc.Arbitrary<Parts> = fc
  .record({
    domain: fc.option(domain, { nil: undefined }),
    path,
    tag: fc.option(tag, { nil: undefined }),
    digest: fc.option(digest, { nil: undefined }),
  })
  // NameTotalLengthMax: 255 characters of name.
  .filter((p) => (p.domain ? `${p.domain}/${p.path}` : p.path).length <= 255)
  // Without a written domain, a first component holding "." is read as a host (normalize.go), so
  // `a.b/c` is registry a.b; such names are generated through `domain` instead.
  .filter((p) => p.domain !== undefined || !p.path.includes('/') || !p.path.split('/')[0]!.includes('.'));

function text(p: Parts): string {
  return formatImageReference({
    name: p.domain ? `${p.domain}/${p.path}` : p.path,
    ...(p.tag !== undefined ? { tag: p.tag } : {}),
    ...(p.digest !== undefined ? { digest: p.digest } : {}),
  });
}

/** What normalize.go makes of the parts: docker.io by default, library/ for official images. */
function expectedRepository(p: Parts): string {
  let host = p.domain ?? 'docker.io';
  if (host === 'index.docker.io') host = 'docker.io';
  const repositoryPath = host === 'docker.io' && !p.path.includes('/') ? `library/${p.path}` : p.path;
  return `${host}/${repositoryPath}`;
}

function refusal(input: string): { code: string; exitCode: number; message: string } {
  try {
    parseImageReference(input);
  } catch (error) {
    assert.ok(isGitopsError(error), `a crash, not a refusal: ${String(error)}`);
    return { code: error.code, exitCode: error.exitCode, message: error.message };
  }
  assert.fail(`${JSON.stringify(input)} was accepted`);
}

test('valid references round-trip through parse and format', () => {
  fc.assert(
    fc.property(parts, (p) => {
      const input = text(p);
      const parsed = parseImageReference(input);
      assert.equal(formatImageReference(parsed), input);
      assert.deepEqual(parseImageReference(formatImageReference(parsed)), parsed);
      assert.deepEqual(tryParseImageReference(input), input.length <= 512 ? parsed : undefined);
      assert.equal(parsed.tag, p.tag);
      assert.equal(parsed.digest, p.digest);
      assert.equal(parsed.name, p.domain ? `${p.domain}/${p.path}` : p.path);
    }),
    settings,
  );
});

test('normalisation is consistent: every spelling of a repository names the same one', () => {
  fc.assert(
    fc.property(parts, (p) => {
      const parsed = parseImageReference(text(p));
      assert.equal(parsed.repository, expectedRepository(p));
      assert.equal(parsed.repository, `${parsed.domain}/${parsed.path}`);
      assert.equal(normalizeRepository(parsed.name), parsed.repository);
      // Written out in full, a Docker Hub name means the same repository.
      if (parsed.domain === 'docker.io') {
        const spelled: ImageReference = parseImageReference(`docker.io/${parsed.path}`);
        assert.equal(spelled.repository, parsed.repository);
        assert.equal(parseImageReference(`index.docker.io/${parsed.path}`).repository, parsed.repository);
      }
      // Tags and digests never change which repository a reference names.
      assert.equal(parseImageReference(parsed.name).repository, parsed.repository);
    }),
    settings,
  );
});

const forbidden = fc.constantFrom(...' \t\n\r;&|$`\'"<>(){}\\*?!#,=~');

test('a reference with whitespace, a line break or a shell metacharacter is refused, exit 2', () => {
  fc.assert(
    fc.property(parts, forbidden, fc.nat(), (p, char, at) => {
      const input = text(p);
      const position = at % (input.length + 1);
      const hostile = input.slice(0, position) + char + input.slice(position);
      const error = refusal(hostile);
      assert.equal(error.exitCode, 2);
      assert.equal(error.code, 'IMAGE_REFERENCE_INVALID');
      assert.match(error.message, /line break|whitespace|which no image reference can hold/);
      // Shown escaped, so a newline cannot forge a second log line.
      assert.doesNotMatch(error.message, /[\n\r\t]/);
      assert.equal(tryParseImageReference(hostile), undefined);
    }),
    settings,
  );
});

test('structural mistakes are refused, exit 2: uppercase paths, empty or bad tags, short digests', () => {
  const mistakes = fc.oneof(
    // An uppercase letter in the last path component (a first component with one would be a host).
    parts
      .filter((p) => /[a-z]/.test(p.path.split('/').at(-1)!))
      .map((p) => {
        const segments = p.path.split('/');
        segments[segments.length - 1] = segments.at(-1)!.replace(/[a-z]/, (c) => c.toUpperCase());
        return text({ ...p, path: segments.join('/') });
      }),
    parts.map((p) => `${text({ ...p, tag: undefined, digest: undefined })}:`),
    parts.map((p) => `${text({ ...p, digest: undefined })}@`),
    parts.map((p) => `${text({ ...p, tag: undefined, digest: undefined })}:-leading-dash`),
    parts.map((p) => `${text({ ...p, tag: undefined, digest: undefined })}:${'y'.repeat(129)}`),
    fc.tuple(parts, hex(63)).map(([p, h]) => `${text({ ...p, digest: undefined })}@sha256:${h}`),
    fc.tuple(parts, hex(31)).map(([p, h]) => `${text({ ...p, digest: undefined })}@md5x:${h}`),
    parts.map(
      (p) => `${text({ ...p, digest: undefined })}@sha256:${'0'.repeat(64)}@sha256:${'1'.repeat(64)}`,
    ),
    parts.map((p) => `/${text(p)}`),
    parts.map((p) => text({ ...p, path: `${p.path}/` })),
    parts.map((p) => text({ ...p, path: `${p.path}//x` })),
    parts.map((p) => text({ ...p, path: `${p.path}..x` })),
    fc.constant(''),
  );
  fc.assert(
    fc.property(mistakes, (input) => {
      const error = refusal(input);
      assert.equal(error.exitCode, 2);
      assert.equal(error.code, 'IMAGE_REFERENCE_INVALID');
      assert.equal(tryParseImageReference(input), undefined);
    }),
    settings,
  );
});

test('arbitrary text never crashes the parser: a reference or an exit-2 refusal', () => {
  fc.assert(
    fc.property(
      fc.oneof(fc.string({ unit: 'binary', maxLength: 80 }), fc.string({ maxLength: 300 })),
      (input) => {
        const quiet = tryParseImageReference(input);
        let parsed: ImageReference | undefined;
        try {
          parsed = parseImageReference(input);
        } catch (error) {
          assert.ok(isGitopsError(error), `a crash on ${JSON.stringify(input)}: ${String(error)}`);
          assert.equal(error.exitCode, 2);
        }
        if (parsed) {
          assert.equal(formatImageReference(parsed), input);
          if (input.length <= 512) assert.deepEqual(quiet, parsed);
        } else {
          assert.equal(quiet, undefined);
        }
      },
    ),
    { ...settings, numRuns: 1000 },
  );
});
