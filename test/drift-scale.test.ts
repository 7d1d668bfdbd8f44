import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clusterFixture } from './support/cluster.js';
import { manyObjects } from './support/objects.js';
import { uniqueName } from './support/test-cluster.js';

test('1,000 objects of 5 kinds: diff reads them with kinds + a small constant of API requests', async (t) => {
  const ns = uniqueName('scale');
  const cluster = await clusterFixture(t, manyObjects(200, ns), { staging: `    namespace: ${ns}\n` });
  await cluster.apply('staging');
  cluster.server.clearRequests();
  const result = await cluster.gitops(['--json', 'diff', '--env', 'staging']);
  assert.equal(result.code, 0, result.stderr);
  const document = JSON.parse(result.stdout) as { counts: Record<string, number> };
  assert.equal(document.counts['in-sync'], 1001);

  const requests = cluster.server.requests;
  // Discovery (cached per kubectl HOME) is not a read of objects.
  const isDiscovery = (path: string) =>
    /^\/(version|openapi(\/.*)?|api|apis|api\/v1|apis\/[^/]+(\/[^/]+)?)$/.test(path);
  const discovery = requests.filter((request) => isDiscovery(request.path));
  const reads = requests.filter((request) => !discovery.includes(request));
  const kinds = 6; // Namespace + the 5 kinds
  t.diagnostic(
    `requests: ${requests.length} (${reads.length} reads of objects, ${discovery.length} discovery)`,
  );
  t.diagnostic(reads.map((request) => `${request.verb} ${request.path}`).join('; '));
  assert.ok(reads.length <= kinds + 3, `object reads: ${reads.length} for ${kinds} kinds`);
  assert.ok(requests.length <= kinds + 12, `all requests: ${requests.length}`);
  assert.ok(
    reads.every((request) => request.verb === 'get' || request.verb === 'list'),
    'reads only',
  );
});
