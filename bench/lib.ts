/**
 * Benchmark helpers: every figure is a ratio against a baseline measured in the same run,
 * on the same machine, after a warm-up (issue: benchmarks with baselines side by side).
 */
export interface Stats {
  runs: number;
  medianMs: number;
  minMs: number;
  maxMs: number;
}

export interface BenchRow {
  /** Benchmark group, e.g. "cold start". */
  bench: string;
  /** What was measured, e.g. "gitops --version". */
  subject: Stats & { label: string };
  baseline: Stats & { label: string };
  /** subject median / baseline median. */
  ratio: number;
  /** e.g. "≤ 2×"; absent when the issue sets none. */
  target?: string;
  targetMet?: boolean;
  notes?: string;
}

export async function measure(
  fn: () => Promise<unknown> | unknown,
  options: { runs?: number; warmup?: number; before?: () => Promise<unknown> | unknown } = {},
): Promise<Stats> {
  const runs = options.runs ?? 10;
  const warmup = options.warmup ?? 2;
  const samples: number[] = [];
  for (let i = 0; i < warmup + runs; i++) {
    await options.before?.();
    const started = performance.now();
    await fn();
    const elapsed = performance.now() - started;
    if (i >= warmup) samples.push(elapsed);
  }
  samples.sort((a, b) => a - b);
  const middle = Math.floor(samples.length / 2);
  const median = samples.length % 2 ? samples[middle]! : (samples[middle - 1]! + samples[middle]!) / 2;
  return { runs, medianMs: round(median), minMs: round(samples[0]!), maxMs: round(samples.at(-1)!) };
}

export function round(value: number): number {
  return Math.round(value * 100) / 100;
}

export function row(
  bench: string,
  subject: Stats & { label: string },
  baseline: Stats & { label: string },
  target?: { text: string; maxRatio?: number; maxMs?: number },
  notes?: string,
): BenchRow {
  const ratio = round(subject.medianMs / baseline.medianMs);
  const result: BenchRow = { bench, subject, baseline, ratio };
  if (target) {
    result.target = target.text;
    result.targetMet =
      (target.maxRatio === undefined || ratio <= target.maxRatio) &&
      (target.maxMs === undefined || subject.medianMs <= target.maxMs);
  }
  if (notes) result.notes = notes;
  return result;
}

const ms = (value: number) => (value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${value.toFixed(1)} ms`);
const cell = (text: string) => text.replace(/\|/g, '\\|');

/** The Markdown table of a run (bench/results/latest.md and the README's performance section). */
export function renderTable(
  machine: string,
  rows: readonly BenchRow[],
  date = new Date().toISOString().slice(0, 10),
): string {
  const lines = [
    `Machine: ${machine}. Date: ${date}.`,
    '',
    '| benchmark | subject | median (min–max) | baseline | median (min–max) | ratio | target |',
    '|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${cell(r.bench)} | ${cell(r.subject.label)} | ${ms(r.subject.medianMs)} (${ms(r.subject.minMs)}–${ms(r.subject.maxMs)}) | ${cell(r.baseline.label)} | ${ms(r.baseline.medianMs)} (${ms(r.baseline.minMs)}–${ms(r.baseline.maxMs)}) | ${r.ratio.toFixed(2)}× | ${r.target ? `${r.target} ${r.targetMet ? '✓' : '✗ missed'}` : ''} |`,
    ),
    '',
    ...rows.filter((r) => r.notes).map((r) => `- ${r.bench} / ${r.subject.label}: ${r.notes}`),
  ];
  return `${lines.join('\n')}\n`;
}
