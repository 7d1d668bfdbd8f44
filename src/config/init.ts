import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Context } from '../cli/context.js';
import { usageError } from '../core/errors.js';
import { readConfig } from './load.js';
import { NAME_PATTERN } from './schema.js';
import { starterConfig } from './starter.js';

export interface InitRequest {
  force: boolean;
  envRepo: string;
  branch: string;
  /** Comma-separated names. */
  environments: string;
  /** `name=repository` pairs. */
  images: string[];
}

/** Writes a starter gitops.yaml into ctx.cwd, refusing to overwrite unless forced; it validates before it is kept. */
export async function initConfig(ctx: Context, request: InitRequest): Promise<{ file: string }> {
  const file = join(ctx.cwd, 'gitops.yaml');
  if (existsSync(file) && !request.force) {
    throw usageError('CONFIG_EXISTS', `${file} already exists; not overwriting it`, {
      hint: 'pass --force to replace it',
    });
  }
  const environments = request.environments
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
  const images = request.images.map((pair) => {
    const [name, repository] = pair.split('=', 2);
    if (!name || !repository || !NAME_PATTERN.test(name)) {
      throw usageError('INVALID_IMAGE_ARG', `--image "${pair}" is not name=repository with a valid name`, {
        hint: 'example: --image web=ghcr.io/acme/web',
      });
    }
    return { name, repository };
  });
  const text = starterConfig({ envRepo: request.envRepo, branch: request.branch, environments, images });
  if (ctx.dryRun) {
    ctx.reporter.print(text);
    return { file };
  }
  writeFileSync(file, text);
  // What init writes must validate: read it back through the same loader every command uses.
  readConfig(file, ctx.env);
  return { file };
}
