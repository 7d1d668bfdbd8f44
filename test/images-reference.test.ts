import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isGitopsError } from '../src/core/errors.js';
import {
  formatImageReference,
  normalizeRepository,
  parseImageReference,
  sameRepository,
  tryParseImageReference,
} from '../src/images/reference.js';
import { parseImageUpdate } from '../src/manifests/arguments.js';

const DIGEST = `sha256:${'a'.repeat(64)}`;

test('parses the parts of a reference', () => {
  assert.deepEqual(parseImageReference('nginx'), {
    original: 'nginx',
    name: 'nginx',
    domain: 'docker.io',
    path: 'library/nginx',
    repository: 'docker.io/library/nginx',
  });
  const full = parseImageReference(`localhost:5000/a/b:1@${DIGEST}`);
  assert.equal(full.domain, 'localhost:5000');
  assert.equal(full.path, 'a/b');
  assert.equal(full.tag, '1');
  assert.equal(full.digest, DIGEST);
  assert.equal(
    parseImageReference('registry.example.com:8443/team/app:v1').domain,
    'registry.example.com:8443',
  );
  assert.equal(parseImageReference('localhost/app:1').domain, 'localhost');
  assert.equal(parseImageReference('[::1]:5000/app:1').domain, '[::1]:5000');
  assert.equal(parseImageReference('index.docker.io/library/nginx').repository, 'docker.io/library/nginx');
  assert.equal(parseImageReference('acme/web:1').repository, 'docker.io/acme/web');
  assert.equal(parseImageReference('ghcr.io/acme/web').repository, 'ghcr.io/acme/web');
  assert.equal(parseImageReference('a/b__c/d-e.f:tag_1.2-rc').path, 'a/b__c/d-e.f');
});

test('nginx, library/nginx and docker.io/library/nginx are one repository', () => {
  const [a, b, c] = ['nginx:1', 'library/nginx', `docker.io/library/nginx@${DIGEST}`].map(
    parseImageReference,
  );
  assert.ok(sameRepository(a!, b!) && sameRepository(b!, c!));
  assert.ok(!sameRepository(a!, parseImageReference('quay.io/nginx')));
  assert.equal(normalizeRepository('nginx'), 'docker.io/library/nginx');
  assert.equal(normalizeRepository('nginx:1'), undefined);
});

test('formats with the name as written', () => {
  assert.equal(formatImageReference(parseImageReference(`nginx:1.2@${DIGEST}`)), `nginx:1.2@${DIGEST}`);
  assert.equal(formatImageReference({ name: 'localhost:5000/a', tag: '2' }), 'localhost:5000/a:2');
  assert.equal(formatImageReference({ name: 'a', digest: DIGEST }), `a@${DIGEST}`);
});

const invalid: Array<[string, RegExp]> = [
  ['', /is empty/],
  ['ghcr.io/Acme/web:1', /must be lowercase, "Acme" is not/],
  ['web:', /tag after ":" is empty/],
  ['web:-x', /must not start with "." or "-"/],
  [`web:${'x'.repeat(129)}`, /longer than 128/],
  ['web@', /digest after "@" is empty/],
  ['web@sha256:xyz', /not algorithm:hex/],
  [`web@sha256:${'a'.repeat(63)}`, /has 64 hex digits, .* has 63/],
  ['web:1;reboot', /";"/],
  ['web:$(id)', /"\$"/],
  ['web:1 2', /whitespace/],
  ['web:1\n', /line break/],
  ['a//b', /empty component/],
  ['a/b-', /path component "b-"/],
  ['bad_host:5000/a:1', /path component|registry/],
];

for (const [text, reason] of invalid) {
  test(`rejects ${JSON.stringify(text)}`, () => {
    assert.equal(tryParseImageReference(text), undefined);
    assert.throws(
      () => parseImageReference(text),
      (error: unknown) => {
        assert.ok(isGitopsError(error));
        assert.equal(error.exitCode, 2);
        assert.equal(error.code, 'IMAGE_REFERENCE_INVALID');
        assert.match(error.message, reason);
        assert.ok(error.message.includes(JSON.stringify(text).slice(1, -1)), error.message);
        return true;
      },
    );
  });
}

test('--image arguments name a config image or a repository', () => {
  const images = [{ name: 'web', repository: 'ghcr.io/acme/web' }];
  assert.equal(parseImageUpdate('web=ghcr.io/acme/web:2', images).name, 'web');
  // A bare reference takes the config's name for its repository, so trailers read web=…
  assert.equal(parseImageUpdate('ghcr.io/acme/web:2', images).name, 'web');
  assert.equal(parseImageUpdate('ghcr.io/other/api:2', images).name, 'ghcr.io/other/api');
  assert.equal(
    parseImageUpdate('nginx=docker.io/library/nginx:1', images).reference.repository,
    'docker.io/library/nginx',
  );
  assert.throws(() => parseImageUpdate('web=ghcr.io/acme/web', images), /neither a tag nor a digest/);
  assert.throws(() => parseImageUpdate('web=ghcr.io/acme/api:1', images), /"web" is ghcr.io\/acme\/web/);
  assert.throws(() => parseImageUpdate('=ghcr.io/acme/web:1', images), /empty name/);
  assert.throws(
    () => parseImageUpdate('Web=ghcr.io/acme/web:1', images),
    /neither an image in the config nor a repository/,
  );
});
