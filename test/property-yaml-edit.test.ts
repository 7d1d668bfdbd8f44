// Property-based test of the YAML editor (issue 10): for every fixture of test/fixtures/edit and
// generated valid references (tags YAML would misread, digests, both), `updateImages` with
// write:false either refuses, or produces files that js-yaml re-parses to exactly the intended
// change: every changed leaf is the new reference, tag or digest of an update (or a key those need),
// and every other node is equal. It never reports a change it did not make, or writes when refused.
import assert from 'node:assert/strict';
import { cpSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import jsYaml from 'js-yaml';
import { tryParseImageReference } from '../src/images/reference.js';
import { parseImageUpdate } from '../src/manifests/arguments.js';
import type { ImageUpdate } from '../src/manifests/types.js';
import { updateImages } from '../src/manifests/update.js';
import { repoRoot, tempDir } from './support/cli.js';

const settings = { numRuns: 12, ...(process.env.FC_SEED ? { seed: Number(process.env.FC_SEED) } : {}) };

const configImages = [
  { name: 'web', repository: 'ghcr.io/acme/web' },
  { name: 'api', repository: 'ghcr.io/acme/api' },
];

const root = join(repoRoot, 'test', 'fixtures', 'edit');
const cases = readdirSync(root, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort();

const tag = fc.oneof(
  fc.stringMatching(/^\w[\w.-]{0,20}$/),
  fc.constantFrom('1.10', '1e3', 'true', 'no', 'null', '0x10', '010', '2024-01-01', '1_000', '1.1.0', 'v2'),
);
const digest = fc
  .array(fc.constantFrom(...'0123456789abcdef'), { minLength: 64, maxLength: 64 })
  .map((chars) => `sha256:${chars.join('')}`);
/** A new version for one image: a tag, a digest, or both. */
const version = fc.oneof(
  tag.map((t) => `:${t}`),
  digest.map((d) => `@${d}`),
  fc.tuple(tag, digest).map(([t, d]) => `:${t}@${d}`),
);

type Leaf = { path: string; before: unknown; after: unknown };

/** Every leaf (scalar, or a whole subtree that exists on one side only) that differs. */
function diff(before: unknown, after: unknown, path: string, out: Leaf[]): void {
  const isObject = (value: unknown): value is Record<string, unknown> =>
    typeof value === 'object' && value !== null && !Array.isArray(value);
  if (isObject(before) && isObject(after)) {
    for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
      diff(before[key], after[key], `${path}.${key}`, out);
    }
  } else if (Array.isArray(before) && Array.isArray(after)) {
    for (let i = 0; i < Math.max(before.length, after.length); i++)
      diff(before[i], after[i], `${path}[${i}]`, out);
  } else if (JSON.stringify(before) !== JSON.stringify(after)) {
    out.push({ path, before, after });
  }
}

function loadAll(text: string): unknown[] {
  // As the engine's own check does: aliases become copies, so a shared anchor shows at every use.
  return JSON.parse(JSON.stringify(jsYaml.loadAll(text))) as unknown[];
}

/** Whether `value` is something an update may write: its reference (any spelling), tag or digest. */
function intended(value: unknown, updates: readonly ImageUpdate[]): boolean {
  if (typeof value !== 'string') return false;
  return updates.some(({ reference }) => {
    if (value === reference.tag || value === reference.digest) return true;
    const parsed = tryParseImageReference(value);
    if (!parsed || parsed.repository !== reference.repository) return false;
    // A bare name is a new kustomize `images:` entry's `name`; a reference carries the new version.
    if (parsed.tag === undefined && parsed.digest === undefined) return true;
    return parsed.tag === reference.tag && parsed.digest === reference.digest;
  });
}

/** Keys an edit may remove or add around the version (kustomize `newTag`/`digest`, Helm `tag`/`digest`). */
const VERSION_KEY = /\.(tag|newTag|digest|name|newName|images)$|\]$/;

function allowedLeaf(leaf: Leaf, updates: readonly ImageUpdate[]): boolean {
  if (leaf.after === undefined || leaf.after === '') {
    // A version field removed or emptied (a Helm `digest: ""` when the new version has a tag only).
    return /\.(tag|newTag|digest)$/.test(leaf.path) && typeof leaf.before === 'string';
  }
  if (typeof leaf.after === 'object' && leaf.after !== null) {
    // A new entry or key: every string inside it must be intended, and it sits where versions go.
    if (!VERSION_KEY.test(leaf.path)) return false;
    const strings: unknown[] = [];
    JSON.stringify(leaf.after, (_key, value) => {
      if (typeof value !== 'object' || value === null) strings.push(value);
      return value;
    });
    return strings.every((value) => intended(value, updates));
  }
  return intended(leaf.after, updates);
}

for (const name of cases) {
  test(`yaml edit property: ${name}`, async (t) => {
    const spec = JSON.parse(readFileSync(join(root, name, 'case.json'), 'utf8')) as {
      images: string[];
      helmValues?: string[];
    };
    const dir = tempDir(t.after);
    cpSync(join(root, name, 'in'), dir, { recursive: true });
    // The case's images, each under the name and repository spelling the case uses.
    const bases = spec.images.map((argument) => {
      const equals = argument.indexOf('=');
      const label = equals === -1 ? undefined : argument.slice(0, equals);
      const reference = argument.slice(equals + 1).replace(/@.*$/, '');
      const lastSlash = reference.lastIndexOf('/');
      const colon = reference.indexOf(':', lastSlash + 1);
      return { label, repository: colon === -1 ? reference : reference.slice(0, colon) };
    });
    const originals = new Map(
      readdirSync(dir, { recursive: true, withFileTypes: true })
        .filter((entry) => entry.isFile())
        .map((entry) => {
          const path = join(entry.parentPath, entry.name);
          return [path.slice(dir.length + 1), readFileSync(path, 'utf8')] as const;
        }),
    );

    await fc.assert(
      fc.asyncProperty(
        fc.array(version, { minLength: bases.length, maxLength: bases.length }),
        async (versions) => {
          const updates = bases.map((base, index) =>
            parseImageUpdate(
              `${base.label ? `${base.label}=` : ''}${base.repository}${versions[index]}`,
              configImages,
            ),
          );
          const result = await updateImages(dir, updates, {
            helmValues: spec.helmValues ?? [],
            write: false,
          });
          // write:false never writes, refused or not.
          for (const [file, text] of originals)
            assert.equal(readFileSync(join(dir, file), 'utf8'), text, file);
          if (result.refused.length > 0) {
            assert.equal(result.changed, false);
            return;
          }
          assert.equal(result.changed, result.files.length > 0);
          const reported = new Set(result.changes.map((change) => change.file));
          for (const file of result.files) {
            assert.equal(
              file.before,
              originals.get(file.file),
              `${file.file}: "before" is the file as it is`,
            );
            assert.ok(reported.has(file.file), `${file.file} changed, but no change is reported in it`);
            const before = loadAll(file.before);
            const after = loadAll(file.after);
            assert.equal(after.length, before.length, `${file.file}: documents added or removed`);
            const leaves: Leaf[] = [];
            before.forEach((doc, index) => {
              diff(doc, after[index], `[${index}]`, leaves);
            });
            assert.ok(leaves.length > 0, `${file.file}: bytes changed but nothing a parser sees`);
            for (const leaf of leaves) {
              assert.ok(
                allowedLeaf(leaf, updates),
                `${name}/${file.file}: unintended change at ${leaf.path}: ${JSON.stringify(leaf.before)} → ${JSON.stringify(leaf.after)}\nupdates: ${updates.map((u) => u.reference.original).join(', ')}`,
              );
            }
          }
          // Every reported change is visible in a changed file, and says what it wrote.
          for (const change of result.changes) {
            assert.ok(
              result.files.some((file) => file.file === change.file),
              `${change.file}:${change.line} reported, file unchanged`,
            );
            assert.ok(
              change.new === '' ||
                intended(change.new, updates) ||
                change.new.includes(':') ||
                change.new.includes('@'),
              JSON.stringify(change),
            );
          }
        },
      ),
      settings,
    );
  });
}
