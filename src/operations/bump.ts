import { type BumpResult, bumpImages } from '../bump/bump.js';
import { findConfigFile, getEnvironment, readConfig } from '../config/load.js';
import type { Context } from '../core/context.js';
import { usageError } from '../core/errors.js';
import { parseImageReference } from '../images/reference.js';
import { parseImageUpdate } from '../manifests/arguments.js';

export interface BumpCommandOptions {
  env: string;
  /** `--image` arguments as given (at least one). */
  images: string[];
  envRepoDir?: string;
  commit: boolean;
  push: boolean;
  /** The app-repo commit for the Gitops-Source-Commit trailer, checked as a revision already. */
  sourceCommit?: string;
}

/** `gitops bump`: config, the image updates, and the bump itself. */
export async function runBump(ctx: Context, options: BumpCommandOptions): Promise<BumpResult> {
  // A bad reference is reported before anything else is looked at: it is the likeliest mistake.
  for (const argument of options.images) {
    parseImageReference(argument.includes('=') ? argument.slice(argument.indexOf('=') + 1) : argument);
  }
  const config = readConfig(findConfigFile(ctx.cwd, ctx.configPath), ctx.env);
  const environment = getEnvironment(config, options.env);
  const updates = options.images.map((argument) => parseImageUpdate(argument, config.images));
  const names = new Set<string>();
  for (const update of updates) {
    // Two images of the config may share a repository (markers tell their values apart); one image
    // given twice is a mistake.
    const twice = updates.some(
      (other) =>
        other !== update &&
        other.reference.repository === update.reference.repository &&
        (other.name === update.name || !update.sharedWith?.includes(other.name)),
    );
    if (twice || names.has(update.name)) {
      throw usageError('IMAGE_TWICE', `--image names ${update.reference.repository} more than once`, {
        hint: 'pass one --image per image',
      });
    }
    names.add(update.name);
  }

  const result = await bumpImages(ctx, config, {
    environment,
    updates,
    commit: options.commit,
    push: options.push,
    ...(options.envRepoDir ? { envRepoDir: options.envRepoDir } : {}),
    ...(options.sourceCommit ? { provenance: { sourceCommit: options.sourceCommit } } : {}),
  });
  return result;
}
