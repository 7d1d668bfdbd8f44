// The write-back corpus (test/fixtures/write-back, see its README): behaviours the peers' own test
// suites pin down (kustomize, renovate, Flux image automation, argocd-image-updater, Kargo), as
// gitops' own fixtures: <case>/{case.json,in/,out/}. Every file under in/ has its exact expected bytes
// under out/. Each case is also rendered before and after (kubectl kustomize, helm template, or the
// plain files): the image fields of the updated images show exactly the new image, nothing else of
// the output changes. The older corpus (test/fixtures/edit) is rendered the same way where its layout
// renders. UPDATE_FIXTURES=1 writes out/ from the current engine: review the diff before committing it.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { formatImageReference, tryParseImageReference } from '../src/images/reference.js';
import { parseImageUpdate } from '../src/manifests/arguments.js';
import type { ImageUpdate, UpdateResult } from '../src/manifests/types.js';
import { updateImages } from '../src/manifests/update.js';
import { repoRoot, tempDir } from './support/cli.js';
import { layoutOf, type RenderLayout, render } from './support/render-images.js';
import {
  type WriteBackCase as Case,
  cases,
  copyCase,
  corpus,
  DEFAULT_CONFIG,
  readCase,
} from './support/write-back-corpus.js';

function allFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name).slice(dir.length + 1))
    .sort();
}

test('the write-back corpus has at least 60 cases, each saying which peer behaviour it mirrors', () => {
  assert.ok(cases.length >= 60, `only ${cases.length} cases`);
  const readme = readFileSync(join(corpus, 'README.md'), 'utf8');
  for (const name of cases) {
    const spec = readCase(name);
    assert.ok(spec.peer.length > 10, `${name}: case.json says no peer behaviour`);
    assert.ok(readme.includes(`| ${name} |`), `${name} is missing from the README's table`);
  }
});

/**
 * What the render must show after the edit for one image field that rendered `before`: the update's
 * tag and digest on the name as rendered (Helm keeps the tag when only a digest is given).
 */
function expectedImage(before: string, updates: readonly ImageUpdate[], helm: boolean): string {
  const reference = tryParseImageReference(before);
  const update =
    reference && updates.find((candidate) => candidate.reference.repository === reference.repository);
  if (!reference || !update) return before;
  const tag = update.reference.tag ?? (helm ? reference.tag : undefined);
  return formatImageReference({ name: reference.name, tag, digest: update.reference.digest });
}

/** Renders before and after and checks the image fields and everything else of the output. */
function checkRender(
  name: string,
  before: RenderLayout,
  after: RenderLayout,
  updates: readonly ImageUpdate[],
  options: { unchanged?: string[]; expect?: Record<string, string> } = {},
): void {
  const old = render(before);
  const now = render(after);
  assert.deepEqual(now.rest, old.rest, `${name}: the render changed beyond image fields`);
  assert.deepEqual(
    [...now.images.keys()].sort(),
    [...old.images.keys()].sort(),
    `${name}: image fields differ`,
  );
  for (const [key, value] of old.images) {
    const wanted =
      options.expect?.[key] ??
      (options.unchanged?.includes(key) ? value : expectedImage(value, updates, before.kind === 'helm'));
    assert.equal(now.images.get(key), wanted, `${name}: rendered ${key}`);
  }
}

function layouts(
  original: string,
  edited: string,
  spec: Pick<Case, 'chart' | 'helmValues'>,
): { before: RenderLayout; after: RenderLayout } {
  const options = { ...(spec.chart ? { chart: spec.chart } : {}), helmValues: spec.helmValues ?? [] };
  return { before: layoutOf(original, options), after: layoutOf(edited, options) };
}

async function run(
  dir: string,
  env: string,
  spec: Case,
): Promise<{ result: UpdateResult; updates: ImageUpdate[] }> {
  const updates = spec.images.map((argument) => parseImageUpdate(argument, spec.config ?? DEFAULT_CONFIG));
  const result = await updateImages(join(dir, env), updates, {
    helmValues: spec.helmValues ?? [],
    ...(spec.chart ? { chart: spec.chart } : {}),
    write: true,
    root: dir,
  });
  return { result, updates };
}

for (const name of cases) {
  test(`write-back ${name}`, async (t) => {
    const spec = readCase(name);
    const env = spec.env ?? '.';
    const dir = tempDir(t.after);
    copyCase(name, spec, dir);
    // A pristine copy to render "before" from (charts included).
    const original = tempDir(t.after);
    copyCase(name, spec, original);
    const { result, updates } = await run(dir, env, spec);

    const outDir = join(corpus, name, 'out');
    const inputs = allFiles(join(corpus, name, 'in'));
    if (process.env.UPDATE_FIXTURES === '1') {
      rmSync(outDir, { recursive: true, force: true });
      for (const file of inputs) {
        mkdirSync(dirname(join(outDir, file)), { recursive: true });
        writeFileSync(join(outDir, file), readFileSync(join(dir, file)));
      }
    }
    for (const file of inputs) {
      const expected = join(outDir, file);
      assert.ok(existsSync(expected), `${name}/out/${file} is missing`);
      assert.equal(
        readFileSync(join(dir, file)).toString('latin1'),
        readFileSync(expected).toString('latin1'),
        `${name}: ${file} differs from out/${file}`,
      );
    }

    const summary = JSON.stringify(
      { refused: result.refused, notEditable: result.notEditable, seen: result.seen },
      null,
      2,
    );
    if (spec.refused || spec.notEditable) {
      if (spec.refused) {
        assert.ok(
          result.refused.some((refusal) => refusal.reason.includes(spec.refused!)),
          summary,
        );
      } else {
        assert.deepEqual(result.refused, [], summary);
        assert.ok(
          result.notEditable.some(({ places }) =>
            places.some((place) => place.reason.includes(spec.notEditable!)),
          ),
          summary,
        );
      }
      assert.equal(result.changed, false);
      for (const file of inputs) {
        assert.equal(
          readFileSync(join(dir, file), 'latin1'),
          readFileSync(join(corpus, name, 'in', file), 'latin1'),
          file,
        );
      }
      if (spec.render !== false) {
        // The layout itself renders: the refusal is gitops', not a broken fixture.
        render(layouts(join(original, env), join(dir, env), spec).before);
      }
      return;
    }
    assert.deepEqual(result.refused, [], summary);
    assert.deepEqual(result.notEditable, [], summary);
    if (spec.changes !== undefined)
      assert.equal(result.changes.length, spec.changes, JSON.stringify(result.changes, null, 2));
    for (const reason of spec.seen ?? []) {
      assert.ok(
        result.seen.some((seen) => seen.reason.includes(reason)),
        `expected a seen reference "${reason}": ${summary}`,
      );
    }
    assert.deepEqual(result.notFound, spec.notFound ?? [], summary);
    assert.equal(result.changed, result.changes.length > 0);
    for (const change of result.changes) {
      // Old values come from the render: never empty, also for an added images entry.
      assert.ok(change.old !== '' && change.new !== '', JSON.stringify(change));
    }

    if (spec.render !== false) {
      const { before, after } = layouts(join(original, env), join(dir, env), spec);
      checkRender(name, before, after, updates, spec.render ?? {});
    }

    // The same update again: nothing changes, and every reference says so.
    const again = await run(dir, env, spec);
    assert.equal(again.result.changed, false, JSON.stringify(again.result.changes));
    assert.deepEqual(again.result.files, []);
    if (result.changes.length > 0) {
      assert.ok(
        again.result.seen.some((seen) => seen.reason === 'already up to date'),
        JSON.stringify(again.result.seen),
      );
    }
  });
}

// The older corpus, rendered: its cases assert bytes; here the render must agree with them.
const editCorpus = join(repoRoot, 'test', 'fixtures', 'edit');
const notRendered: string[] = [];
for (const name of readdirSync(editCorpus, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort()) {
  const spec = JSON.parse(readFileSync(join(editCorpus, name, 'case.json'), 'utf8')) as Case;
  const inDir = join(editCorpus, name, 'in');
  const files = allFiles(inDir);
  const nested = files.some(
    (file) => file.includes('/') && /(^|\/)(kustomization\.ya?ml|Kustomization)$/.test(file),
  );
  const texts = files.map((file) => readFileSync(join(inDir, file), 'utf8'));
  // Helm values without a chart, kustomizations below the environment and remote bases do not
  // render here as a deploy would; markers edit values the render does not hold, by instruction.
  const reason = spec.refused
    ? 'refused: nothing is written'
    : (spec.helmValues ?? []).length > 0
      ? 'Helm values without a chart'
      : nested
        ? 'a kustomization below the environment'
        : texts.some((text) => text.includes('gitops:image'))
          ? 'markers edit values the render does not hold'
          : texts.some((text) => /- https?:\/\//.test(text))
            ? 'a remote base'
            : undefined;
  if (reason) {
    notRendered.push(`${name}: ${reason}`);
    continue;
  }
  test(`write-back render of edit fixture ${name}`, () => {
    const updates = spec.images.map((argument) => parseImageUpdate(argument, DEFAULT_CONFIG));
    const { before, after } = layouts(inDir, join(editCorpus, name, 'out'), spec);
    checkRender(name, before, after, updates);
  });
}

// Not a skip: these cases are checked byte for byte by manifests-edit.test.ts; a render of them
// alone would not be the render of a deploy, so none is claimed.
test('edit fixtures that do not render on their own say why', (t) => {
  t.diagnostic(`not rendered: ${notRendered.join('; ')}`);
  assert.ok(notRendered.length < 20, `most edit fixtures render (${notRendered.length} do not)`);
});
