import { type LeaseRecord, leaseExpiry } from '../cluster/lease.js';
import { workloadHealth } from '../cluster/rollout.js';
import { findConfigFile, readConfig } from '../config/load.js';
import type { Context } from '../core/context.js';
import { compareLive } from '../drift/detect.js';
import { activeFreezes, describeFreeze } from '../gates/freeze.js';
import { type LockRecord, readLock } from '../gates/lock.js';
import { resolveRevision } from '../git/revision.js';
import { WORKLOAD_KINDS } from '../kube/objects.js';
import { openSession } from './session.js';

export interface EnvironmentStatus {
  environment: string;
  liveRevision: string | null;
  headRevision: string;
  /** up-to-date | pending-apply | not-deployed | diverged */
  git: string;
  phase: string | null;
  drift: {
    inSync: boolean;
    counts: Record<string, number>;
    foreign?: Array<{ object: string; owner: string }>;
  } | null;
  rollouts: Array<{ object: string; ready: boolean; detail: string }>;
  /** The env-repo lock (`gitops lock`), or null. */
  lock?: LockRecord | null;
  /** Freeze windows that hold now, one line each. */
  freezes?: string[];
  /** With phase `failed`: what was running and why it failed, as recorded in the inventory. */
  failure?: { action: string; reason: string };
  /** The apply lease while a run holds it: who applies what, since when, until when unless renewed. */
  lease?: LeaseStatus | null;
  note?: string;
  error?: string;
}

export interface LeaseStatus {
  holder: string;
  action?: string;
  revision?: string;
  actor?: string;
  acquireTime?: string;
  renewTime?: string;
  /** renewTime + duration, by the holder's clock. */
  expires?: string;
  /** By this machine's clock: the holder did not renew it in time (it crashed or lost the cluster). */
  expired: boolean;
}

function leaseStatus(record: LeaseRecord | undefined, now: Date): LeaseStatus | null {
  if (!record?.holderIdentity) return null;
  const expires = leaseExpiry(record);
  return {
    holder: record.holderIdentity,
    ...(record.holder
      ? {
          action: record.holder.action,
          revision: record.holder.revision,
          ...(record.holder.actor ? { actor: record.holder.actor } : {}),
        }
      : {}),
    ...(record.acquireTime ? { acquireTime: record.acquireTime } : {}),
    ...(record.renewTime ? { renewTime: record.renewTime } : {}),
    ...(expires ? { expires: expires.toISOString() } : {}),
    expired: expires !== undefined && expires.getTime() < now.getTime(),
  };
}

/** What a held lease says about the deploy state: a run at work, or one that stopped holding it. */
function leaseNote(lease: LeaseStatus, envName: string): string {
  const run = `the ${lease.action ?? 'run'}${lease.revision ? ` of ${lease.revision.slice(0, 12)}` : ''}${lease.actor ? ` by ${lease.actor}` : ''} (${lease.holder})`;
  return lease.expired
    ? `${run} holds the apply lease but stopped renewing it at ${lease.renewTime ?? '?'} (it crashed or lost the cluster); the lease expired at ${lease.expires ?? '?'}: the next gitops deploy --env ${envName} takes it over and completes the deploy`
    : `${run} holds the apply lease since ${lease.acquireTime ?? '?'} (renewed ${lease.renewTime ?? '?'}): it is applying now`;
}

async function statusOf(ctx: Context, envName: string): Promise<EnvironmentStatus> {
  const session = await openSession(ctx, envName);
  const checkout = await session.openEnvRepo();
  const head = await checkout.git.head();
  // The inventory alone first: the live objects are read once, for the revision it names.
  const [inventory, record] = await Promise.all([session.readInventory(checkout), session.readLease()]);
  const lease = leaseStatus(record, new Date());
  const lock = (await readLock(checkout, envName)) ?? null;
  const freezes = activeFreezes(session.config, session.environment, new Date()).map(describeFreeze);
  const base = {
    environment: envName,
    headRevision: head,
    phase: inventory?.phase ?? null,
    lock,
    freezes,
    lease,
  };
  if (!inventory?.revision) {
    return {
      ...base,
      liveRevision: null,
      git: 'not-deployed',
      drift: null,
      rollouts: [],
      note: `nothing deployed yet: gitops deploy --env ${envName} deploys the branch head`,
    };
  }
  const live = await resolveRevision(ctx, checkout, inventory.revision).catch(() => undefined);
  let git = 'diverged';
  if (live) {
    // Everything the render reads, not the environment's directory alone: a commit that changes
    // only a kustomize base or a shared chart is pending too.
    const paths = await session.closure(checkout, [live, head]);
    const same = await checkout.git.read(['diff', '--quiet', live, head, '--', ...paths], {
      allowFailure: true,
    });
    if (same.exitCode === 0) git = 'up-to-date';
    else {
      const ancestor = await checkout.git.read(['merge-base', '--is-ancestor', live, head], {
        allowFailure: true,
      });
      git =
        ancestor.exitCode === 0 ||
        (await checkout.git.tryOutput(['rev-parse', '--is-shallow-repository'])) === 'true'
          ? 'pending-apply'
          : 'diverged';
    }
  }
  const desired = live ? (await session.desiredState(checkout, live)).objects : undefined;
  const drift = desired
    ? compareLive(session.environment, desired, await session.readLive(desired, inventory, checkout))
    : undefined;
  const rollouts = (drift?.objects ?? [])
    .filter((object) => object.live && WORKLOAD_KINDS.has(object.kind))
    .map((object) => ({ object: object.display, ...workloadHealth(object.live!) }));
  const failed = inventory.failure
    ? `the ${inventory.failedAction ?? 'deploy'} of ${inventory.revision.slice(0, 12)} failed: ${inventory.failure}; roll back or deploy a fix`
    : `the deploy of ${inventory.revision.slice(0, 12)} failed: roll back or deploy a fix`;
  const notes: Record<string, string> = {
    applying: `the deploy of ${inventory.revision.slice(0, 12)} was interrupted while applying: run gitops deploy --env ${envName} to complete it`,
    failed,
    applied: `${inventory.revision.slice(0, 12)} was applied but not verified: run gitops deploy --env ${envName} --skip-build`,
  };
  const note = lease
    ? leaseNote(lease, envName)
    : git === 'pending-apply' && inventory.phase === 'verified'
      ? `the branch head ${head.slice(0, 12)} is not applied yet: run gitops deploy --env ${envName} --skip-build`
      : inventory.phase
        ? notes[inventory.phase]
        : undefined;
  return {
    ...base,
    liveRevision: inventory.revision,
    git,
    drift: drift
      ? {
          inSync: drift.inSync,
          counts: drift.counts,
          ...(drift.counts.foreign > 0
            ? {
                foreign: drift.objects
                  .filter((object) => object.state === 'foreign')
                  .map((object) => ({ object: object.display, owner: object.owner ?? '' })),
              }
            : {}),
        }
      : null,
    rollouts,
    ...(inventory.phase === 'failed' && inventory.failure
      ? { failure: { action: inventory.failedAction ?? 'deploy', reason: inventory.failure } }
      : {}),
    ...(note ? { note } : {}),
  };
}

/** `gitops status [--env]`: per environment, live revision against the branch, drift, rollout health, deploy state. */
export async function runStatus(
  ctx: Context,
  options: { env?: string },
): Promise<{ environments: EnvironmentStatus[]; healthy: boolean }> {
  const names = options.env
    ? [options.env]
    : Object.keys(readConfig(findConfigFile(ctx.cwd, ctx.configPath), ctx.env).environments);
  const statuses: EnvironmentStatus[] = [];
  for (const name of names) {
    try {
      statuses.push(await ctx.reporter.step(`status of ${name}`, () => statusOf(ctx, name)));
    } catch (error) {
      if (options.env) throw error;
      statuses.push({
        environment: name,
        liveRevision: null,
        headRevision: '',
        git: 'unknown',
        phase: null,
        drift: null,
        rollouts: [],
        error: (error as Error).message.split('\n')[0]!,
      });
    }
  }
  // Live behind the branch head (or off it) is not well either: what git says is not what runs.
  const unhealthy = statuses.some(
    (status) =>
      status.error ||
      status.git === 'pending-apply' ||
      status.git === 'diverged' ||
      status.phase === 'failed' ||
      status.phase === 'applying' ||
      status.drift?.inSync === false ||
      status.rollouts.some((rollout) => !rollout.ready),
  );
  return { environments: statuses, healthy: !unhealthy };
}
