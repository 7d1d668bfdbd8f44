// Writes dist/cli/help.json at build time (`npm run build` runs this file): the text `gitops
// --help` prints to a pipe or a file, and the key bin/help-cache.cjs checks before using it.
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { run } from './main.js';

export interface HelpCache {
  key: string;
  text: string;
}

interface HelpCacheModule {
  cacheFile: string;
  helpCacheKey(): string;
}

/** What `gitops --help` prints when its stdout is not a terminal (commander wraps it to 80 columns). */
export async function pipedHelp(): Promise<string> {
  let text = '';
  const capture = new Writable({
    write(chunk, _encoding, done) {
      text += String(chunk);
      done();
    },
  });
  const code = await run(['--help'], {
    cwd: process.cwd(),
    env: {},
    stdout: capture,
    stderr: capture,
    isTTY: false,
  });
  if (code !== 0) throw new Error(`gitops --help exited ${code}:\n${text}`);
  return text;
}

export async function writeHelpCache(): Promise<string> {
  const { cacheFile, helpCacheKey } = createRequire(import.meta.url)(
    '../../bin/help-cache.cjs',
  ) as HelpCacheModule;
  const cache: HelpCache = { key: helpCacheKey(), text: await pipedHelp() };
  writeFileSync(cacheFile, `${JSON.stringify(cache)}\n`);
  return cacheFile;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await writeHelpCache();
