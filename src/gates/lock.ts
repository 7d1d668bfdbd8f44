import { load } from 'js-yaml';
import type { EnvironmentConfig, GitopsConfig } from '../config/types.js';
import type { Context } from '../core/context.js';
import { blockedError } from '../core/errors.js';
import { type EnvCheckout, GITOPS_META_DIR } from '../git/checkout.js';
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
  const exists = await checkout.git.read(['cat-file', '-e', spec], { allowFailure: true });
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

/** Refusal of `gitops lock` for an environment that is locked already (exit 5). */
export function alreadyLocked(environment: string, lock: LockRecord) {
  return blockedError('ALREADY_LOCKED', `${environment} is already ${describeLock(lock)}`, {
    hint: `gitops unlock ${environment} first`,
    details: { lock },
  });
}
