import type { Command } from 'commander';
import type { ActionFactory } from '../action.js';
import { parseLimit } from '../options.js';

export function defineHistory(program: Command, action: ActionFactory): void {
  program
    .command('history')
    .description("list an environment's deploys from the env repo's log, newest first, the live one marked")
    .requiredOption('--env <name>', 'environment of gitops.yaml')
    .option('--limit <n>', 'how many entries', '20')
    .action(
      action<{ env: string; limit: string }>(async (ctx, options) => {
        const limit = parseLimit(options.limit);
        const [{ runHistory }, { formatHistory }] = await Promise.all([
          import('../../operations/history.js'),
          import('../render/history.js'),
        ]);
        const history = await runHistory(ctx, { env: options.env, limit });
        ctx.reporter.print(formatHistory(history, ctx.reporter.color));
        const { envPath: _envPath, paths: _paths, ...document } = history;
        return { result: document };
      }),
    );
}
