import { isAbsolute, relative } from 'node:path';
import type { Context } from '../core/context.js';
import { isGitopsError, usageError } from '../core/errors.js';
import { Git, type GitResult } from '../git/runner.js';

/** What an image is built from: facts about the app repo's checkout, read through git. */
export interface SourceFacts {
  /** Root of the work tree. */
  root: string;
  /** Full commit sha of HEAD. */
  sha: string;
  /** Abbreviated sha, as `git rev-parse --short` prints it. */
  shortSha: string;
  /** Committer date of HEAD (ISO 8601): the image's `created` label, so the same commit gives the same digest. */
  committedAt: string;
  /** Branch name; from CI variables when HEAD is detached (the normal case in CI). */
  branch?: string;
  /** The highest version-like git tag pointing at HEAD (`v1.2.3`), if any. */
  gitTag?: string;
  /** The remote's URL as a browsable https URL, without credentials. */
  sourceUrl?: string;
}

/**
 * Reads the source facts of the repo containing `dir`. Detached HEADs and shallow clones are
 * expected (CI checkouts); a directory outside any git repo is a usage error (exit 2): an image
 * without a commit cannot be traced back or reused.
 */
export async function readSourceFacts(ctx: Context, dir: string): Promise<SourceFacts> {
  const repo = new Git(ctx, dir);
  const git = (args: string[], allowFailure = false) => repo.read(args, { allowFailure, timeoutMs: 30_000 });

  let root: string;
  let head: string;
  try {
    root = (await git(['rev-parse', '--show-toplevel'])).stdout.trim();
    head = (await git(['show', '-s', '--format=%H%x00%h%x00%cI', 'HEAD'])).stdout.trim();
  } catch (error) {
    if (isGitopsError(error) && error.code === 'COMMAND_NOT_FOUND') throw error;
    throw usageError('SOURCE_NOT_GIT', `${dir} is not inside a git repository with at least one commit`, {
      hint: 'gitops build tags and labels images with the app repo’s commit: run it in a git checkout',
      cause: error,
    });
  }
  const [sha = '', shortSha = '', isoDate = ''] = head.split('\0');
  // RFC 3339 in UTC (`2024-01-02T03:04:05Z`): one spelling per instant, so the label, and with
  // it the digest, does not depend on the committer's time zone.
  const committedAt = new Date(isoDate).toISOString().replace(/\.\d{3}Z$/, 'Z');

  const symbolic = await git(['symbolic-ref', '-q', '--short', 'HEAD'], true);
  const branch = symbolic.exitCode === 0 ? symbolic.stdout.trim() : branchFromCI(ctx.env);

  const tags = await git(['tag', '--points-at', 'HEAD', '--sort=-version:refname'], true);
  const gitTag = tags.stdout
    .split('\n')
    .map((line) => line.trim())
    .find((tag) => /^v?\d+\.\d+\.\d+([-+][\w.+-]*)?$/.test(tag));

  const sourceUrl = await remoteUrl(ctx, git);

  return {
    root,
    sha,
    shortSha,
    committedAt,
    ...(branch ? { branch } : {}),
    ...(gitTag ? { gitTag } : {}),
    ...(sourceUrl ? { sourceUrl } : {}),
  };
}

/**
 * Whether files under `paths` (relative to or inside the repo) differ from HEAD, untracked files
 * included. Such a build is not the commit its labels name, so it is never reused or tagged as it.
 */
export async function isDirty(ctx: Context, facts: SourceFacts, paths: string[]): Promise<boolean> {
  const pathspecs = paths.map((path) => {
    const rel = isAbsolute(path) ? relative(facts.root, path) : path;
    return rel === '' ? '.' : rel;
  });
  const status = await new Git(ctx, facts.root).read(
    ['status', '--porcelain', '--untracked-files=normal', '--', ...pathspecs],
    { timeoutMs: 60_000 },
  );
  return status.stdout.trim() !== '';
}

/** Branch names CI systems expose when they check out a detached HEAD. */
function branchFromCI(env: Record<string, string | undefined>): string | undefined {
  if (env.GITHUB_HEAD_REF) return env.GITHUB_HEAD_REF;
  if (env.GITHUB_REF_TYPE === 'branch' && env.GITHUB_REF_NAME) return env.GITHUB_REF_NAME;
  return env.CI_COMMIT_BRANCH || env.BUILDKITE_BRANCH || env.CIRCLE_BRANCH || undefined;
}

async function remoteUrl(
  ctx: Context,
  git: (args: string[], allowFailure?: boolean) => Promise<GitResult>,
): Promise<string | undefined> {
  const origin = await git(['remote', 'get-url', 'origin'], true);
  let url = origin.exitCode === 0 ? origin.stdout.trim() : '';
  if (!url) {
    const first = (await git(['remote'], true)).stdout.split('\n')[0]?.trim();
    if (first) url = (await git(['remote', 'get-url', first], true)).stdout.trim();
  }
  if (!url && ctx.env.GITHUB_SERVER_URL && ctx.env.GITHUB_REPOSITORY) {
    url = `${ctx.env.GITHUB_SERVER_URL}/${ctx.env.GITHUB_REPOSITORY}`;
  }
  return url ? browsableUrl(url) : undefined;
}

/**
 * `git@github.com:acme/web.git` and `https://user:token@host/acme/web.git` both become
 * `https://host/acme/web`: what `org.opencontainers.image.source` should hold, and never a credential.
 * Local paths and other schemes are kept as they are, minus any userinfo.
 */
export function browsableUrl(url: string): string {
  const scp = /^(?:[\w.-]+@)?([\w.-]+):(?!\/\/)([^\\]+?)(?:\.git)?\/?$/.exec(url);
  // A one-letter "host" is a Windows drive letter, not scp syntax.
  if (scp && (scp[1] ?? '').length > 1) return `https://${scp[1]}/${scp[2]}`;
  try {
    const parsed = new URL(url);
    const path = parsed.pathname.replace(/\.git\/?$/, '').replace(/\/$/, '');
    // WHATWG URLs cannot switch a non-special scheme (ssh:) to https: in place; rebuild instead.
    if (parsed.protocol === 'ssh:' || parsed.protocol === 'git:') return `https://${parsed.hostname}${path}`;
    if (parsed.protocol === 'https:' || parsed.protocol === 'http:')
      return `${parsed.protocol}//${parsed.host}${path}`;
    parsed.username = '';
    parsed.password = '';
    return parsed.toString();
  } catch {
    return url;
  }
}
