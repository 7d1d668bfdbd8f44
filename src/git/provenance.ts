import type { Context } from '../core/context.js';
import type { EnvCheckout } from './checkout.js';
import { TRAILER } from './message.js';
import { Git } from './runner.js';

/** Where a change came from, for commit trailers (the env repo is the audit log). */
export interface Provenance {
  sourceCommit?: string;
  sourceRepo?: string;
  buildUrl?: string;
  actor?: string;
}

/** Strips credentials from a remote URL before it is written anywhere (commit trailers included). */
export function publicUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, '$1');
}

/**
 * Reads provenance from the CI environment first (GitHub Actions, Jenkins), then from the app repo
 * at `appDir`. Explicit values win.
 */
export async function readProvenance(
  ctx: Context,
  appDir: string,
  explicit: Partial<Provenance> = {},
): Promise<Provenance> {
  const env = ctx.env;
  const git = new Git(ctx, appDir);
  const inRepo = (await git.tryOutput(['rev-parse', '--is-inside-work-tree'])) === 'true';
  const github =
    env.GITHUB_SERVER_URL && env.GITHUB_REPOSITORY
      ? `${env.GITHUB_SERVER_URL}/${env.GITHUB_REPOSITORY}`
      : undefined;

  const sourceCommit =
    explicit.sourceCommit ??
    env.GITHUB_SHA ??
    env.GIT_COMMIT ??
    (inRepo ? await git.tryOutput(['rev-parse', 'HEAD']) : undefined);
  const remote = inRepo ? await git.tryOutput(['remote', 'get-url', 'origin']) : undefined;
  const sourceRepo = explicit.sourceRepo ?? github ?? env.GIT_URL ?? (remote ? publicUrl(remote) : undefined);
  const buildUrl =
    explicit.buildUrl ??
    (github && env.GITHUB_RUN_ID ? `${github}/actions/runs/${env.GITHUB_RUN_ID}` : undefined) ??
    env.BUILD_URL;
  // Outside CI the actor is who authors the commit (GIT_AUTHOR_NAME, then git config), as git sees it.
  const actor =
    explicit.actor ??
    env.GITHUB_ACTOR ??
    env.BUILD_USER_ID ??
    env.GIT_AUTHOR_NAME ??
    (inRepo ? await git.tryOutput(['config', 'user.name']) : undefined) ??
    env.USER;
  return {
    ...(sourceCommit ? { sourceCommit } : {}),
    ...(sourceRepo ? { sourceRepo: publicUrl(sourceRepo) } : {}),
    ...(buildUrl ? { buildUrl } : {}),
    ...(actor ? { actor } : {}),
  };
}

/**
 * Where the images of an env-repo revision came from: the source trailers of the newest commit
 * up to `revision` that touched `path` and carries them (what rollback restores and promote
 * copies was built from that source, not from the app repo's HEAD of this run). Empty when the
 * history at hand has none.
 */
export async function sourceAt(
  checkout: EnvCheckout,
  revision: string,
  path: string,
): Promise<Pick<Provenance, 'sourceCommit' | 'sourceRepo'>> {
  const format = [TRAILER.sourceCommit, TRAILER.sourceRepo]
    .map((key) => `%(trailers:key=${key},valueonly,separator=%x2C)`)
    .join('%x1f');
  const log = await checkout.git.tryOutput([
    'log',
    '-n',
    '200',
    `--format=${format}%x1e`,
    revision,
    '--',
    path,
  ]);
  for (const entry of (log ?? '').split('\x1e')) {
    const [sourceCommit = '', sourceRepo = ''] = entry
      .trim()
      .split('\x1f')
      .map((value) => value.trim());
    if (sourceCommit) return { sourceCommit, ...(sourceRepo ? { sourceRepo } : {}) };
  }
  return {};
}
