// Part of `npm run build`, after tsc: replaces each shim tsc wrote to dist/core/vendor/ (a file that
// re-exports a package) with one file holding that package and everything it imports. Node then
// reads one module where it resolved, read and compiled a hundred or more (execa: ~140 ES modules;
// yaml: ~80 CommonJS ones) — the largest part of a command's start-up. What the shim exports is
// unchanged; only where it comes from.
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const shims = join(root, 'src', 'core', 'vendor');
const out = join(root, 'dist', 'core', 'vendor');

for (const name of readdirSync(shims).filter((file) => file.endsWith('.ts'))) {
  await build({
    entryPoints: [join(shims, name)],
    outfile: join(out, name.replace(/\.ts$/, '.js')),
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    sourcemap: true,
    legalComments: 'inline',
    logLevel: 'warning',
    // CommonJS code inside the bundle (yaml, cross-spawn) calls require() for Node's own modules;
    // an ES module has no require of its own.
    banner: {
      js: "import { createRequire as __gitopsCreateRequire } from 'node:module';\nconst require = __gitopsCreateRequire(import.meta.url);",
    },
  });
}
