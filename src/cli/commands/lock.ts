import type { Command } from 'commander';
import type { ActionFactory } from '../action.js';

export function defineLock(program: Command, action: ActionFactory): void {
  program
    .command('lock')
    .description('lock an environment: deploy, promote and rollback refuse (exit 5) until unlocked')
    .argument('<env>', 'environment of gitops.yaml')
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
        const { runLock } = await import('../../operations/lock.js');
        return { result: await runLock(ctx, { env: args[0]!, reason }) };
      }),
    );
}

export function defineUnlock(program: Command, action: ActionFactory): void {
  program
    .command('unlock')
    .description('remove the lock of an environment (a commit to the env repo)')
    .argument('<env>', 'environment of gitops.yaml')
    .option('--reason <text>', 'why, recorded in the commit')
    .action(
      action<{ reason?: string }>(async (ctx, options, args) => {
        const { runUnlock } = await import('../../operations/lock.js');
        return {
          result: await runUnlock(ctx, {
            env: args[0]!,
            ...(options.reason ? { reason: options.reason } : {}),
          }),
        };
      }),
    );
}
