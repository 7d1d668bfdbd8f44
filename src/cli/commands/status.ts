import type { Command } from 'commander';
import type { ActionFactory } from '../action.js';

export function defineStatus(program: Command, action: ActionFactory): void {
  program
    .command('status')
    .description(
      'per environment: live revision against the branch, drift, rollout health, deploy state (exit 1 when not all is well)',
    )
    .option('--env <name>', 'only this environment (default: all)')
    .action(
      action<{ env?: string }>(async (ctx, options) => {
        const [{ runStatus }, { formatStatus }] = await Promise.all([
          import('../../operations/status.js'),
          import('../render/status.js'),
        ]);
        const { environments, healthy } = await runStatus(ctx, options.env ? { env: options.env } : {});
        for (const block of formatStatus(environments, ctx.reporter.color)) ctx.reporter.print(block);
        return { exitCode: healthy ? 0 : 1, result: { environments } };
      }),
    );
}
