/**
 * `npm run bench`: runs every bench/*.bench.ts (or those matching the arguments), then writes
 * bench/results/latest.md and bench/results/latest.json. Every row is a ratio to a baseline
 * measured in the same run on the same machine.
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BenchRow, renderTable } from './lib.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const filters = process.argv.slice(2);
const files = readdirSync(here)
  .filter((name) => name.endsWith('.bench.ts'))
  .filter((name) => filters.length === 0 || filters.some((filter) => name.includes(filter)))
  .sort();

const rows: BenchRow[] = [];
const failures: string[] = [];
for (const file of files) {
  process.stderr.write(`▸ ${file}\n`);
  const started = performance.now();
  try {
    const module = (await import(join(here, file))) as { run: () => Promise<BenchRow[]> };
    rows.push(...(await module.run()));
    process.stderr.write(`✓ ${file} (${((performance.now() - started) / 1000).toFixed(1)}s)\n`);
  } catch (error) {
    failures.push(`${file}: ${error instanceof Error ? error.message : String(error)}`);
    process.stderr.write(`✗ ${file}: ${error instanceof Error ? error.stack : String(error)}\n`);
  }
}

const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${process.platform}`;
const table = renderTable(machine, rows);
const resultsDir = join(here, 'results');
mkdirSync(resultsDir, { recursive: true });
writeFileSync(join(resultsDir, 'latest.md'), table);
writeFileSync(join(resultsDir, 'latest.json'), `${JSON.stringify({ machine, rows, failures }, null, 2)}\n`);
process.stdout.write(table);
if (failures.length > 0) {
  process.stderr.write(`\n${failures.length} benchmark(s) failed:\n${failures.join('\n')}\n`);
  process.exitCode = 1;
}
