import type { Command } from 'commander';
import type { ActionFactory } from '../action.js';
import { checkConfig, loadOperation } from '../operation.js';

interface DiffCommandOptions {
  env: string;
  revision?: string;
  envRepoDir?: string;
  all?: boolean;
}

/** `gitops diff`: options, help text and action (name and description: COMMANDS in ../main.ts). */
export function defineDiff(command: Command, action: ActionFactory): void {
  command
    .requiredOption('--env <name>', 'environment of gitops.yaml')
    .option('--revision <ref>', 'compare this env-repo commit, branch or tag (default: the env branch head)')
    .option('--env-repo-dir <path>', 'compare this working copy of the env repo instead of a fresh clone')
    .option('--all', 'list objects that are in sync too')
    .addHelpText(
      'after',
      '\nQuiet on server noise (status, defaults git does not declare, managedFields, quantity spellings,\n' +
        'replicas owned by an HPA); each difference names the field manager that made it and when.\n' +
        'Secret values are compared by hash and never printed. Ignore fields with\n' +
        'environments.<env>.ignoreDifferences in gitops.yaml.',
    )
    .action(
      action<DiffCommandOptions>(async (ctx, options) => {
        await checkConfig(ctx, [options.env]);
        const [{ runDiff }, { driftSummary, formatDrift }, { driftDocument }] = await loadOperation(ctx, () =>
          Promise.all([
            import('../../operations/diff.js'),
            import('../render/drift.js'),
            import('../../drift/document.js'),
          ]),
        );
        const { revision, report } = await runDiff(ctx, {
          env: options.env,
          ...(options.revision ? { revision: options.revision } : {}),
          ...(options.envRepoDir ? { envRepoDir: options.envRepoDir } : {}),
        });
        ctx.reporter.print(formatDrift(report, ctx.reporter.color, { showInSync: Boolean(options.all) }));
        ctx.reporter.summary(driftSummary(report));
        return { exitCode: report.inSync ? 0 : 1, result: { revision, ...driftDocument(report) } };
      }),
    );
}
