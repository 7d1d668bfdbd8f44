import type { Context } from '../core/context.js';
import type { DriftReport } from '../drift/detect.js';
import { openSession } from './session.js';

export interface DiffOptions {
  env: string;
  revision?: string;
  envRepoDir?: string;
}

export interface DiffResult {
  /** The env-repo commit compared. */
  revision: string;
  report: DriftReport;
}

/** `gitops diff`: git (branch head, --revision, or --env-repo-dir) against the live cluster. */
export async function runDiff(ctx: Context, options: DiffOptions): Promise<DiffResult> {
  const session = await openSession(ctx, options.env);
  const desired = await ctx.reporter.step('render the environment from git', async (step) => {
    const checkout = await session.openEnvRepo(options.envRepoDir ? { envRepoDir: options.envRepoDir } : {});
    const state = await session.desiredState(checkout, options.revision);
    step.detail(`${state.objects.length} object(s) at ${state.revision.slice(0, 12)}`);
    return state;
  });
  const report = await ctx.reporter.step('compare with the cluster', async (step) => {
    const result = await session.drift(desired.objects, desired.checkout);
    step.detail(result.inSync ? 'in sync' : 'differences found');
    return result;
  });
  return { revision: desired.revision, report };
}
