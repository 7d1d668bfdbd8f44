// HTTP-level behaviour of the test API server (no kubectl): watch, chunked lists, status
// subresource, patch types, field ownership details, faults and the request log.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type JsonObject, type KubeApiServer, startKubeApiServer } from '../src/index.js';
import { runKubectl } from '../src/kubectl.js';

let server: KubeApiServer;

before(async () => {
  server = await startKubeApiServer();
});

after(async () => {
  await server.stop();
});

async function call(
  method: string,
  path: string,
  body?: unknown,
  contentType = 'application/json',
): Promise<{ status: number; body: JsonObject; headers: Headers }> {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { 'Content-Type': contentType },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as JsonObject, headers: res.headers };
}

const meta = (o: JsonObject) => o.metadata as JsonObject;

function cm(name: string, data: Record<string, string>, labels: Record<string, string> = {}): JsonObject {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, labels }, data };
}

/** Opens a watch and collects its events; resolves `headersAt` when the response headers arrive. */
function openWatch(path: string) {
  const started = Date.now();
  const events: JsonObject[] = [];
  let headersAt = -1;
  let buffer = '';
  const req = request(`${server.url}${path}`);
  const ready = new Promise<number>((resolve, reject) => {
    req.on('response', (res) => {
      headersAt = Date.now() - started;
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let nl = buffer.indexOf('\n');
        while (nl >= 0) {
          events.push(JSON.parse(buffer.slice(0, nl)) as JsonObject);
          buffer = buffer.slice(nl + 1);
          nl = buffer.indexOf('\n');
        }
      });
      res.on('error', () => undefined);
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
  });
  req.end();
  return { events, ready, headersAt: () => headersAt, close: () => req.destroy() };
}

async function until(check: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

// https://kubernetes.io/docs/reference/using-api/api-concepts/#efficient-detection-of-changes
// (resume from a resourceVersion; 410 Gone when it is too old) and #watch-bookmarks
test('watch: headers flushed at once, resume after a resourceVersion, 410 for a too-old one, bookmarks', async () => {
  await call('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'w' } });
  const first = await call('POST', '/api/v1/namespaces/w/configmaps', cm('a', { v: '1' }));
  assert.equal(first.status, 201);
  const rv = String(meta(first.body).resourceVersion);

  const w = openWatch(
    `/api/v1/namespaces/w/configmaps?watch=true&resourceVersion=${rv}&allowWatchBookmarks=true&timeoutSeconds=5`,
  );
  assert.equal(await w.ready, 200);
  assert.ok(w.headersAt() < 500, `headers arrived after ${w.headersAt()} ms, before any event`);
  assert.equal(w.events.length, 0, 'nothing after rv yet');
  await call(
    'PATCH',
    '/api/v1/namespaces/w/configmaps/a',
    { data: { v: '2' } },
    'application/merge-patch+json',
  );
  await call('DELETE', '/api/v1/namespaces/w/configmaps/a');
  await until(() => w.events.filter((e) => e.type !== 'BOOKMARK').length === 2);
  assert.deepEqual(
    w.events.filter((e) => e.type !== 'BOOKMARK').map((e) => e.type),
    ['MODIFIED', 'DELETED'],
  );
  await until(() => w.events.some((e) => e.type === 'BOOKMARK'), 3000);
  w.close();

  // Resuming from the first rv replays what happened since.
  const replay = openWatch(
    `/api/v1/namespaces/w/configmaps?watch=true&resourceVersion=${rv}&timeoutSeconds=1`,
  );
  await replay.ready;
  await until(() => replay.events.length === 2);
  replay.close();

  const old = await call('GET', '/api/v1/namespaces/w/configmaps?watch=true&resourceVersion=1');
  assert.equal(old.status, 410);
  assert.equal(old.body.reason, 'Expired');
});

// https://kubernetes.io/docs/reference/using-api/api-concepts/#retrieving-large-results-sets-in-chunks
test('list: limit and continue page through a consistent order', async () => {
  await call('POST', '/api/v1/namespaces', {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: 'pages' },
  });
  for (const n of ['c1', 'c2', 'c3', 'c4', 'c5'])
    await call('POST', '/api/v1/namespaces/pages/configmaps', cm(n, {}, { page: 'yes' }));
  const names: string[] = [];
  let cont = '';
  let pages = 0;
  do {
    const r = await call(
      'GET',
      `/api/v1/namespaces/pages/configmaps?labelSelector=page%3Dyes&limit=2${cont ? `&continue=${cont}` : ''}`,
    );
    assert.equal(r.status, 200);
    names.push(...(r.body.items as JsonObject[]).map((i) => String(meta(i).name)));
    cont = String(meta(r.body).continue ?? '');
    pages++;
  } while (cont);
  assert.deepEqual(names, ['c1', 'c2', 'c3', 'c4', 'c5']);
  assert.equal(pages, 3);
});

// https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/object-meta/ (generation:
// "a sequence number representing a specific generation of the desired state") and
// https://kubernetes.io/docs/reference/using-api/api-concepts/#patch-and-apply
test('generation moves on spec changes only; /status writes status only; patch types', async () => {
  const dep = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'gen' },
    spec: {
      selector: { matchLabels: { app: 'gen' } },
      template: {
        metadata: { labels: { app: 'gen' } },
        spec: { containers: [{ name: 'c', image: 'busybox' }] },
      },
    },
  };
  server.workloads.setBehaviour('Deployment', 'default', 'gen', { mode: 'manual' });
  const created = await call('POST', '/apis/apps/v1/namespaces/default/deployments', dep);
  assert.equal(created.status, 201);
  assert.equal(meta(created.body).generation, 1);
  const c = ((created.body.spec as JsonObject).template as JsonObject).spec as JsonObject;
  // imagePullPolicy by tag: no tag means latest means Always (core/v1 Container docs).
  assert.equal((c.containers as JsonObject[])[0]?.imagePullPolicy, 'Always');

  const labelled = await call(
    'PATCH',
    '/apis/apps/v1/namespaces/default/deployments/gen',
    { metadata: { labels: { x: 'y' } } },
    'application/merge-patch+json',
  );
  assert.equal(meta(labelled.body).generation, 1, 'metadata changes keep generation');
  const status = await call(
    'PATCH',
    '/apis/apps/v1/namespaces/default/deployments/gen/status',
    { spec: { replicas: 9 }, status: { observedGeneration: 1, replicas: 1 } },
    'application/merge-patch+json',
  );
  assert.equal(status.status, 200);
  assert.equal((status.body.spec as JsonObject).replicas, 1, '/status ignores spec');
  assert.equal((status.body.status as JsonObject).replicas, 1);
  assert.equal(meta(status.body).generation, 1);
  const ignored = await call(
    'PATCH',
    '/apis/apps/v1/namespaces/default/deployments/gen',
    { status: { replicas: 5 } },
    'application/merge-patch+json',
  );
  assert.equal((ignored.body.status as JsonObject).replicas, 1, 'the main resource ignores status');
  assert.equal(
    meta(ignored.body).resourceVersion,
    meta(status.body).resourceVersion,
    'no-op patch: no write',
  );

  const jp = await call(
    'PATCH',
    '/apis/apps/v1/namespaces/default/deployments/gen',
    [{ op: 'replace', path: '/spec/template/spec/containers/0/image', value: 'busybox:1.36' }],
    'application/json-patch+json',
  );
  assert.equal(jp.status, 200);
  assert.equal(meta(jp.body).generation, 2);
  const smp = await call(
    'PATCH',
    '/apis/apps/v1/namespaces/default/deployments/gen',
    { spec: { template: { spec: { containers: [{ name: 'side', image: 'envoy:1' }] } } } },
    'application/strategic-merge-patch+json',
  );
  const names = (((smp.body.spec as JsonObject).template as JsonObject).spec as JsonObject)
    .containers as JsonObject[];
  assert.deepEqual(
    names.map((x) => x.name),
    ['c', 'side'],
    'strategic merge merges containers by name',
  );
  const mp = await call(
    'PATCH',
    '/apis/apps/v1/namespaces/default/deployments/gen',
    { spec: { template: { spec: { containers: [{ name: 'only', image: 'x:1' }] } } } },
    'application/merge-patch+json',
  );
  assert.equal(
    ((((mp.body.spec as JsonObject).template as JsonObject).spec as JsonObject).containers as JsonObject[])
      .length,
    1,
    'merge patch replaces lists',
  );
});

// https://kubernetes.io/docs/reference/using-api/api-concepts/#response-status-kind and
// https://kubernetes.io/docs/reference/using-api/server-side-apply/#merge-strategy (atomic Service selector)
test('Status errors, a missing namespace, and atomic Service selector ownership', async () => {
  const missing = await call('GET', '/api/v1/namespaces/default/configmaps/nope');
  assert.equal(missing.status, 404);
  assert.deepEqual(missing.body, {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: 'configmaps "nope" not found',
    reason: 'NotFound',
    details: { name: 'nope', kind: 'configmaps' },
    code: 404,
  });
  const noNs = await call('POST', '/api/v1/namespaces/ghost/configmaps', cm('x', {}));
  assert.equal(noNs.status, 404);
  assert.equal(noNs.body.message, 'namespaces "ghost" not found');
  const dup1 = await call('POST', '/api/v1/namespaces/default/configmaps', cm('dup', {}));
  assert.equal(dup1.status, 201);
  const dup2 = await call('POST', '/api/v1/namespaces/default/configmaps', cm('dup', {}));
  assert.equal(dup2.status, 409);
  assert.equal(dup2.body.reason, 'AlreadyExists');
  const stale = await call('PUT', '/api/v1/namespaces/default/configmaps/dup', {
    ...cm('dup', { a: 'b' }),
    metadata: { name: 'dup', resourceVersion: '1' },
  });
  assert.equal(stale.status, 409);
  assert.equal(stale.body.reason, 'Conflict');
  assert.match(
    String(stale.body.message),
    /the object has been modified; please apply your changes to the latest version and try again/,
  );

  const svc = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'api' },
    spec: { selector: { app: 'api', tier: 'be' }, ports: [{ port: 80 }] },
  };
  const applied = await call(
    'PATCH',
    '/api/v1/namespaces/default/services/api?fieldManager=gitops',
    svc,
    'application/apply-patch+yaml',
  );
  assert.equal(applied.status, 201);
  const entry = (meta(applied.body).managedFields as JsonObject[])[0]!;
  const spec = (entry.fieldsV1 as JsonObject)['f:spec'] as JsonObject;
  assert.deepEqual(spec['f:selector'], {}, 'Service selector is owned atomically');
  assert.ok(
    (spec['f:ports'] as JsonObject)['k:{"port":80,"protocol":"TCP"}'],
    'ports keyed by port+protocol',
  );
  const narrowed = { ...svc, spec: { selector: { app: 'api' }, ports: [{ port: 80 }] } };
  const r = await call(
    'PATCH',
    '/api/v1/namespaces/default/services/api?fieldManager=gitops',
    narrowed,
    'application/apply-patch+yaml',
  );
  assert.deepEqual(
    (r.body.spec as JsonObject).selector,
    { app: 'api' },
    'an atomic map is replaced, not merged',
  );
});

// https://kubernetes.io/docs/reference/using-api/server-side-apply/#field-management ("co-own")
test('co-owned fields survive when one applier drops them; finalizers merge as a set', async () => {
  const a = cm('shared', { k: 'v', only: 'a' });
  const b = cm('shared', { k: 'v' });
  const path = '/api/v1/namespaces/default/configmaps/shared';
  assert.equal(
    (await call('PATCH', `${path}?fieldManager=a`, a, 'application/apply-patch+yaml')).status,
    201,
  );
  assert.equal(
    (await call('PATCH', `${path}?fieldManager=b`, b, 'application/apply-patch+yaml')).status,
    200,
  );
  const dropped = await call(
    'PATCH',
    `${path}?fieldManager=a`,
    cm('shared', {}),
    'application/apply-patch+yaml',
  );
  assert.deepEqual(dropped.body.data, { k: 'v' }, 'k stays (b co-owns it); only goes');
  const fin = await call(
    'PATCH',
    `${path}?fieldManager=f`,
    { ...cm('shared', {}), metadata: { name: 'shared', finalizers: ['example.com/x'] } },
    'application/apply-patch+yaml',
  );
  const fs = (meta(fin.body).managedFields as JsonObject[]).find((e) => e.manager === 'f');
  const fsMeta = (fs?.fieldsV1 as JsonObject | undefined)?.['f:metadata'] as JsonObject | undefined;
  // Set-typed lists are owned per value (`v:`); an applier owns the items it sent.
  assert.deepEqual(fsMeta?.['f:finalizers'], { 'v:"example.com/x"': {} });
  // With a finalizer, DELETE only marks the object (api-concepts: finalizers).
  const del = await call('DELETE', path);
  assert.equal(del.status, 202);
  assert.ok(meta(del.body).deletionTimestamp);
  const cleared = await call(
    'PATCH',
    path,
    [{ op: 'remove', path: '/metadata/finalizers' }],
    'application/json-patch+json',
  );
  assert.equal(cleared.status, 200);
  assert.equal((await call('GET', path)).status, 404, 'gone once the last finalizer is removed');
});

// https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#deployment-status
// (observedGeneration, updated/available replicas, Available=False MinimumReplicasUnavailable)
test('scripted rollouts: observedGeneration lag, unavailable replicas, kubectl rollout status waiting', async () => {
  const dep = (name: string) => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'c', image: 'busybox:1' }] },
      },
    },
  });
  server.workloads.setBehaviour('Deployment', 'default', 'lag', {
    mode: 'ready',
    observeAfterMs: 300,
    afterMs: 400,
  });
  await call('POST', '/apis/apps/v1/namespaces/default/deployments', dep('lag'));
  const ref = { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'default', name: 'lag' };
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(server.getObject(ref)?.status, undefined, 'not observed yet');
  await until(() => (server.getObject(ref)?.status as JsonObject | undefined)?.observedGeneration === 1);
  await until(() => (server.getObject(ref)?.status as JsonObject | undefined)?.availableReplicas === 2);

  server.workloads.setBehaviour('Deployment', 'default', 'down', { mode: 'unavailable', afterMs: 10 });
  await call('POST', '/apis/apps/v1/namespaces/default/deployments', dep('down'));
  const down = { ...ref, name: 'down' };
  await until(() => (server.getObject(down)?.status as JsonObject | undefined)?.updatedReplicas === 2);
  const status = server.getObject(down)?.status as JsonObject;
  assert.equal(status.unavailableReplicas, 2);
  const available = (status.conditions as JsonObject[]).find((c) => c.type === 'Available');
  assert.equal(available?.status, 'False');
  assert.equal(available?.reason, 'MinimumReplicasUnavailable');
  const r = await runKubectl(server, ['rollout', 'status', 'deployment/down', '--timeout=1s']);
  assert.equal(r.code, 1);
  assert.match(
    r.stdout,
    /Waiting for deployment "down" rollout to finish: 0 of 2 updated replicas are available/,
  );

  // A test can finish the rollout itself; `rollout status` (watching) sees the write.
  const waiting = runKubectl(server, ['rollout', 'status', 'deployment/down', '--timeout=10s']);
  await new Promise((r) => setTimeout(r, 300));
  server.workloads.setStatus(down, {
    ...status,
    availableReplicas: 2,
    readyReplicas: 2,
    unavailableReplicas: 0,
  });
  const done = await waiting;
  assert.equal(done.code, 0, done.stderr);
  assert.match(done.stdout, /successfully rolled out/);
});

// Fault injection and the request log are test-harness features, not Kubernetes behaviour; the
// 429 carries Retry-After as a real server's max-in-flight limiter does
// (https://kubernetes.io/docs/concepts/cluster-administration/flow-control/).
test('faults: 500 and 429 by path, connection reset, latency; the request log counts calls', async () => {
  server.clearRequests();
  server.faults.add({ method: 'GET', pathPattern: /\/configmaps\/dup$/, status: 500, times: 1 });
  const failed = await call('GET', '/api/v1/namespaces/default/configmaps/dup');
  assert.equal(failed.status, 500);
  assert.equal(failed.body.reason, 'InternalError');
  assert.equal((await call('GET', '/api/v1/namespaces/default/configmaps/dup')).status, 200, 'times: 1');

  server.faults.add({ pathPattern: '/throttled', status: 429 });
  const throttled = await fetch(`${server.url}/api/v1/namespaces/default/configmaps/throttled`);
  assert.equal(throttled.status, 429);
  assert.equal(throttled.headers.get('retry-after'), '1');

  server.faults.add({ pathPattern: '/reset-me', reset: true });
  await assert.rejects(fetch(`${server.url}/api/v1/namespaces/default/configmaps/reset-me`));

  server.faults.add({ pathPattern: '/slow', latencyMs: 150 });
  const t0 = Date.now();
  await fetch(`${server.url}/api/v1/namespaces/default/configmaps/slow`);
  assert.ok(Date.now() - t0 >= 140);
  server.faults.clear();

  // kubectl against a failing list: `Error from server (InternalError)` and a non-zero exit.
  server.faults.add({ method: 'GET', pathPattern: '/api/v1/namespaces/default/secrets', status: 500 });
  const r = await runKubectl(server, ['get', 'secrets']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /Error from server \(InternalError\)/);
  server.faults.clear();
  const gets = server.requests.filter((x) => x.method === 'GET' && x.path.endsWith('/configmaps/dup'));
  assert.deepEqual(
    gets.map((x) => x.status),
    [500, 200],
  );
});

// https://kubernetes.io/docs/reference/using-api/api-concepts/#protobuf-encoding: kubectl's
// typed `create` generators send protobuf; the objects must come out as if sent in JSON.
test('kubectl create (protobuf bodies) for namespace, configmap, secret, deployment and service', async () => {
  const k = (args: string[]) => runKubectl(server, args);
  for (const args of [
    ['create', 'namespace', 'pb'],
    ['create', 'configmap', 'cfg', '-n', 'pb', '--from-literal=a=1'],
    ['create', 'secret', 'generic', 'sec', '-n', 'pb', '--from-literal=p=s3cret'],
    ['create', 'deployment', 'web', '-n', 'pb', '--image=nginx:1.25', '--port=80', '--replicas=2'],
    ['create', 'service', 'clusterip', 'web', '-n', 'pb', '--tcp=80:8080'],
  ]) {
    const r = await k(args);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
  }
  const get = (apiVersion: string, kind: string, name: string) =>
    server.getObject({ apiVersion, kind, namespace: 'pb', name })!;
  assert.deepEqual(get('v1', 'ConfigMap', 'cfg').data, { a: '1' });
  const secret = get('v1', 'Secret', 'sec');
  assert.deepEqual(secret.data, { p: Buffer.from('s3cret').toString('base64') });
  assert.equal(secret.type, 'Opaque');
  const dep = get('apps/v1', 'Deployment', 'web');
  const spec = dep.spec as JsonObject;
  assert.equal(spec.replicas, 2);
  assert.deepEqual(spec.selector, { matchLabels: { app: 'web' } });
  const container = (((spec.template as JsonObject).spec as JsonObject).containers as JsonObject[])[0]!;
  assert.deepEqual(
    [container.name, container.image, container.ports, container.imagePullPolicy],
    ['nginx', 'nginx:1.25', [{ containerPort: 80, protocol: 'TCP' }], 'IfNotPresent'],
  );
  assert.ok(
    (meta(dep).managedFields as JsonObject[]).some(
      (e) => e.manager === 'kubectl-create' && e.operation === 'Update',
    ),
  );
  const svc = get('v1', 'Service', 'web');
  assert.deepEqual((svc.spec as JsonObject).ports, [
    { name: '80-8080', protocol: 'TCP', port: 80, targetPort: 8080 },
  ]);
  const rollout = await k(['rollout', 'status', 'deployment/web', '-n', 'pb', '--timeout=10s']);
  assert.equal(rollout.code, 0, rollout.stderr);
});

// Harness feature (issue 5, "Start/stop ... from the command line").
test('npm run kube-apiserver writes a kubeconfig, prints the URL and stops on SIGTERM', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kube-apiserver-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const kubeconfig = join(dir, 'kubeconfig');
  const root = new URL('..', import.meta.url).pathname;
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/cli.ts', '--port', '0', '--kubeconfig', kubeconfig],
    {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (c) => {
      out += c;
      if (out.includes('\n')) resolve(out.trim());
    });
    child.on('exit', (code) => reject(new Error(`exited ${code}`)));
  });
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.match(readFileSync(kubeconfig, 'utf8'), new RegExp(`server: ${url}`));
  const version = (await (await fetch(`${url}/version`)).json()) as JsonObject;
  assert.equal(version.gitVersion, 'v1.32.2');
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  assert.equal(await exited, 0);
});
