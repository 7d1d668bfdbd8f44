/**
 * `npm run bench`: runs every bench/*.bench.ts (or those matching the arguments), then writes
 * bench/results/latest.md and bench/results/latest.json. Every row is a ratio to a baseline
 * measured in the same run on the same machine.
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchRow } from './lib.js';

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
const ms = (value: number) => (value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${value.toFixed(1)} ms`);
const table = [
  `Machine: ${machine}. Date: ${new Date().toISOString().slice(0, 10)}.`,
  '',
  '| benchmark | subject | median (min–max) | baseline | median (min–max) | ratio | target |',
  '|---|---|---|---|---|---|---|',
  ...rows.map(
    (r) =>
      `| ${r.bench} | ${r.subject.label} | ${ms(r.subject.medianMs)} (${ms(r.subject.minMs)}–${ms(r.subject.maxMs)}) | ${r.baseline.label} | ${ms(r.baseline.medianMs)} (${ms(r.baseline.minMs)}–${ms(r.baseline.maxMs)}) | ${r.ratio.toFixed(2)}× | ${r.target ? `${r.target} ${r.targetMet ? '✓' : '✗ missed'}` : ''} |`,
  ),
  ...rows.filter((r) => r.notes).map((r) => `\n- ${r.bench} / ${r.subject.label}: ${r.notes}`),
];
const resultsDir = join(here, 'results');
mkdirSync(resultsDir, { recursive: true });
writeFileSync(join(resultsDir, 'latest.md'), `${table.join('\n')}\n`);
writeFileSync(join(resultsDir, 'latest.json'), `${JSON.stringify({ machine, rows, failures }, null, 2)}\n`);
process.stdout.write(`${table.join('\n')}\n`);
if (failures.length > 0) {
  process.stderr.write(`\n${failures.length} benchmark(s) failed:\n${failures.join('\n')}\n`);
  process.exitCode = 1;
}
