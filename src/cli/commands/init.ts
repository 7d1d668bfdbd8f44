import type { Command } from 'commander';
import type { ActionFactory } from '../action.js';

interface InitOptions {
  force?: boolean;
  envRepo: string;
  branch: string;
  environments: string;
  image: string[];
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function defineInit(program: Command, action: ActionFactory): void {
  program
    .command('init')
    .description('write a commented starter gitops.yaml in the current directory')
    .option('-f, --force', 'overwrite an existing gitops.yaml')
    .option('--env-repo <url>', 'git URL or local path of the environment repo', '../environments')
    .option('--branch <name>', 'branch of the environment repo', 'main')
    .option('--environments <names>', 'comma-separated environment names', 'staging,production')
    .option('--image <name=repository>', 'an image to build (repeatable)', collect, [])
    .action(
      action<InitOptions>(async (ctx, options) => {
        const { initConfig } = await import('../../config/init.js');
        const written = await initConfig(ctx, {
          force: Boolean(options.force),
          envRepo: options.envRepo,
          branch: options.branch,
          environments: options.environments,
          images: options.image,
        });
        ctx.reporter.success(`wrote ${written.file}`);
        ctx.reporter.info(
          'next: edit the images and environment paths, then run `gitops bump` or `gitops deploy`',
        );
        return { result: { file: written.file } };
      }),
    );
}
