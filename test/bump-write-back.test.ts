// `gitops bump` on layouts where the render decides: old values in commit subjects and
// bump lines come from the rendered image (also for an added kustomize images entry), an image the
// render holds where gitops cannot change it is exit 2 (IMAGE_NOT_EDITABLE) with every place, which
// is neither "already up to date" nor "not found", and images sharing a repository are told apart
// by their markers.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { baseEnv, runCli, tempDir } from './support/cli.js';
import { createRemote, git, gitTestEnv, writeFiles } from './support/git.js';

const DEPLOYMENT = (image: string, name = 'web') => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
spec:
  template:
    spec:
      containers:
        - name: ${name}
          image: ${image}
`;

const KUSTOMIZE_ENV = {
  'base/deployment.yaml': DEPLOYMENT('ghcr.io/acme/web:1.0.0'),
  'base/kustomization.yaml': 'resources:\n  - deployment.yaml\n',
  'envs/staging/kustomization.yaml': 'resources:\n  - ../../base\n',
};

function config(
  envRepo: string,
  images = '  - name: web\n    repository: ghcr.io/acme/web\n',
  extra = '',
): string {
  return `version: 1\nimages:\n${images}envRepo:\n  url: ${envRepo}\n  branch: main\nenvironments:\n  staging:\n    path: envs/staging\n${extra}`;
}

/** An app dir with gitops.yaml and an env-repo checkout holding `files`. */
function local(t: { after(fn: () => void): void }, files: Record<string, string>, configText?: string) {
  const root = tempDir(t.after);
  const app = join(root, 'app');
  const envRepo = join(root, 'env');
  writeFiles(app, { 'gitops.yaml': configText ?? config('../env') });
  writeFiles(envRepo, files);
  return { app, envRepo };
}

const noCommit = (envRepo: string) => ['--env-repo-dir', envRepo, '--no-commit'];

/** `gitops bump --env staging --image <images…>` on the local checkout, without committing. */
function bump(app: string, envRepo: string, images: string[], flags: string[] = []) {
  return runCli(
    [
      'bump',
      ...flags,
      '--env',
      'staging',
      ...images.flatMap((image) => ['--image', image]),
      ...noCommit(envRepo),
    ],
    {
      cwd: app,
    },
  );
}

test('an added images entry reports the rendered old image, in the bump line and in --json', async (t) => {
  const { app, envRepo } = local(t, KUSTOMIZE_ENV);
  const result = await bump(app, envRepo, ['web=ghcr.io/acme/web:1.1.0'], ['--json']);
  assert.equal(result.code, 0, result.stderr);
  const document = JSON.parse(result.stdout) as { changes: Array<Record<string, unknown>> };
  assert.deepEqual(document.changes, [
    {
      file: 'envs/staging/kustomization.yaml',
      line: 4,
      image: 'web',
      old: 'ghcr.io/acme/web:1.0.0',
      new: 'ghcr.io/acme/web:1.1.0',
      entryAdded: true,
    },
  ]);
  assert.match(
    result.stderr,
    /kustomization\.yaml:4 {2}ghcr\.io\/acme\/web:1\.0\.0 → ghcr\.io\/acme\/web:1\.1\.0 \(new images entry\)/,
  );
  assert.equal(
    readFileSync(join(envRepo, 'envs/staging/kustomization.yaml'), 'utf8'),
    'resources:\n  - ../../base\nimages:\n- name: ghcr.io/acme/web\n  newTag: 1.1.0\n',
  );
  assert.equal(
    readFileSync(join(envRepo, 'base/deployment.yaml'), 'utf8'),
    KUSTOMIZE_ENV['base/deployment.yaml'],
  );
});

test('the commit subject and body of an added entry name the old version, never an empty one', async (t) => {
  const remote = createRemote(t, KUSTOMIZE_ENV);
  const app = tempDir(t.after);
  writeFileSync(join(app, 'gitops.yaml'), config(remote.bare));
  const result = await runCli(['bump', '--env', 'staging', '--image', 'web=ghcr.io/acme/web:1.1.0'], {
    cwd: app,
    env: baseEnv({ ...gitTestEnv, GIT_CONFIG_GLOBAL: '/dev/null' }),
  });
  assert.equal(result.code, 0, result.stderr);
  const message = git(remote.bare, ['log', '-1', '--format=%B', 'main']);
  assert.match(message, /^bump\(staging\): web 1\.0\.0 → 1\.1\.0$/m, 'gitops bump says bump, not deploy');
  assert.match(
    message,
    /^- web: ghcr\.io\/acme\/web:1\.0\.0 → ghcr\.io\/acme\/web:1\.1\.0 \(envs\/staging\/kustomization\.yaml:4\)$/m,
  );
});

test('an image the render holds where gitops cannot change it is exit 2, with each place, and nothing is written', async (t) => {
  const files = {
    ...KUSTOMIZE_ENV,
    'base/deployment.yaml': DEPLOYMENT('ghcr.io/acme/web:1.0.0').replace(
      '          image: ghcr.io/acme/web:1.0.0\n',
      '          image: ghcr.io/acme/web:1.0.0\n      volumes:\n        - name: assets\n          image: {reference: ghcr.io/acme/web:1.0.0}\n',
    ),
  };
  const { app, envRepo } = local(t, files);
  const result = await bump(app, envRepo, ['web=ghcr.io/acme/web:1.1.0'], ['--json']);
  assert.equal(result.code, 2, result.stderr);
  const document = JSON.parse(result.stdout) as { ok: boolean; error: { code: string; message: string } };
  assert.equal(document.error.code, 'IMAGE_NOT_EDITABLE');
  assert.match(
    result.stderr,
    /found nowhere gitops can edit so that the render changes; nothing was written/,
  );
  assert.match(
    result.stderr,
    /base\/deployment\.yaml:13: web \(ghcr\.io\/acme\/web:1\.0\.0\): kustomize images entries do not reach image volumes/,
  );
  assert.doesNotMatch(result.stderr, /already up to date/);
  for (const [path, text] of Object.entries(files))
    assert.equal(readFileSync(join(envRepo, path), 'utf8'), text, path);
});

test('seen only outside image fields is "not found" (exit 2) with the places, not "up to date"', async (t) => {
  const { app, envRepo } = local(t, {
    'envs/staging/config.yaml':
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: release\ndata:\n  image: ghcr.io/acme/web:1.0.0\n',
  });
  const result = await bump(app, envRepo, ['web=ghcr.io/acme/web:1.1.0']);
  assert.equal(result.code, 2, result.stderr);
  assert.match(
    result.stderr,
    /no reference to web was found in envs\/staging; seen only at envs\/staging\/config\.yaml:6 \(not an image field \(data\.image\)\)/,
  );
  assert.doesNotMatch(result.stderr, /already up to date/);
});

test('a rendered image already at the version is "already up to date", exit 0', async (t) => {
  const { app, envRepo } = local(t, {
    ...KUSTOMIZE_ENV,
    'envs/staging/kustomization.yaml':
      'resources:\n  - ../../base\nimages:\n  - name: ghcr.io/acme/web\n    newTag: 1.1.0\n',
  });
  const result = await bump(app, envRepo, ['web=ghcr.io/acme/web:1.1.0']);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stderr, /kustomization\.yaml:4 {2}ghcr\.io\/acme\/web:1\.1\.0 — already up to date/);
  assert.match(result.stderr, /nothing to change: every reference is already up to date/);
});

const SHARED =
  '  - name: web\n    repository: ghcr.io/acme/web\n  - name: web-canary\n    repository: ghcr.io/acme/web\n';
const SHARED_FILES = {
  'envs/staging/web.yaml': DEPLOYMENT('ghcr.io/acme/web:1.0.0 # gitops:image web'),
  'envs/staging/canary.yaml': DEPLOYMENT('ghcr.io/acme/web:1.0.0 # gitops:image web-canary', 'canary'),
};

test('two configured images of one repository: each --image moves only the values marked for it', async (t) => {
  const { app, envRepo } = local(t, SHARED_FILES, config('../env', SHARED));
  const canary = await bump(app, envRepo, ['web-canary=ghcr.io/acme/web:1.2.0-rc.1']);
  assert.equal(canary.code, 0, canary.stderr);
  assert.match(canary.stderr, /web\.yaml:10 {2}ghcr\.io\/acme\/web:1\.0\.0 — marked for web$/m);
  assert.equal(
    readFileSync(join(envRepo, 'envs/staging/web.yaml'), 'utf8'),
    SHARED_FILES['envs/staging/web.yaml'],
  );
  assert.match(
    readFileSync(join(envRepo, 'envs/staging/canary.yaml'), 'utf8'),
    /web:1\.2\.0-rc\.1 # gitops:image web-canary/,
  );

  const both = await bump(app, envRepo, ['web=ghcr.io/acme/web:1.1.0', 'web-canary=ghcr.io/acme/web:1.2.0']);
  assert.equal(both.code, 0, both.stderr);
  assert.match(
    readFileSync(join(envRepo, 'envs/staging/web.yaml'), 'utf8'),
    /web:1\.1\.0 # gitops:image web\n/,
  );
  assert.match(
    readFileSync(join(envRepo, 'envs/staging/canary.yaml'), 'utf8'),
    /web:1\.2\.0 # gitops:image web-canary\n/,
  );

  const bare = await bump(app, envRepo, ['ghcr.io/acme/web:1.3.0']);
  assert.equal(bare.code, 2, bare.stderr);
  assert.match(
    bare.stderr,
    /ghcr\.io\/acme\/web is the repository of web and web-canary in the config; say which/,
  );
});

test('a Helm environment whose image only the chart sets is exit 2 naming the chart values, not up to date', async (t) => {
  const files = {
    'charts/web/Chart.yaml': 'apiVersion: v2\nname: web\nversion: 0.1.0\n',
    'charts/web/values.yaml': 'image:\n  repository: ghcr.io/acme/web\n  tag: "1.0.0"\n',
    'charts/web/templates/pod.yaml':
      'apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n    - name: web\n      image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"\n',
    'envs/staging/values.yaml': 'replicaCount: 2\n',
  };
  const { app, envRepo } = local(
    t,
    files,
    config('../env', undefined, '    chart: ../../charts/web\n    helmValues: [values.yaml]\n'),
  );
  const result = await bump(app, envRepo, ['web=ghcr.io/acme/web:1.1.0']);
  assert.equal(result.code, 2, result.stderr);
  assert.match(
    result.stderr,
    /charts\/web\/values\.yaml:2: web \(ghcr\.io\/acme\/web:1\.0\.0\): the tag is set only by the chart's default values/,
  );
  for (const [path, text] of Object.entries(files))
    assert.equal(readFileSync(join(envRepo, path), 'utf8'), text, path);
});

test('an images entry no resource of a build gitops sees whole uses: not found, exit 2, nothing written', async (t) => {
  const files = {
    ...KUSTOMIZE_ENV,
    'envs/staging/kustomization.yaml':
      'resources:\n  - ../../base\nimages:\n  - name: ghcr.io/acme/api\n    newTag: 2.0.0\n',
  };
  const { app, envRepo } = local(
    t,
    files,
    config('../env', '  - name: api\n    repository: ghcr.io/acme/api\n'),
  );
  const result = await bump(app, envRepo, ['api=ghcr.io/acme/api:2.1.0']);
  assert.equal(result.code, 2, result.stderr);
  assert.match(
    result.stderr,
    /no reference to api was found in envs\/staging; seen only at envs\/staging\/kustomization\.yaml:4 \(applies to no resource of the build/,
  );
  for (const [path, text] of Object.entries(files))
    assert.equal(readFileSync(join(envRepo, path), 'utf8'), text, path);
});
