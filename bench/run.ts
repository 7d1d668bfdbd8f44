/**
 * `npm run bench`: runs every bench/*.bench.ts (or those whose names contain an argument), then
 * writes bench/results/latest.md and bench/results/latest.json. Every row compares a subject with
 * a baseline measured in turn with it, in the same run, on the same machine.
 *
 * A row that throws is reported as failed and the others are kept; once every result is written,
 * the exit code is 1 if any row failed or missed its target. BENCH_RUNS=2 BENCH_SCALE=0.1 makes a
 * smoke run (fewer runs, fewer objects), written to bench/results/smoke.{md,json} instead: its
 * figures say nothing about the targets.
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BenchRow, firstLine, renderTable, rowFailed, unmeasuredRow } from './lib.js';
import { clusterDescription } from './support/cluster.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const filters = process.argv.slice(2);
const files = readdirSync(here)
  .filter((name) => name.endsWith('.bench.ts'))
  .filter((name) => filters.length === 0 || filters.some((filter) => name.includes(filter)))
  .sort();

const startLoad = loadavg()[0]!;
const rows: BenchRow[] = [];
for (const file of files) {
  process.stderr.write(`▸ ${file}\n`);
  const started = performance.now();
  try {
    const module = (await import(join(here, file))) as { run: () => Promise<BenchRow[]> };
    const own = await module.run();
    rows.push(...own);
    const bad = own.filter(rowFailed).length;
    process.stderr.write(
      `${bad ? '✗' : '✓'} ${file} (${((performance.now() - started) / 1000).toFixed(1)}s${bad ? `, ${bad} row(s) failed or missed` : ''})\n`,
    );
  } catch (error) {
    // The file's fixture broke before any row could be measured: one failed row stands for it.
    rows.push(unmeasuredRow(file.replace(/\.bench\.ts$/, ''), 'fixture', '—', 'failed', error));
    process.stderr.write(`✗ ${file}: ${error instanceof Error ? error.stack : String(error)}\n`);
  }
}

const settings = {
  runs: process.env.BENCH_RUNS ?? 'per row (at least 5)',
  scale: process.env.BENCH_SCALE ?? '1',
  cluster: clusterDescription() ?? 'not used',
};
const smoke = process.env.BENCH_RUNS !== undefined || (process.env.BENCH_SCALE ?? '1') !== '1';
const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${process.platform}`;
const header = [
  `Machine: ${machine}; load average ${startLoad.toFixed(2)} at the start, ${loadavg()[0]!.toFixed(2)} at the end.`,
  `Cluster: ${settings.cluster}.`,
  smoke
    ? `SMOKE RUN (BENCH_RUNS=${settings.runs}, BENCH_SCALE=${settings.scale}): not the figures of record.`
    : '',
  filters.length > 0 ? `Only ${files.join(', ')}.` : '',
]
  .filter(Boolean)
  .join(' ');
const table = renderTable(header, rows);
const resultsDir = join(here, 'results');
mkdirSync(resultsDir, { recursive: true });
// A smoke run never replaces the figures of record.
const name = smoke ? 'smoke' : 'latest';
writeFileSync(join(resultsDir, `${name}.md`), table);
writeFileSync(
  join(resultsDir, `${name}.json`),
  `${JSON.stringify({ machine, settings, date: new Date().toISOString(), rows }, null, 2)}\n`,
);
process.stdout.write(table);
const bad = rows.filter(rowFailed);
if (bad.length > 0) {
  process.stderr.write(
    `\n${bad.length} row(s) failed or missed their target:\n${bad
      .map(
        (row) =>
          `- ${row.bench} / ${row.subject.label}: ${row.status}${row.error ? ` — ${firstLine(row.error)}` : ''}`,
      )
      .join('\n')}\n`,
  );
  process.exitCode = 1;
}
