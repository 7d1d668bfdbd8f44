/**
 * Benchmark harness: every figure is compared with a baseline measured in the same run, on the
 * same machine, run by run. The contenders of a row take turns (a warm-up of each, then one run
 * of each per round, the order rotated every round), so load that comes and goes on a shared
 * machine lands on both sides of a ratio instead of in it.
 */

/** Summary of one series of samples, in milliseconds. */
export interface Stats {
  runs: number;
  medianMs: number;
  minMs: number;
  maxMs: number;
  /** Every measured sample, in the order of the rounds. */
  samplesMs: number[];
}

export type Series = Stats & { label: string };

/** A row's target, judged on the medians. */
export interface Target {
  /** As shown in the table, e.g. "≤ 1.5×". */
  text: string;
  /** subject median / baseline median ≤ this. */
  maxRatio?: number;
  /** subject median / baseline median < this (e.g. 1: faster than the baseline). */
  belowRatio?: number;
  /** subject median ≤ this many milliseconds. */
  maxMs?: number;
  /** subject median − baseline median ≤ this many milliseconds. */
  maxExtraMs?: number;
}

export type RowStatus = 'ok' | 'missed' | 'failed' | 'skipped';

export interface BenchRow {
  /** Benchmark group, e.g. "cold start". */
  bench: string;
  subject: Partial<Series> & { label: string };
  baseline: Partial<Series> & { label: string };
  /** subject median / baseline median. */
  ratio?: number;
  /** The ratios of the runs that shared a round: how far one pair can stray from the medians. */
  pairedRatio?: { min: number; median: number; max: number };
  /** subject median − baseline median. */
  differenceMs?: number;
  /** The target is on the difference of the medians (shown first), not on their ratio. */
  judgedOn?: 'difference';
  target?: string;
  targetMet?: boolean;
  /** ok: measured (and the target met, if any); missed: the target was not; failed: it threw; skipped: it could not run here. */
  status: RowStatus;
  /** Why the row failed or was skipped: the first line of the error. */
  error?: string;
  notes?: string;
  /** Medians of the figures the subject's runs reported (e.g. gitops' steps), to see where its time goes. */
  subjectFigures?: Record<string, number>;
}

/** Named figures (milliseconds) a run measured inside itself, e.g. the duration of one step. */
export type Figures = Record<string, number>;

/**
 * One side of a comparison. `before` and `after` run around every run (warm-up included) and
 * are not timed; `run` is. `iteration` counts every run of this contender, warm-up first, so a
 * fixture can give each run something fresh (a new environment for a first deploy).
 */
export interface Contender {
  label: string;
  before?(iteration: number): unknown;
  /** The timed work; what it resolves to, if an object, are Figures it measured inside itself. */
  run(iteration: number): unknown;
  after?(iteration: number): unknown;
}

/** What a row compares: a contender's wall time (its label), or a figure its runs reported. */
export type SeriesRef = string | { contender: string; figure: string; label?: string };

export interface Comparison {
  subject: SeriesRef;
  baseline: SeriesRef;
  target?: Target;
  notes?: string;
  /** Benchmark group of this row when it differs from the set's. */
  bench?: string;
}

export interface RunOptions {
  /** Measured runs of each contender (BENCH_RUNS overrides it); at least 5 unless overridden. */
  runs?: number;
  /** Unmeasured runs of each contender before the first measured round. */
  warmup?: number;
  /** Untimed preparation of the row (e.g. a first deploy); a throw fails this row, not the file. */
  setup?: () => unknown;
}

export const DEFAULT_RUNS = 5;

/**
 * Runs and warm-ups a row will do: BENCH_RUNS (for smoke runs) overrides the row's own count.
 * Fixtures that need something fresh per run size themselves with `runs + warmup`.
 */
export function runCounts(options: RunOptions = {}): { runs: number; warmup: number } {
  const override = Number(process.env.BENCH_RUNS);
  const runs =
    Number.isInteger(override) && override > 0 ? override : Math.max(options.runs ?? 0, DEFAULT_RUNS);
  return { runs, warmup: options.warmup ?? 1 };
}

/** BENCH_SCALE (default 1) shrinks object counts for smoke runs; at least `min`. */
export function scaled(count: number, min = 1): number {
  const scale = Number(process.env.BENCH_SCALE);
  return Number.isFinite(scale) && scale > 0 ? Math.max(min, Math.round(count * scale)) : count;
}

export function round(value: number): number {
  return Math.round(value * 100) / 100;
}

/** The first line of an error's message: what a failed row keeps. */
export function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.trim().split('\n')[0] ?? text;
}

function median(sorted: readonly number[]): number {
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export function stats(samples: readonly number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    runs: samples.length,
    medianMs: round(median(sorted)),
    minMs: round(sorted[0]!),
    maxMs: round(sorted.at(-1)!),
    samplesMs: samples.map(round),
  };
}

function refLabel(ref: SeriesRef): string {
  return typeof ref === 'string' ? ref : (ref.label ?? `${ref.contender}: ${ref.figure}`);
}

/**
 * Whether BENCH_SKIP (comma-separated words) names this row: a run that times other rows leaves
 * out slow ones it does not need (e.g. BENCH_SKIP=environments,workloads). A skipped row is
 * reported as skipped, never as met.
 */
export function skippedByEnv(bench: string): boolean {
  const words = (process.env.BENCH_SKIP ?? '')
    .split(',')
    .map((word) => word.trim())
    .filter(Boolean);
  return words.some((word) => bench.includes(word));
}

/** A row that could not be measured: it threw (failed) or cannot run on this machine (skipped). */
export function unmeasuredRow(
  bench: string,
  subject: string,
  baseline: string,
  status: 'failed' | 'skipped',
  error: unknown,
  target?: Target,
): BenchRow {
  return {
    bench,
    subject: { label: subject },
    baseline: { label: baseline },
    ...(target ? { target: target.text, targetMet: false } : {}),
    status,
    error: firstLine(error),
  };
}

/** Compares two series measured in the same rounds (sample i of each comes from round i). */
export function compare(
  bench: string,
  subject: Series,
  baseline: Series,
  target?: Target,
  notes?: string,
): BenchRow {
  const ratio = round(subject.medianMs / baseline.medianMs);
  const paired = subject.samplesMs
    .map((value, index) => value / baseline.samplesMs[index]!)
    .sort((a, b) => a - b);
  const differenceMs = round(subject.medianMs - baseline.medianMs);
  const row: BenchRow = {
    bench,
    subject,
    baseline,
    ratio,
    pairedRatio: { min: round(paired[0]!), median: round(median(paired)), max: round(paired.at(-1)!) },
    differenceMs,
    status: 'ok',
  };
  if (target) {
    const met =
      (target.maxRatio === undefined || ratio <= target.maxRatio) &&
      (target.belowRatio === undefined || ratio < target.belowRatio) &&
      (target.maxMs === undefined || subject.medianMs <= target.maxMs) &&
      (target.maxExtraMs === undefined || differenceMs <= target.maxExtraMs);
    row.target = target.text;
    row.targetMet = met;
    if (target.maxExtraMs !== undefined) row.judgedOn = 'difference';
    if (!met) row.status = 'missed';
  }
  if (notes) row.notes = notes;
  return row;
}

function progress(text: string): void {
  if (process.env.BENCH_QUIET !== '1') process.stderr.write(`  ${text}\n`);
}

const short = (value: number) => (value >= 1000 ? `${(value / 1000).toFixed(2)}s` : `${value.toFixed(0)}ms`);

/**
 * Measures the contenders in turn — a warm-up of each, then rounds of one run of each, the order
 * rotated every round — and returns one row per comparison. Never throws: a contender that throws
 * fails every row of the set, with the error's first line.
 */
export async function measureSet(
  bench: string,
  contenders: readonly Contender[],
  comparisons: readonly Comparison[],
  options: RunOptions = {},
): Promise<BenchRow[]> {
  const { runs, warmup } = runCounts(options);
  const byLabel = new Map(contenders.map((contender) => [contender.label, contender]));
  const wall = new Map<string, number[]>(contenders.map((contender) => [contender.label, []]));
  const figures = new Map<string, Map<string, number[]>>(
    contenders.map((contender) => [contender.label, new Map()]),
  );
  const iterations = new Map<string, number>(contenders.map((contender) => [contender.label, 0]));
  const once = async (contender: Contender, measured: boolean) => {
    const iteration = iterations.get(contender.label)!;
    iterations.set(contender.label, iteration + 1);
    await contender.before?.(iteration);
    const started = performance.now();
    const reported = (await contender.run(iteration)) as Figures | undefined;
    const elapsed = performance.now() - started;
    await contender.after?.(iteration);
    if (!measured) return;
    wall.get(contender.label)!.push(elapsed);
    const own = figures.get(contender.label)!;
    for (const [name, value] of Object.entries(typeof reported === 'object' ? (reported ?? {}) : {})) {
      if (typeof value !== 'number') continue;
      if (!own.has(name)) own.set(name, []);
      own.get(name)!.push(value);
    }
  };
  const series = (ref: SeriesRef): Series => {
    const label = refLabel(ref);
    if (typeof ref === 'string') {
      const samples = wall.get(ref);
      if (!samples) throw new Error(`no contender named ${ref}`);
      return { label, ...stats(samples) };
    }
    const samples = figures.get(ref.contender)?.get(ref.figure);
    if (!samples || samples.length !== runs)
      throw new Error(`${ref.contender} reported ${ref.figure} in ${samples?.length ?? 0} of ${runs} runs`);
    return { label, ...stats(samples) };
  };
  let current = '';
  try {
    current = 'setup';
    await options.setup?.();
    for (const ref of comparisons.flatMap((comparison) => [comparison.subject, comparison.baseline])) {
      const name = typeof ref === 'string' ? ref : ref.contender;
      if (!byLabel.has(name)) throw new Error(`no contender named ${name}`);
    }
    for (let round = 0; round < warmup; round++) {
      for (const contender of contenders) {
        current = `${contender.label} (warm-up ${round + 1})`;
        await once(contender, false);
      }
    }
    for (let round = 0; round < runs; round++) {
      const order = contenders.map((_, index) => contenders[(index + round) % contenders.length]!);
      const line: string[] = [];
      for (const contender of order) {
        current = `${contender.label} (run ${round + 1})`;
        await once(contender, true);
        line.push(`${contender.label}: ${short(wall.get(contender.label)!.at(-1)!)}`);
      }
      progress(`${bench} ${round + 1}/${runs} — ${line.join(', ')}`);
    }
    return comparisons.map((comparison) => {
      const row = compare(
        comparison.bench ?? bench,
        series(comparison.subject),
        series(comparison.baseline),
        comparison.target,
        comparison.notes,
      );
      const subject =
        typeof comparison.subject === 'string' ? comparison.subject : comparison.subject.contender;
      const own = [...figures.get(subject)!.entries()];
      if (own.length > 0)
        row.subjectFigures = Object.fromEntries(
          own.map(([name, samples]) => [name, stats(samples).medianMs]),
        );
      return row;
    });
  } catch (error) {
    const where = current ? `${current}: ` : '';
    progress(`✗ ${bench}: ${where}${error instanceof Error ? error.stack : String(error)}`);
    return comparisons.map((comparison) =>
      unmeasuredRow(
        comparison.bench ?? bench,
        refLabel(comparison.subject),
        refLabel(comparison.baseline),
        'failed',
        `${where}${firstLine(error)}`,
        comparison.target,
      ),
    );
  }
}

/** One subject against one baseline, run in turn (see measureSet). */
export async function measurePair(
  bench: string,
  subject: Contender,
  baseline: Contender,
  options: RunOptions & { target?: Target; notes?: string } = {},
): Promise<BenchRow> {
  const rows = await measureSet(
    bench,
    [subject, baseline],
    [
      {
        subject: subject.label,
        baseline: baseline.label,
        ...(options.target ? { target: options.target } : {}),
        ...(options.notes ? { notes: options.notes } : {}),
      },
    ],
    options,
  );
  return rows[0]!;
}

/** Whether a run of the bench should exit non-zero for this row. */
export function rowFailed(row: BenchRow): boolean {
  return row.status === 'failed' || row.status === 'missed';
}

const ms = (value: number) => (value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${value.toFixed(1)} ms`);
const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const figure = (series: BenchRow['subject']) =>
  series.medianMs === undefined ? '—' : `${ms(series.medianMs)} (${ms(series.minMs!)}–${ms(series.maxMs!)})`;

function ratioCell(row: BenchRow): string {
  if (row.status === 'failed') return `failed: ${cell(row.error ?? '')}`;
  if (row.status === 'skipped') return `skipped: ${cell(row.error ?? '')}`;
  const paired = row.pairedRatio
    ? ` (${row.pairedRatio.min.toFixed(2)}–${row.pairedRatio.max.toFixed(2)})`
    : '';
  const ratio = `${row.ratio!.toFixed(2)}×${paired}`;
  if (row.judgedOn !== 'difference') return ratio;
  const difference = row.differenceMs!;
  return `${difference < 0 ? '−' : '+'}${ms(Math.abs(difference))}; ${ratio}`;
}

function targetCell(row: BenchRow): string {
  if (!row.target) return row.status === 'failed' ? '✗ failed' : '';
  if (row.status === 'failed') return `${row.target} ✗ failed`;
  if (row.status === 'skipped') return `${row.target} (not run)`;
  return `${row.target} ${row.targetMet ? '✓' : '✗ missed'}`;
}

/** The Markdown table of a run (bench/results/latest.md and the README's performance section). */
export function renderTable(
  header: string,
  rows: readonly BenchRow[],
  date = new Date().toISOString().slice(0, 10),
): string {
  const lines = [
    `${header} Date: ${date}.`,
    '',
    'Ratio: subject median / baseline median; in brackets the lowest and highest ratio of two runs that shared a round.',
    '',
    '| benchmark | subject | median (min–max) | baseline | median (min–max) | ratio (paired min–max) | target |',
    '|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${cell(r.bench)} | ${cell(r.subject.label)} | ${figure(r.subject)} | ${cell(r.baseline.label)} | ${figure(r.baseline)} | ${ratioCell(r)} | ${targetCell(r)} |`,
    ),
    '',
    ...rows.filter((r) => r.notes).map((r) => `- ${r.bench} / ${r.subject.label}: ${r.notes}`),
  ];
  return `${lines.join('\n')}\n`;
}
