import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ERROR_CODES, renderErrorReference } from '../src/core/error-codes.js';
import { repoRoot } from './support/cli.js';

const file = join(repoRoot, 'docs', 'errors.md');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? sources(path) : entry.name.endsWith('.ts') ? [path] : [];
  });
}

test('docs/errors.md matches the catalogue (regenerate with UPDATE_DOCS=1 node test/run.mjs errors-docs)', () => {
  const expected = renderErrorReference();
  if (process.env.UPDATE_DOCS === '1') {
    mkdirSync(join(repoRoot, 'docs'), { recursive: true });
    writeFileSync(file, expected);
  }
  assert.ok(existsSync(file), 'docs/errors.md exists');
  assert.equal(readFileSync(file, 'utf8'), expected);
  for (const code of ['DRIFT', 'ROLLOUT_FAILED', 'CONFIG_INVALID', 'USAGE']) {
    assert.ok(expected.includes(`\`${code}\``), `${code} is documented`);
  }
});

test('every catalogued code is still raised somewhere (no stale entries)', () => {
  const text = sources(join(repoRoot, 'src'))
    .filter((path) => !path.endsWith('error-codes.ts'))
    .map((path) => readFileSync(path, 'utf8'))
    .join('\n');
  const unused = Object.keys(ERROR_CODES).filter((code) => !text.includes(`'${code}'`));
  assert.deepEqual(unused, []);
});
