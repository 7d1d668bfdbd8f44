import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { dump, load } from 'js-yaml';
import type { CommandOutcome } from '../cli/action.js';
import type { Context } from '../cli/context.js';
import { findConfigFile, getEnvironment, readConfig } from '../config/load.js';
import type { EnvironmentConfig, GitopsConfig } from '../config/types.js';
import { blockedError, usageError } from '../core/errors.js';
import { type EnvCheckout, GITOPS_META_DIR, openEnvRepo } from '../git/checkout.js';
import { commitMessage } from '../git/message.js';
import { readProvenance } from '../git/provenance.js';
import { authorEnv, checkPushAccess, type EditOutcome, writeAndPush } from '../git/write.js';
import { activeFreezes, describeFreeze } from './freeze.js';

/** Trailers of a run that overrode a lock or a freeze (README, "Locks and freezes"). */
export const OVERRIDE_TRAILER = 'Gitops-Override';
export const OVERRIDE_REASON_TRAILER = 'Gitops-Override-Reason';

/** A lock as stored in the env repo at `.gitops/locks/<env>.yaml`. */
export interface LockRecord {
  environment: string;
  lockedBy: string;
  lockedAt: string;
  reason: string;
}

/** Lock files are a few lines; anything larger is not one of ours. */
const MAX_LOCK_BYTES = 64 * 1024;

/** The lock file of an environment, relative to the env repo root. */
export function lockPath(environment: string): string {
  return `${GITOPS_META_DIR}/locks/${environment}.yaml`;
}

/**
 * Reads the lock of `environment` at the checkout's HEAD (through git, so the sparse checkout and
 * the working tree do not matter). Undefined when the environment is not locked.
 */
export async function readLock(checkout: EnvCheckout, environment: string): Promise<LockRecord | undefined> {
  const spec = `HEAD:${lockPath(environment)}`;
  const exists = await checkout.git.run(['cat-file', '-e', spec], { allowFailure: true });
  if (exists.exitCode !== 0) return undefined;
  const text = await checkout.git.output(['cat-file', 'blob', spec]);
  let document: unknown;
  try {
    document = text.length <= MAX_LOCK_BYTES ? load(text) : undefined;
  } catch {
    document = undefined;
  }
  const record = (document && typeof document === 'object' ? document : {}) as Record<string, unknown>;
  // A lock file someone edited by hand still locks: the file's presence is the lock.
  const field = (key: string) => {
    const value = record[key];
    if (value instanceof Date) return value.toISOString();
    return typeof value === 'string' ? value : 'unknown';
  };
  return {
    environment,
    lockedBy: field('lockedBy'),
    lockedAt: field('lockedAt'),
    reason: field('reason'),
  };
}

export function describeLock(lock: LockRecord): string {
  return `locked by ${lock.lockedBy} at ${lock.lockedAt}: ${lock.reason}`;
}

export interface GateOverride {
  force?: boolean;
  reason?: string;
}

/** `--force` needs `--reason`: an override without a reason is not auditable. Exit 2 before anything runs. */
export function checkOverrideOptions(options: GateOverride): void {
  if (options.force && !options.reason?.trim()) {
    throw usageError(
      'FORCE_WITHOUT_REASON',
      '--force needs --reason "…": the override is recorded in the commit',
      {
        hint: 'add --reason "why this cannot wait"',
      },
    );
  }
}

/**
 * The lock and freeze gate of deploy, promote and rollback. Refuses (exit 5) while the environment
 * is locked in the env repo or inside a freeze window, naming who locked it, when and why; with
 * `--force --reason` it warns and returns the trailers that record the override.
 */
export async function checkLockAndFreeze(
  ctx: Context,
  config: GitopsConfig,
  environment: EnvironmentConfig,
  checkout: EnvCheckout,
  override: GateOverride,
): Promise<Array<[string, string]>> {
  const lock = await readLock(checkout, environment.name);
  return gate(ctx, environment, lock, activeFreezes(config, environment, new Date()), override);
}

/**
 * The freeze half of the gate, for callers that can check it before the env repo is cloned
 * (deploy refuses before a build); checkLockAndFreeze still covers both.
 */
export function checkFreeze(
  ctx: Context,
  config: GitopsConfig,
  environment: EnvironmentConfig,
  override: GateOverride,
): void {
  gate(ctx, environment, undefined, activeFreezes(config, environment, new Date()), override, false);
}

function gate(
  ctx: Context,
  environment: EnvironmentConfig,
  lock: LockRecord | undefined,
  freezes: ReturnType<typeof activeFreezes>,
  override: GateOverride,
  warn = true,
): Array<[string, string]> {
  if (!lock && freezes.length === 0) return [];
  const reasons = [...(lock ? [describeLock(lock)] : []), ...freezes.map(describeFreeze)];
  if (!override.force) {
    throw blockedError(
      lock ? 'ENVIRONMENT_LOCKED' : 'ENVIRONMENT_FROZEN',
      `${environment.name} is ${reasons.join('; and ')}; nothing was changed`,
      {
        hint: lock
          ? `wait for gitops unlock ${environment.name}, or override with --force --reason "…" (recorded in the commit)`
          : 'wait for the window to end, or override with --force --reason "…" (recorded in the commit)',
        details: {
          ...(lock ? { lock } : {}),
          freezes: freezes.map((freeze) => ({ key: freeze.key, ...freeze.window, until: freeze.until })),
        },
      },
    );
  }
  if (warn)
    for (const reason of reasons) ctx.reporter.warn(`overriding: ${environment.name} is ${reason} (--force)`);
  return [
    ...reasons.map((reason): [string, string] => [OVERRIDE_TRAILER, reason]),
    [OVERRIDE_REASON_TRAILER, override.reason ?? ''],
  ];
}

export interface LockOptions {
  env: string;
  reason?: string;
}

async function prepare(ctx: Context, envName: string) {
  const config = readConfig(findConfigFile(ctx.cwd, ctx.configPath), ctx.env);
  const environment = getEnvironment(config, envName);
  const checkout = await ctx.reporter.step('get the env repo', async (step) => {
    const opened = await openEnvRepo(ctx, config, environment);
    if (!ctx.dryRun) await checkPushAccess(opened);
    step.detail(`${opened.remote ?? opened.dir} (${opened.branch})`);
    return opened;
  });
  const provenance = await readProvenance(ctx, config.dir);
  // The actor recorded in the lock: CI's user, else the app repo's git user, else the commit author.
  const actor = provenance.actor ?? (await authorEnv(ctx, checkout, config.envRepo)).GIT_AUTHOR_NAME!;
  return { config, environment, checkout, provenance: { ...provenance, actor }, actor };
}

/** `gitops lock <env> --reason`: commits `.gitops/locks/<env>.yaml` (who, when, why) to the env repo. */
export async function runLock(ctx: Context, options: LockOptions): Promise<CommandOutcome> {
  const reason = options.reason?.trim();
  if (!reason) {
    throw usageError(
      'LOCK_WITHOUT_REASON',
      'gitops lock needs --reason "…": others see it when they are refused',
      {
        hint: `gitops lock ${options.env} --reason "incident 123"`,
      },
    );
  }
  const { config, environment, checkout, provenance, actor } = await prepare(ctx, options.env);
  const record: LockRecord = {
    environment: environment.name,
    lockedBy: actor,
    lockedAt: new Date().toISOString(),
    reason,
  };
  const file = lockPath(environment.name);
  if (ctx.dryRun) {
    const existing = await readLock(checkout, environment.name);
    if (existing) throw alreadyLocked(environment.name, existing);
    ctx.reporter.success(`dry run: would lock ${environment.name} (${reason}); nothing was pushed`);
    return { result: { environment: environment.name, locked: true, dryRun: true, lock: record } };
  }
  const written = await ctx.reporter.step('commit and push the lock', async (step) => {
    const result = await writeAndPush(ctx, checkout, config.envRepo, {
      push: true,
      edit: async (): Promise<EditOutcome> => {
        const existing = await readLock(checkout, environment.name);
        if (existing) throw alreadyLocked(environment.name, existing);
        const absolute = join(checkout.dir, file);
        mkdirSync(dirname(absolute), { recursive: true });
        writeFileSync(absolute, dump(record, { lineWidth: -1 }));
        return {
          changed: true,
          files: [file],
          message: commitMessage({
            environment: environment.name,
            action: 'lock',
            changes: [],
            images: {},
            provenance,
            subject: `lock(${environment.name}): ${reason}`.slice(0, 72),
            body: `Locked by ${actor}: ${reason}`,
          }),
        };
      },
    });
    step.detail(result.commit ? result.commit.slice(0, 12) : 'nothing to commit');
    return result;
  });
  ctx.reporter.success(
    `${environment.name} is locked (${reason}); deploy, promote and rollback refuse until gitops unlock ${environment.name}`,
  );
  return {
    result: { environment: environment.name, locked: true, commit: written.commit ?? null, lock: record },
  };
}

function alreadyLocked(environment: string, lock: LockRecord) {
  return blockedError('ALREADY_LOCKED', `${environment} is already ${describeLock(lock)}`, {
    hint: `gitops unlock ${environment} first`,
    details: { lock },
  });
}

/** `gitops unlock <env>`: removes the lock file in a commit; nothing to do when not locked. */
export async function runUnlock(ctx: Context, options: LockOptions): Promise<CommandOutcome> {
  const { config, environment, checkout, provenance, actor } = await prepare(ctx, options.env);
  const file = lockPath(environment.name);
  const previous = await readLock(checkout, environment.name);
  if (!previous) {
    ctx.reporter.success(`${environment.name} is not locked; nothing to do`);
    return { result: { environment: environment.name, locked: false, commit: null, previous: null } };
  }
  if (ctx.dryRun) {
    ctx.reporter.success(`dry run: would unlock ${environment.name} (${describeLock(previous)})`);
    return { result: { environment: environment.name, locked: false, dryRun: true, previous } };
  }
  const written = await ctx.reporter.step('commit and push the unlock', async (step) => {
    const result = await writeAndPush(ctx, checkout, config.envRepo, {
      push: true,
      edit: async (): Promise<EditOutcome> => {
        const current = await readLock(checkout, environment.name);
        if (!current) return { changed: false, files: [], message: '' };
        rmSync(join(checkout.dir, file), { force: true });
        return {
          changed: true,
          files: [file],
          message: commitMessage({
            environment: environment.name,
            action: 'unlock',
            changes: [],
            images: {},
            provenance,
            subject: `unlock(${environment.name})${options.reason ? `: ${options.reason}` : ''}`.slice(0, 72),
            body: `Unlocked by ${actor}${options.reason ? `: ${options.reason}` : ''}\nWas ${describeLock(current)}`,
          }),
        };
      },
    });
    step.detail(result.commit ? result.commit.slice(0, 12) : 'already unlocked on the remote');
    return result;
  });
  ctx.reporter.success(`${environment.name} is unlocked (was ${describeLock(previous)})`);
  return {
    result: { environment: environment.name, locked: false, commit: written.commit ?? null, previous },
  };
}
