// The in-process API client on its own: discovery asked once per run, lists and watches, writes
// skipped under --dry-run, a request on a socket the server closed while idle sent again, and a
// clean-up's client that outlives an interrupt on the run's connections and discovery.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { it as test } from 'node:test';
import { createContext } from '../src/cli/context.js';
import { KubeClient } from '../src/kube/client/client.js';
import type { KubeObject } from '../src/kube/objects.js';
import { baseEnv, tempDir } from './support/cli.js';
import { testCluster, uniqueName } from './support/test-cluster.js';

function context(env: Record<string, string | undefined>, options: { dryRun?: boolean } = {}) {
  const stderr = new PassThrough();
  let echoed = '';
  stderr.on('data', (chunk: Buffer) => {
    echoed += chunk.toString();
  });
  const ctx = createContext(
    {
      cwd: tempDir({ after: () => {} }, 'gitops-client-'),
      env,
      stdout: new PassThrough(),
      stderr,
      isTTY: false,
    },
    { verbose: true, ...(options.dryRun ? { dryRun: true } : {}) },
  );
  return { ctx, echoed: () => echoed };
}

function configMap(name: string, namespace: string, data: Record<string, string>): KubeObject {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace }, data } as KubeObject;
}

test('discovery once per run, apply, list, watch; writes skipped under --dry-run', async (t) => {
  const cluster = await testCluster(t);
  const env = baseEnv(cluster.kubectlEnv());
  const { ctx } = context(env);
  const client = KubeClient.connect(ctx, { cwd: ctx.cwd });
  t.after(() => client.close());
  const ns = uniqueName('client');
  await client.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } } as KubeObject, {
    fieldManager: 'gitops-test',
    force: true,
  });

  const applied = await client.apply(configMap('one', ns, { a: '1' }), {
    fieldManager: 'gitops-test',
    force: true,
  });
  assert.equal((applied as { data?: Record<string, string> }).data?.a, '1');
  const listed = await client.list({ apiVersion: 'v1', kind: 'ConfigMap' }, { namespace: ns });
  assert.ok(listed.items.some((item) => item.metadata.name === 'one' && item.kind === 'ConfigMap'));
  assert.ok(listed.resourceVersion, 'a list carries the resourceVersion a watch starts from');
  await client.get({ apiVersion: 'v1', kind: 'ConfigMap', name: 'one', namespace: ns });
  assert.equal(
    await client.get({ apiVersion: 'v1', kind: 'ConfigMap', name: 'absent', namespace: ns }),
    undefined,
    'a missing object is undefined, not an error',
  );
  const discovery = cluster.requests.filter((request) => request.path === '/api/v1');
  assert.equal(discovery.length, 1, 'the core group version is discovered once');
  const apply = cluster.requests.find((request) => request.method === 'PATCH');
  assert.equal(apply?.fieldManager, 'gitops-test');
  assert.match(apply?.contentType ?? '', /application\/apply-patch\+yaml/);

  // A watch from the list's resourceVersion sees a change made after the list.
  const stop = new AbortController();
  const events: string[] = [];
  const watching = (async () => {
    for await (const event of client.watch(
      { apiVersion: 'v1', kind: 'ConfigMap' },
      ns,
      listed.resourceVersion,
      stop.signal,
    )) {
      if (event.object.metadata.name === 'two') {
        events.push(`${event.type} ${event.object.kind}/${event.object.metadata.name}`);
        stop.abort();
      }
    }
  })();
  await client.apply(configMap('two', ns, { b: '2' }), { fieldManager: 'gitops-test', force: true });
  await watching;
  assert.deepEqual(events, ['ADDED ConfigMap/two']);

  // Under --dry-run a write is echoed as skipped and never sent; reads still run.
  const dry = context(env, { dryRun: true });
  const dryClient = KubeClient.connect(dry.ctx, { cwd: dry.ctx.cwd });
  t.after(() => dryClient.close());
  cluster.clearRequests();
  await dryClient.apply(configMap('three', ns, { c: '3' }), { fieldManager: 'gitops-test', force: true });
  await dryClient.delete({ apiVersion: 'v1', kind: 'ConfigMap', name: 'one', namespace: ns });
  assert.deepEqual(
    cluster.requests.filter((request) => request.method !== 'GET').map((request) => request.method),
    [],
    'no write reached the server',
  );
  assert.match(dry.echoed(), /PATCH \/api\/v1\/namespaces\/[^/]+\/configmaps\/three.*skipped \(--dry-run\)/);
  assert.ok(await client.get({ apiVersion: 'v1', kind: 'ConfigMap', name: 'one', namespace: ns }));
});

test('a write on a kept-alive socket the server closed is sent again on a new connection; a 500 on a write is not', async (t) => {
  // A server that drops the second request of every connection before reading it: what a client
  // sees when the server's idle timeout closed a kept-alive socket just as a request went out.
  const seen: string[] = [];
  const server = createServer((request, response) => {
    const socket = request.socket as typeof request.socket & { served?: number };
    socket.served = (socket.served ?? 0) + 1;
    seen.push(`${request.method} ${request.url?.split('?')[0]} #${socket.served}`);
    if (socket.served > 1) {
      socket.destroy();
      return;
    }
    response.setHeader('Content-Type', 'application/json');
    if (request.url === '/api/v1') {
      response.end(
        JSON.stringify({
          resources: [{ name: 'configmaps', kind: 'ConfigMap', namespaced: true, verbs: ['patch'] }],
        }),
      );
    } else if (request.url?.includes('/configmaps/broken')) {
      response.statusCode = 500;
      response.end(
        JSON.stringify({
          kind: 'Status',
          status: 'Failure',
          reason: 'InternalError',
          message: 'boom',
          code: 500,
        }),
      );
    } else response.end(JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'web' } }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  const { port } = server.address() as AddressInfo;
  const dir = tempDir(t, 'gitops-client-kubeconfig-');
  const kubeconfig = `${dir}/config`;
  writeFileSync(
    kubeconfig,
    `apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: c\n  cluster:\n    server: http://127.0.0.1:${port}\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\n    namespace: apps\nusers:\n- name: u\n  user: {}\n`,
  );
  const { ctx } = context(baseEnv({ KUBECONFIG: kubeconfig }));
  const client = KubeClient.connect(ctx, { cwd: ctx.cwd });
  t.after(() => client.close());

  const applied = await client.apply(configMap('web', 'apps', {}), { fieldManager: 'gitops', force: true });
  assert.equal(applied?.metadata.name, 'web');
  assert.deepEqual(seen, [
    'GET /api/v1 #1',
    'PATCH /api/v1/namespaces/apps/configmaps/web #2',
    'PATCH /api/v1/namespaces/apps/configmaps/web #1',
  ]);

  seen.length = 0;
  await assert.rejects(
    client.apply(configMap('broken', 'apps', {}), { fieldManager: 'gitops', force: true }),
    /Error from server \(InternalError\): boom/,
  );
  assert.equal(seen.filter((line) => line.startsWith('PATCH') && line.endsWith('#1')).length, 1, 'sent once');
});

test("a clean-up's client shares what the run's discovered, and answers after the run was interrupted", async (t) => {
  const cluster = await testCluster(t);
  const env = baseEnv(cluster.kubectlEnv());
  const interrupt = new AbortController();
  const stderr = new PassThrough();
  const io = { cwd: tempDir(t, 'gitops-client-'), env, stdout: new PassThrough(), stderr, isTTY: false };
  const runContext = createContext({ ...io, signal: interrupt.signal }, {});
  const client = KubeClient.connect(runContext, { cwd: io.cwd });
  t.after(() => client.close());
  const cleanup = client.withContext(createContext(io, {}));
  const ns = uniqueName('cleanup');
  await client.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } } as KubeObject, {
    fieldManager: 'gitops-test',
    force: true,
  });
  await client.apply(configMap('lease-like', ns, { a: '1' }), { fieldManager: 'gitops-test', force: true });

  cluster.clearRequests();
  interrupt.abort();
  await assert.rejects(
    client.get({ apiVersion: 'v1', kind: 'ConfigMap', name: 'lease-like', namespace: ns }),
    (error: unknown) => (error as { code?: string }).code === 'INTERRUPTED',
  );
  const written = await cleanup.apply(configMap('lease-like', ns, { a: '2' }), {
    fieldManager: 'gitops-test',
    force: true,
  });
  assert.equal((written as { data?: Record<string, string> }).data?.a, '2', 'the clean-up still writes');
  assert.deepEqual(
    cluster.requests.map((request) => `${request.method} ${request.path}`),
    [`PATCH /api/v1/namespaces/${ns}/configmaps/lease-like`],
    'and asks no discovery of its own',
  );
});
