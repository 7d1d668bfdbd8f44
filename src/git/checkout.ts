import { existsSync, mkdtempSync, realpathSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, posix, relative, resolve } from 'node:path';
import type { EnvironmentConfig, GitopsConfig } from '../config/types.js';
import type { Context } from '../core/context.js';
import { GitopsError, usageError } from '../core/errors.js';
import { ExecError } from '../core/exec.js';
import { ExitCode } from '../core/exit-codes.js';
import { coveringPaths, isCoveredBy, renderInputs } from '../manifests/inputs.js';
import { Git, writeAskpass } from './runner.js';
import { filesAt } from './tree.js';
import { checkPushAccess } from './write.js';

/** A working copy of the env repo, ready for edits of one environment. */
export interface EnvCheckout {
  /** Root of the working tree. */
  dir: string;
  git: Git;
  branch: string;
  /** The environment's directory, relative to `dir` with `/` separators. */
  envPath: string;
  /** Absolute path of the environment's directory. */
  envDir: string;
  /** True for a clone gitops made (and removes); false for `--env-repo-dir`. */
  temporary: boolean;
  /** Where pushes go, credentials stripped; undefined when the checkout has no remote. */
  remote?: string;
}

export interface CheckoutOptions {
  /** Use this existing checkout instead of cloning. */
  envRepoDir?: string;
  /** Keep the temporary clone after the command (its path is reported); default: removed. */
  keep?: boolean;
  /** Check that this job may push to the branch (checkPushAccess) before handing the checkout over. */
  checkPush?: boolean;
}

/** An environment's directory in the env repo, repo-relative with `/` separators. */
export function envPathOf(environment: Pick<EnvironmentConfig, 'path'>): string {
  return posix.normalize(environment.path.replace(/\\/g, '/')).replace(/\/$/, '');
}

/** Directory of gitops' own files in the env repo (`.gitops/locks/<env>.yaml`). */
export const GITOPS_META_DIR = '.gitops';

/** scp-like SSH (`git@host:org/repo.git`) or any URL with a scheme is remote; everything else is a path. */
export function isRemoteUrl(url: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(url) || /^[^/\\]+@[^/\\:]+:/.test(url);
}

/**
 * The URL git should clone. Local paths become file:// URLs, because git ignores --depth and
 * --filter for plain-path clones ("--depth is ignored in local clones; use file:// instead").
 */
export function cloneUrl(url: string, baseDir: string): string {
  if (isRemoteUrl(url)) return url;
  return `file://${resolve(baseDir, url)}`;
}

function displayRemote(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, '$1');
}

function classifyCloneError(error: unknown, url: string, branch: string): never {
  if (error instanceof ExecError) {
    const text = error.stderrTail;
    if (/Remote branch .* not found|Could not find remote branch/i.test(text)) {
      throw usageError(
        'ENV_BRANCH_NOT_FOUND',
        `branch "${branch}" does not exist in the env repo ${displayRemote(url)}`,
        {
          hint: 'set envRepo.branch in gitops.yaml to an existing branch',
          cause: error,
        },
      );
    }
    const notFound =
      /does not appear to be a git repository|repository .* not found|does not exist|not found$/im;
    if (notFound.test(text)) {
      // git's first fatal line says what is wrong ("'/x' does not appear to be a git repository");
      // the last is boilerplate ("... and the repository exists.").
      const lines = text.split('\n').map((line) => line.trim());
      const reason = (
        lines.find((line) => notFound.test(line)) ??
        lines.find((line) => line.startsWith('fatal:')) ??
        ''
      ).replace(/^fatal:\s*/, '');
      throw usageError(
        'ENV_REPO_NOT_FOUND',
        `the env repo ${displayRemote(url)} could not be found${reason ? `: ${reason}` : ''}`,
        {
          hint: 'check envRepo.url in gitops.yaml and that this job may read it',
          cause: error,
        },
      );
    }
    throw new GitopsError(
      'ENV_REPO_CLONE_FAILED',
      `cloning the env repo ${displayRemote(url)} failed:\n${text}`,
      {
        exitCode: ExitCode.OperationFailed,
        hint: 'check network access and credentials (envRepo.tokenEnv for HTTPS), then retry',
        cause: error,
      },
    );
  }
  throw error;
}

/** Credentials for HTTPS pushes: the token variable named in the config, handed over by askpass. */
function credentialEnv(ctx: Context, config: GitopsConfig, scratch: string): Record<string, string> {
  const name = config.envRepo.tokenEnv;
  if (!name) return {};
  const token = ctx.env[name];
  if (!token) {
    throw usageError(
      'TOKEN_MISSING',
      `envRepo.tokenEnv names ${name}, but that environment variable is not set`,
      {
        hint: `set ${name} (e.g. from a CI secret), or remove envRepo.tokenEnv to use the engine's credential helper or SSH`,
      },
    );
  }
  ctx.masker.add(token);
  return { GIT_ASKPASS: writeAskpass(scratch), GITOPS_ASKPASS_TOKEN: token };
}

/**
 * Gets a working copy for one environment: the given checkout, or a shallow, single-branch clone
 * with a sparse checkout of the environment's path plus what its kustomizations reference.
 * A clone lives in a temp dir removed by the context's clean-up (exit, failure, SIGINT/SIGTERM).
 */
export async function openEnvRepo(
  ctx: Context,
  config: GitopsConfig,
  environment: EnvironmentConfig,
  options: CheckoutOptions = {},
): Promise<EnvCheckout> {
  const branch = config.envRepo.branch;
  const envPath = envPathOf(environment);

  if (options.envRepoDir) {
    const requested = resolve(ctx.cwd, options.envRepoDir);
    if (!existsSync(requested)) {
      throw usageError('ENV_REPO_DIR_MISSING', `--env-repo-dir ${options.envRepoDir} does not exist`);
    }
    const probe = new Git(ctx, requested);
    const top = await probe.tryOutput(['rev-parse', '--show-toplevel']);
    if (!top) {
      throw usageError(
        'ENV_REPO_DIR_NOT_GIT',
        `--env-repo-dir ${options.envRepoDir} is not inside a git repository`,
        {
          hint: 'pass the root of a checkout of the env repo',
        },
      );
    }
    const git = probe.at(top);
    const remote = await git.tryOutput(['remote', 'get-url', 'origin']);
    const existing = finish(ctx, {
      dir: top,
      git,
      branch,
      envPath,
      envDir: join(top, envPath),
      temporary: false,
      ...(remote ? { remote: displayRemote(remote) } : {}),
    });
    if (options.checkPush) await checkPushAccess(existing);
    return existing;
  }

  let url = config.envRepo.url;
  if (config.envRepo.sameRepo) {
    const app = new Git(ctx, config.dir);
    url = await app.tryOutput(['remote', 'get-url', 'origin']);
    if (!url) {
      throw usageError(
        'SAME_REPO_NO_REMOTE',
        'envRepo.sameRepo is true, but the app repo has no "origin" remote to push to',
        {
          hint: 'add an origin remote, or set envRepo.url',
        },
      );
    }
  }
  if (!url)
    throw usageError('ENV_REPO_URL_MISSING', 'envRepo.url is not set', {
      hint: 'set envRepo.url in gitops.yaml',
    });

  const scratch = realpathSync(mkdtempSync(join(tmpdir(), 'gitops-env-')));
  if (!options.keep) ctx.cleanup.add(() => rmSync(scratch, { recursive: true, force: true }));
  const git = new Git(ctx, scratch, credentialEnv(ctx, config, scratch));
  const dir = join(scratch, 'repo');
  const source = cloneUrl(url, config.dir);
  try {
    // --filter=blob:none: servers that allow partial clone (GitHub, GitLab) send only the blobs the
    // sparse checkout needs; others ignore it with a warning and send the tip's tree.
    await git.read([
      'clone',
      // A clone removed at exit gains nothing from housekeeping: without this, every fetch and
      // commit in it starts `git maintenance run --auto` (one more git process each).
      '--config',
      'maintenance.auto=false',
      '--quiet',
      '--depth',
      '1',
      '--single-branch',
      '--branch',
      branch,
      '--no-checkout',
      '--filter=blob:none',
      '--',
      source,
      dir,
    ]);
  } catch (error) {
    classifyCloneError(error, source, branch);
  }
  // Nobody but this run touches its temp clone: HEAD is read once until this run moves it.
  const repo = git.at(dir, { soleWriter: true });
  const checkout: EnvCheckout = {
    dir,
    git: repo,
    branch,
    envPath,
    envDir: join(dir, envPath),
    temporary: true,
    remote: displayRemote(source),
  };
  const prepared = (async () => {
    // gitops' own files (environment locks) live beside the environments and are committed too.
    await repo.read(['sparse-checkout', 'set', '--cone', '--', envPath, GITOPS_META_DIR]);
    await repo.read(['checkout', '--quiet', branch]);
    // What the render reads outside the environment (kustomize bases, a chart, values files), at
    // the head's sha: the drift check and the apply ask about the same commit and reuse the listing.
    const inputs = await renderInputs(filesAt(repo, await repo.head()), { ...environment, envPath });
    await widenSparseCheckout(checkout, inputs.paths);
    return finish(ctx, checkout);
  })();
  // The push check is a round trip to the remote that reads only the clone's refs (a dry run
  // writes nothing): it runs while the working tree is checked out. What the checkout found
  // wrong (a missing environment) is said first, as when the two ran one after the other.
  const [opened, access] = await Promise.allSettled([
    prepared,
    options.checkPush ? checkPushAccess(checkout) : undefined,
  ]);
  if (opened.status === 'rejected') throw opened.reason;
  if (access.status === 'rejected') throw access.reason;
  return opened.value;
}

/**
 * Adds paths (repo-relative files or directories) to a temporary clone's sparse checkout, so that
 * what an environment's render reads, or a rollback restores, is in the working tree. Cone mode
 * names directories: a file brings its directory. Checkouts gitops did not make are left as they are.
 */
export async function widenSparseCheckout(checkout: EnvCheckout, paths: readonly string[]): Promise<void> {
  if (!checkout.temporary) return;
  const outside = paths.filter((path) => !isCoveredBy(path, checkout.envPath));
  // The environment's own directory is always checked out: most renders read nothing else.
  if (outside.length === 0) return;
  const files = filesAt(checkout.git, await checkout.git.head());
  const wanted = new Set<string>();
  for (const path of outside) wanted.add((await files.kind(path)) === 'file' ? posix.dirname(path) : path);
  const current = (await checkout.git.output(['sparse-checkout', 'list'])).split('\n').filter(Boolean);
  const missing = coveringPaths(wanted).filter(
    (path) => path !== '.' && !current.some((dir) => isCoveredBy(path, dir)),
  );
  if (missing.length > 0) await checkout.git.read(['sparse-checkout', 'add', '--', ...missing]);
}

function finish(ctx: Context, checkout: EnvCheckout): EnvCheckout {
  const inside = relative(checkout.dir, checkout.envDir);
  if (inside.startsWith('..') || isAbsolute(inside)) {
    throw usageError('ENV_PATH_OUTSIDE', `environment path ${checkout.envPath} leaves the env repo`);
  }
  if (!existsSync(checkout.envDir) || !statSync(checkout.envDir).isDirectory()) {
    throw usageError(
      'ENV_PATH_MISSING',
      `environment path ${checkout.envPath} does not exist in the env repo (branch ${checkout.branch})`,
      {
        hint: 'check environments.<name>.path in gitops.yaml, or create the directory in the env repo',
      },
    );
  }
  // Symlinks may not lead out of the repository: an env repo is input, and input can be hostile.
  const real = realpathSync(checkout.envDir);
  const realRoot = realpathSync(checkout.dir);
  if (real !== realRoot && !real.startsWith(`${realRoot}/`)) {
    throw usageError(
      'ENV_PATH_OUTSIDE',
      `environment path ${checkout.envPath} resolves outside the env repo (${dirname(real)})`,
    );
  }
  ctx.reporter.debug(
    `env repo checkout at ${checkout.dir} (${checkout.temporary ? 'temporary clone' : 'existing'})`,
  );
  return checkout;
}
