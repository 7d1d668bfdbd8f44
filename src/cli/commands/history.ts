import type { Command } from 'commander';
import type { ActionFactory } from '../action.js';

export function defineHistory(program: Command, action: ActionFactory): void {
  program
    .command('history')
    .description("list an environment's deploys from the env repo's log, newest first, the live one marked")
    .requiredOption('--env <name>', 'environment of gitops.yaml')
    .option('--limit <n>', 'how many entries', '20')
    .action(
      action<{ env: string; limit: string }>(async (ctx, options) => {
        const { runHistory } = await import('../../deploy/history.js');
        return runHistory(ctx, { env: options.env, limit: Number(options.limit) });
      }),
    );
}
