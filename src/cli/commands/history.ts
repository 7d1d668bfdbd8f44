import type { Command } from 'commander';
import type { ActionFactory } from '../action.js';
import { checkConfig, loadOperation } from '../operation.js';
import { parseLimit } from '../options.js';

/** `gitops history`: options, help text and action (name and description: COMMANDS in ../main.ts). */
export function defineHistory(command: Command, action: ActionFactory): void {
  command
    .requiredOption('--env <name>', 'environment of gitops.yaml')
    .option('--limit <n>', 'how many entries', '20')
    .action(
      action<{ env: string; limit: string }>(async (ctx, options) => {
        const limit = parseLimit(options.limit);
        await checkConfig(ctx, [options.env]);
        const [{ runHistory }, { formatHistory }] = await loadOperation(ctx, () =>
          Promise.all([import('../../operations/history.js'), import('../render/history.js')]),
        );
        const history = await runHistory(ctx, { env: options.env, limit });
        ctx.reporter.print(formatHistory(history, ctx.reporter.color));
        const { envPath: _envPath, paths: _paths, ...document } = history;
        return { result: document };
      }),
    );
}
