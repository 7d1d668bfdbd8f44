import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { type CiProvider, ciFiles, DEFAULT_ACTION_REF } from '../ci-templates/index.js';
import { readConfig } from '../config/load.js';
import { NAME_PATTERN } from '../config/schema.js';
import { starterConfig } from '../config/starter.js';
import type { Context } from '../core/context.js';
import { usageError } from '../core/errors.js';
import { enclosingRepository } from '../core/repository.js';

/** What `gitops init` uses for whatever neither a flag nor an answer gave. */
export const INIT_DEFAULTS = {
  envRepo: '../environments',
  branch: 'main',
  environments: 'staging,production',
} as const;

export interface InitRequest {
  force: boolean;
  envRepo: string;
  branch: string;
  /** Comma-separated names, in promotion order. */
  environments: string;
  /** `name=repository` pairs. */
  images: string[];
  /** Also write the CI files of this provider. */
  ci?: CiProvider;
  /** `uses:` reference of the gitops action in generated GitHub workflows. */
  actionRef?: string;
  /** gitops version the generated Jenkinsfiles install. */
  version: string;
}

export interface InitResult {
  /** The gitops.yaml written (or that would be, with --dry-run). */
  file: string;
  /** Every file written, gitops.yaml first, as absolute paths. */
  files: string[];
  /** In a dry run: what each file would hold. */
  preview?: Array<{ path: string; content: string }>;
}

/** Splits and checks `--environments`: DNS-1123 labels, at least one, no duplicates. */
export function parseEnvironmentNames(text: string): string[] {
  const environments = text
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  for (const name of environments) {
    if (!NAME_PATTERN.test(name)) {
      throw usageError('INVALID_NAME', `environment name "${name}" is not valid`, {
        hint: 'use lowercase letters, digits and "-" (a DNS-1123 label)',
      });
    }
  }
  if (environments.length === 0) throw usageError('INVALID_NAME', 'init needs at least one environment name');
  const duplicate = environments.find((name, index) => environments.indexOf(name) !== index);
  if (duplicate) throw usageError('INVALID_NAME', `environment "${duplicate}" is listed twice`);
  return environments;
}

/** Parses one `name=repository` pair of `--image`. */
export function parseImagePair(pair: string): { name: string; repository: string } {
  const [name, repository] = pair.split('=', 2).map((part) => part.trim());
  if (!name || !repository || !NAME_PATTERN.test(name) || /[\s:@]/.test(repository.split('/').at(-1) ?? '')) {
    throw usageError('INVALID_IMAGE_ARG', `--image "${pair}" is not name=repository with a valid name`, {
      hint: 'example: --image web=ghcr.io/acme/web (a repository without tag or digest)',
    });
  }
  return { name, repository };
}

/** The repository root above `cwd` (the first directory holding `.git`), or `cwd` itself outside a repository. */
function repositoryRoot(cwd: string): string {
  return enclosingRepository(cwd) ?? cwd;
}

/**
 * Writes a starter gitops.yaml into ctx.cwd and, with `ci`, the CI files at the repository root,
 * refusing to overwrite any of them unless forced. Nothing is written when one target exists;
 * the config is read back through the same loader every command uses.
 */
export async function initConfig(ctx: Context, request: InitRequest): Promise<InitResult> {
  const environments = parseEnvironmentNames(request.environments);
  const images = request.images.map(parseImagePair);
  const remoteUrl = /^(https?|ssh):\/\/|^[\w.-]+@[\w.-]+:/.test(request.envRepo);
  const file = join(ctx.cwd, 'gitops.yaml');
  const outputs: Array<{ path: string; content: string }> = [
    {
      path: file,
      content: starterConfig({
        envRepo: request.envRepo,
        branch: request.branch,
        environments,
        images,
        // The generated workflows hand their token to gitops as GITOPS_TOKEN.
        ...(request.ci && remoteUrl ? { tokenEnv: 'GITOPS_TOKEN' } : {}),
      }),
    },
  ];
  if (request.ci) {
    const root = repositoryRoot(ctx.cwd);
    const workingDirectory = relative(root, ctx.cwd).split(sep).join('/') || '.';
    for (const generated of ciFiles(request.ci, {
      environments,
      images,
      branch: 'main',
      actionRef: request.actionRef ?? DEFAULT_ACTION_REF,
      version: request.version,
      workingDirectory,
    })) {
      outputs.push({ path: join(root, generated.path), content: generated.content });
    }
  }

  const existing = outputs.filter((output) => existsSync(output.path)).map((output) => output.path);
  if (existing.length > 0 && !request.force) {
    const what = existing.length === 1 ? existing[0] : `${existing.length} files (${existing.join(', ')})`;
    throw usageError('CONFIG_EXISTS', `${what} already exists; not overwriting it`, {
      hint: 'pass --force to replace it',
    });
  }
  if (ctx.dryRun) return { file, files: outputs.map((output) => output.path), preview: outputs };
  for (const output of outputs) {
    mkdirSync(dirname(output.path), { recursive: true });
    writeFileSync(output.path, output.content);
  }
  // What init writes must validate: read it back through the same loader every command uses.
  readConfig(file, ctx.env);
  return { file, files: outputs.map((output) => output.path) };
}
