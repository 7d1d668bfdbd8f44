import type { Command } from 'commander';
import type { ActionFactory } from '../action.js';
import { checkConfig, loadOperation } from '../operation.js';
import { checkOverride, parseOnDrift, parseTimeout } from '../options.js';

interface PromoteCommandOptions {
  from?: string;
  to: string;
  onDrift: string;
  timeout?: string;
  autoRollback?: boolean;
  adopt?: boolean;
  force?: boolean;
  reason?: string;
}

/** `gitops promote`: options, help text and action (name and description: COMMANDS in ../main.ts). */
export function definePromote(command: Command, action: ActionFactory): void {
  command
    .option('--from <env>', 'source environment (default: environments.<to>.promoteFrom)')
    .requiredOption('--to <env>', 'target environment')
    .option('--on-drift <mode>', 'when the target drifted: fail (exit 5), warn, overwrite', 'fail')
    .option('--timeout <duration>', 'how long to wait for the rollout')
    .option('--auto-rollback', 'when the rollout fails, revert through git, re-apply and verify (exit 4)')
    .option(
      '--adopt',
      'take over objects git declares that another owner manages (another environment or app, a Helm release, Flux, Argo CD)',
    )
    .option(
      '--force',
      'promote even while the target is locked or frozen (needs --reason; recorded in the commit)',
    )
    .option('--reason <text>', 'why --force is needed; recorded in the Gitops-Override-Reason trailer')
    .addHelpText(
      'after',
      '\nUse the global --dry-run to see the change without committing: gitops --dry-run promote --to production',
    )
    .action(
      action<PromoteCommandOptions>(async (ctx, options) => {
        const override = checkOverride(options);
        const onDrift = parseOnDrift(options.onDrift);
        const timeoutMs = parseTimeout(options.timeout);
        await checkConfig(ctx, [options.to]);
        const { runPromote } = await loadOperation(ctx, () => import('../../operations/promote.js'));
        const result = await runPromote(ctx, {
          ...(options.from ? { from: options.from } : {}),
          to: options.to,
          onDrift,
          ...(timeoutMs !== undefined ? { timeoutMs } : {}),
          ...(options.autoRollback ? { autoRollback: true } : {}),
          ...(options.adopt ? { adopt: true } : {}),
          ...override,
        });
        return { result };
      }),
    );
}
