import type { Command } from 'commander';
import type { ActionFactory } from '../action.js';

interface BumpCommandOptions {
  env: string;
  image: string[];
  envRepoDir?: string;
  commit: boolean;
  dryRun?: boolean;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function defineBump(program: Command, action: ActionFactory): void {
  program
    .command('bump')
    .description('set new image references in an environment, changing only the tokens that differ')
    .requiredOption('--env <name>', 'environment of gitops.yaml whose manifests to edit')
    .option(
      '--image <name=reference>',
      'image to set: a name from gitops.yaml or a repository, = a reference with tag and/or digest (repeatable)',
      collect,
      [],
    )
    .option('--env-repo-dir <path>', 'a local checkout of the environment repo to edit')
    .option('--no-commit', 'edit the files only; do not commit or push')
    .option('--dry-run', 'show what would change and write nothing')
    .addHelpText(
      'after',
      '\nFinds references in workload manifests, kustomization images:, the Helm values files of\n' +
        'environments.<env>.helmValues and values marked `# gitops:image <name>`, matched by repository.\n' +
        'Example: gitops bump --env staging --image web=ghcr.io/acme/web:1.4.2 --env-repo-dir ../env --no-commit',
    )
    .action(
      action<BumpCommandOptions>(async (ctx, options) => {
        const { runBump } = await import('../../manifests/bump.js');
        return runBump(ctx, {
          env: options.env,
          images: options.image,
          envRepoDir: options.envRepoDir,
          commit: options.commit,
          dryRun: Boolean(options.dryRun),
        });
      }),
    );
}
