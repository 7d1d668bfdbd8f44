import type { Command } from 'commander';
import type { ActionFactory } from '../action.js';
import { checkConfig, loadOperation } from '../operation.js';
import { collect } from '../options.js';

interface BumpCommandOptions {
  env: string;
  image: string[];
  envRepoDir?: string;
  commit: boolean;
  push: boolean;
  sourceCommit?: string;
}

/** `gitops bump`: options, help text and action (name and description: COMMANDS in ../main.ts). */
export function defineBump(command: Command, action: ActionFactory): void {
  command
    .requiredOption('--env <name>', 'environment of gitops.yaml whose manifests to edit')
    .option(
      '--image <name=reference>',
      'image to set: a name from gitops.yaml or a repository, = a reference with tag and/or digest (repeatable)',
      collect,
      [],
    )
    .option('--env-repo-dir <path>', 'edit this checkout of the env repo instead of a fresh clone')
    .option('--no-commit', 'edit the files of --env-repo-dir only; do not commit or push')
    .option('--no-push', 'commit but do not push (a fresh clone is kept and its path printed)')
    .option(
      '--source-commit <sha>',
      'app-repo commit recorded in the Gitops-Source-Commit trailer (default: detected)',
    )
    .addHelpText(
      'after',
      '\nFinds references in workload manifests, kustomization images:, the Helm values files of\n' +
        'environments.<env>.helmValues and values marked `# gitops:image <name>`, matched by repository,\n' +
        'and changes only those tokens. The commit is pushed without force; when the branch moved,\n' +
        'the edit is re-applied on the new head and pushed again (for up to envRepo.pushTimeout).\n\n' +
        'Examples:\n' +
        '  gitops bump --env staging --image web=ghcr.io/acme/web:1.4.2\n' +
        '  gitops --dry-run bump --env staging --image ghcr.io/acme/web@sha256:…\n' +
        '  gitops bump --env staging --image web=ghcr.io/acme/web:1.4.2 --env-repo-dir ../env --no-commit',
    )
    .action(
      action<BumpCommandOptions>(async (ctx, options) => {
        const { usageError } = await import('../../core/errors.js');
        if (options.image.length === 0) {
          throw usageError('BUMP_NO_IMAGE', 'gitops bump needs at least one --image <name>=<reference>', {
            hint: 'e.g. --image web=ghcr.io/acme/web:1.4.2',
          });
        }
        // Trailers are the audit log: what goes into them is checked like any revision argument.
        if (options.sourceCommit) {
          const { validateRevisionArgument } = await import('../../core/git-refs.js');
          validateRevisionArgument(options.sourceCommit, { what: '--source-commit' });
        }
        // runBump reports a bad reference before it reads the config: the same order here, before
        // checkConfig reads it first.
        const { parseImageReference } = await import('../../images/reference.js');
        for (const argument of options.image) {
          parseImageReference(argument.includes('=') ? argument.slice(argument.indexOf('=') + 1) : argument);
        }
        await checkConfig(ctx, [options.env]);
        const [{ runBump }, { bumpDocument, reportBump }] = await loadOperation(ctx, () =>
          Promise.all([import('../../operations/bump.js'), import('../render/bump.js')]),
        );
        const result = await runBump(ctx, {
          env: options.env,
          images: options.image,
          ...(options.envRepoDir ? { envRepoDir: options.envRepoDir } : {}),
          commit: options.commit,
          push: options.push,
          ...(options.sourceCommit ? { sourceCommit: options.sourceCommit } : {}),
        });
        reportBump(ctx, result);
        return { result: bumpDocument(ctx, result) };
      }),
    );
}
