// Fixture corpus for image edits: test/fixtures/edit/<case>/{case.json,in/,out/}.
// Every file under in/ has its exact expected bytes under out/ (unchanged files included).
// UPDATE_FIXTURES=1 writes out/ from the current engine: review the diff before committing it.
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { parseImageUpdate } from '../src/manifests/arguments.js';
import { listYamlFiles, updateImages } from '../src/manifests/update.js';
import { repoRoot, tempDir } from './support/cli.js';

interface Case {
  images: string[];
  helmValues?: string[];
  changes?: number;
  seen?: string[];
  refused?: string;
}

/** The images of the gitops.yaml the fixtures assume. */
const configImages = [
  { name: 'web', repository: 'ghcr.io/acme/web' },
  { name: 'api', repository: 'ghcr.io/acme/api' },
];

const root = join(repoRoot, 'test', 'fixtures', 'edit');
const cases = readdirSync(root, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort();

function allFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name).slice(dir.length + 1))
    .sort();
}

test('the corpus has at least 30 input files', () => {
  const inputs = cases.flatMap((name) => allFiles(join(root, name, 'in')));
  assert.ok(inputs.length >= 30, `only ${inputs.length} input files`);
});

for (const name of cases) {
  test(`edit fixture ${name}`, async (t) => {
    const spec = JSON.parse(readFileSync(join(root, name, 'case.json'), 'utf8')) as Case;
    const dir = tempDir(t.after);
    cpSync(join(root, name, 'in'), dir, { recursive: true });
    const updates = spec.images.map((argument) => parseImageUpdate(argument, configImages));
    const options = { helmValues: spec.helmValues ?? [], write: true };
    const result = await updateImages(dir, updates, options);

    const outDir = join(root, name, 'out');
    if (process.env.UPDATE_FIXTURES === '1') {
      rmSync(outDir, { recursive: true, force: true });
      for (const file of allFiles(dir)) {
        mkdirSync(dirname(join(outDir, file)), { recursive: true });
        writeFileSync(join(outDir, file), readFileSync(join(dir, file)));
      }
    }
    assert.deepEqual(allFiles(dir), allFiles(join(root, name, 'in')), 'no file is added or removed');
    for (const file of allFiles(dir)) {
      const expected = join(outDir, file);
      assert.ok(existsSync(expected), `${name}/out/${file} is missing`);
      assert.equal(
        readFileSync(join(dir, file)).toString('latin1'),
        readFileSync(expected).toString('latin1'),
        `${name}: ${file} differs from out/${file}`,
      );
    }

    if (spec.refused) {
      assert.ok(
        result.refused.some((refusal) => refusal.reason.includes(spec.refused!)),
        `expected a refusal mentioning "${spec.refused}", got ${JSON.stringify(result.refused)}`,
      );
      assert.equal(result.changed, false);
      assert.deepEqual(allFiles(dir), allFiles(join(root, name, 'in')));
      for (const file of allFiles(dir)) {
        assert.equal(
          readFileSync(join(dir, file), 'latin1'),
          readFileSync(join(root, name, 'in', file), 'latin1'),
        );
      }
      return;
    }
    assert.deepEqual(result.refused, []);
    if (spec.changes !== undefined) {
      assert.equal(result.changes.length, spec.changes, JSON.stringify(result.changes, null, 2));
    }
    for (const reason of spec.seen ?? []) {
      assert.ok(
        result.seen.some((seen) => seen.reason === reason),
        `expected a seen reference "${reason}", got ${JSON.stringify(result.seen)}`,
      );
    }
    assert.equal(result.changed, result.changes.length > 0);
    for (const change of result.changes) {
      assert.ok(change.line >= 1 && listYamlFiles(dir).includes(change.file), JSON.stringify(change));
    }

    // The same update again: nothing changes, and every reference says so.
    const again = await updateImages(dir, updates, options);
    assert.equal(again.changed, false);
    assert.deepEqual(again.changes, []);
    assert.deepEqual(again.files, []);
    assert.ok(
      again.seen.filter((seen) => seen.reason === 'already up to date').length >= result.changes.length,
      JSON.stringify(again.seen),
    );
  });
}
