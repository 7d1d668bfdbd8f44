import type { Context } from '../core/context.js';
import type { StepControl } from '../core/reporter.js';

/**
 * What a step does under `--dry-run`:
 * - run: it only reads (or writes gitops' own temp clone), so it runs as usual;
 * - skip: it writes (pushes, applies, records), so it is reported as skipped;
 * - preview: it writes, and instead shows what it would write (its `preview`).
 */
export type DryRunMode = 'run' | 'skip' | 'preview';

/** One step of an operation, as data: what it is called, what it does, and what it does in a dry run. */
export interface Step<S> {
  readonly title: string;
  readonly dryRun: DryRunMode;
  run(state: S, step: StepControl): Promise<void>;
  /** Under `--dry-run` for `preview` steps: says (and puts into the state) what `run` would write. */
  preview?(state: S, step: StepControl): Promise<void>;
  /** Leaves the step out entirely (not run, not reported) when false, e.g. verification that is off. */
  when?(state: S): boolean;
}

/** What an operation does when one of its steps fails (e.g. record the failure in the inventory). */
export type FailurePlan<S> = (error: unknown, state: S) => Promise<void>;

/**
 * The one runner of operations: runs the steps in order on a shared state, reports each through
 * the reporter, honours each step's dry-run mode, and hands a failure to the operation's failure
 * plan before passing it on.
 */
export async function runSteps<S>(
  ctx: Context,
  steps: readonly Step<S>[],
  state: S,
  onFailure?: FailurePlan<S>,
): Promise<S> {
  for (const step of steps) {
    if (step.when && !step.when(state)) continue;
    try {
      await ctx.reporter.step(step.title, async (control) => {
        if (!ctx.dryRun || step.dryRun === 'run') return step.run(state, control);
        if (step.dryRun === 'preview' && step.preview) return step.preview(state, control);
        control.skip('dry run');
      });
    } catch (error) {
      if (onFailure) await onFailure(error, state);
      throw error;
    }
  }
  return state;
}
