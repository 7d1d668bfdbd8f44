import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { binPath } from '../test/support/cli.js';
import { type BenchRow, type Contender, measureSet } from './lib.js';
import { runProcess } from './support/process.js';

/**
 * Cold start of the CLI against `node -e 0` (needs `npm run build` first): --version, --help,
 * and the error of a command run where there is no gitops.yaml (what a misconfigured CI job
 * pays before it learns why).
 */
export async function run(): Promise<BenchRow[]> {
  // No git repository around it: the config lookup ends in this directory.
  const empty = mkdtempSync(join(tmpdir(), 'gitops-bench-empty-'));
  try {
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, LANG: 'C.UTF-8', CI: 'false' };
    const node = (label: string, args: string[], okCodes = [0]): Contender => ({
      label,
      run: async () => {
        await runProcess(process.execPath, args, { env, cwd: empty, okCodes });
      },
    });
    const contenders = [
      node('node -e 0', ['-e', '0']),
      node('gitops --version', [binPath, '--version']),
      node('gitops --help', [binPath, '--help']),
      // Exit 2 with "no gitops.yaml found": anything else fails the row.
      node('gitops diff, no gitops.yaml (error, exit 2)', [binPath, 'diff', '--env', 'staging'], [2]),
    ];
    return await measureSet(
      'cold start',
      contenders,
      [
        { subject: 'gitops --version', baseline: 'node -e 0', target: { text: '≤ 2×', maxRatio: 2 } },
        { subject: 'gitops --help', baseline: 'node -e 0', target: { text: '≤ 1.3×', maxRatio: 1.3 } },
        {
          subject: 'gitops diff, no gitops.yaml (error, exit 2)',
          baseline: 'node -e 0',
          target: { text: '≤ 1.5×', maxRatio: 1.5 },
        },
      ],
      { runs: 20, warmup: 3 },
    );
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) console.table(await run());
