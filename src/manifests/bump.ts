import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { CommandOutcome } from '../cli/action.js';
import type { Context } from '../cli/context.js';
import { findConfigFile, getEnvironment, readConfig } from '../config/load.js';
import { GitopsError, usageError } from '../core/errors.js';
import { ExitCode } from '../core/exit-codes.js';
import { parseImageReference } from '../images/reference.js';
import { parseImageUpdate } from './arguments.js';
import type { FileEdit, UpdateResult } from './types.js';
import { updateImages } from './update.js';

export interface BumpOptions {
  env: string;
  /** `--image` arguments as given. */
  images: string[];
  envRepoDir?: string | undefined;
  /** false with `--no-commit`. */
  commit: boolean;
  dryRun: boolean;
}

/**
 * `gitops bump`: sets image references in one environment of a local env-repo checkout.
 * Committing and pushing is the env-repo write path's job; until it is wired in, bump needs
 * `--env-repo-dir` and `--no-commit`.
 */
export async function runBump(ctx: Context, options: BumpOptions): Promise<CommandOutcome> {
  if (options.images.length === 0) {
    throw usageError('BUMP_NO_IMAGE', 'gitops bump needs at least one --image <name>=<reference>', {
      hint: 'e.g. --image web=ghcr.io/acme/web:1.4.2',
    });
  }
  // A bad reference is reported before anything else is looked at: it is the likeliest mistake.
  for (const argument of options.images) {
    parseImageReference(argument.includes('=') ? argument.slice(argument.indexOf('=') + 1) : argument);
  }
  if (!options.envRepoDir || options.commit) {
    throw usageError(
      'BUMP_COMMIT_UNAVAILABLE',
      'committing and pushing the bump to the env repo is not available yet; bump can only edit a local checkout',
      {
        hint: 'pass --env-repo-dir <path of a checkout of the env repo> --no-commit, then commit the change yourself',
      },
    );
  }

  const config = readConfig(findConfigFile(ctx.cwd, ctx.configPath), ctx.env);
  const environment = getEnvironment(config, options.env);
  const updates = options.images.map((argument) => parseImageUpdate(argument, config.images));
  const repoDir = resolve(ctx.cwd, options.envRepoDir);
  const envDir = resolve(repoDir, environment.path);
  if (!existsSync(envDir) || !statSync(envDir).isDirectory()) {
    throw usageError(
      'ENV_DIR_NOT_FOUND',
      `environment ${environment.name} has no directory ${environment.path} in ${options.envRepoDir}`,
      { hint: `check --env-repo-dir, or environments.${environment.name}.path in ${config.file}` },
    );
  }

  const dryRun = options.dryRun || ctx.dryRun;
  const result = await updateImages(envDir, updates, { helmValues: environment.helmValues, write: !dryRun });
  report(ctx, result, dryRun);

  const summary = {
    env: environment.name,
    envDir,
    dryRun,
    changed: result.changed,
    changes: result.changes,
    seen: result.seen,
    ...(dryRun
      ? { files: result.files.map(({ file, before, after }) => ({ file, diff: lineDiff(before, after) })) }
      : {}),
  };
  if (result.refused.length > 0) {
    const [first] = result.refused;
    const where = (refusal: { file: string; line?: number }) =>
      `${refusal.file}${refusal.line !== undefined ? `:${refusal.line}` : ''}`;
    throw new GitopsError(
      'BUMP_REFUSED',
      result.refused.length === 1
        ? `left every file untouched: ${where(first!)}: ${first!.reason}`
        : `left every file untouched: ${result.refused.length} files cannot be edited safely:\n${result.refused.map((refusal) => `  ${where(refusal)}: ${refusal.reason}`).join('\n')}`,
      {
        exitCode: ExitCode.Usage,
        hint: 'fix those files by hand (or drop the anchor/duplicate key), then run bump again',
        location: {
          file: resolve(envDir, first!.file),
          ...(first!.line !== undefined ? { line: first!.line } : {}),
        },
        details: { ...summary, refused: result.refused },
      },
    );
  }
  if (result.notFound.length > 0) {
    throw usageError(
      'IMAGE_NOT_FOUND',
      `no reference to ${result.notFound.join(', ')} in ${environment.path} of ${options.envRepoDir}`,
      {
        hint: 'references are matched by repository in containers, kustomization images:, the helmValues files, or marked with `# gitops:image <name>`',
        details: summary,
      },
    );
  }
  return { result: summary };
}

function report(ctx: Context, result: UpdateResult, dryRun: boolean): void {
  const { color } = ctx.reporter;
  const verb = dryRun ? 'would change' : 'changed';
  for (const change of result.changes) {
    const old = change.old === '' ? color.dim('(new images entry)') : change.old;
    ctx.reporter.print(`${change.file}:${change.line}  ${old} → ${color.green(change.new)}`);
  }
  for (const seen of result.seen) {
    ctx.reporter.info(color.dim(`${seen.file}:${seen.line}  ${seen.value} — ${seen.reason}`));
  }
  if (dryRun) {
    for (const file of result.files) ctx.reporter.print(lineDiff(file.before, file.after, file));
  }
  if (result.refused.length === 0) {
    const files = new Set(result.changes.map((change) => change.file)).size;
    if (result.changes.length === 0)
      ctx.reporter.success('nothing to change: every reference is already up to date');
    else ctx.reporter.success(`${verb} ${result.changes.length} reference(s) in ${files} file(s)`);
  }
}

/** The changed lines of a file as `-`/`+` lines (edits are a few lines; no context needed). */
export function lineDiff(before: string, after: string, file?: Pick<FileEdit, 'file'>): string {
  const a = before.split('\n');
  const b = after.split('\n');
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  const lines: string[] = file ? [`--- ${file.file}`, `+++ ${file.file}`] : [];
  lines.push(`@@ -${start + 1},${endA - start} +${start + 1},${endB - start} @@`);
  const strip = (line: string) => line.replace(/\r$/, '');
  if (endA - start === endB - start) {
    // Same number of lines: pair them up; unchanged ones in between are context.
    for (let i = start; i < endA; i++) {
      if (a[i] === b[i]) lines.push(` ${strip(a[i]!)}`);
      else lines.push(`-${strip(a[i]!)}`, `+${strip(b[i]!)}`);
    }
  } else {
    for (const line of a.slice(start, endA)) lines.push(`-${strip(line)}`);
    for (const line of b.slice(start, endB)) lines.push(`+${strip(line)}`);
  }
  return lines.join('\n');
}
