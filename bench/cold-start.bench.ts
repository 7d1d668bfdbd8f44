import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type BenchRow, measure, row } from './lib.js';

const bin = fileURLToPath(new URL('../bin/gitops.js', import.meta.url));

function node(args: string[]): void {
  execFileSync(process.execPath, args, {
    stdio: 'ignore',
    env: { PATH: process.env.PATH, HOME: process.env.HOME },
  });
}

/** Cold start of the CLI (issue: foundation; target ≤ 2× of `node -e 0`). Needs `npm run build` first. */
export async function run(): Promise<BenchRow[]> {
  const options = { runs: 20, warmup: 3 };
  const baseline = { label: 'node -e 0', ...(await measure(() => node(['-e', '0']), options)) };
  const version = { label: 'gitops --version', ...(await measure(() => node([bin, '--version']), options)) };
  const help = { label: 'gitops --help', ...(await measure(() => node([bin, '--help']), options)) };
  return [
    row('cold start', version, baseline, { text: '≤ 2×', maxRatio: 2 }),
    row('cold start', help, baseline, { text: '≤ 2×', maxRatio: 2 }),
  ];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) console.table(await run());
