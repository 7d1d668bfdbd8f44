import type { CommandOutcome } from '../cli/action.js';
import type { Context } from '../cli/context.js';
import { openSession } from '../cluster/session.js';
import { findConfigFile, readConfig } from '../config/load.js';
import { ExitCode } from '../core/exit-codes.js';
import { openEnvRepo } from '../git/checkout.js';
import { resolveRevision } from '../git/revision.js';
import { activeFreezes, describeFreeze } from './freeze.js';
import { describeLock, type LockRecord, readLock } from './lock.js';
import { driftAgainst, renderAt } from './pipeline.js';

export interface EnvironmentStatus {
  environment: string;
  liveRevision: string | null;
  headRevision: string;
  /** up-to-date | pending-apply | not-deployed | diverged */
  git: string;
  phase: string | null;
  drift: { inSync: boolean; counts: Record<string, number> } | null;
  rollouts: Array<{ object: string; ready: boolean; detail: string }>;
  /** The env-repo lock (`gitops lock`), or null. */
  lock?: LockRecord | null;
  /** Freeze windows that hold now, one line each. */
  freezes?: string[];
  note?: string;
  error?: string;
}

interface WorkloadStatus {
  replicas?: number;
  updatedReplicas?: number;
  availableReplicas?: number;
  observedGeneration?: number;
}

/** Ready as `kubectl rollout status` judges a Deployment (observed generation, updated and available replicas). */
function workloadHealth(object: {
  kind: string;
  metadata: { generation?: number };
  spec?: unknown;
  status?: unknown;
}): { ready: boolean; detail: string } {
  const status = (object.status ?? {}) as WorkloadStatus;
  const wanted = (object.spec as { replicas?: number } | undefined)?.replicas ?? 1;
  const observed = (status.observedGeneration ?? 0) >= (object.metadata.generation ?? 0);
  const ready =
    observed && (status.updatedReplicas ?? 0) >= wanted && (status.availableReplicas ?? 0) >= wanted;
  return {
    ready,
    detail: `${status.availableReplicas ?? 0}/${wanted} available${observed ? '' : ', not yet observed'}`,
  };
}

async function statusOf(ctx: Context, envName: string): Promise<EnvironmentStatus> {
  const session = await openSession(ctx, envName);
  const checkout = await openEnvRepo(ctx, session.config, session.environment);
  const head = await checkout.git.output(['rev-parse', 'HEAD']);
  const current = await driftAgainst(session, []);
  const inventory = current.inventory;
  const lock = (await readLock(checkout, envName)) ?? null;
  const freezes = activeFreezes(session.config, session.environment, new Date()).map(describeFreeze);
  const base = {
    environment: envName,
    headRevision: head,
    phase: inventory?.phase ?? null,
    lock,
    freezes,
  };
  if (!inventory?.revision) {
    return {
      ...base,
      liveRevision: null,
      git: 'not-deployed',
      drift: null,
      rollouts: [],
      note: 'nothing deployed yet: run gitops deploy',
    };
  }
  const live = await resolveRevision(ctx, checkout, inventory.revision).catch(() => undefined);
  let git = 'diverged';
  if (live) {
    const same = await checkout.git.run(['diff', '--quiet', live, head, '--', checkout.envPath], {
      allowFailure: true,
    });
    if (same.exitCode === 0) git = 'up-to-date';
    else {
      const ancestor = await checkout.git.run(['merge-base', '--is-ancestor', live, head], {
        allowFailure: true,
      });
      git =
        ancestor.exitCode === 0 ||
        (await checkout.git.tryOutput(['rev-parse', '--is-shallow-repository'])) === 'true'
          ? 'pending-apply'
          : 'diverged';
    }
  }
  const drift = live
    ? await driftAgainst(session, (await renderAt(ctx, session, checkout, live)).objects)
    : undefined;
  const rollouts = (drift?.objects ?? [])
    .filter((object) => object.live && ['Deployment', 'StatefulSet', 'DaemonSet'].includes(object.kind))
    .map((object) => ({ object: object.display, ...workloadHealth(object.live as never) }));
  const notes: Record<string, string> = {
    applying: `the deploy of ${inventory.revision.slice(0, 12)} was interrupted while applying: run gitops deploy --env ${envName} to complete it`,
    failed: `the deploy of ${inventory.revision.slice(0, 12)} failed: roll back or deploy a fix`,
    applied: `${inventory.revision.slice(0, 12)} was applied but not verified: run gitops deploy --env ${envName} --skip-build`,
  };
  const note = inventory.phase ? notes[inventory.phase] : undefined;
  return {
    ...base,
    liveRevision: inventory.revision,
    git,
    drift: drift ? { inSync: drift.inSync, counts: drift.counts } : null,
    rollouts,
    ...(note ? { note } : {}),
  };
}

/** `gitops status [--env]`: per environment, live revision against the branch, drift, rollout health, deploy state. */
export async function runStatus(ctx: Context, options: { env?: string }): Promise<CommandOutcome> {
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
  const { color } = ctx.reporter;
  for (const status of statuses) {
    const drift = status.drift
      ? status.drift.inSync
        ? color.green('in sync')
        : color.yellow(
            `drift: ${status.drift.counts.modified} modified, ${status.drift.counts.missing} missing, ${status.drift.counts.extra} extra`,
          )
      : '—';
    const health = status.rollouts.length
      ? status.rollouts
          .map(
            (rollout) =>
              `${rollout.ready ? color.green('✓') : color.red('✗')} ${rollout.object} ${rollout.detail}`,
          )
          .join('; ')
      : '—';
    ctx.reporter.print(
      [
        color.bold(status.environment),
        `  live ${status.liveRevision?.slice(0, 12) ?? '—'}  branch ${status.headRevision.slice(0, 12) || '—'}  git: ${status.git}  phase: ${status.phase ?? '—'}`,
        `  ${drift}`,
        `  ${health}`,
        ...(status.lock ? [`  ${color.yellow(`🔒 ${describeLock(status.lock)}`)}`] : []),
        ...(status.freezes ?? []).map((freeze) => `  ${color.yellow(`❄ ${freeze}`)}`),
        ...(status.note ? [`  ${color.yellow(status.note)}`] : []),
        ...(status.error ? [`  ${color.red(status.error)}`] : []),
      ].join('\n'),
    );
  }
  const unhealthy = statuses.some(
    (status) =>
      status.error ||
      status.phase === 'failed' ||
      status.phase === 'applying' ||
      status.drift?.inSync === false ||
      status.rollouts.some((rollout) => !rollout.ready),
  );
  return { exitCode: unhealthy ? ExitCode.Differences : ExitCode.Ok, result: { environments: statuses } };
}
