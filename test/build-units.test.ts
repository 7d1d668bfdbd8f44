import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mapBounded } from '../src/build/build.js';
import { compareVersions } from '../src/build/engine.js';
import { isLoopbackRegistry, registryHost, repositoryProblem, sanitizeTag } from '../src/build/reference.js';
import { browsableUrl } from '../src/build/source.js';

test('registry hosts follow distribution/reference: a first part with . or : or localhost', () => {
  assert.equal(registryHost('ghcr.io/acme/web'), 'ghcr.io');
  assert.equal(registryHost('127.0.0.1:5000/demo/web'), '127.0.0.1:5000');
  assert.equal(registryHost('localhost/web'), 'localhost');
  assert.equal(registryHost('acme/web'), 'docker.io');
  assert.equal(registryHost('nginx'), 'docker.io');
});

test('only loopback registries are spoken to without TLS verification', () => {
  for (const host of ['127.0.0.1:5000', '127.1.2.3', 'localhost:5000', 'localhost', '[::1]:5000']) {
    assert.equal(isLoopbackRegistry(host), true, host);
  }
  for (const host of ['ghcr.io', 'docker.io', '10.0.0.1:5000', '127.example.com', 'localhost.example.com']) {
    assert.equal(isLoopbackRegistry(host), false, host);
  }
});

test('repositories carry neither tag nor digest', () => {
  assert.equal(repositoryProblem('ghcr.io/acme/web'), undefined);
  assert.equal(repositoryProblem('127.0.0.1:5000/demo/web'), undefined);
  assert.match(repositoryProblem('ghcr.io/acme/web:1.0') ?? '', /tag/);
  assert.match(repositoryProblem('ghcr.io/acme/web@sha256:abc') ?? '', /digest/);
  assert.match(repositoryProblem('ghcr.io/Acme/Web') ?? '', /lowercase/);
});

test('branch names become valid tags', () => {
  assert.equal(sanitizeTag('main'), 'main');
  assert.equal(sanitizeTag('feature/login-v2'), 'feature-login-v2');
  assert.equal(sanitizeTag('.hidden'), 'hidden');
  assert.equal(sanitizeTag('v1.2.3'), 'v1.2.3');
  assert.equal(sanitizeTag('x'.repeat(200))?.length, 128);
  assert.equal(sanitizeTag('///'), undefined);
});

test('remote URLs become browsable https URLs without credentials', () => {
  assert.equal(browsableUrl('git@github.com:acme/web.git'), 'https://github.com/acme/web');
  assert.equal(
    browsableUrl('https://x-access-token:s3cr3t@github.com/acme/web.git'),
    'https://github.com/acme/web',
  );
  assert.equal(
    browsableUrl('ssh://git@gitlab.example.com:2222/acme/web.git'),
    'https://gitlab.example.com/acme/web',
  );
  assert.equal(browsableUrl('https://gitlab.example.com/acme/web/'), 'https://gitlab.example.com/acme/web');
  assert.equal(browsableUrl('/srv/git/web.git'), '/srv/git/web.git');
});

test('engine versions compare numerically', () => {
  assert.ok(compareVersions('4.3.1', '3.0.0') > 0);
  assert.ok(compareVersions('20.10', '20.10.0') === 0);
  assert.ok(compareVersions('1.9.3', '1.20.0') < 0);
});

test('mapBounded keeps at most `limit` tasks running and runs every item despite failures', async () => {
  let running = 0;
  let peak = 0;
  const outcomes = await mapBounded([1, 2, 3, 4, 5], 2, async (item) => {
    running++;
    peak = Math.max(peak, running);
    await new Promise((resolve) => setTimeout(resolve, 5));
    running--;
    if (item === 2) throw new Error('two');
    return item * 10;
  });
  assert.equal(peak, 2);
  assert.deepEqual(
    outcomes.map((outcome) => (outcome.ok ? outcome.value : 'failed')),
    [10, 'failed', 30, 40, 50],
  );
});
