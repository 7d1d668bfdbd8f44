import type { Command } from 'commander';
import type { ActionFactory } from '../action.js';
import { checkConfig, loadOperation } from '../operation.js';
import { checkOverride, collect, parseOnDrift, parseTimeout } from '../options.js';

interface DeployCommandOptions {
  env: string;
  image: string[];
  skipBuild?: boolean;
  rebuild?: boolean;
  onDrift: string;
  timeout?: string;
  autoRollback?: boolean;
  force?: boolean;
  reason?: string;
  adopt?: boolean;
}

/** `gitops deploy`: options, help text and action (name and description: COMMANDS in ../main.ts). */
export function defineDeploy(command: Command, action: ActionFactory): void {
  command
    .requiredOption('--env <name>', 'environment of gitops.yaml')
    .option(
      '--image <name=reference>',
      'deploy this image reference instead of building it (repeatable)',
      collect,
      [],
    )
    .option('--skip-build', 'build nothing; deploy --image references or the branch head as it is')
    .option('--rebuild', 'build even when the registry already has this commit’s image')
    .option(
      '--on-drift <mode>',
      'when the cluster drifted from the deployed revision: fail (exit 5), warn, overwrite',
      'fail',
    )
    .option('--timeout <duration>', 'how long to wait for the rollout (default: environments.<env>.timeout)')
    .option('--auto-rollback', 'when the rollout fails, revert through git, re-apply and verify (exit 4)')
    .option(
      '--adopt',
      'take over objects git declares that another owner manages (another environment or app, a Helm release, Flux, Argo CD)',
    )
    .option(
      '--force',
      'deploy even while the environment is locked or frozen (needs --reason; recorded in the commit)',
    )
    .option('--reason <text>', 'why --force is needed; recorded in the Gitops-Override-Reason trailer')
    .addHelpText(
      'after',
      '\nSteps: preflight → build → drift check → bump → policy gate → server dry run → commit and push\n' +
        '→ wait for the apply lease → apply and prune → wait for the rollout → verify → record. The run\n' +
        'applies the branch head. Exit 3 with nothing applied (re-run), 4 when the rollout fails (with\n' +
        'the rollback command, or after an automatic rollback), 5 when a gate blocks (drift, policy,\n' +
        'the API server refusing an object in the dry run, lock, freeze, signature), 6 when a newer\n' +
        "revision superseded this run's change. With --on-drift overwrite, fields git does not declare\n" +
        'are removed too, whoever added them.\n\n' +
        'Example: gitops deploy --env staging --skip-build --image web=ghcr.io/acme/web:1.4.2',
    )
    .action(
      action<DeployCommandOptions>(async (ctx, options) => {
        const override = checkOverride(options);
        const onDrift = parseOnDrift(options.onDrift);
        const timeoutMs = parseTimeout(options.timeout);
        await checkConfig(ctx, [options.env]);
        const { runDeploy } = await loadOperation(ctx, () => import('../../operations/deploy.js'));
        const result = await runDeploy(ctx, {
          env: options.env,
          images: options.image,
          skipBuild: Boolean(options.skipBuild),
          rebuild: Boolean(options.rebuild),
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
