import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { renderConfigReference } from '../src/config/docs.js';
import { repoRoot } from './support/cli.js';

const file = join(repoRoot, 'docs', 'config.md');

test('docs/config.md matches the schema (regenerate with UPDATE_DOCS=1 node test/run.mjs config-docs)', () => {
  const expected = renderConfigReference();
  if (process.env.UPDATE_DOCS === '1') {
    mkdirSync(join(repoRoot, 'docs'), { recursive: true });
    writeFileSync(file, expected);
  }
  assert.ok(existsSync(file), 'docs/config.md exists');
  assert.equal(readFileSync(file, 'utf8'), expected);
  for (const key of ['envRepo.url', 'environments.<name>.path', 'images[].repository', 'build.pin']) {
    assert.ok(expected.includes(`\`${key}\``), `${key} is documented`);
  }
});
