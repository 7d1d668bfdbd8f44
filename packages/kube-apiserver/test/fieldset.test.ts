// The field-set model against the fieldsV1 format upstream writes
// (https://kubernetes.io/docs/reference/using-api/server-side-apply/#field-management shows a
// managedFields example; structured-merge-diff defines the path elements).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compare, FieldNode, merge, pathToString, toFieldSet } from '../src/fieldset.js';
import { applyConfig, recordUpdate } from '../src/managed.js';
import { BUILTIN_RESOURCES, type JsonObject } from '../src/schema.js';

const deployment = BUILTIN_RESOURCES.find((r) => r.kind === 'Deployment')!;
const configMap = BUILTIN_RESOURCES.find((r) => r.kind === 'ConfigMap')!;

const config: JsonObject = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web', labels: { app: 'web' } },
  spec: {
    selector: { matchLabels: { app: 'web' } },
    template: {
      metadata: { labels: { app: 'web' } },
      spec: { containers: [{ name: 'app', image: 'a:1', ports: [{ containerPort: 80 }] }] },
    },
  },
};

test('toFieldSet: map keys of map-typed fields, list items by key, atomic selector, `.` on items', () => {
  const set = toFieldSet(deployment, config).toFieldsV1();
  assert.deepEqual(set['f:metadata'], { 'f:labels': { 'f:app': {} }, 'f:name': {} });
  const spec = set['f:spec'] as JsonObject;
  assert.deepEqual(spec['f:selector'], {}, 'LabelSelector is +structType=atomic');
  const containers = ((spec['f:template'] as JsonObject)['f:spec'] as JsonObject)[
    'f:containers'
  ] as JsonObject;
  assert.deepEqual(containers, {
    'k:{"name":"app"}': {
      '.': {},
      'f:image': {},
      'f:name': {},
      'f:ports': { 'k:{"containerPort":80,"protocol":"TCP"}': { '.': {}, 'f:containerPort': {} } },
    },
  });
});

test('fieldsV1 round-trips and paths print like structured-merge-diff', () => {
  const set = toFieldSet(deployment, config);
  assert.deepEqual(FieldNode.fromFieldsV1(set.toFieldsV1()).toFieldsV1(), set.toFieldsV1());
  assert.equal(
    pathToString(['f:spec', 'f:template', 'f:spec', 'f:containers', 'k:{"name":"app"}', 'f:image']),
    '.spec.template.spec.containers[name="app"].image',
  );
  assert.equal(pathToString(['f:metadata', 'f:finalizers', 'v:"x"']), '.metadata.finalizers[="x"]');
});

test('merge keeps live list items and merges matching ones by key', () => {
  const live = structuredClone(config);
  const spec = ((live.spec as JsonObject).template as JsonObject).spec as JsonObject;
  spec.containers = [
    { name: 'app', image: 'a:1', imagePullPolicy: 'IfNotPresent' },
    { name: 'side', image: 's:1' },
  ];
  const out = merge(deployment, live, {
    spec: { template: { spec: { containers: [{ name: 'app', image: 'a:2' }] } } },
  }) as JsonObject;
  const containers = (((out.spec as JsonObject).template as JsonObject).spec as JsonObject).containers;
  assert.deepEqual(containers, [
    { name: 'app', image: 'a:2', imagePullPolicy: 'IfNotPresent' },
    { name: 'side', image: 's:1' },
  ]);
});

test('compare reports added, modified and removed paths', () => {
  const before: JsonObject = { metadata: { name: 'x' }, data: { a: '1', b: '2' } };
  const after: JsonObject = { metadata: { name: 'x' }, data: { a: '9', c: '3' } };
  const c = compare(configMap, before, after);
  assert.deepEqual(c.modified.toFieldsV1(), { 'f:data': { 'f:a': {} } });
  assert.deepEqual(c.added.toFieldsV1(), { 'f:data': { 'f:c': {} } });
  assert.deepEqual(c.removed.toFieldsV1(), { 'f:data': { 'f:b': {} } });
});

test('apply: conflicts name the other manager; force moves ownership; Update takes changed fields', () => {
  const created = applyConfig(
    configMap,
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' } },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { a: '1' } },
    'one',
    false,
  );
  const live: JsonObject = {
    ...created.object,
    metadata: { name: 'c', managedFields: created.managedFields as never },
  };
  assert.throws(
    () =>
      applyConfig(
        configMap,
        live,
        { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { a: '2' } },
        'two',
        false,
      ),
    (err: Error & { code?: number }) =>
      err.code === 409 && /conflict with "one": \.data\.a/.test(err.message),
  );
  const forced = applyConfig(
    configMap,
    live,
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { a: '2' } },
    'two',
    true,
  );
  assert.deepEqual(
    forced.managedFields.map((e) => [e.manager, e.fieldsV1]),
    [['two', { 'f:data': { 'f:a': {} } }]],
    '"one" owned nothing else, so its entry goes',
  );
  const entries = recordUpdate(configMap, live, { ...live, data: { a: '1', b: '2' } }, 'kubectl-edit');
  assert.deepEqual(
    entries.map((e) => [e.manager, e.operation, e.fieldsV1]),
    [
      ['one', 'Apply', { 'f:data': { 'f:a': {} } }],
      ['kubectl-edit', 'Update', { 'f:data': { 'f:b': {} } }],
    ],
  );
});

test('an Update that creates owns everything it sent, with `.` on new maps, items and optional structs', () => {
  const obj = structuredClone(config);
  (obj.spec as JsonObject).strategy = {
    type: 'RollingUpdate',
    rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' },
  };
  const [entry] = recordUpdate(deployment, undefined, obj, 'kubectl-client-side-apply');
  const fields = entry!.fieldsV1;
  assert.deepEqual((fields['f:metadata'] as JsonObject)['f:labels'], { '.': {}, 'f:app': {} });
  const spec = fields['f:spec'] as JsonObject;
  assert.equal(spec['.'], undefined, 'spec is a non-pointer struct');
  assert.deepEqual(spec['f:strategy'], {
    'f:rollingUpdate': { '.': {}, 'f:maxSurge': {}, 'f:maxUnavailable': {} },
    'f:type': {},
  });
});
