// The text `gitops --help` prints to a pipe or a file, kept by the build (src/cli/help-cache.ts
// writes dist/cli/help.json) so that bin/gitops.cjs answers it without loading commander.
// The text is used only while its key still matches: the built main.js (which lists the commands
// and global options), this package's version and commander's — a rebuild without the build's
// help step, or another commander, falls back to commander instead of printing stale help.
const { existsSync, readFileSync } = require('node:fs');
const { dirname, join } = require('node:path');

const root = join(__dirname, '..');
const cacheFile = join(root, 'dist', 'cli', 'help.json');

/** FNV-1a over the text: a change detector, not a security boundary, and cheaper to load than node:crypto. */
function digest(text) {
  let hash = 0x811c9dc5;
  for (let index = 0; index < text.length; index++) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, '0');
}

/**
 * commander's package.json: where an install puts it, beside this package's own files (the first
 * place require.resolve would look, without the ~5 ms of resolving its exports map); else
 * wherever resolution finds it (a hoisted install). Its exports hide package.json, so the
 * resolved entry point tells the directory.
 */
function commanderPackageJson() {
  const beside = join(root, 'node_modules', 'commander', 'package.json');
  if (existsSync(beside)) return beside;
  return join(dirname(require.resolve('commander', { paths: [root] })), 'package.json');
}

function helpCacheKey() {
  const version = (path) => JSON.parse(readFileSync(path, 'utf8')).version;
  const main = readFileSync(join(root, 'dist', 'cli', 'main.js'), 'utf8');
  return [
    `main.js ${main.length} ${digest(main)}`,
    `gitops ${version(join(root, 'package.json'))}`,
    `commander ${version(commanderPackageJson())}`,
  ].join(', ');
}

/** The kept text if it belongs to this build, else undefined (and commander answers). */
function cachedHelp() {
  try {
    const cache = JSON.parse(readFileSync(cacheFile, 'utf8'));
    return cache.key === helpCacheKey() && typeof cache.text === 'string' ? cache.text : undefined;
  } catch {
    return undefined;
  }
}

module.exports = { cacheFile, cachedHelp, helpCacheKey };
