// Drives the REAL kubectl (pinned 1.32, isolated HOME) against the test API server. Each test
// cites the Kubernetes documentation its assertions follow.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type JsonObject, type JsonValue, type KubeApiServer, startKubeApiServer } from '../src/index.js';
import { runKubectl } from '../src/kubectl.js';

let server: KubeApiServer;

before(async () => {
  server = await startKubeApiServer();
});

after(async () => {
  await server.stop();
});

const kubectl = (args: string[], input?: string, env?: Record<string, string>) =>
  runKubectl(server, args, { ...(input !== undefined ? { input } : {}), ...(env ? { env } : {}) });

function deployment(
  ns: string,
  name: string,
  opts: { image?: string; replicas?: number; labels?: Record<string, string> } = {},
): string {
  const labels = { app: name, ...(opts.labels ?? {}) };
  return JSON.stringify({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: ns, labels },
    spec: {
      ...(opts.replicas !== undefined ? { replicas: opts.replicas } : {}),
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          containers: [
            {
              name: 'app',
              image: opts.image ?? 'registry.example/app:1.0.0',
              ports: [{ containerPort: 8080 }],
              env: [{ name: 'MODE', value: 'prod' }],
            },
          ],
        },
      },
    },
  });
}

async function namespace(name: string): Promise<void> {
  const r = await kubectl(['create', 'namespace', name]);
  assert.equal(r.code, 0, r.stderr);
}

function deploymentObj(ns: string, name: string): JsonObject {
  const obj = server.getObject({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: ns, name });
  assert.ok(obj, `deployment ${ns}/${name} exists`);
  return obj;
}

interface Entry {
  manager: string;
  operation: string;
  subresource?: string;
  fieldsV1: JsonObject;
}

function managers(obj: JsonObject): Entry[] {
  return ((obj.metadata as JsonObject).managedFields ?? []) as unknown as Entry[];
}

/** The fieldsV1 node of a managedFields entry at a path of path elements. */
function fieldAt(entry: Entry | undefined, ...path: string[]): JsonValue | undefined {
  let node: JsonValue | undefined = entry?.fieldsV1;
  for (const pe of path)
    node = node && typeof node === 'object' && !Array.isArray(node) ? node[pe] : undefined;
  return node;
}

function meta(obj: JsonObject): JsonObject {
  return obj.metadata as JsonObject;
}

// https://kubernetes.io/docs/reference/using-api/server-side-apply/#field-management
// ("the API server tracks managed fields for all newly created objects"; Apply entries own
// exactly the fields the manager sent) and https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions
test('apply --server-side creates, updates and is a no-op when nothing changed', async () => {
  await namespace('ssa');
  const create = await kubectl(
    ['apply', '--server-side', '--field-manager=gitops', '-f', '-'],
    deployment('ssa', 'web'),
  );
  assert.equal(create.code, 0, create.stderr);
  assert.match(create.stdout, /deployment\.apps\/web serverside-applied/);
  const created = server.requests.find((r) => r.method === 'PATCH' && r.path.endsWith('/deployments/web'));
  assert.equal(created?.status, 201, 'a create by apply answers 201');
  assert.equal(created?.query.fieldManager, 'gitops');

  let obj = deploymentObj('ssa', 'web');
  assert.equal(meta(obj).generation, 1);
  const apply = managers(obj).find((e) => e.manager === 'gitops');
  assert.equal(apply?.operation, 'Apply');
  const containers = fieldAt(apply, 'f:spec', 'f:template', 'f:spec', 'f:containers') as JsonObject;
  // list-map keys: containers by name, ports by containerPort+protocol (protocol defaulted), env by name.
  const app = containers['k:{"name":"app"}'] as JsonObject;
  assert.ok(app, 'containers keyed by name');
  assert.ok((app['f:ports'] as JsonObject)['k:{"containerPort":8080,"protocol":"TCP"}']);
  assert.ok((app['f:env'] as JsonObject)['k:{"name":"MODE"}']);
  // Defaults are in the object but owned by nobody (the applier sent none of them).
  const spec = obj.spec as JsonObject;
  assert.equal(spec.revisionHistoryLimit, 10);
  assert.equal(spec.progressDeadlineSeconds, 600);
  assert.deepEqual(spec.strategy, {
    type: 'RollingUpdate',
    rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' },
  });
  assert.equal(fieldAt(apply, 'f:spec', 'f:strategy'), undefined);

  const update = await kubectl(
    ['apply', '--server-side', '--field-manager=gitops', '-f', '-'],
    deployment('ssa', 'web', { image: 'registry.example/app:1.1.0' }),
  );
  assert.equal(update.code, 0, update.stderr);
  obj = deploymentObj('ssa', 'web');
  assert.equal(meta(obj).generation, 2, 'a spec change bumps generation');
  const rvAfterUpdate = meta(deploymentObj('ssa', 'web')).resourceVersion;

  // Let the scripted controller settle so the status does not move under the no-op check.
  await waitFor(() => (deploymentObj('ssa', 'web').status as JsonObject | undefined)?.updatedReplicas === 1);
  const settled = meta(deploymentObj('ssa', 'web')).resourceVersion;
  assert.ok(Number(settled) >= Number(rvAfterUpdate));
  const noop = await kubectl(
    ['apply', '--server-side', '--field-manager=gitops', '-f', '-'],
    deployment('ssa', 'web', { image: 'registry.example/app:1.1.0' }),
  );
  assert.equal(noop.code, 0, noop.stderr);
  obj = deploymentObj('ssa', 'web');
  assert.equal(meta(obj).resourceVersion, settled, 'a no-op apply writes nothing');
  assert.equal(meta(obj).generation, 2);
});

// https://kubernetes.io/docs/reference/using-api/api-concepts/#dry-run
test('apply --dry-run=server sends dryRun=All and persists nothing', async () => {
  await namespace('dry');
  const r = await kubectl(
    ['apply', '--server-side', '--field-manager=gitops', '--dry-run=server', '-f', '-'],
    deployment('dry', 'web'),
  );
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /serverside-applied \(server dry run\)/);
  const req = server.requests.find(
    (x) => x.method === 'PATCH' && x.path === '/apis/apps/v1/namespaces/dry/deployments/web',
  );
  assert.equal(req?.query.dryRun, 'All');
  assert.equal(
    server.getObject({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'dry', name: 'web' }),
    undefined,
  );
});

// https://kubernetes.io/docs/reference/using-api/server-side-apply/#conflicts
test('a second manager changing an owned field conflicts (409 FieldManagerConflict) until --force-conflicts', async () => {
  await namespace('conflict');
  const first = await kubectl(
    ['apply', '--server-side', '--field-manager=team-a', '-f', '-'],
    deployment('conflict', 'web', { replicas: 2 }),
  );
  assert.equal(first.code, 0, first.stderr);
  const second = await kubectl(
    ['apply', '--server-side', '--field-manager=team-b', '-f', '-'],
    deployment('conflict', 'web', { replicas: 5 }),
  );
  assert.equal(second.code, 1);
  assert.match(second.stderr, /Apply failed with 1 conflict: conflict with "team-a": \.spec\.replicas/);

  // The Status object itself, as the server sent it.
  const res = await fetch(
    `${server.url}/apis/apps/v1/namespaces/conflict/deployments/web?fieldManager=team-b`,
    {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/apply-patch+yaml' },
      body: deployment('conflict', 'web', { replicas: 5 }),
    },
  );
  assert.equal(res.status, 409);
  const status = (await res.json()) as JsonObject;
  assert.equal(status.kind, 'Status');
  assert.equal(status.reason, 'Conflict');
  assert.deepEqual((status.details as JsonObject).causes, [
    { type: 'FieldManagerConflict', message: 'conflict with "team-a"', field: '.spec.replicas' },
  ]);

  const forced = await kubectl(
    ['apply', '--server-side', '--field-manager=team-b', '--force-conflicts', '-f', '-'],
    deployment('conflict', 'web', { replicas: 5 }),
  );
  assert.equal(forced.code, 0, forced.stderr);
  const obj = deploymentObj('conflict', 'web');
  assert.equal((obj.spec as JsonObject).replicas, 5);
  const a = managers(obj).find((e) => e.manager === 'team-a');
  const b = managers(obj).find((e) => e.manager === 'team-b');
  assert.equal(fieldAt(a, 'f:spec', 'f:replicas'), undefined, 'forcing takes the field away');
  assert.deepEqual(fieldAt(b, 'f:spec', 'f:replicas'), {});
  // Both sent the same template: co-owned, so no conflict there (server-side-apply#conflicts, "co-own").
  assert.ok(fieldAt(a, 'f:spec', 'f:template'));
});

// https://kubernetes.io/docs/reference/using-api/server-side-apply/#field-management
// ("If you remove a field from a manifest and apply that manifest, Server-Side Apply checks for
// any other field managers that also own the field. If the field is not owned by any other field
// managers, it is either deleted from the live object or reset to its default value")
test('a field the manager stops applying is removed, or reset to its default', async () => {
  await namespace('prune-fields');
  const withExtra = JSON.parse(deployment('prune-fields', 'web', { replicas: 3 })) as JsonObject;
  ((withExtra.metadata as JsonObject).labels as JsonObject).tier = 'web';
  let r = await kubectl(
    ['apply', '--server-side', '--field-manager=gitops', '-f', '-'],
    JSON.stringify(withExtra),
  );
  assert.equal(r.code, 0, r.stderr);
  r = await kubectl(
    ['apply', '--server-side', '--field-manager=gitops', '-f', '-'],
    deployment('prune-fields', 'web'),
  );
  assert.equal(r.code, 0, r.stderr);
  const obj = deploymentObj('prune-fields', 'web');
  assert.equal((meta(obj).labels as JsonObject).tier, undefined);
  assert.equal((obj.spec as JsonObject).replicas, 1, 'replicas falls back to its default');
});

// https://kubernetes.io/docs/reference/kubectl/generated/kubectl_diff/ ("Exit status: 0 No
// differences were found. 1 Differences were found.")
test('diff --server-side exits 0 without changes and 1 with changes', async () => {
  await namespace('diff');
  const doc = deployment('diff', 'web');
  assert.equal((await kubectl(['apply', '--server-side', '--field-manager=gitops', '-f', '-'], doc)).code, 0);
  // Let the scripted rollout finish: a status write between diff's GET and its dry-run apply
  // would show up as a difference, exactly as it would on a real cluster.
  await waitFor(
    () => (deploymentObj('diff', 'web').status as JsonObject | undefined)?.availableReplicas === 1,
  );
  const same = await kubectl(['diff', '--server-side', '--field-manager=gitops', '-f', '-'], doc);
  assert.equal(same.code, 0, same.stdout + same.stderr);
  assert.equal(same.stdout, '');
  const changed = await kubectl(
    ['diff', '--server-side', '--field-manager=gitops', '-f', '-'],
    deployment('diff', 'web', { image: 'registry.example/app:2.0.0' }),
  );
  assert.equal(changed.code, 1, changed.stderr);
  assert.match(changed.stdout, /-\s+image: registry\.example\/app:1\.0\.0/);
  assert.match(changed.stdout, /\+\s+image: registry\.example\/app:2\.0\.0/);
  assert.doesNotMatch(
    changed.stdout,
    /resourceVersion/,
    'diff masks nothing else: no noise from server fields',
  );
});

// https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors and
// https://kubernetes.io/docs/concepts/overview/working-with-objects/field-selectors/
test('get of several kinds with label and field selectors -o json', async () => {
  await namespace('shop');
  const docs = [
    deployment('shop', 'front', { labels: { tier: 'web' } }),
    deployment('shop', 'db', { labels: { tier: 'db' } }),
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'front-config', namespace: 'shop', labels: { app: 'front', tier: 'web' } },
      data: { a: '1' },
    }),
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'front', namespace: 'shop', labels: { app: 'front', tier: 'web' } },
      spec: { selector: { app: 'front' }, ports: [{ port: 80, targetPort: 8080 }] },
    }),
  ];
  const r = await kubectl(
    ['apply', '--server-side', '--field-manager=gitops', '-f', '-'],
    `---\n${docs.join('\n---\n')}`,
  );
  assert.equal(r.code, 0, r.stderr);

  const names = async (args: string[]) => {
    const g = await kubectl(['get', ...args, '-n', 'shop', '-o', 'json']);
    assert.equal(g.code, 0, g.stderr);
    const list = JSON.parse(g.stdout) as { kind: string; items: JsonObject[] };
    assert.equal(list.kind, 'List');
    return list.items.map((i) => `${String(i.kind)}/${String(meta(i).name)}`).sort();
  };
  assert.deepEqual(await names(['deploy,svc,cm', '-l', 'tier=web']), [
    'ConfigMap/front-config',
    'Deployment/front',
    'Service/front',
  ]);
  assert.deepEqual(await names(['deploy,cm', '-l', 'tier!=web']), [
    'ConfigMap/kube-root-ca.crt',
    'Deployment/db',
  ]);
  assert.deepEqual(await names(['deploy', '-l', 'tier in (db,cache)']), ['Deployment/db']);
  assert.deepEqual(await names(['deploy', '-l', 'tier notin (db),app']), ['Deployment/front']);
  assert.deepEqual(await names(['deploy,svc', '--field-selector', 'metadata.name=front']), [
    'Deployment/front',
    'Service/front',
  ]);
  const list = server.requests.find(
    (x) => x.path === '/apis/apps/v1/namespaces/shop/deployments' && x.query.labelSelector === 'tier=web',
  );
  assert.equal(list?.query.limit, '500', 'kubectl lists in chunks of 500');

  // Service defaults a real server adds (core/v1 ServicePort: protocol TCP, targetPort = port when unset).
  const svc = server.getObject({ apiVersion: 'v1', kind: 'Service', namespace: 'shop', name: 'front' });
  const spec = svc?.spec as JsonObject;
  assert.deepEqual(spec.ports, [{ port: 80, targetPort: 8080, protocol: 'TCP' }]);
  assert.equal(spec.type, 'ClusterIP');
  assert.equal(spec.sessionAffinity, 'None');
});

// https://kubernetes.io/docs/reference/kubectl/generated/kubectl_delete/ (--wait) and
// https://kubernetes.io/docs/concepts/overview/working-with-objects/namespaces/ (deleting a
// namespace deletes everything in it)
test('delete waits until the object is gone; a namespace takes its objects with it', async () => {
  await namespace('gone');
  assert.equal(
    (
      await kubectl(
        ['apply', '--server-side', '--field-manager=gitops', '-f', '-'],
        deployment('gone', 'web'),
      )
    ).code,
    0,
  );
  const del = await kubectl(['delete', 'deployment', 'web', '-n', 'gone', '--wait=true', '--timeout=10s']);
  assert.equal(del.code, 0, del.stderr);
  assert.match(del.stdout, /deployment\.apps "web" deleted/);
  const body = server.requests.find((x) => x.method === 'DELETE' && x.path.endsWith('/gone/deployments/web'));
  assert.equal(body?.status, 200);
  const get = await kubectl(['get', 'deployment', 'web', '-n', 'gone']);
  assert.equal(get.code, 1);
  assert.match(get.stderr, /Error from server \(NotFound\): deployments\.apps "web" not found/);

  assert.equal(
    (
      await kubectl(
        ['apply', '--server-side', '--field-manager=gitops', '-f', '-'],
        deployment('gone', 'api'),
      )
    ).code,
    0,
  );
  const nsDel = await kubectl(['delete', 'namespace', 'gone', '--wait=true', '--timeout=10s']);
  assert.equal(nsDel.code, 0, nsDel.stderr);
  assert.equal(
    server.getObject({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'gone', name: 'api' }),
    undefined,
  );
  const write = await kubectl(
    ['apply', '--server-side', '--field-manager=gitops', '-f', '-'],
    deployment('gone', 'web'),
  );
  assert.equal(write.code, 1);
  assert.match(write.stderr, /namespaces "gone" not found/);
});

// https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#deployment-status and
// #failed-deployment ("Progressing ... reason: ProgressDeadlineExceeded")
test('rollout status succeeds, times out with --timeout, and stops at the progress deadline', async () => {
  await namespace('rollout');
  assert.equal(
    (
      await kubectl(
        ['apply', '--server-side', '--field-manager=gitops', '-f', '-'],
        deployment('rollout', 'ok'),
      )
    ).code,
    0,
  );
  const ok = await kubectl(['rollout', 'status', 'deployment/ok', '-n', 'rollout', '--timeout=10s']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /deployment "ok" successfully rolled out/);

  server.workloads.setBehaviour('Deployment', 'rollout', 'stuck', { mode: 'stuck' });
  assert.equal(
    (
      await kubectl(
        ['apply', '--server-side', '--field-manager=gitops', '-f', '-'],
        deployment('rollout', 'stuck'),
      )
    ).code,
    0,
  );
  const timedOut = await kubectl(['rollout', 'status', 'deployment/stuck', '-n', 'rollout', '--timeout=1s']);
  assert.equal(timedOut.code, 1);
  assert.match(
    timedOut.stdout,
    /Waiting for deployment "stuck" rollout to finish: 0 out of 1 new replicas have been updated/,
  );
  assert.match(timedOut.stderr, /timed out waiting for the condition/);
  assert.ok(timedOut.ms < 5000, `--timeout is honoured (took ${timedOut.ms} ms)`);

  server.workloads.setBehaviour('Deployment', 'rollout', 'late', {
    mode: 'progressDeadlineExceeded',
    afterMs: 200,
  });
  assert.equal(
    (
      await kubectl(
        ['apply', '--server-side', '--field-manager=gitops', '-f', '-'],
        deployment('rollout', 'late'),
      )
    ).code,
    0,
  );
  const deadline = await kubectl(['rollout', 'status', 'deployment/late', '-n', 'rollout', '--timeout=10s']);
  assert.equal(deadline.code, 1);
  assert.match(deadline.stderr, /deployment "late" exceeded its progress deadline/);
});

// https://kubernetes.io/docs/tasks/manage-kubernetes-objects/declarative-config/#alternative-kubectl-apply-f-directory-prune
// and KEP-3659 (https://www.kubernetes.dev/resources/keps/3659/), ApplySet parent labels/annotations
test('an ApplySet prune removes the object dropped from the set', async () => {
  await namespace('set');
  const cm = (name: string) =>
    JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: { k: name } });
  const env = { KUBECTL_APPLYSET: 'true' };
  const args = [
    'apply',
    '-n',
    'set',
    '--server-side',
    '--field-manager=gitops',
    '--prune',
    '--applyset=configmap/release',
    '-f',
    '-',
  ];
  const first = await kubectl(args, `---\n${cm('one')}\n---\n${cm('two')}`, env);
  assert.equal(first.code, 0, first.stderr);
  const parent = server.getObject({ apiVersion: 'v1', kind: 'ConfigMap', namespace: 'set', name: 'release' });
  const id = (meta(parent!).labels as JsonObject)['applyset.kubernetes.io/id'];
  assert.match(String(id), /^applyset-.+-v1$/);
  assert.equal(
    (meta(parent!).annotations as JsonObject)['applyset.kubernetes.io/contains-group-kinds'],
    'ConfigMap',
  );
  const member = server.getObject({ apiVersion: 'v1', kind: 'ConfigMap', namespace: 'set', name: 'two' });
  assert.equal((meta(member!).labels as JsonObject)['applyset.kubernetes.io/part-of'], id);

  const second = await kubectl(args, cm('one'), env);
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stdout, /configmap\/two pruned/);
  assert.equal(
    server.getObject({ apiVersion: 'v1', kind: 'ConfigMap', namespace: 'set', name: 'two' }),
    undefined,
  );
  assert.ok(server.getObject({ apiVersion: 'v1', kind: 'ConfigMap', namespace: 'set', name: 'one' }));
});

// https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#create-a-customresourcedefinition
// ("the new namespaced RESTful API endpoint is created" once the CRD is Established)
test('a CRD, then a custom resource of it', async () => {
  await namespace('crd');
  const crd = {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: 'widgets.example.com' },
    spec: {
      group: 'example.com',
      scope: 'Namespaced',
      names: { plural: 'widgets', singular: 'widget', kind: 'Widget', shortNames: ['wd'] },
      versions: [
        {
          name: 'v1',
          served: true,
          storage: true,
          additionalPrinterColumns: [{ name: 'Size', type: 'integer', jsonPath: '.spec.size' }],
          schema: {
            openAPIV3Schema: {
              type: 'object',
              properties: { spec: { type: 'object', properties: { size: { type: 'integer' } } } },
            },
          },
        },
      ],
    },
  };
  let r = await kubectl(['apply', '--server-side', '--field-manager=gitops', '-f', '-'], JSON.stringify(crd));
  assert.equal(r.code, 0, r.stderr);
  r = await kubectl(['wait', '--for=condition=Established', 'crd/widgets.example.com', '--timeout=10s']);
  assert.equal(r.code, 0, r.stderr);
  r = await kubectl(['api-resources', '--api-group=example.com', '-o', 'name']);
  assert.equal(r.stdout.trim(), 'widgets.example.com');
  const widget = {
    apiVersion: 'example.com/v1',
    kind: 'Widget',
    metadata: { name: 'w1', namespace: 'crd' },
    spec: { size: 3 },
  };
  r = await kubectl(['apply', '--server-side', '--field-manager=gitops', '-f', '-'], JSON.stringify(widget));
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /widget\.example\.com\/w1 serverside-applied/);
  r = await kubectl(['get', 'wd', '-n', 'crd', '-o', 'json']);
  assert.equal(r.code, 0, r.stderr);
  const items = (JSON.parse(r.stdout) as { items: JsonObject[] }).items;
  assert.deepEqual(
    items.map((i) => [meta(i).name, (i.spec as JsonObject).size, meta(i).generation]),
    [['w1', 3, 1]],
  );
  // Strategic merge patch is not defined for custom resources (api-concepts: 415 for CRs).
  const res = await fetch(`${server.url}/apis/example.com/v1/namespaces/crd/widgets/w1`, {
    method: 'PATCH',
    headers: { 'Content-Type': 'application/strategic-merge-patch+json' },
    body: '{"spec":{"size":4}}',
  });
  assert.equal(res.status, 415);
  r = await kubectl(['get', 'widgets', '-n', 'crd']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^NAME\s+SIZE\s+AGE\nw1\s+3\s+/);

  // Deleting the CRD deletes its custom resources and the API goes away.
  r = await kubectl(['delete', 'crd', 'widgets.example.com']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(server.listObjects('apiextensions.k8s.io/v1', 'CustomResourceDefinition').length, 0);
  r = await kubectl(['get', 'widgets', '-n', 'crd']);
  assert.equal(r.code, 1);
  // kubectl's discovery cache still knows the kind, so the list itself answers 404.
  assert.match(r.stderr, /Error from server \(NotFound\).*the server could not find the requested resource/);
});

// https://kubernetes.io/docs/reference/using-api/server-side-apply/#managers ("Update" operations
// are recorded per manager; the manager is the fieldManager parameter or, without one, the
// User-Agent prefix) and #conflicts ("ownership moves ... to the manager making the change")
test('kubectl scale, set image, patch and edit are recorded as their own Update managers', async () => {
  await namespace('managers');
  assert.equal(
    (
      await kubectl(
        ['apply', '--server-side', '--field-manager=gitops', '-f', '-'],
        deployment('managers', 'web', { replicas: 2 }),
      )
    ).code,
    0,
  );
  let r = await kubectl(['scale', 'deployment/web', '-n', 'managers', '--replicas=4']);
  assert.equal(r.code, 0, r.stderr);
  r = await kubectl(['set', 'image', 'deployment/web', '-n', 'managers', 'app=registry.example/app:9.9.9']);
  assert.equal(r.code, 0, r.stderr);
  r = await kubectl([
    'patch',
    'deployment',
    'web',
    '-n',
    'managers',
    '-p',
    '{"metadata":{"annotations":{"team":"payments"}}}',
  ]);
  assert.equal(r.code, 0, r.stderr);
  // `kubectl edit` with a non-interactive editor: sed rewrites the env value in the temp file.
  r = await kubectl(['edit', 'deployment/web', '-n', 'managers'], undefined, {
    EDITOR: 'sed -i s/value:\\ prod/value:\\ canary/',
  });
  assert.equal(r.code, 0, r.stderr);

  const obj = deploymentObj('managers', 'web');
  const byName = new Map(managers(obj).map((e) => [`${e.manager}|${e.operation}|${e.subresource ?? ''}`, e]));
  const spec = (e: Entry | undefined) => e?.fieldsV1['f:spec'] as JsonObject | undefined;
  // kubectl 1.32 sends no fieldManager for scale: the manager is the User-Agent prefix (the binary name).
  const scale = [...byName.entries()].find(([k]) => k.endsWith('|Update|scale'))?.[1];
  assert.ok(scale, `scale recorded: ${[...byName.keys()].join(', ')}`);
  assert.match(scale.manager, /^kubectl/);
  assert.deepEqual(spec(scale), { 'f:replicas': {} });
  const set = byName.get('kubectl-set|Update|');
  assert.ok(set);
  assert.deepEqual(spec(set), {
    'f:template': { 'f:spec': { 'f:containers': { 'k:{"name":"app"}': { 'f:image': {} } } } },
  });
  assert.deepEqual(byName.get('kubectl-patch|Update|')?.fieldsV1, {
    'f:metadata': { 'f:annotations': { '.': {}, 'f:team': {} } },
  });
  const edit = byName.get('kubectl-edit|Update|');
  assert.ok(edit);
  assert.deepEqual(spec(edit), {
    'f:template': {
      'f:spec': {
        'f:containers': { 'k:{"name":"app"}': { 'f:env': { 'k:{"name":"MODE"}': { 'f:value': {} } } } },
      },
    },
  });
  // The applier lost what the others changed, so re-applying its old values conflicts.
  const gitops = spec(byName.get('gitops|Apply|'));
  assert.equal(gitops?.['f:replicas'], undefined);
  const reapply = await kubectl(
    ['apply', '--server-side', '--field-manager=gitops', '-f', '-'],
    deployment('managers', 'web', { replicas: 2 }),
  );
  assert.equal(reapply.code, 1);
  assert.match(reapply.stderr, /Apply failed with 3 conflicts/);
});

// https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#label-selector-updates
// ("In API version apps/v1, a Deployment's label selector is immutable after it gets created")
// and https://kubernetes.io/docs/reference/using-api/api-concepts/#field-validation
test('validation: immutable selector (422 Invalid), DNS-1123 names, unknown fields under Strict (400)', async () => {
  await namespace('invalid');
  assert.equal(
    (
      await kubectl(
        ['apply', '--server-side', '--field-manager=gitops', '-f', '-'],
        deployment('invalid', 'web'),
      )
    ).code,
    0,
  );
  const moved = JSON.parse(deployment('invalid', 'web')) as JsonObject;
  const spec = moved.spec as JsonObject;
  spec.selector = { matchLabels: { app: 'web', v: '2' } };
  ((spec.template as JsonObject).metadata as JsonObject).labels = { app: 'web', v: '2' };
  let r = await kubectl(
    ['apply', '--server-side', '--field-manager=gitops', '-f', '-'],
    JSON.stringify(moved),
  );
  assert.equal(r.code, 1);
  // kubectl renders a 422 Status with causes as `The <details.kind> "<name>" is invalid: ...`.
  assert.match(
    r.stderr,
    /The Deployment "web" is invalid: spec\.selector: Invalid value: .*: field is immutable/,
  );

  r = await kubectl(
    ['apply', '--server-side', '--field-manager=gitops', '-f', '-'],
    deployment('invalid', 'Bad_Name'),
  );
  assert.equal(r.code, 1);
  assert.match(r.stderr, /a lowercase RFC 1123 subdomain must consist of/);

  const unknown = JSON.parse(deployment('invalid', 'web')) as JsonObject;
  (unknown.spec as JsonObject).replicaz = 3;
  r = await kubectl(['apply', '--server-side', '--field-manager=gitops', '-f', '-'], JSON.stringify(unknown));
  assert.equal(r.code, 1);
  assert.match(r.stderr, /Error from server \(BadRequest\)/);
  assert.match(r.stderr, /\.spec\.replicaz: field not declared in schema/);
});

async function waitFor(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

// https://kubernetes.io/docs/reference/using-api/server-side-apply/#upgrading-from-client-side-apply-to-server-side-apply
// (kubectl rewrites the client-side-apply ownership into its Apply entry by patching
// managedFields, which the server must honour) and #clearing-managedfields
test('client-side apply upgraded to server-side apply; managedFields [{}] clears them', async () => {
  await namespace('upgrade');
  // No scripted status writes: they would add a controller entry after managedFields are cleared.
  server.workloads.setBehaviour('Deployment', 'upgrade', 'web', { mode: 'manual' });
  const doc = deployment('upgrade', 'web', { replicas: 3 });
  let r = await kubectl(['apply', '-f', '-'], doc);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(managers(deploymentObj('upgrade', 'web')).some((e) => e.manager === 'kubectl-client-side-apply'));
  r = await kubectl(['apply', '--server-side', '-f', '-'], doc);
  assert.equal(r.code, 0, r.stderr);
  const names = managers(deploymentObj('upgrade', 'web')).map((e) => `${e.manager}/${e.operation}`);
  assert.ok(names.includes('kubectl/Apply'), names.join(', '));
  assert.ok(!names.includes('kubectl-client-side-apply/Update'), names.join(', '));
  // The migrated applier owns replicas now: dropping it resets it to the default.
  const without = JSON.parse(doc) as JsonObject;
  delete (without.spec as JsonObject).replicas;
  r = await kubectl(['apply', '--server-side', '-f', '-'], JSON.stringify(without));
  assert.equal(r.code, 0, r.stderr);
  assert.equal((deploymentObj('upgrade', 'web').spec as JsonObject).replicas, 1);

  r = await kubectl([
    'patch',
    'deployment',
    'web',
    '-n',
    'upgrade',
    '--type=json',
    '-p',
    '[{"op":"replace","path":"/metadata/managedFields","value":[{}]}]',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(meta(deploymentObj('upgrade', 'web')).managedFields, undefined);
});
