// A podinfo-style chart (test hooks with random names, a pre-install hook, CRDs in crds/) renders
// the way `helm install` would against this cluster, identically every time: no test Pods, hooks
// left out and named, values files in order, the release named after the chart, the cluster's
// version in .Capabilities, the chart's CRDs applied before the custom resources using them.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { releaseName } from '../src/render/helm.js';
import { tempDir } from './support/cli.js';
import { clusterFixture } from './support/cluster.js';
import { crdYaml } from './support/crds.js';
import { commitToRemote } from './support/git.js';
import { REGISTRY } from './support/manifests.js';
import { uniqueName } from './support/test-cluster.js';

function chart(group: string): Record<string, string> {
  return {
    'charts/podinfo/Chart.yaml': 'apiVersion: v2\nname: podinfo\nversion: 6.0.0\nappVersion: 6.0.0\n',
    'charts/podinfo/values.yaml': `replicaCount: 1\nimage:\n  repository: ${REGISTRY}/podinfo\n  tag: 6.0.0\ncolour: grey\n`,
    'charts/podinfo/crds/widgets.yaml': crdYaml(group, 'Widget'),
    'charts/podinfo/templates/deployment.yaml': `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
  annotations:
    kube-version: {{ .Capabilities.KubeVersion.Version | quote }}
spec:
  replicas: {{ .Values.replicaCount }}
  selector:
    matchLabels:
      app.kubernetes.io/instance: {{ .Release.Name }}
  template:
    metadata:
      labels:
        app.kubernetes.io/instance: {{ .Release.Name }}
    spec:
      containers:
        - name: podinfo
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
`,
    'charts/podinfo/templates/widget.yaml': `apiVersion: ${group}/v1
kind: Widget
metadata:
  name: {{ .Release.Name }}
spec:
  colour: {{ .Values.colour }}
`,
    'charts/podinfo/templates/migrate.yaml': `apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .Release.Name }}-migrate
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
    helm.sh/hook-delete-policy: before-hook-creation
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: migrate
          image: ${REGISTRY}/podinfo:6.0.0
`,
    // As podinfo's chart has it: a test Pod with a random name in every render.
    'charts/podinfo/templates/tests/jwt.yaml': `apiVersion: v1
kind: Pod
metadata:
  name: {{ .Release.Name }}-jwt-test-{{ randAlphaNum 5 | lower }}
  annotations:
    helm.sh/hook: test
    helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
spec:
  restartPolicy: Never
  containers:
    - name: curl
      image: curlimages/curl:latest
`,
  };
}

test('a podinfo-style chart deploys without test Pods or hooks, renders identically twice, values in order, CRDs from crds/ first', async (t) => {
  const ns = uniqueName('staging');
  const group = `${uniqueName('widgets')}.example.com`;
  const cluster = await clusterFixture(
    t,
    {
      ...chart(group),
      'envs/staging/values.yaml': 'replicaCount: 2\ncolour: blue\n',
      'envs/staging/values-late.yaml': 'replicaCount: 3\n',
    },
    {
      staging: `    namespace: ${ns}\n    chart: ../../charts/podinfo\n    helmValues: [values.yaml, values-late.yaml]\n    timeout: 3m\n`,
    },
  );
  // The chart renders no Namespace: it exists before, as for `helm install --namespace`.
  const namespace = await cluster.kubectl(['create', 'namespace', ns]);
  assert.equal(namespace.code, 0, namespace.stderr);

  const deploy = await cluster.gitops(['deploy', '--env', 'staging', '--skip-build']);
  assert.equal(deploy.code, 0, deploy.stderr);
  assert.match(
    deploy.stderr,
    /Helm hooks are not applied .*Job\/podinfo-migrate \(pre-install,pre-upgrade\)/,
  );
  assert.doesNotMatch(deploy.stderr, /jwt-test/);

  const pods = await cluster.server.listObjects('v1', 'Pod', ns);
  assert.deepEqual(
    pods.filter((pod) => /test/.test(String(pod.metadata.name))).map((pod) => pod.metadata.name),
    [],
    'no test Pods',
  );
  assert.deepEqual(await cluster.server.listObjects('batch/v1', 'Job', ns), [], 'no hook Job');
  const deployment = (await cluster.server.getObject({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    namespace: ns,
    name: 'podinfo',
  })) as { metadata: { annotations: Record<string, string> }; spec: { replicas: number } } | undefined;
  assert.ok(deployment, 'the release is named after the chart: Deployment podinfo');
  assert.equal(deployment.spec.replicas, 3, 'the later values file wins');
  assert.equal(deployment.metadata.annotations['kube-version'], cluster.server.version);
  const widget = (await cluster.server.getObject({
    apiVersion: `${group}/v1`,
    kind: 'Widget',
    namespace: ns,
    name: 'podinfo',
  })) as { spec: { colour: string } } | undefined;
  assert.equal(widget?.spec.colour, 'blue', "the chart's CRD is installed and its custom resource applied");

  // Two more renders of the same commit: identical to what was applied.
  for (const round of [1, 2]) {
    const diff = await cluster.gitops(['diff', '--env', 'staging']);
    assert.equal(diff.code, 0, `render ${round}: ${diff.stderr}`);
  }
});

test("the release name: releaseName, else the chart's name (Chart.yaml, or a chart URL's last segment), else the environment", (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'web'));
  writeFileSync(join(dir, 'web', 'Chart.yaml'), 'apiVersion: v2\nname: shop-web\nversion: 1.0.0\n');
  const chart = join(dir, 'web');
  assert.equal(releaseName({ name: 'staging', chart: '../web', releaseName: 'web' }, chart), 'web');
  assert.equal(releaseName({ name: 'staging', chart: '../web' }, chart), 'shop-web');
  assert.equal(
    releaseName({ name: 'staging', chart: 'oci://ghcr.io/stefanprodan/charts/podinfo' }, join(dir, 'none')),
    'podinfo',
  );
  assert.equal(releaseName({ name: 'staging', chart: '../missing' }, join(dir, 'missing')), 'staging');
});

test('a chart that renders differently every time cannot be rolled back: nothing is committed, never "rolled back"', async (t) => {
  const ns = uniqueName('staging');
  const cluster = await clusterFixture(
    t,
    {
      'charts/token/Chart.yaml': 'apiVersion: v2\nname: token\nversion: 1.0.0\n',
      'charts/token/templates/config.yaml':
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: token\ndata:\n  greeting: {{ .Values.greeting }}\n  token: {{ randAlphaNum 12 | quote }}\n',
      'envs/staging/values.yaml': 'greeting: hello\n',
    },
    {
      staging: `    namespace: ${ns}\n    chart: ../../charts/token\n    helmValues: [values.yaml]\n    timeout: 3m\n`,
    },
  );
  assert.equal((await cluster.kubectl(['create', 'namespace', ns])).code, 0);
  const first = await cluster.gitops(['deploy', '--env', 'staging', '--skip-build']);
  assert.equal(first.code, 0, first.stderr);
  const target = cluster.remote.head();
  commitToRemote(cluster.remote, { 'envs/staging/values.yaml': 'greeting: bonjour\n' }, 'bonjour');
  const second = await cluster.gitops(['deploy', '--env', 'staging', '--skip-build', '--on-drift', 'warn']);
  assert.equal(second.code, 0, second.stderr);

  const head = cluster.remote.head();
  const rollback = await cluster.gitops(['--json', 'rollback', target.slice(0, 12), '--env', 'staging']);
  assert.equal(rollback.code, 3, rollback.stderr);
  const error = (JSON.parse(rollback.stdout) as { error: { code: string; message: string } }).error;
  assert.equal(error.code, 'ROLLBACK_RENDER_DIFFERS');
  assert.match(error.message, /ConfigMap\/.*\/token/);
  assert.doesNotMatch(rollback.stderr, /rolled back to/);
  assert.equal(cluster.remote.head(), head, 'nothing pushed');
});
