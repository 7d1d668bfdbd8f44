import { existsSync, statSync } from 'node:fs';
import { posix, resolve } from 'node:path';
import type { EnvironmentConfig, GitopsConfig } from '../config/types.js';
import type { Context } from '../core/context.js';
import { unifiedDiff } from '../core/diff.js';
import { GitopsError, usageError } from '../core/errors.js';
import { ExitCode } from '../core/exit-codes.js';
import { type EnvCheckout, openEnvRepo } from '../git/checkout.js';
import { commitMessage, type GitopsAction } from '../git/message.js';
import { type Provenance, readProvenance } from '../git/provenance.js';
import { checkPushAccess, type EditOutcome, writeAndPush } from '../git/write.js';
import type { ImageUpdate, UpdateResult } from '../manifests/types.js';
import { updateImages } from '../manifests/update.js';

export interface BumpRequest {
  environment: EnvironmentConfig;
  updates: ImageUpdate[];
  /** An existing checkout to edit instead of a fresh clone. */
  envRepoDir?: string;
  /** false: edit the working tree only (requires envRepoDir). */
  commit: boolean;
  /** false: commit locally, do not push. */
  push: boolean;
  action?: GitopsAction;
  provenance?: Partial<Provenance>;
}

export interface BumpResult {
  environment: string;
  /** The environment's directory in the env repo; change paths are relative to the repo root. */
  envPath: string;
  changed: boolean;
  commit?: string;
  pushed: boolean;
  attempts: number;
  /** The remote already held these values after it moved; nothing was committed. */
  alreadyOnRemote: boolean;
  /** Where the edited working tree is (a kept clone with --no-push). */
  checkoutDir?: string;
  update: UpdateResult;
  /** Unified diffs of the changed files (dry-run and --no-commit). */
  diff?: string;
}

export interface BumpEdit extends EditOutcome {
  update: UpdateResult;
}

/**
 * Sets the images in the checkout's working tree and describes the commit; refusals and images
 * found nowhere are errors. Called again on a new head when the remote moved.
 */
export async function editImages(
  checkout: EnvCheckout,
  environment: EnvironmentConfig,
  updates: ImageUpdate[],
  options: { action: GitopsAction; provenance: Provenance; trailers?: Array<[string, string]> },
): Promise<BumpEdit> {
  const update = await updateImages(checkout.envDir, updates, {
    ...renderOptions(environment),
    write: true,
    root: checkout.dir,
  });
  assertEditable(update, updates, checkout.envPath);
  const images: Record<string, string> = {};
  for (const change of update.changes) images[change.image] = change.new;
  for (const wanted of updates) images[wanted.name] ??= wanted.reference.original;
  return {
    update,
    changed: update.changed,
    files: update.files.map((file) => posix.join(checkout.envPath, file.file)),
    message: commitMessage({
      environment: environment.name,
      action: options.action,
      changes: update.changes.map((change) => ({
        ...change,
        file: posix.join(checkout.envPath, change.file),
      })),
      images,
      provenance: options.provenance,
      ...(options.trailers ? { extraTrailers: options.trailers } : {}),
    }),
  };
}

/** What updateImages needs to know of how the environment renders. */
function renderOptions(environment: EnvironmentConfig): { helmValues: string[]; chart?: string } {
  return {
    helmValues: environment.helmValues,
    ...(environment.chart !== undefined ? { chart: environment.chart } : {}),
  };
}

/** Refusals, images the render holds where gitops cannot change them, images found nowhere: errors. */
function assertEditable(update: UpdateResult, updates: ImageUpdate[], envPath: string): void {
  if (update.refused.length > 0) throw refusalError(update, envPath);
  if (update.notEditable.length > 0) throw notEditableError(update, envPath);
  assertFound(update, updates, envPath);
}

/**
 * The render holds the image, but in no place gitops may change (or only in some of them): reported
 * apart from "already up to date", with every place and why, so a deploy never claims a change the
 * cluster would not see.
 */
function notEditableError(update: UpdateResult, envPath: string): GitopsError {
  const lines = update.notEditable.flatMap(({ image, places }) =>
    places.map(
      (place) =>
        `${posix.join(envPath, place.file)}:${place.line}: ${image} (${place.value}): ${place.reason}`,
    ),
  );
  const first = update.notEditable[0]!.places[0]!;
  return usageError(
    'IMAGE_NOT_EDITABLE',
    `${update.notEditable.map(({ image }) => image).join(', ')} found nowhere gitops can edit so that the render changes; nothing was written:\n${lines.join('\n')}`,
    {
      location: { file: posix.join(envPath, first.file), line: first.line },
      hint: 'set the image where the environment renders it from (a values file, a patch or a kustomize images entry of the environment), or mark the value with "# gitops:image <name>"',
      details: { notEditable: update.notEditable },
    },
  );
}

function refusalError(update: UpdateResult, envPath: string): GitopsError {
  const first = update.refused[0]!;
  const lines = update.refused.map(
    (refusal) =>
      `${posix.join(envPath, refusal.file)}${refusal.line ? `:${refusal.line}` : ''}: ${refusal.reason}`,
  );
  return usageError(
    'IMAGE_EDIT_REFUSED',
    `the image edit was refused, nothing was written:\n${lines.join('\n')}`,
    {
      location: { file: posix.join(envPath, first.file), ...(first.line ? { line: first.line } : {}) },
      hint: 'fix the file so the image value can be changed on its own (e.g. remove duplicate keys or the shared anchor)',
      details: { refused: update.refused },
    },
  );
}

function localEnvDir(ctx: Context, environment: EnvironmentConfig, envRepoDir: string): string {
  const root = resolve(ctx.cwd, envRepoDir);
  const envDir = resolve(root, environment.path);
  if (!existsSync(envDir) || !statSync(envDir).isDirectory()) {
    throw usageError(
      'ENV_PATH_MISSING',
      `environment ${environment.name} has no directory ${environment.path} in ${envRepoDir}`,
      {
        hint: `check --env-repo-dir, or environments.${environment.name}.path in gitops.yaml`,
      },
    );
  }
  return envDir;
}

function assertFound(update: UpdateResult, updates: ImageUpdate[], envPath: string): void {
  if (updates.length > 0 && update.notFound.length === updates.length) {
    const seen = update.seen.map(
      (place) => `${posix.join(envPath, place.file)}:${place.line} (${place.reason})`,
    );
    throw new GitopsError(
      'IMAGE_NOT_FOUND',
      `no reference to ${update.notFound.join(', ')} was found in ${envPath}${seen.length > 0 ? `; seen only at ${seen.join(', ')}` : ''}`,
      {
        exitCode: ExitCode.Usage,
        hint: 'check the image name/repository, and environments.<name>.helmValues for Helm values files',
      },
    );
  }
}

function diffOf(update: UpdateResult, envPath: string): string {
  return update.files
    .map((file) => {
      const path = posix.join(envPath, file.file);
      return unifiedDiff(file.before, file.after, { from: `a/${path}`, to: `b/${path}` });
    })
    .join('');
}

/**
 * `gitops bump`: sets image references in one environment of the env repo and records the change
 * as an audited commit, pushed safely (see writeAndPush). Dry-run plans and diffs, writes nothing.
 */
export async function bumpImages(
  ctx: Context,
  config: GitopsConfig,
  request: BumpRequest,
): Promise<BumpResult> {
  const { environment, updates } = request;
  if (!request.commit && !request.envRepoDir) {
    throw usageError(
      'NO_COMMIT_NEEDS_DIR',
      '--no-commit edits a working tree you keep, so it needs --env-repo-dir',
      {
        hint: 'pass --env-repo-dir <checkout of the env repo>, or drop --no-commit',
      },
    );
  }
  const { reporter } = ctx;
  const helmValues = renderOptions(environment);

  if (!request.commit && request.envRepoDir) {
    // Editing files in place needs no git at all: any directory with the environment will do.
    const envDir = localEnvDir(ctx, environment, request.envRepoDir);
    const write = !ctx.dryRun;
    const update = await reporter.step(write ? 'edit image references' : 'plan image edits', async (step) => {
      // The checkout is the env repo: bases beside the environment are read from it.
      const root = resolve(ctx.cwd, request.envRepoDir!);
      const result = await updateImages(envDir, updates, { ...helmValues, write, root });
      assertEditable(result, updates, environment.path);
      step.detail(`${result.changes.length} change(s)`);
      return result;
    });
    return {
      environment: environment.name,
      envPath: environment.path,
      changed: update.changed,
      pushed: false,
      attempts: 0,
      alreadyOnRemote: false,
      update,
      diff: diffOf(update, environment.path),
    };
  }

  const checkout: EnvCheckout = await reporter.step('get the env repo', async (step) => {
    // With --no-push the clone is the only place the commit exists: keep it and say where.
    const opened = await openEnvRepo(ctx, config, environment, {
      ...(request.envRepoDir ? { envRepoDir: request.envRepoDir } : {}),
      keep: !request.push && !ctx.dryRun,
    });
    step.detail(
      opened.temporary
        ? `shallow sparse clone of ${opened.remote ?? 'the env repo'} (${opened.branch})`
        : opened.dir,
    );
    return opened;
  });

  if (ctx.dryRun) {
    const update = await updateImages(checkout.envDir, updates, {
      ...helmValues,
      write: false,
      root: checkout.dir,
    });
    assertEditable(update, updates, checkout.envPath);
    return {
      environment: environment.name,
      envPath: checkout.envPath,
      changed: update.changed,
      pushed: false,
      attempts: 0,
      alreadyOnRemote: false,
      update,
      diff: diffOf(update, checkout.envPath),
    };
  }

  if (request.push && checkout.remote) {
    await reporter.step('check push access', async (step) => {
      await checkPushAccess(checkout);
      step.detail(`${checkout.remote} (${checkout.branch})`);
    });
  } else if (request.push) {
    throw usageError(
      'NO_REMOTE',
      `the env repo checkout at ${checkout.dir} has no "origin" remote to push to`,
      {
        hint: 'add an origin remote, or pass --no-push',
      },
    );
  }

  const provenance = await readProvenance(ctx, config.dir, request.provenance);
  const action = request.action ?? 'bump';
  const written = await reporter.step(request.push ? 'commit and push' : 'commit', async (step) => {
    const result = await writeAndPush<BumpEdit>(ctx, checkout, config.envRepo, {
      push: request.push,
      edit: async (attempt) => {
        if (attempt > 1) step.log(`remote moved; re-applying the edit on the new head (attempt ${attempt})`);
        return editImages(checkout, environment, updates, { action, provenance });
      },
    });
    if (result.commit)
      step.detail(
        `${result.commit.slice(0, 12)}${result.attempts > 1 ? ` after ${result.attempts} attempts` : ''}`,
      );
    else step.skip(result.alreadyOnRemote ? 'the remote already has these images' : 'already up to date');
    return result;
  });

  const update = written.outcome.update;
  assertFound(update, updates, checkout.envPath);
  return {
    environment: environment.name,
    envPath: checkout.envPath,
    changed: written.commit !== undefined,
    ...(written.commit ? { commit: written.commit } : {}),
    pushed: written.pushed,
    attempts: written.attempts,
    alreadyOnRemote: written.alreadyOnRemote,
    ...(!request.push && checkout.temporary ? { checkoutDir: checkout.dir } : {}),
    update,
  };
}
