// The apply lease against a stand-in API: what it writes when it is taken, told what the run
// applies, and handed on.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Cluster } from '../src/cluster/cluster.js';
import { ApplyLease } from '../src/cluster/lease.js';
import type { EnvironmentConfig } from '../src/config/types.js';
import type { KubeObject } from '../src/kube/objects.js';

test('apply lease: telling it what it says already writes nothing; a new revision is written at once', async (t) => {
  const writes: string[] = [];
  let stored: KubeObject | undefined;
  const keep = (object: KubeObject, verb: string) => {
    writes.push(verb);
    const version = Number(stored?.metadata.resourceVersion ?? 0) + 1;
    stored = { ...object, metadata: { ...object.metadata, resourceVersion: String(version) } };
    return stored;
  };
  const client = {
    get: async () => stored,
    create: async (object: KubeObject) => keep(object, 'create'),
    replace: async (object: KubeObject) => keep(object, 'replace'),
  };
  const cluster = {
    client,
    call: (_what: string, request: (c: typeof client) => unknown) => request(client),
    clusterError: (error: unknown) => error,
  } as unknown as Cluster;
  const environment = { name: 'staging', id: 'staging-0123456789' } as EnvironmentConfig;
  const first = 'a'.repeat(40);
  const lease = new ApplyLease(
    cluster,
    cluster,
    environment,
    'staging',
    { durationMs: 60_000, waitMs: 1_000 },
    { action: 'deploy', revision: first },
  );
  t.after(() => lease.release());
  const holder = () =>
    JSON.parse(stored?.metadata.annotations?.['gitops.dev/holder'] ?? '{}') as { revision?: string };

  assert.equal(await lease.acquire(), 'acquired');
  await lease.update({ action: 'deploy', revision: first });
  assert.deepEqual(writes, ['create'], 'the lease says so already');
  const head = 'b'.repeat(40);
  await lease.update({ revision: head });
  assert.deepEqual(writes, ['create', 'replace']);
  assert.equal(holder().revision, head);
  await lease.release();
  assert.deepEqual(writes, ['create', 'replace', 'replace'], 'handed on');
  assert.equal(stored?.spec && (stored.spec as { holderIdentity?: string }).holderIdentity, undefined);
});
