// promote reads the images of the source from its rendered desired state at the verified
// revision: images that live in custom resources (an Argo Rollouts-like pod template, a Flux
// HelmRelease's values) are promoted too, though no Deployment runs them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { declaredImages } from '../src/operations/promote.js';
import { clusterFixture } from './support/cluster.js';
import { crdYaml } from './support/crds.js';
import { deployWeb } from './support/live.js';
import { namespaceYaml, REGISTRY, WEB_IMAGE_CONFIG, webDeploymentYaml } from './support/manifests.js';
import { uniqueName } from './support/test-cluster.js';

/** An Argo Rollouts-like custom resource: a Deployment's spec under another kind. */
function canary(group: string): string {
  return webDeploymentYaml().replace(
    'apiVersion: apps/v1\nkind: Deployment',
    `apiVersion: ${group}/v1\nkind: Canary`,
  );
}

test('declared images: containers at any depth and Helm-values-style maps of custom resources; none from data', () => {
  const release = {
    apiVersion: 'helm.toolkit.fluxcd.io/v2',
    kind: 'HelmRelease',
    metadata: { name: 'web' },
    spec: {
      values: {
        image: { registry: 'registry.example.com', repository: 'acme/web', tag: '2.0.0' },
        sidecar: {
          image: { repository: 'registry.example.com/acme/proxy', digest: `sha256:${'a'.repeat(64)}` },
        },
      },
    },
  };
  assert.deepEqual(declaredImages(release).sort(), [
    'registry.example.com/acme/proxy@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
    'registry.example.com/acme/web:2.0.0',
  ]);
  assert.deepEqual(
    declaredImages({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'x' },
      spec: { image: { repository: 'a/b', tag: '1' } },
    }),
    [],
  );
});

test('promote copies an image that lives in a custom resource of the source environment', async (t) => {
  const ns = { staging: uniqueName('staging'), production: uniqueName('production') };
  const group = `${uniqueName('rollouts')}.example.com`;
  const cluster = await clusterFixture(
    t,
    {
      'envs/staging/namespace.yaml': namespaceYaml(ns.staging),
      'envs/staging/crd.yaml': crdYaml(group, 'Canary'),
      'envs/staging/canary.yaml': canary(group),
      'envs/production/namespace.yaml': namespaceYaml(ns.production),
      'envs/production/canary.yaml': canary(group),
    },
    {
      staging: `    namespace: ${ns.staging}\n    timeout: 3m\n`,
      production: `    namespace: ${ns.production}\n    timeout: 3m\n    promoteFrom: staging\n`,
    },
    WEB_IMAGE_CONFIG,
  );
  const staging = await cluster.gitops(deployWeb('staging', '2.0.0'));
  assert.equal(staging.code, 0, staging.stderr);

  const promote = await cluster.gitops(['--json', 'promote', '--to', 'production']);
  assert.equal(promote.code, 0, promote.stderr);
  const document = JSON.parse(promote.stdout) as { images: Array<{ name: string; new: string }> };
  assert.deepEqual(document.images, [
    { name: 'web', old: `${REGISTRY}/web:0.9.0`, new: `${REGISTRY}/web:2.0.0` },
  ]);
  const live = (await cluster.server.getObject({
    apiVersion: `${group}/v1`,
    kind: 'Canary',
    namespace: ns.production,
    name: 'web',
  })) as { spec: { template: { spec: { containers: Array<{ image: string }> } } } } | undefined;
  assert.equal(live?.spec.template.spec.containers[0]?.image, `${REGISTRY}/web:2.0.0`);
});
