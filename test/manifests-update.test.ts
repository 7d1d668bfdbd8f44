import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { parseImageReference } from '../src/images/reference.js';
import { needsQuotes } from '../src/manifests/plan.js';
import { listYamlFiles, updateImages } from '../src/manifests/update.js';
import { tempDir } from './support/cli.js';

function tree(after: (fn: () => void) => void, files: Record<string, string>): string {
  const dir = tempDir(after);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

const web = (tag: string) => ({ name: 'web', reference: parseImageReference(`ghcr.io/acme/web:${tag}`) });
const pod = (image: string) => `kind: Pod\nspec:\n  containers:\n    - name: a\n      image: ${image}\n`;

test('write: false plans, verifies and lists before/after, but writes nothing', async (t) => {
  const dir = tree(t.after, { 'a.yaml': pod('ghcr.io/acme/web:1') });
  const result = await updateImages(dir, [web('2')], { helmValues: [], write: false });
  assert.equal(result.changed, true);
  assert.deepEqual(result.files, [
    { file: 'a.yaml', before: pod('ghcr.io/acme/web:1'), after: pod('ghcr.io/acme/web:2') },
  ]);
  assert.equal(readFileSync(join(dir, 'a.yaml'), 'utf8'), pod('ghcr.io/acme/web:1'));
});

test('files are walked in sorted order; dot-directories are skipped', async (t) => {
  const dir = tree(t.after, {
    'b/x.yaml': pod('ghcr.io/acme/web:1'),
    'a.yml': pod('ghcr.io/acme/web:1'),
    'B.yaml': pod('ghcr.io/acme/web:1'),
    '.git/config.yaml': pod('ghcr.io/acme/web:1'),
    'notes.txt': 'ghcr.io/acme/web:1',
  });
  assert.deepEqual(listYamlFiles(dir), ['B.yaml', 'a.yml', 'b/x.yaml']);
  const result = await updateImages(dir, [web('2')], { helmValues: [], write: true });
  assert.deepEqual(
    result.changes.map((change) => change.file),
    ['B.yaml', 'a.yml', 'b/x.yaml'],
  );
  assert.equal(readFileSync(join(dir, '.git/config.yaml'), 'utf8'), pod('ghcr.io/acme/web:1'));
});

test('a refusal anywhere means nothing is written anywhere', async (t) => {
  const dir = tree(t.after, {
    'a.yaml': pod('ghcr.io/acme/web:1'),
    'b.yaml': 'kind: Pod\nkind: Pod\nspec:\n  containers:\n    - image: ghcr.io/acme/web:1\n',
  });
  const result = await updateImages(dir, [web('2')], { helmValues: [], write: true });
  assert.equal(result.changed, false);
  assert.equal(result.refused.length, 1);
  assert.match(result.refused[0]!.reason, /duplicate key "kind"/);
  assert.equal(readFileSync(join(dir, 'a.yaml'), 'utf8'), pod('ghcr.io/acme/web:1'));
});

test('an image no file uses is reported as not found', async (t) => {
  const dir = tree(t.after, { 'a.yaml': pod('ghcr.io/acme/web:1') });
  const api = { name: 'api', reference: parseImageReference('ghcr.io/acme/api:2') };
  const result = await updateImages(dir, [web('2'), api], { helmValues: [], write: false });
  assert.deepEqual(result.notFound, ['api']);
});

test('templated and non-reference values are left alone without complaint', async (t) => {
  const text = pod('ghcr.io/acme/web:${TAG}') + '---\n' + pod('"{{ .Values.image }}"');
  const dir = tree(t.after, { 'a.yaml': text });
  const result = await updateImages(dir, [web('2')], { helmValues: [], write: true });
  assert.deepEqual(result.changes, []);
  assert.deepEqual(result.refused, []);
  assert.equal(readFileSync(join(dir, 'a.yaml'), 'utf8'), text);
});

test('a plain tag that would read as a number is written double-quoted', async (t) => {
  const dir = tree(t.after, { 'values.yaml': 'image:\n  repository: ghcr.io/acme/web\n  tag: 1.9\n' });
  await updateImages(dir, [web('1.10')], { helmValues: ['values.yaml'], write: true });
  assert.equal(
    readFileSync(join(dir, 'values.yaml'), 'utf8'),
    'image:\n  repository: ghcr.io/acme/web\n  tag: "1.10"\n',
  );
  for (const value of ['1.10', '10', '1e5', 'true', 'on', 'null', '2024-01-02', '0x1f'])
    assert.ok(needsQuotes(value), value);
  for (const value of ['1.2.3', 'v1.10', 'latest', 'sha256:abc', '1.0-rc1'])
    assert.ok(!needsQuotes(value), value);
});

test('a marker wins over the finder of its file and can mark only the tag', async (t) => {
  const text =
    'kind: Pod\nspec:\n  containers:\n    - image: ghcr.io/acme/web:1 # gitops:image web\n' +
    'metadata:\n  annotations:\n    version: "1" # gitops:image web:tag\n';
  const dir = tree(t.after, { 'a.yaml': text });
  const result = await updateImages(dir, [web('2')], { helmValues: [], write: true });
  assert.equal(result.changes.length, 2);
  assert.equal(
    readFileSync(join(dir, 'a.yaml'), 'utf8'),
    text.replace('web:1 #', 'web:2 #').replace('"1" #', '"2" #'),
  );
});

test('a values file not named in helmValues is not read as Helm values', async (t) => {
  const text = 'image:\n  repository: ghcr.io/acme/web\n  tag: "1"\n';
  const dir = tree(t.after, { 'values.yaml': text });
  const result = await updateImages(dir, [web('2')], { helmValues: [], write: true });
  assert.deepEqual(result.changes, []);
  assert.equal(readFileSync(join(dir, 'values.yaml'), 'utf8'), text);
});
