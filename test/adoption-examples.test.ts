import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { exampleCiFiles } from '../src/ci-templates/index.js';
import { readConfig } from '../src/config/load.js';
import { repoRoot, runCli, tempDir } from './support/cli.js';
import { requireContainerEngine, startContainerLab, which } from './support/containers.js';

const examples = join(repoRoot, 'examples');
const LAYOUTS = ['env-kustomize', 'env-plain', 'env-helm'] as const;
const IMAGE = '127.0.0.1:5000/demo/web';

function packageVersion(): string {
  return (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;
}

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? files(join(dir, entry.name)) : [join(dir, entry.name)],
  );
}

test('examples/github-actions and examples/jenkins are what the generator writes (regenerate with UPDATE_EXAMPLES=1 node test/run.mjs adoption-examples)', () => {
  const generated = exampleCiFiles(packageVersion());
  if (process.env.UPDATE_EXAMPLES === '1') {
    for (const file of generated) {
      mkdirSync(dirname(join(examples, file.path)), { recursive: true });
      writeFileSync(join(examples, file.path), file.content);
    }
  }
  for (const file of generated) {
    const path = join(examples, file.path);
    assert.ok(existsSync(path), `examples/${file.path} exists`);
    assert.equal(readFileSync(path, 'utf8'), file.content, `examples/${file.path} matches the generator`);
  }
  // Nothing stale: every workflow or pipeline in those folders comes from the generator.
  const expected = new Set(generated.map((file) => file.path));
  for (const folder of ['github-actions', 'jenkins']) {
    for (const path of files(join(examples, folder))) {
      const name = relative(examples, path);
      if (name.endsWith('README.md')) continue;
      assert.ok(
        expected.has(name),
        `examples/${name} is not generated; remove it or add it to the generator`,
      );
    }
  }
});

test('every example gitops.yaml validates with the real loader and names paths that exist', () => {
  for (const layout of LAYOUTS) {
    const file = join(examples, layout, 'gitops.yaml');
    const config = readConfig(file, {});
    assert.deepEqual(Object.keys(config.environments), ['staging', 'production'], layout);
    assert.equal(config.environments.production?.promoteFrom, 'staging', layout);
    assert.equal(config.images[0]?.repository, IMAGE, layout);
    const context = resolve(config.dir, config.images[0]!.context);
    assert.ok(
      existsSync(join(context, 'Containerfile')),
      `${layout}: the image context holds a Containerfile`,
    );
    assert.match(config.envRepo.url ?? '', /^https:\/\/github\.com\/acme\//, `${layout}: default env repo`);
    for (const environment of Object.values(config.environments)) {
      const envDir = join(config.dir, environment.path);
      assert.ok(statSync(envDir).isDirectory(), `${layout}: ${environment.path} exists`);
      assert.equal(environment.namespace, 'demo');
      for (const values of environment.helmValues) assert.ok(existsSync(join(envDir, values)), values);
      if (environment.chart) assert.ok(existsSync(join(envDir, environment.chart, 'Chart.yaml')));
    }
    // GITOPS_ENV_REPO points the example at a local bare repo (what the demo does).
    assert.equal(readConfig(file, { GITOPS_ENV_REPO: '/tmp/env.git' }).envRepo.url, '/tmp/env.git');
  }
});

test('every example README exists and names its layout’s files', () => {
  for (const dir of ['app', ...LAYOUTS, 'github-actions', 'jenkins']) {
    const readme = join(examples, dir, 'README.md');
    assert.ok(existsSync(readme), `examples/${dir}/README.md`);
    assert.ok(readFileSync(readme, 'utf8').length > 300, `examples/${dir}/README.md says something`);
  }
});

test('plain and Helm-values examples parse; every namespaced object is in the demo namespace', () => {
  for (const env of ['staging', 'production']) {
    const dir = join(examples, 'env-plain', 'envs', env);
    const kinds: string[] = [];
    for (const file of readdirSync(dir)) {
      for (const doc of parseAllDocuments(readFileSync(join(dir, file), 'utf8'))) {
        assert.equal(doc.errors.length, 0, `${file}: ${doc.errors.join(', ')}`);
        const object = doc.toJS() as { kind: string; metadata: { namespace?: string } };
        kinds.push(object.kind);
        if (object.kind !== 'Namespace') assert.equal(object.metadata.namespace, 'demo', `${env}/${file}`);
      }
    }
    assert.deepEqual(kinds.sort(), ['Deployment', 'Namespace', 'Service']);
    const values = parseYaml(
      readFileSync(join(examples, 'env-helm', 'envs', env, 'values.yaml'), 'utf8'),
    ) as {
      image: { repository: string; tag: string };
    };
    assert.equal(values.image.repository, IMAGE);
  }
  const chart = parseYaml(
    readFileSync(join(examples, 'env-helm', 'charts', 'web', 'Chart.yaml'), 'utf8'),
  ) as {
    apiVersion: string;
    name: string;
  };
  assert.equal(chart.apiVersion, 'v2');
  assert.equal(chart.name, 'web');
  const deployment = readFileSync(
    join(examples, 'env-helm', 'charts', 'web', 'templates', 'deployment.yaml'),
    'utf8',
  );
  assert.match(deployment, /include "web\.image"/, 'the image comes from the values gitops edits');
});

test('the kustomize overlays render with kubectl kustomize to the demo namespace and the overlay’s image', (t) => {
  if (!which('kubectl')) {
    t.skip('kubectl is not installed');
    return;
  }
  for (const [env, replicas] of [
    ['staging', 1],
    ['production', 2],
  ] as const) {
    const rendered = spawnSync('kubectl', ['kustomize', join(examples, 'env-kustomize', 'overlays', env)], {
      encoding: 'utf8',
    });
    assert.equal(rendered.status, 0, rendered.stderr);
    const objects = parseAllDocuments(rendered.stdout).map(
      (doc) =>
        doc.toJS() as {
          kind: string;
          metadata: { namespace?: string };
          spec?: { replicas?: number; template?: { spec: { containers: Array<{ image: string }> } } };
        },
    );
    assert.deepEqual(objects.map((object) => object.kind).sort(), ['Deployment', 'Namespace', 'Service']);
    const deployment = objects.find((object) => object.kind === 'Deployment')!;
    assert.equal(deployment.metadata.namespace, 'demo');
    assert.equal(deployment.spec?.replicas, replicas);
    assert.equal(deployment.spec?.template?.spec.containers[0]?.image, `${IMAGE}:v1`);
  }
});

test('gitops bump finds and changes exactly the one image token in each layout', async (t) => {
  const expectedFile: Record<(typeof LAYOUTS)[number], string> = {
    'env-kustomize': 'overlays/staging/kustomization.yaml',
    'env-plain': 'envs/staging/web.yaml',
    'env-helm': 'envs/staging/values.yaml',
  };
  for (const layout of LAYOUTS) {
    const dir = join(tempDir(t), layout);
    cpSync(join(examples, layout), dir, { recursive: true });
    const result = await runCli(
      [
        '--json',
        '--config',
        join(dir, 'gitops.yaml'),
        'bump',
        '--env',
        'staging',
        '--image',
        `web=${IMAGE}:v2`,
        '--env-repo-dir',
        dir,
        '--no-commit',
      ],
      { cwd: dir },
    );
    assert.equal(result.code, 0, `${layout}: ${result.stderr}`);
    const document = JSON.parse(result.stdout) as { changes: Array<{ file: string }> };
    assert.deepEqual(
      document.changes.map((change) => change.file),
      [expectedFile[layout]],
      `${layout}: one change, in the environment's own file`,
    );
    const before = readFileSync(join(examples, layout, expectedFile[layout]), 'utf8');
    const after = readFileSync(join(dir, expectedFile[layout]), 'utf8');
    const beforeLines = before.split('\n');
    const changed = after.split('\n').filter((line, index) => line !== beforeLines[index]);
    assert.equal(changed.length, 1, `${layout}: one line changed`);
    assert.match(changed[0]!, /v2$/, `${layout}: the changed line carries the new tag`);
  }
});

test('examples/app builds with no network access (FROM scratch + static busybox) and serves its page', async (t) => {
  if (!requireContainerEngine(t)) return;
  const lab = await startContainerLab(t);
  const app = join(tempDir(t), 'app');
  cpSync(join(examples, 'app'), app, { recursive: true });
  const build = spawnSync('sh', [join(app, 'build.sh'), `${lab.registry}/demo/web:v1`], {
    env: { ...process.env, ...lab.env },
    encoding: 'utf8',
  });
  assert.equal(build.status, 0, build.stderr);
  assert.ok(existsSync(join(app, 'busybox')), 'build.sh copied the static busybox in');
  const page = lab.podman([
    'run',
    '--rm',
    `${lab.registry}/demo/web:v1`,
    '/bin/busybox',
    'cat',
    '/www/index.html',
  ]);
  assert.match(page, /hello from the gitops demo app/);
});
