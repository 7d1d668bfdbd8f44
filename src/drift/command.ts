import type { CommandOutcome } from '../cli/action.js';
import type { Context } from '../cli/context.js';
import { inventoryNamespace } from '../cluster/inventory.js';
import { desiredState, openSession } from '../cluster/session.js';
import { ExitCode } from '../core/exit-codes.js';
import { detectDrift } from './detect.js';
import { driftDocument, driftSummary, formatDrift } from './format.js';

export interface DiffOptions {
  env: string;
  revision?: string;
  envRepoDir?: string;
  all?: boolean;
}

/** `gitops diff`: git (branch head, --revision, or --env-repo-dir) against the live cluster. Exit 0 in sync, 1 differences. */
export async function runDiff(ctx: Context, options: DiffOptions): Promise<CommandOutcome> {
  const session = await openSession(ctx, options.env);
  const desired = await ctx.reporter.step('render the environment from git', async (step) => {
    const state = await desiredState(ctx, session, {
      ...(options.envRepoDir ? { envRepoDir: options.envRepoDir } : {}),
      ...(options.revision ? { revision: options.revision } : {}),
    });
    step.detail(`${state.objects.length} object(s) at ${state.revision.slice(0, 12)}`);
    return state;
  });
  const report = await ctx.reporter.step('compare with the cluster', async (step) => {
    const result = await detectDrift(
      session.kubectl,
      session.environment,
      desired.objects,
      inventoryNamespace(session.environment, session.namespace),
    );
    step.detail(result.inSync ? 'in sync' : 'differences found');
    return result;
  });
  ctx.reporter.print(formatDrift(report, ctx.reporter.color, { showInSync: Boolean(options.all) }));
  ctx.reporter.summary(driftSummary(report));
  return {
    exitCode: report.inSync ? ExitCode.Ok : ExitCode.Differences,
    result: { revision: desired.revision, ...driftDocument(report) },
  };
}
