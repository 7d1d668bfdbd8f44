import { posix } from 'node:path';
import type { BumpResult } from '../../bump/bump.js';
import type { CliContext } from '../context.js';

/** The `--json` document of `gitops bump`: change paths relative to the env repo root. */
export function bumpDocument(ctx: CliContext, result: BumpResult): Record<string, unknown> {
  const inRepo = (file: string) => posix.join(result.envPath, file);
  return {
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
  };
}

/** What `gitops bump` prints: each change and each reference left alone, then one outcome line. */
export function reportBump(ctx: CliContext, result: BumpResult): void {
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
