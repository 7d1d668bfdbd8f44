import { posix } from 'node:path';
import type { CommandOutcome } from '../cli/action.js';
import type { Context } from '../cli/context.js';
import { findConfigFile, getEnvironment, readConfig } from '../config/load.js';
import { usageError } from '../core/errors.js';
import { validateRevisionArgument } from '../git/refs.js';
import { parseImageReference } from '../images/reference.js';
import { parseImageUpdate } from '../manifests/arguments.js';
import { type BumpResult, bumpImages } from './bump.js';

export interface BumpCommandOptions {
  env: string;
  /** `--image` arguments as given. */
  images: string[];
  envRepoDir?: string;
  commit: boolean;
  push: boolean;
  sourceCommit?: string;
}

/** `gitops bump`: argument checks, config, the bump itself, and what it prints. */
export async function runBumpCommand(ctx: Context, options: BumpCommandOptions): Promise<CommandOutcome> {
  if (options.images.length === 0) {
    throw usageError('BUMP_NO_IMAGE', 'gitops bump needs at least one --image <name>=<reference>', {
      hint: 'e.g. --image web=ghcr.io/acme/web:1.4.2',
    });
  }
  // Trailers are the audit log: what goes into them is checked like any revision argument.
  if (options.sourceCommit) validateRevisionArgument(options.sourceCommit, { what: '--source-commit' });
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
  report(ctx, result);
  const inRepo = (file: string) => posix.join(result.envPath, file);
  return {
    result: {
      environment: result.environment,
      dryRun: ctx.dryRun,
      changed: result.changed,
      ...(result.commit ? { commit: result.commit } : {}),
      pushed: result.pushed,
      attempts: result.attempts,
      alreadyOnRemote: result.alreadyOnRemote,
      ...(result.checkoutDir ? { checkoutDir: result.checkoutDir } : {}),
      changes: result.update.changes.map((change) => ({ ...change, file: inRepo(change.file) })),
      seen: result.update.seen.map((seen) => ({ ...seen, file: inRepo(seen.file) })),
      notFound: result.update.notFound,
      ...(ctx.dryRun && result.diff ? { diff: result.diff } : {}),
    },
  };
}

function report(ctx: Context, result: BumpResult): void {
  const { color } = ctx.reporter;
  const { update } = result;
  const inRepo = (file: string) => posix.join(result.envPath, file);
  for (const change of update.changes) {
    const added = change.entryAdded ? color.dim(' (new images entry)') : '';
    ctx.reporter.print(
      `${inRepo(change.file)}:${change.line}  ${change.old} → ${color.green(change.new)}${added}`,
    );
  }
  for (const seen of update.seen) {
    ctx.reporter.info(color.dim(`${inRepo(seen.file)}:${seen.line}  ${seen.value} — ${seen.reason}`));
  }
  for (const name of update.notFound) ctx.reporter.warn(`no reference to ${name} in ${result.envPath}`);
  if (ctx.dryRun && result.diff) ctx.reporter.print(result.diff);

  const files = new Set(update.changes.map((change) => change.file)).size;
  if (result.alreadyOnRemote) {
    ctx.reporter.success(
      'the remote already holds these images (another job pushed them); nothing to commit',
    );
  } else if (update.changes.length === 0) {
    ctx.reporter.success('nothing to change: every reference is already up to date');
  } else if (ctx.dryRun) {
    ctx.reporter.success(
      `would change ${update.changes.length} reference(s) in ${files} file(s); nothing was written`,
    );
  } else if (result.commit) {
    const where = result.pushed
      ? 'pushed'
      : `committed in ${result.checkoutDir ?? 'the checkout'}, not pushed`;
    ctx.reporter.success(
      `${result.commit.slice(0, 12)} ${where}: ${update.changes.length} reference(s) in ${files} file(s)`,
    );
  } else {
    ctx.reporter.success(`changed ${update.changes.length} reference(s) in ${files} file(s); not committed`);
  }
}
