import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clusterFixture } from './support/cluster.js';
import { git } from './support/git.js';
import { uniqueName } from './support/test-cluster.js';

const namespaceYaml = (ns: string) => `apiVersion: v1
kind: Namespace
metadata:
  name: ${ns}
`;

const DEPLOYMENT = (ns: string) => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: ${ns}
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: registry.example.com/acme/web:1.0.0
          env:
            - name: LOG_LEVEL
              value: info
          ports:
            - containerPort: 8080
          resources:
            limits: {cpu: 500m, memory: 128Mi}
`;

const SERVICE = (ns: string) => `apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: ${ns}
spec:
  selector: {app: web}
  ports:
    - port: 80
      targetPort: 8080
`;

const CONFIGMAP = (ns: string) => `apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
  namespace: ${ns}
data:
  greeting: hello
`;

const SECRET_VALUE = 'hunter2-db-password';
const SECRET = (ns: string) => `apiVersion: v1
kind: Secret
metadata:
  name: web-db
  namespace: ${ns}
stringData:
  password: ${SECRET_VALUE}
  user: app
`;

function files(ns: string) {
  return {
    'envs/staging/namespace.yaml': namespaceYaml(ns),
    'envs/staging/web.yaml': `${DEPLOYMENT(ns)}---\n${SERVICE(ns)}`,
    'envs/staging/config.yaml': CONFIGMAP(ns),
    'envs/staging/secret.yaml': SECRET(ns),
  };
}

async function fixture(t: Parameters<typeof clusterFixture>[0]) {
  const ns = uniqueName('demo');
  const cluster = await clusterFixture(t, files(ns), { staging: `    namespace: ${ns}\n` });
  await cluster.apply('staging');
  return Object.assign(cluster, { ns });
}

test('after an apply, diff exits 0 and says in sync although the server added defaults, status and managedFields', async (t) => {
  const cluster = await fixture(t);
  const live = (await cluster.server.getObject({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    namespace: cluster.ns,
    name: 'web',
  }))!;
  assert.ok((live.spec as { strategy?: unknown }).strategy, 'the server defaulted the strategy');
  assert.ok((live.metadata as { managedFields?: unknown[] }).managedFields?.length, 'managedFields present');
  assert.equal(
    (live.metadata as { annotations?: Record<string, string> }).annotations?.['gitops.dev/revision'],
    cluster.remote.head(),
  );

  const result = await cluster.gitops(['--json', 'diff', '--env', 'staging']);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stderr, /staging: in sync \(5 object\(s\)\)/);
  const document = JSON.parse(result.stdout) as { inSync: boolean; counts: Record<string, number> };
  assert.equal(document.inSync, true);
  assert.equal(document.counts['in-sync'], 5);
});

test('kubectl scale → exit 1 naming spec.replicas and the manager; with an HPA targeting web → in sync', async (t) => {
  const cluster = await fixture(t);
  const scaled = await cluster.kubectl(['scale', 'deployment/web', '-n', cluster.ns, '--replicas=5']);
  assert.equal(scaled.code, 0, scaled.stderr);
  const result = await cluster.gitops(['--json', 'diff', '--env', 'staging']);
  assert.equal(result.code, 1, result.stderr);
  assert.match(
    result.stderr,
    new RegExp(`Deployment/${cluster.ns}/web\\s+modified\\s+kubectl[.\\d]* \\(scale\\)`),
  );
  // A real 1.32 server records no time on the scale subresource's managedFields entry.
  assert.match(result.stderr, /spec\.replicas: 2 → 5 by kubectl[.\d]* \(scale\)( at \d{4}-\d\d-\d\d)?/);
  const document = JSON.parse(result.stdout) as {
    objects: Array<{
      name: string;
      kind: string;
      state: string;
      differences: Array<{ path: string; managers: Array<{ manager: string; subresource?: string }> }>;
    }>;
  };
  const web = document.objects.find((object) => object.kind === 'Deployment')!;
  assert.equal(web.state, 'modified');
  assert.deepEqual(
    web.differences.map((difference) => difference.path),
    ['spec.replicas'],
  );
  assert.equal(web.differences[0]!.managers[0]!.subresource, 'scale');

  const hpa = await cluster.kubectl(
    ['apply', '-f', '-'],
    JSON.stringify({
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: { name: 'web', namespace: cluster.ns },
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' },
        minReplicas: 2,
        maxReplicas: 10,
      },
    }),
  );
  assert.equal(hpa.code, 0, hpa.stderr);
  const withHpa = await cluster.gitops(['diff', '--env', 'staging']);
  assert.equal(withHpa.code, 0, withHpa.stderr);
});

test('kubectl set image and an edited env var: drift names the container and the field', async (t) => {
  const cluster = await fixture(t);
  const setImage = await cluster.kubectl([
    'set',
    'image',
    'deployment/web',
    '-n',
    cluster.ns,
    'web=registry.example.com/acme/web:6.6.6',
  ]);
  assert.equal(setImage.code, 0, setImage.stderr);
  const patch = await cluster.kubectl([
    'patch',
    'deployment/web',
    '-n',
    cluster.ns,
    '--type=strategic',
    '-p',
    JSON.stringify({
      spec: {
        template: { spec: { containers: [{ name: 'web', env: [{ name: 'LOG_LEVEL', value: 'debug' }] }] } },
      },
    }),
  ]);
  assert.equal(patch.code, 0, patch.stderr);
  const result = await cluster.gitops(['diff', '--env', 'staging']);
  assert.equal(result.code, 1, result.stderr);
  assert.match(
    result.stderr,
    /spec\.template\.spec\.containers\[name=web\]\.image: registry\.example\.com\/acme\/web:1\.0\.0 → registry\.example\.com\/acme\/web:6\.6\.6 by kubectl-set/,
  );
  assert.match(
    result.stderr,
    /spec\.template\.spec\.containers\[name=web\]\.env\[name=LOG_LEVEL\]\.value: info → debug by kubectl-patch/,
  );
  assert.match(result.stderr, /^-\s+value: info$/m);
  assert.match(result.stderr, /^\+\s+value: debug$/m);
});

test('an object deleted by hand is missing; one removed from git but still live is extra and marked for pruning', async (t) => {
  const cluster = await fixture(t);
  const deleted = await cluster.kubectl(['delete', 'configmap/web-config', '-n', cluster.ns]);
  assert.equal(deleted.code, 0, deleted.stderr);
  git(cluster.remote.seed, ['rm', '--quiet', 'envs/staging/web.yaml']);
  const { writeFileSync } = await import('node:fs');
  writeFileSync(`${cluster.remote.seed}/envs/staging/web.yaml`, DEPLOYMENT(cluster.ns));
  git(cluster.remote.seed, ['add', '-A']);
  git(cluster.remote.seed, ['commit', '--quiet', '-m', 'drop the service']);
  git(cluster.remote.seed, ['push', '--quiet', 'origin', 'main']);

  const result = await cluster.gitops(['--json', 'diff', '--env', 'staging']);
  assert.equal(result.code, 1, result.stderr);
  const document = JSON.parse(result.stdout) as {
    objects: Array<{ kind: string; name: string; state: string; prunable?: boolean }>;
  };
  const states = Object.fromEntries(
    document.objects.map((object) => [`${object.kind}/${object.name}`, object]),
  );
  assert.equal(states['ConfigMap/web-config']?.state, 'missing');
  assert.equal(states['Service/web']?.state, 'extra');
  assert.equal(states['Service/web']?.prunable, true);
  assert.match(
    result.stderr,
    new RegExp(`Service/${cluster.ns}/web\\s+extra in cluster\\s+gitops \\(next deploy prunes it\\)`),
  );
  assert.match(result.stderr, new RegExp(`ConfigMap/${cluster.ns}/web-config\\s+missing in cluster`));
});

test('a Secret changed by hand: drift names the key, the value appears in no output', async (t) => {
  const cluster = await fixture(t);
  const changed = 'Sw0rdfish-changed-by-hand';
  const patch = await cluster.kubectl([
    'patch',
    'secret/web-db',
    '-n',
    cluster.ns,
    '--type=merge',
    '-p',
    JSON.stringify({ data: { password: Buffer.from(changed).toString('base64') } }),
  ]);
  assert.equal(patch.code, 0, patch.stderr);
  const result = await cluster.gitops(['--json', 'diff', '--env', 'staging']);
  assert.equal(result.code, 1, result.stderr);
  assert.match(result.stderr, /data\.password differs by kubectl-patch/);
  const everything = result.stdout + result.stderr;
  for (const value of [
    SECRET_VALUE,
    changed,
    Buffer.from(SECRET_VALUE).toString('base64'),
    Buffer.from(changed).toString('base64'),
  ]) {
    assert.ok(!everything.includes(value), `secret value leaked: ${value}`);
  }
  assert.match(result.stderr, /\(secret: differs from git\)/);
  const document = JSON.parse(result.stdout) as {
    objects: Array<{
      kind: string;
      differences: Array<{ path: string; secret?: boolean; managers: unknown[] }>;
    }>;
  };
  const secret = document.objects.find((object) => object.kind === 'Secret')!;
  assert.deepEqual(secret.differences, [
    {
      kind: 'changed',
      path: 'data.password',
      pointer: '/data/password',
      secret: true,
      managers: secret.differences[0]!.managers,
    },
  ]);
});

test('quantities, int-or-string and list order are not drift; --revision compares an older commit', async (t) => {
  const cluster = await fixture(t);
  const first = cluster.remote.head();
  const { writeFileSync } = await import('node:fs');
  writeFileSync(
    `${cluster.remote.seed}/envs/staging/web.yaml`,
    `${DEPLOYMENT(cluster.ns).replace('cpu: 500m', 'cpu: "0.5"').replace('memory: 128Mi', 'memory: "134217728"')}---\n${SERVICE(cluster.ns).replace('targetPort: 8080', 'targetPort: "8080"')}`,
  );
  git(cluster.remote.seed, ['commit', '--quiet', '-am', 'same values, other spellings']);
  git(cluster.remote.seed, ['push', '--quiet', 'origin', 'main']);
  const same = await cluster.gitops(['diff', '--env', 'staging']);
  assert.equal(same.code, 0, same.stderr);

  writeFileSync(
    `${cluster.remote.seed}/envs/staging/config.yaml`,
    CONFIGMAP(cluster.ns).replace('hello', 'bonjour'),
  );
  git(cluster.remote.seed, ['commit', '--quiet', '-am', 'new greeting']);
  git(cluster.remote.seed, ['push', '--quiet', 'origin', 'main']);
  const pending = await cluster.gitops(['diff', '--env', 'staging']);
  assert.equal(pending.code, 1);
  assert.match(pending.stderr, /data\.greeting: bonjour → hello/);
  const atFirst = await cluster.gitops(['diff', '--env', 'staging', '--revision', first.slice(0, 10)]);
  assert.equal(atFirst.code, 0, atFirst.stderr);
  const bad = await cluster.gitops(['diff', '--env', 'staging', '--revision', '--upload-pack=touch /tmp/x']);
  assert.equal(bad.code, 2, bad.stderr);
});

test('a first diff names the objects the next deploy creates, one line each, and multi-line values stay on one line', async (t) => {
  const ns = uniqueName('first');
  const config = (greeting: string) =>
    `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-config\n  namespace: ${ns}\ndata:\n  app.properties: |\n    greeting=${greeting}\n    colour=blue\n    size=large\n`;
  const many = Array.from(
    { length: 30 },
    (_, index) =>
      `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-${index}\n  namespace: ${ns}\ndata:\n  key: value-${index}\n`,
  ).join('---\n');
  const cluster = await clusterFixture(
    t,
    {
      'envs/staging/namespace.yaml': namespaceYaml(ns),
      'envs/staging/many.yaml': many,
      'envs/staging/config.yaml': config('hello'),
    },
    { staging: `    namespace: ${ns}\n` },
  );
  const first = await cluster.gitops(['diff', '--env', 'staging']);
  assert.equal(first.code, 1, first.stderr);
  assert.match(
    first.stderr,
    /32 object\(s\) declared in git are not in the cluster .*: the next deploy creates them/,
  );
  assert.doesNotMatch(first.stderr, /^\+?\s*apiVersion:/m, 'no YAML bodies for objects not in the cluster');
  assert.ok(
    first.stderr.split('\n').length < 60,
    `one line per object (${first.stderr.split('\n').length} lines)`,
  );

  await cluster.apply('staging');
  const changed = await cluster.kubectl(
    ['apply', '--server-side', '--force-conflicts', '--field-manager=editor', '-f', '-'],
    config('bonjour'),
  );
  assert.equal(changed.code, 0, changed.stderr);
  const diff = await cluster.gitops(['diff', '--env', 'staging']);
  assert.equal(diff.code, 1, diff.stderr);
  const summary = diff.stderr
    .split('\n')
    .find((line) => line.includes('data["app.properties"]') || line.includes('data.app.properties'));
  assert.ok(summary, diff.stderr);
  assert.match(summary, /"greeting=hello…" \(4 lines\) → "greeting=bonjour…" \(4 lines\) by editor/);
});
