import type { Command } from 'commander';
import { usageError } from '../../core/errors.js';
import type { ActionFactory } from '../action.js';
import { checkConfig, loadOperation } from '../operation.js';
import { collect } from '../options.js';

interface BuildCommandOptions {
  rebuild?: boolean;
  buildArg: string[];
  push: boolean;
  registryUsername?: string;
  registryPasswordStdin?: boolean;
}

function parseBuildArgs(values: string[]): Record<string, string> {
  const args: Record<string, string> = {};
  for (const value of values) {
    const eq = value.indexOf('=');
    if (eq <= 0) {
      throw usageError('BUILD_ARG_INVALID', `--build-arg ${value.split('=')[0]}: expected NAME=VALUE`, {
        hint: 'pass --build-arg NAME=VALUE (repeatable)',
      });
    }
    args[value.slice(0, eq)] = value.slice(eq + 1);
  }
  return args;
}

/**
 * Reads the registry password from stdin (`--registry-password-stdin`, as `docker login` does):
 * never from argv, where `ps` and shell history would show it.
 */
async function readPassword(stdin: NodeJS.ReadableStream | undefined): Promise<string> {
  if (!stdin) return '';
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

/** `gitops build`: options, help text and action (name and description: COMMANDS in ../main.ts). */
export function defineBuild(command: Command, action: ActionFactory): void {
  command
    .option('--rebuild', 'build even when the registry already has this commit’s image')
    .option('--build-arg <name=value>', 'build argument, overrides the config (repeatable)', collect, [])
    .option('--no-push', 'build locally only: no push, no digest, no reuse check')
    .option('--registry-username <name>', 'log into the images’ registries as this user for this run')
    .option('--registry-password-stdin', 'read the registry password from stdin (with --registry-username)')
    .option('--dry-run', 'ask the registry and show what would be built, but build and push nothing')
    .addHelpText(
      'after',
      '\nEngine: build.engine in gitops.yaml, or the first working one of docker, podman, buildah.\n' +
        'Tags: the short commit sha, plus images[].tags ({sha}, {branch}, {tag} substituted).\n' +
        'An image whose tag the registry already has from the same commit is reused, not rebuilt.',
    )
    .action(
      action<BuildCommandOptions>(async (ctx, options, args) => {
        if (Boolean(options.registryUsername) !== Boolean(options.registryPasswordStdin)) {
          throw usageError(
            'REGISTRY_AUTH_INCOMPLETE',
            '--registry-username and --registry-password-stdin go together',
            {
              hint: 'echo "$REGISTRY_PASSWORD" | gitops build --registry-username me --registry-password-stdin',
            },
          );
        }
        let registryAuth: { username: string; password: string } | undefined;
        if (options.registryUsername) {
          const password = await readPassword(ctx.stdin);
          if (!password) {
            throw usageError('REGISTRY_PASSWORD_EMPTY', '--registry-password-stdin read an empty password', {
              hint: 'pipe the password into gitops, e.g. from a CI secret',
            });
          }
          ctx.masker.add(password);
          registryAuth = { username: options.registryUsername, password };
        }
        const buildArgs = parseBuildArgs(options.buildArg);
        // Building needs only the images: an app repo without envRepo or environments builds too.
        const config = await checkConfig(ctx, [], 'images');
        const { runBuild } = await loadOperation(ctx, () => import('../../build/build.js'));
        const run = await runBuild(ctx, config, {
          images: args,
          rebuild: Boolean(options.rebuild),
          buildArgs,
          push: options.push,
          ...(registryAuth ? { registryAuth } : {}),
        });
        const width = Math.max(...run.images.map((image) => image.name.length));
        for (const image of run.images) {
          ctx.reporter.print(`${image.name.padEnd(width)}  ${image.status.padEnd(7)}  ${image.reference}`);
        }
        return {
          result: {
            engine: { name: run.engine.name, version: run.engine.version },
            source: {
              sha: run.source.sha,
              ...(run.source.branch ? { branch: run.source.branch } : {}),
              ...(run.source.sourceUrl ? { url: run.source.sourceUrl } : {}),
            },
            images: run.images,
          },
        };
      }),
    );
}
