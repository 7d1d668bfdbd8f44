import type { Command } from 'commander';
import type { ActionFactory } from '../action.js';
import { checkConfig, loadOperation } from '../operation.js';

/** `gitops lock`: options, help text and action (name and description: COMMANDS in ../main.ts). */
export function defineLock(command: Command, action: ActionFactory): void {
  command
    .requiredOption('--reason <text>', 'why; shown to everyone who is refused, and in the commit')
    .addHelpText(
      'after',
      '\nThe lock is a commit to the env repo (.gitops/locks/<env>.yaml: who, when, why; trailer\n' +
        'Gitops-Action: lock), so it is audited like every deploy. Override once with\n' +
        'gitops deploy --force --reason "…" (recorded in a Gitops-Override trailer).',
    )
    .action(
      action<{ reason?: string }>(async (ctx, options, args) => {
        const reason = options.reason?.trim();
        if (!reason) {
          const { usageError } = await import('../../core/errors.js');
          throw usageError(
            'LOCK_WITHOUT_REASON',
            'gitops lock needs --reason "…": others see it when they are refused',
            {
              hint: `gitops lock ${args[0]} --reason "incident 123"`,
            },
          );
        }
        await checkConfig(ctx, [args[0]!]);
        const { runLock } = await loadOperation(ctx, () => import('../../operations/lock.js'));
        return { result: await runLock(ctx, { env: args[0]!, reason }) };
      }),
    );
}

/** `gitops unlock`: options, help text and action (name and description: COMMANDS in ../main.ts). */
export function defineUnlock(command: Command, action: ActionFactory): void {
  command.option('--reason <text>', 'why, recorded in the commit').action(
    action<{ reason?: string }>(async (ctx, options, args) => {
      await checkConfig(ctx, [args[0]!]);
      const { runUnlock } = await loadOperation(ctx, () => import('../../operations/lock.js'));
      return {
        result: await runUnlock(ctx, {
          env: args[0]!,
          ...(options.reason ? { reason: options.reason } : {}),
        }),
      };
    }),
  );
}
