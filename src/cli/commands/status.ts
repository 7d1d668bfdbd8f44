import type { Command } from 'commander';
import type { ActionFactory } from '../action.js';
import { checkConfig, loadOperation } from '../operation.js';

/** `gitops status`: options, help text and action (name and description: COMMANDS in ../main.ts). */
export function defineStatus(command: Command, action: ActionFactory): void {
  command.option('--env <name>', 'only this environment (default: all)').action(
    action<{ env?: string }>(async (ctx, options) => {
      // Without --env, reading the config is runStatus's first step; with --env it reads it
      // inside the environment's step, whose lines are part of the output, so that is left to it.
      if (!options.env) await checkConfig(ctx);
      const [{ runStatus }, { formatStatus }] = await loadOperation(ctx, () =>
        Promise.all([import('../../operations/status.js'), import('../render/status.js')]),
      );
      const { environments, healthy } = await runStatus(ctx, options.env ? { env: options.env } : {});
      for (const block of formatStatus(environments, ctx.reporter.color)) ctx.reporter.print(block);
      return { exitCode: healthy ? 0 : 1, result: { environments } };
    }),
  );
}
