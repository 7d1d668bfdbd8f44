// `node test/run.mjs [filter ...]`: the suite's runner (test/run.ts) without typing the loader.
import { spawnSync } from 'node:child_process';

const runner = new URL('./run.ts', import.meta.url).pathname;
const result = spawnSync(process.execPath, ['--import', 'tsx', runner, ...process.argv.slice(2)], {
  stdio: 'inherit',
});
process.exitCode = result.status ?? 1;
