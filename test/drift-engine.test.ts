// The drift engine on plain objects, no cluster: normalisation, paths, managed-field attribution,
// object comparison, the per-environment report, and when one read of the live state answers
// for other desired objects.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Cluster } from '../src/cluster/cluster.js';
import type { Inventory } from '../src/cluster/inventory.js';
import type { EnvironmentConfig } from '../src/config/types.js';
import { compareObject } from '../src/drift/compare.js';
import { compareLive, liveStateCovers, readLive } from '../src/drift/detect.js';
import {
  foreignOwners,
  isControllerManager,
  ownedLeaves,
  owns,
  walkOwnedLeaves,
} from '../src/drift/managed-fields.js';
import { isEmptyValue, quantityValue, scalarEqual } from '../src/drift/normalize.js';
import { displayPath, jsonPointer, listKeysFor, type Segment, valueAt } from '../src/drift/paths.js';
import type { KubeObject, ManagedFieldsEntry } from '../src/kube/objects.js';

function deployment(
  spec: Record<string, unknown>,
  metadata: Partial<KubeObject['metadata']> = {},
): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'staging', ...metadata },
    spec,
  };
}

const containers = (...items: Array<Record<string, unknown>>) => ({
  template: { spec: { containers: items } },
});

const environment = {
  name: 'staging',
  id: 'staging-0123456789',
  ignoreDifferences: [],
  prune: { enabled: true, protect: ['ConfigMap/keep'] },
} as unknown as EnvironmentConfig;

test('normalise: quantities, int-or-string, empty values', () => {
  assert.equal(quantityValue('500m'), 0.5);
  assert.equal(quantityValue('1Gi'), 1024 ** 3);
  assert.equal(quantityValue('1e3'), 1000);
  assert.equal(quantityValue('lots'), undefined);
  assert.ok(scalarEqual('0.5', '500m', true), '0.5 = 500m in a quantity field');
  assert.ok(scalarEqual('1Gi', '1024Mi', true));
  assert.ok(!scalarEqual('1Gi', '1024Mi', false), 'outside quantity fields text is text');
  assert.ok(scalarEqual(8080, '8080', false), 'int-or-string');
  assert.ok(!scalarEqual(true, 'true', false));
  assert.ok(isEmptyValue({}) && isEmptyValue([]) && isEmptyValue(null) && !isEmptyValue(0));
});

test('paths: display, JSON pointer and lookup follow keyed list items by their key', () => {
  const path: Segment[] = [
    { field: 'spec' },
    { field: 'template' },
    { field: 'spec' },
    { field: 'containers' },
    { key: { name: 'sidecar' } },
    { field: 'image' },
  ];
  const object = deployment(containers({ name: 'web', image: 'a' }, { name: 'sidecar', image: 'b' }));
  assert.equal(displayPath(path), 'spec.template.spec.containers[name=sidecar].image');
  assert.equal(jsonPointer(path, object), '/spec/template/spec/containers/1/image');
  assert.equal(valueAt(object, path), 'b');
  assert.equal(
    displayPath([{ field: 'metadata' }, { field: 'labels' }, { field: 'app.kubernetes.io/name' }]),
    'metadata.labels["app.kubernetes.io/name"]',
  );
  assert.deepEqual(listKeysFor('ports', [{ containerPort: 80 }])?.keys, ['containerPort', 'protocol']);
  assert.equal(listKeysFor('args', ['--x']), undefined, 'lists the API does not key are atomic');
});

test('managed fields: leaves, ownership and who changed a field', () => {
  const fieldsV1 = {
    'f:spec': {
      'f:replicas': {},
      'f:template': { 'f:spec': { 'f:containers': { 'k:{"name":"web"}': { '.': {}, 'f:image': {} } } } },
    },
  };
  assert.deepEqual(ownedLeaves(fieldsV1).map(displayPath), [
    'spec.replicas',
    'spec.template.spec.containers[name=web].image',
  ]);
  assert.ok(owns(fieldsV1, [{ field: 'spec' }, { field: 'replicas' }]));
  assert.ok(!owns(fieldsV1, [{ field: 'spec' }, { field: 'paused' }]));
  const entries: ManagedFieldsEntry[] = [
    { manager: 'gitops', operation: 'Apply', fieldsV1, time: '2024-01-01T00:00:00Z' },
    {
      manager: 'kubectl',
      operation: 'Update',
      subresource: 'scale',
      fieldsV1: { 'f:spec': { 'f:replicas': {} } },
      time: '2024-01-02T00:00:00Z',
    },
  ];
  assert.deepEqual(foreignOwners(entries, [{ field: 'spec' }, { field: 'replicas' }], 'gitops'), [
    { manager: 'kubectl', operation: 'Update', time: '2024-01-02T00:00:00Z', subresource: 'scale' },
  ]);
  assert.ok(isControllerManager({ manager: 'kube-controller-manager' }));
  assert.ok(isControllerManager({ manager: 'anything', subresource: 'status' }));
  assert.ok(!isControllerManager({ manager: 'kubectl-edit' }));
});

test('managed fields walked with the objects: each leaf of ownedLeaves, with valueAt of every prefix in each', () => {
  const fieldsV1 = {
    'f:metadata': { 'f:labels': { 'f:app': {} } },
    'f:spec': {
      'f:replicas': {},
      'f:template': {
        'f:spec': {
          'f:containers': {
            'k:{"name":"web"}': {
              '.': {},
              'f:image': {},
              // A port git wrote without its protocol is the TCP one, not the UDP one of the key.
              'f:ports': {
                'k:{"containerPort":53,"protocol":"TCP"}': { '.': {}, 'f:name': {} },
                'k:{"containerPort":53,"protocol":"UDP"}': { '.': {}, 'f:name': {} },
              },
            },
            'k:{"name":"gone"}': { '.': {}, 'f:image': {} },
          },
          'f:finalizers': { 'v:"a"': {}, 'v:"b"': {} },
        },
      },
    },
    'x:unknown': {},
  };
  const desired = deployment(containers({ name: 'web', image: 'a', ports: [{ containerPort: 53 }] }), {
    labels: { app: 'web' },
  });
  const live = deployment(
    {
      replicas: 3,
      ...containers(
        { name: 'side', image: 's' },
        {
          name: 'web',
          image: 'b',
          ports: [
            { containerPort: 53, protocol: 'TCP', name: 'dns-tcp' },
            { containerPort: 53, protocol: 'UDP', name: 'dns' },
          ],
        },
      ),
    },
    { labels: null as unknown as Record<string, string> },
  );
  const walked: Array<{ path: Segment[]; along: unknown[][] }> = [];
  walkOwnedLeaves(fieldsV1, [desired, live] as const, (path, along) =>
    walked.push({ path: [...path], along: along.map((values) => [...values]) }),
  );
  const container = 'spec.template.spec.containers';
  assert.deepEqual(
    walked.map(({ path }) => displayPath(path)),
    [
      'metadata.labels.app',
      'spec.replicas',
      `${container}[name=web].image`,
      `${container}[name=web].ports[containerPort=53,protocol=TCP].name`,
      `${container}[name=web].ports[containerPort=53,protocol=UDP].name`,
      `${container}[name=gone].image`,
      // Set items end the path: one leaf per item.
      'spec.template.spec.finalizers',
      'spec.template.spec.finalizers',
    ],
  );
  assert.deepEqual(
    walked.map(({ path }) => path),
    ownedLeaves(fieldsV1),
  );
  for (const { path, along } of walked) {
    for (const [index, root] of [desired, live].entries()) {
      assert.deepEqual(
        along[index],
        path.map((_, length) => valueAt(root, path.slice(0, length))).concat([valueAt(root, path)]),
        displayPath(path),
      );
    }
  }
  const port = (protocol: string) =>
    walked.find(({ path }) =>
      displayPath(path).endsWith(`ports[containerPort=53,protocol=${protocol}].name`),
    )!;
  assert.deepEqual(port('TCP').along[0]!.slice(-2), [{ containerPort: 53 }, undefined]);
  assert.deepEqual(port('UDP').along[0]!.slice(-2), [undefined, undefined], 'git declares no UDP port');
  assert.equal(port('UDP').along[1]!.at(-1), 'dns');
  assert.equal(
    walked.find(({ path }) => displayPath(path) === 'metadata.labels.app')!.along[1]!.at(-1),
    undefined,
  );
});

test('compare: server defaults, status and list order are not drift; a changed field names its manager', () => {
  const desired = deployment({
    replicas: 2,
    ...containers({ name: 'web', image: 'web:1', resources: { limits: { cpu: '0.5' } } }),
  });
  const live = deployment(
    {
      replicas: 7,
      progressDeadlineSeconds: 600,
      ...containers({
        name: 'web',
        image: 'web:1',
        imagePullPolicy: 'IfNotPresent',
        resources: { limits: { cpu: '500m' } },
      }),
    },
    {
      uid: 'abc',
      resourceVersion: '42',
      managedFields: [
        { manager: 'gitops', operation: 'Apply', fieldsV1: { 'f:spec': { 'f:replicas': {} } } },
        {
          manager: 'kubectl',
          operation: 'Update',
          subresource: 'scale',
          fieldsV1: { 'f:spec': { 'f:replicas': {} } },
        },
      ],
    },
  );
  (live as Record<string, unknown>).status = { readyReplicas: 7 };
  const differences = compareObject(desired, live, { ignore: [] });
  assert.deepEqual(
    differences.map((difference) => [
      difference.kind,
      difference.display,
      difference.desired,
      difference.live,
    ]),
    [['changed', 'spec.replicas', 2, 7]],
  );
  assert.deepEqual(
    differences[0]!.managers.map((manager) => manager.manager),
    ['kubectl'],
  );
  assert.deepEqual(compareObject(desired, live, { ignore: ['/spec/replicas'] }), [], 'ignoreDifferences');
});

test('compare: an object as git declares it has no differences; keyed items are matched by key, not position', () => {
  const desired = deployment({
    ...containers({ name: 'web', image: 'web:1', env: [{ name: 'A', value: '1' }], args: [] }),
  });
  const live = deployment({
    replicas: 1,
    ...containers({ name: 'web', image: 'web:1', env: [{ name: 'A', value: '1' }], ports: [] }),
  });
  assert.deepEqual(
    compareObject(desired, live, { ignore: [] }),
    [],
    'an empty list git declares may be absent',
  );
  // Two items of one key (the API refuses them, git may hold them): each is compared with the
  // first live item of its key, as the merge would see it, whatever their positions.
  const twice = deployment(containers({ name: 'web', image: 'web:1' }, { name: 'web', image: 'web:2' }));
  assert.deepEqual(
    compareObject(twice, structuredClone(twice), { ignore: [] }).map((difference) => [
      difference.display,
      difference.desired,
      difference.live,
    ]),
    [['spec.template.spec.containers[name=web].image', 'web:2', 'web:1']],
  );
});

test('compare: fields a person added are extra; a Secret is compared by hash and its values never kept', () => {
  const desired = deployment(containers({ name: 'web', image: 'web:1' }));
  const live = deployment(
    { ...containers({ name: 'web', image: 'web:1' }), paused: true },
    {
      managedFields: [
        { manager: 'kubectl-edit', operation: 'Update', fieldsV1: { 'f:spec': { 'f:paused': {} } } },
      ],
    },
  );
  assert.deepEqual(
    compareObject(desired, live, { ignore: [] }).map((difference) => [difference.kind, difference.display]),
    [['extra', 'spec.paused']],
  );
  const secret = (data: Record<string, string>): KubeObject => ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'db', namespace: 'staging' },
    data,
  });
  const secretDifferences = compareObject(secret({ password: 'b25l' }), secret({ password: 'dHdv' }), {
    ignore: [],
  });
  assert.equal(secretDifferences.length, 1);
  assert.equal(secretDifferences[0]!.secret, true);
  assert.equal(JSON.stringify(secretDifferences).includes('dHdv'), false, 'the live value is not kept');
});

test('report: in sync, modified, missing, and extra objects prunable unless protected', () => {
  const labelled = (kind: string, name: string): KubeObject => ({
    apiVersion: 'v1',
    kind,
    metadata: { name, namespace: 'staging', labels: { 'gitops.dev/environment': 'staging' } },
    data: {},
  });
  const web = deployment(containers({ name: 'web', image: 'web:1' }));
  const report = compareLive(
    environment,
    [{ object: web }, { object: labelled('Service', 'gone-from-cluster') }],
    {
      objects: [
        deployment(containers({ name: 'web', image: 'web:2' })),
        labelled('ConfigMap', 'old'),
        labelled('ConfigMap', 'keep'),
      ],
      hpas: [],
    },
  );
  assert.deepEqual(
    report.objects.map((object) => [object.display, object.state, object.prunable]),
    [
      ['ConfigMap/staging/keep', 'extra', false],
      ['ConfigMap/staging/old', 'extra', true],
      ['Deployment/staging/web', 'modified', undefined],
      ['Service/staging/gone-from-cluster', 'missing', undefined],
    ],
  );
  assert.equal(report.inSync, false);
  assert.deepEqual(report.counts, {
    'in-sync': 0,
    modified: 1,
    missing: 1,
    extra: 2,
    unmanaged: 0,
    foreign: 0,
  });
  const inSync = compareLive(environment, [{ object: web }], { objects: [structuredClone(web)], hpas: [] });
  assert.equal(inSync.inSync, true);
});

test("report: objects present without our label are unmanaged or, with another owner's marks, foreign; only created objects are prunable", () => {
  const plain = (name: string, metadata: Partial<KubeObject['metadata']> = {}): KubeObject => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name, namespace: 'staging', ...metadata },
    data: { value: 'git' },
  });
  const ours = { labels: { 'gitops.dev/environment': 'staging-0123456789' } };
  const report = compareLive(
    environment,
    [{ object: plain('by-hand') }, { object: plain('helm') }, { object: plain('other-env') }],
    {
      inventory: {
        kinds: ['ConfigMap'],
        namespaces: ['staging'],
        objects: ['ConfigMap/staging/created', 'ConfigMap/staging/adopted'],
        adopted: ['ConfigMap/staging/adopted'],
      },
      objects: [plain('created', ours), plain('adopted', ours), plain('not-recorded', ours)],
      unowned: [
        { ...plain('by-hand'), data: { value: 'hand' } },
        plain('helm', {
          annotations: { 'meta.helm.sh/release-name': 'web', 'meta.helm.sh/release-namespace': 'apps' },
        }),
        plain('other-env', {
          labels: { 'gitops.dev/environment': 'staging-ffffffffff' },
          annotations: { 'gitops.dev/owner': 'staging (github.com/acme/other, envs/staging)' },
        }),
      ],
      hpas: [],
    },
  );
  assert.deepEqual(
    report.objects.map((object) => [
      object.name,
      object.state,
      object.prunable,
      object.adopted,
      object.owner,
    ]),
    [
      ['adopted', 'extra', false, true, undefined],
      ['by-hand', 'unmanaged', undefined, undefined, undefined],
      ['created', 'extra', true, undefined, undefined],
      ['helm', 'foreign', undefined, undefined, 'Helm release apps/web'],
      ['not-recorded', 'extra', false, undefined, undefined],
      [
        'other-env',
        'foreign',
        undefined,
        undefined,
        'environment staging (github.com/acme/other, envs/staging)',
      ],
    ],
  );
  assert.deepEqual(
    report.objects
      .find((object) => object.name === 'by-hand')!
      .differences.map((difference) => difference.display),
    ['data.value'],
  );
});

test('report: replicas owned by an HorizontalPodAutoscaler are not drift', () => {
  const desired = deployment({ replicas: 2, ...containers({ name: 'web', image: 'web:1' }) });
  const live = deployment({ replicas: 9, ...containers({ name: 'web', image: 'web:1' }) });
  const hpa: KubeObject = {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: { name: 'web', namespace: 'staging' },
    spec: { scaleTargetRef: { kind: 'Deployment', name: 'web' } },
  };
  assert.equal(
    compareLive(environment, [{ object: desired }], { objects: [live], hpas: [hpa] }).inSync,
    true,
  );
  assert.equal(
    compareLive(environment, [{ object: desired }], { objects: [structuredClone(live)], hpas: [] }).inSync,
    false,
  );
});

test('live state: one read answers for other desired objects only when it sent every request their own read would', async () => {
  const requests: string[] = [];
  const labels = { 'gitops.dev/environment': 'staging-0123456789' };
  const live = deployment(containers({ name: 'web', image: 'web:1' }), { labels });
  // A cluster of one labelled Deployment: lists by label find it, reads by name find nothing.
  const cluster = {
    async list(kinds: string[], options: { namespace?: string; labelSelector?: string }) {
      requests.push(`list ${kinds.join(',')} in ${options.namespace}`);
      return options.labelSelector && kinds.includes('Deployment.apps') ? [structuredClone(live)] : [];
    },
    async getByName(objects: KubeObject[]) {
      requests.push(`get ${objects.map((object) => object.metadata.name).join(',')}`);
      return [];
    },
  } as unknown as Cluster;
  const configMap = (name: string, namespace = 'staging'): KubeObject => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name, namespace },
    data: {},
  });
  const web = (image: string, namespace = 'staging') => ({
    object: deployment(containers({ name: 'web', image }), { namespace }),
  });
  const inventory = { kinds: ['Deployment.apps'], namespaces: ['staging'], phase: 'verified' } as Inventory;
  const deployed = [web('web:1'), { object: configMap('settings') }];
  const state = await readLive(cluster, environment, deployed, 'staging', { inventory });
  assert.equal(requests.length, 3, 'the labelled kinds, the HPAs, and the ConfigMap no list found');

  // The next revision sets another image on the same objects: the read answers for it.
  const next = [web('web:2'), { object: configMap('settings') }];
  assert.equal(liveStateCovers(state, environment, next, 'staging'), true);
  const own = await readLive(cluster, environment, next, 'staging', { inventory });
  assert.deepEqual(compareLive(environment, next, state), compareLive(environment, next, own));

  // Another set of kinds, an object nobody looked up, another namespace: each needs a read of its own.
  assert.equal(liveStateCovers(state, environment, [web('web:2')], 'staging'), false);
  assert.equal(
    liveStateCovers(state, environment, [...next, { object: configMap('new') }], 'staging'),
    false,
  );
  assert.equal(
    liveStateCovers(
      state,
      environment,
      [web('web:2', 'production'), { object: configMap('settings', 'production') }],
      'staging',
    ),
    false,
  );
  const { scope: _scope, ...unscoped } = state;
  assert.equal(liveStateCovers(unscoped, environment, next, 'staging'), false, 'a state built by hand');
});
