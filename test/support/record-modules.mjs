// `node --import ./record-modules.mjs …` (test/startup.test.ts): appends the URL of every module
// the process loads to the file $GITOPS_RECORD_MODULES, one a line. ES modules (and CommonJS
// ones reached by import) are recorded by a load hook; CommonJS loaded by require(), which
// no hook sees on Node 20, from require.cache when the process exits.
import { appendFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';
import { pathToFileURL } from 'node:url';

const file = process.env.GITOPS_RECORD_MODULES;
if (file) {
  register('./record-modules-hooks.mjs', import.meta.url, { data: { file } });
  const { cache } = createRequire(import.meta.url);
  process.on('exit', () => {
    const urls = Object.keys(cache).map((path) => pathToFileURL(path).href);
    if (urls.length > 0) appendFileSync(file, `${urls.join('\n')}\n`);
  });
}
