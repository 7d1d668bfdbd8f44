import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkPolicies, policyError } from '../src/gates/policy.js';
import { parseManifests } from '../src/render/render.js';
import { clusterFixture } from './support/cluster.js';
import { testEnvironment } from './support/config.js';
import { uniqueName } from './support/test-cluster.js';

const REGISTRY = 'registry.example.com/acme';

function objects(yaml: string) {
  return parseManifests(yaml, 'envs/staging/all.yaml');
}

test('policy rules: pinned images, allowed registries, plaintext Secrets (SOPS and SealedSecrets pass), limits', () => {
  const environment = testEnvironment('envs/staging');
  environment.policies = {
    allowedRegistries: ['registry.example.com'],
    allowPlaintextSecrets: ['public-config'],
    requireResourceLimits: true,
    clusterScopedKinds: ['Namespace', 'CustomResourceDefinition'],
  };
  const violations = checkPolicies(
    environment,
    objects(`apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  template:
    spec:
      containers:
        - {name: latest, image: "${REGISTRY}/web:latest", resources: {limits: {cpu: 1, memory: 1Gi}}}
        - {name: untagged, image: "${REGISTRY}/web", resources: {limits: {cpu: 1, memory: 1Gi}}}
        - {name: elsewhere, image: "docker.io/library/nginx:1.27", resources: {limits: {cpu: 1, memory: 1Gi}}}
        - {name: nolimits, image: "${REGISTRY}/web:1.0.0"}
        - {name: pinned, image: "${REGISTRY}/web:latest@sha256:${'a'.repeat(64)}", resources: {limits: {cpu: 1, memory: 1Gi}}}
---
apiVersion: v1
kind: Secret
metadata: {name: db}
stringData: {password: hunter2}
---
apiVersion: v1
kind: Secret
metadata: {name: public-config}
data: {ca.crt: Zm9v}
---
apiVersion: v1
kind: Secret
metadata: {name: sops-encrypted}
data: {password: "ENC[AES256_GCM,data:abc,iv:def,tag:ghi,type:str]"}
sops: {version: 3.9.0, mac: "ENC[...]"}
---
apiVersion: bitnami.com/v1alpha1
kind: SealedSecret
metadata: {name: sealed}
spec: {encryptedData: {password: AgBy3i4OJSWK}}
`),
    { defaultNamespace: 'staging' },
  );
  assert.deepEqual(
    violations.map((violation) => [
      violation.rule,
      violation.message.split(' ')[1] ?? '',
      violation.file,
      violation.line,
    ]),
    [
      ['image-pinned', 'latest', 'envs/staging/all.yaml', 1],
      ['image-pinned', 'untagged', 'envs/staging/all.yaml', 1],
      ['allowed-registry', 'elsewhere', 'envs/staging/all.yaml', 1],
      ['resource-limits', 'nolimits', 'envs/staging/all.yaml', 1],
      ['plaintext-secret', 'db', 'envs/staging/all.yaml', 14],
    ],
  );
  assert.ok(!JSON.stringify(violations).includes('hunter2'), 'the violation names keys, never values');
  const hint = policyError(violations.filter((violation) => violation.rule === 'image-pinned')).hint ?? '';
  assert.match(hint, /no setting turns this off/);
  assert.doesNotMatch(hint, /policies/);
});

test('deploy with a plaintext Secret in git: exit 5 naming file:line, nothing committed or applied', async (t) => {
  const ns = uniqueName('pol');
  const cluster = await clusterFixture(
    t,
    {
      'envs/staging/ns.yaml': `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${ns}\n`,
      'envs/staging/web.yaml': `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n        - name: web\n          image: ${REGISTRY}/web:1.0.0\n`,
      'envs/staging/secret.yaml':
        '# database credentials\napiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: hunter2\n',
    },
    { staging: `    namespace: ${ns}\n` },
    `images:\n  - name: web\n    repository: ${REGISTRY}/web\n`,
  );
  const head = cluster.remote.head();
  const result = await cluster.gitops([
    '--json',
    'deploy',
    '--env',
    'staging',
    '--skip-build',
    '--image',
    `web=${REGISTRY}/web:2.0.0`,
  ]);
  assert.equal(result.code, 5, result.stderr);
  assert.match(
    result.stderr,
    /envs\/staging\/secret\.yaml:2: Secret\/db: Secret db carries plaintext data in git \(keys: password\)/,
  );
  assert.equal((JSON.parse(result.stdout) as { error: { code: string } }).error.code, 'POLICY_VIOLATION');
  // The hint names what controls this rule, not a generic "change the policies".
  assert.match(
    result.stderr,
    /hint: encrypt the Secret \(SOPS, SealedSecrets\), or name it in environments\.<env>\.policies\.allowPlaintextSecrets$/m,
  );
  assert.ok(!`${result.stdout}${result.stderr}`.includes('hunter2'));
  assert.equal(cluster.remote.head(), head, 'nothing committed');
  assert.equal(
    await cluster.server.getObject({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: ns, name: 'web' }),
    undefined,
    'nothing applied',
  );
});

test('violations in kustomize and Helm output name the source file:line (the base, the template)', async (t) => {
  const ns = uniqueName('pol-render');
  const deployment = (image: string) =>
    `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n        - name: web\n          image: ${image}\n`;
  const cluster = await clusterFixture(
    t,
    {
      'base/kustomization.yaml': 'resources:\n  - web.yaml\n  - config.yaml\n',
      'base/config.yaml':
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  mode: fast\n',
      'base/web.yaml': `# the web tier\n---\n${deployment(`${REGISTRY}/web:1.0.0`)}`,
      'envs/staging/kustomization.yaml': `namespace: ${ns}\nresources:\n  - ns.yaml\n  - ../../base\n  - extra.yaml\n`,
      'envs/staging/ns.yaml': `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${ns}\n`,
      'envs/staging/extra.yaml': `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n---\n${deployment('docker.io/library/redis:latest').replaceAll('web', 'cache')}`,
      'charts/site/Chart.yaml': 'apiVersion: v2\nname: site\nversion: 1.0.0\n',
      'charts/site/values.yaml': `image: ${REGISTRY}/web:1.0.0\n`,
      'charts/site/templates/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: site\n',
      'charts/site/templates/secret.yaml':
        'apiVersion: v1\nkind: Secret\nmetadata:\n  name: site-db\nstringData:\n  password: {{ .Values.password | default "hunter2" }}\n',
      'envs/helm/values.yaml': `image: ${REGISTRY}/web:1.0.0\n`,
    },
    {
      staging: `    namespace: ${ns}\n`,
      helm: `    path: envs/helm\n    namespace: ${ns}\n    chart: ../../charts/site\n    helmValues: [values.yaml]\n`,
    },
    `images:\n  - name: web\n    repository: ${REGISTRY}/web\n`,
  );
  const head = cluster.remote.head();
  const kustomized = await cluster.gitops(['--dry-run', 'deploy', '--env', 'staging', '--skip-build']);
  assert.equal(kustomized.code, 5, kustomized.stderr);
  assert.match(
    kustomized.stderr,
    /envs\/staging\/extra\.yaml:6: Deployment\/cache: .*redis:latest/,
    'the document of the overlay file that declares it',
  );
  const charted = await cluster.gitops(['--dry-run', 'deploy', '--env', 'helm', '--skip-build']);
  assert.equal(charted.code, 5, charted.stderr);
  assert.match(charted.stderr, /charts\/site\/templates\/secret\.yaml:1: Secret\/site-db: .*plaintext/);
  assert.ok(!`${charted.stdout}${charted.stderr}`.includes('hunter2'));
  assert.equal(cluster.remote.head(), head, 'nothing committed');
});
