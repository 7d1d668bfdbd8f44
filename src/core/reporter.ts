/**
 * How operations tell what they do while they run. Core code narrates (steps, info, warnings) and
 * shows data; how that looks — spinners, plain lines, GitHub annotations — is the CLI's business.
 */

export interface StepRecord {
  title: string;
  status: 'ok' | 'failed' | 'skipped';
  durationMs: number;
  detail?: string;
}

export interface StepControl {
  /** Replaces the step's trailing detail (shown when the step ends). */
  detail(text: string): void;
  /** Marks the step skipped with a reason instead of done. */
  skip(reason: string): void;
  /** A line of progress inside the step (suppressed by --quiet; collapsed under a spinner). */
  log(text: string): void;
}

/**
 * Data an operation shows while it runs (a drift report before the gate decides, the outcome of a
 * deploy). The folders above core register their kinds by augmenting this interface; the CLI
 * decides how each kind looks.
 */
// biome-ignore lint/suspicious/noEmptyInterface: filled in by module augmentation.
export interface ViewKinds {}

export type View = { [K in keyof ViewKinds]: { kind: K } & ViewKinds[K] }[keyof ViewKinds];

export interface Reporter {
  step<T>(title: string, run: (step: StepControl) => Promise<T>): Promise<T>;
  info(message: string): void;
  success(message: string): void;
  warn(message: string): void;
  debug(message: string): void;
  show(view: View): void;
  /** Transient progress of the running step (clone, fetch, push); shown in a terminal's spinner only. */
  progress?(text: string): void;
}
