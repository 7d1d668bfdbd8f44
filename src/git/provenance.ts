import type { Context } from '../core/context.js';
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
  const actor =
    explicit.actor ??
    env.GITHUB_ACTOR ??
    env.BUILD_USER_ID ??
    (inRepo ? await git.tryOutput(['config', 'user.name']) : undefined) ??
    env.USER;
  return {
    ...(sourceCommit ? { sourceCommit } : {}),
    ...(sourceRepo ? { sourceRepo: publicUrl(sourceRepo) } : {}),
    ...(buildUrl ? { buildUrl } : {}),
    ...(actor ? { actor } : {}),
  };
}
