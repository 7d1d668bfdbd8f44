import type { Command } from 'commander';
import type { ActionFactory } from '../action.js';
import { checkConfig, loadOperation } from '../operation.js';
import { checkOverride, parseTimeout } from '../options.js';

interface RollbackCommandOptions {
  env: string;
  timeout?: string;
  reason?: string;
  force?: boolean;
  adopt?: boolean;
  includeShared?: boolean;
}

/** `gitops rollback`: options, help text and action (name and description: COMMANDS in ../main.ts). */
export function defineRollback(command: Command, action: ActionFactory): void {
  command
    .requiredOption('--env <name>', 'environment of gitops.yaml')
    .option('--timeout <duration>', 'how long to wait for the rollout (default: environments.<env>.timeout)')
    .option('--reason <text>', 'why, recorded in the commit message')
    .option(
      '--adopt',
      'take over objects git declares that another owner manages (another environment or app, a Helm release, Flux, Argo CD)',
    )
    .option(
      '--force',
      'roll back even while the environment is locked or frozen (needs --reason; recorded in the commit)',
    )
    .option(
      '--include-shared',
      'also restore files other environments render from (a shared base, chart or values file)',
    )
    .addHelpText(
      'after',
      '\nEverything the environment renders from (its directory, kustomize bases and components, the\n' +
        'chart and values files) is restored as it was at <sha> in a NEW commit on top of the branch\n' +
        '(trailers Gitops-Action: rollback, Gitops-Rollback-To: <sha>); history is never rewritten.\n' +
        'A file other environments read too is refused (exit 5, naming it) unless --include-shared.\n' +
        'The restored tree must render what <sha> rendered, and the API server must accept it (a\n' +
        'server-side dry run) before anything is pushed. Then apply and prune (fields git does not\n' +
        'declare are removed, whoever added them), wait, verify. An unknown sha is exit 2.',
    )
    .action(
      action<RollbackCommandOptions>(async (ctx, options, args) => {
        const override = checkOverride(options);
        const timeoutMs = parseTimeout(options.timeout);
        await checkConfig(ctx, [options.env]);
        const { runRollback } = await loadOperation(ctx, () => import('../../operations/rollback.js'));
        const result = await runRollback(ctx, {
          env: options.env,
          ...(args[0] ? { sha: args[0] } : {}),
          ...(timeoutMs !== undefined ? { timeoutMs } : {}),
          ...(options.adopt ? { adopt: true } : {}),
          ...(options.includeShared ? { includeShared: true } : {}),
          ...override,
        });
        return { result };
      }),
    );
}
