// Property test over the write-back corpus (test/fixtures/write-back): for every case and generated
// versions (tags YAML would misread, digests, both), `updateImages` with write:false either refuses
// (or finds the image nowhere editable) and writes nothing, or plans files whose re-parse differs from
// the original only in version values of the updated images (a tag, a digest, `tag@digest`, a whole
// reference of that repository, or an images entry or key that holds them), and reports every change
// with the image before and after, never an empty one.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import jsYaml from 'js-yaml';
import { tryParseImageReference } from '../src/images/reference.js';
import { parseImageUpdate } from '../src/manifests/arguments.js';
import type { ImageUpdate } from '../src/manifests/types.js';
import { updateImages } from '../src/manifests/update.js';
import { tempDir } from './support/cli.js';
import { cases, copyCase, DEFAULT_CONFIG, readCase } from './support/write-back-corpus.js';

const settings = { numRuns: 8, ...(process.env.FC_SEED ? { seed: Number(process.env.FC_SEED) } : {}) };

const tag = fc.oneof(
  fc.stringMatching(/^\w[\w.-]{0,20}$/),
  fc.constantFrom('1.10', '1e3', 'true', 'no', 'null', '0x10', '2024-01-01', '1.1.0', 'v2'),
);
const digest = fc
  .array(fc.constantFrom(...'0123456789abcdef'), { minLength: 64, maxLength: 64 })
  .map((chars) => `sha256:${chars.join('')}`);
const version = fc.oneof(
  tag.map((t) => `:${t}`),
  digest.map((d) => `@${d}`),
  fc.tuple(tag, digest).map(([t, d]) => `:${t}@${d}`),
);

type Leaf = { path: string; before: unknown; after: unknown };

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
  return JSON.parse(JSON.stringify(jsYaml.loadAll(text))) as unknown[];
}

/** `before`'s tag, when it is a reference or a `tag@digest` value. */
function tagOf(before: unknown, repository: string): string | undefined {
  if (typeof before !== 'string') return undefined;
  const parsed = tryParseImageReference(before);
  if (parsed?.repository === repository) return parsed.tag;
  const at = before.indexOf('@');
  return at > 0 ? before.slice(0, at) : before;
}

/**
 * A version value an update may write in place of `before`: its tag, its digest, both as
 * `tag@digest`, or a reference of its repository with exactly its tag and digest. With a digest
 * alone the old tag may stay (Helm) or go (kustomize, plain manifests); no other tag may appear.
 */
function intended(value: unknown, updates: readonly ImageUpdate[], before?: unknown): boolean {
  if (typeof value !== 'string') return false;
  const keptTag = (tagged: string | undefined, reference: ImageUpdate['reference']) =>
    reference.tag !== undefined
      ? tagged === reference.tag
      : tagged === undefined || tagged === tagOf(before, reference.repository);
  return updates.some(({ reference }) => {
    if (value === reference.tag || value === reference.digest) return true;
    const parsed = tryParseImageReference(value);
    if (parsed?.repository === reference.repository) {
      // A bare name is a new kustomize images entry's name.
      if (parsed.tag === undefined && parsed.digest === undefined) return true;
      return parsed.digest === reference.digest && keptTag(parsed.tag, reference);
    }
    // `tag@digest` in one value (a kustomize newTag, or a Helm tag carrying its digest).
    const at = value.indexOf('@');
    return at > 0 && value.slice(at + 1) === reference.digest && keptTag(value.slice(0, at), reference);
  });
}

const VERSION_KEY = /\.(tag|version|newTag|digest|name|images)$|\]$/;

function allowedLeaf(leaf: Leaf, updates: readonly ImageUpdate[]): boolean {
  if (leaf.after === undefined || leaf.after === '') {
    return (
      /\.(tag|version|newTag|digest)$/.test(leaf.path) &&
      (typeof leaf.before === 'string' || leaf.before === null)
    );
  }
  if (typeof leaf.after === 'object' && leaf.after !== null) {
    if (!VERSION_KEY.test(leaf.path)) return false;
    const strings: unknown[] = [];
    JSON.stringify(leaf.after, (_key, value) => {
      if (typeof value !== 'object' || value === null) strings.push(value);
      return value;
    });
    return strings.every((value) => intended(value, updates));
  }
  // A Helm tag key the environment lacked, added with the rendered tag when only a digest is given.
  const digestOnly = updates.every((update) => update.reference.tag === undefined);
  if (leaf.before === undefined && digestOnly && /\.(tag|version)$/.test(leaf.path)) return true;
  return intended(leaf.after, updates, leaf.before);
}

for (const name of cases) {
  test(`write-back property: ${name}`, async (t) => {
    const spec = readCase(name);
    const dir = tempDir(t.after);
    copyCase(name, spec, dir);
    const bases = spec.images.map((argument) => {
      const equals = argument.indexOf('=');
      const label = equals === -1 ? undefined : argument.slice(0, equals);
      const reference = argument.slice(equals + 1).replace(/@.*$/, '');
      const lastSlash = reference.lastIndexOf('/');
      const colon = reference.indexOf(':', lastSlash + 1);
      return { label, repository: colon === -1 ? reference : reference.slice(0, colon) };
    });
    const envDir = join(dir, spec.env ?? '.');
    const snapshot = () =>
      readdirSync(dir, { recursive: true, withFileTypes: true })
        .filter((entry) => entry.isFile())
        .map((entry) => readFileSync(join(entry.parentPath, entry.name), 'latin1'))
        .join('\0');
    const original = snapshot();

    await fc.assert(
      fc.asyncProperty(
        fc.array(version, { minLength: bases.length, maxLength: bases.length }),
        async (versions) => {
          const updates = bases.map((base, index) =>
            parseImageUpdate(
              `${base.label ? `${base.label}=` : ''}${base.repository}${versions[index]}`,
              spec.config ?? DEFAULT_CONFIG,
            ),
          );
          const result = await updateImages(envDir, updates, {
            helmValues: spec.helmValues ?? [],
            ...(spec.chart ? { chart: spec.chart } : {}),
            write: false,
            root: dir,
          });
          assert.equal(snapshot(), original, 'write:false never writes');
          if (result.refused.length > 0 || result.notEditable.length > 0) {
            assert.equal(result.changed, false);
            return;
          }
          assert.equal(result.changed, result.files.length > 0);
          for (const change of result.changes) {
            assert.ok(change.old !== '' && intended(change.new, updates, change.old), JSON.stringify(change));
            assert.ok(
              result.files.some((file) => file.file === change.file),
              `${change.file}:${change.line} reported, file unchanged`,
            );
          }
          for (const file of result.files) {
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
                `${name}/${file.file}: unintended change at ${leaf.path}: ${JSON.stringify(leaf.before)} → ${JSON.stringify(leaf.after)} (${updates.map((u) => u.reference.original).join(', ')})`,
              );
            }
          }
        },
      ),
      settings,
    );
  });
}
