// The folders of src/ import each other in one direction only, from the command line down to
// core; nothing below src/cli knows the CLI. A new folder must be given its place here.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { test } from 'node:test';
import { repoRoot } from './support/cli.js';

/** Top to bottom: a folder may import from the folders after it, never from those before it. */
const LAYERS = [
  'cli',
  'operations',
  'pipeline',
  'gates',
  'bump',
  'build',
  'drift',
  'render',
  'cluster',
  'git',
  'manifests',
  'ci-templates',
  'images',
  'kube',
  'config',
  'core',
];

const src = join(repoRoot, 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? sourceFiles(path) : entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** `from '…'`, `import '…'` and `import('…')`: every module a file loads, static or lazy. */
function importsOf(text: string): string[] {
  const specifiers = [...text.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|^\s*import\s+)['"]([^'"]+)['"]/gm)];
  return specifiers.map((match) => match[1]!).filter((specifier) => specifier.startsWith('.'));
}

function folderOf(file: string): string {
  return relative(src, file).split(sep)[0]!;
}

const edges = sourceFiles(src).flatMap((file) =>
  importsOf(readFileSync(file, 'utf8')).map((specifier) => ({
    file: relative(repoRoot, file),
    from: folderOf(file),
    to: folderOf(resolve(dirname(file), specifier)),
  })),
);

test('every folder of src/ has its place in the layers', () => {
  const folders = readdirSync(src, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name);
  assert.deepEqual(
    folders.filter((folder) => !LAYERS.includes(folder)),
    [],
    'add new folders to LAYERS in test/architecture.test.ts',
  );
  assert.ok(edges.length > 100, `${edges.length} imports read`);
});

test('no file outside src/cli imports from src/cli', () => {
  const offending = edges.filter((edge) => edge.from !== 'cli' && edge.to === 'cli');
  assert.deepEqual(
    offending.map((edge) => edge.file),
    [],
  );
});

test('folders import each other in one direction only: cli → operations → … → core', () => {
  const upward = edges.filter(
    (edge) => edge.from !== edge.to && LAYERS.indexOf(edge.to) < LAYERS.indexOf(edge.from),
  );
  assert.deepEqual(
    upward.map((edge) => `${edge.file} imports ${edge.to}/ (above ${edge.from}/)`),
    [],
  );
});
