import type { Context } from '../cli/context.js';
import { applyEnvironment } from '../cluster/apply.js';
import { inventoryNamespace, readInventory, writeInventory } from '../cluster/inventory.js';
import { type DesiredObject, objectKey } from '../cluster/objects.js';
import { renderEnvironment } from '../cluster/render.js';
import { type RolloutOutcome, waitables, waitForRollouts } from '../cluster/rollout.js';
import type { EnvironmentSession } from '../cluster/session.js';
import { GitopsError } from '../core/errors.js';
import { ExitCode } from '../core/exit-codes.js';
import { compareLive, type DriftReport, detectDrift, type LiveState, readLive } from '../drift/detect.js';
import { formatDrift } from '../drift/format.js';
import type { EnvCheckout } from '../git/checkout.js';
import { materializeRevision } from '../git/revision.js';

export interface RevisionObjects {
  revision: string;
  objects: DesiredObject[];
}

/** Renders the environment at `sha`: from the checkout itself when it is at that commit. */
export async function renderAt(
  ctx: Context,
  session: EnvironmentSession,
  checkout: EnvCheckout,
  sha: string,
): Promise<RevisionObjects> {
  const head = await checkout.git.output(['rev-parse', 'HEAD']);
  const tree = head === sha && checkout.temporary ? checkout : await materializeRevision(ctx, checkout, sha);
  const objects = await renderEnvironment(ctx, session.environment, tree, session.kubectl, session.namespace);
  return { revision: sha, objects };
}

export interface ApplyOutcome {
  revision: string;
  applied: number;
  pruned: string[];
  rollouts: RolloutOutcome[];
  verified: boolean;
}

/** Rollout failed or timed out: exit 4, with what failed. */
export class RolloutFailure extends GitopsError {
  constructor(
    message: string,
    readonly outcome: Partial<ApplyOutcome>,
    hint?: string,
  ) {
    super('ROLLOUT_FAILED', message, { exitCode: ExitCode.RolloutFailed, ...(hint ? { hint } : {}) });
  }
}

export function inventoryNs(session: EnvironmentSession): string {
  return inventoryNamespace(session.environment, session.namespace);
}

/** Drift of the live cluster against a revision's objects. */
export function driftAgainst(
  session: EnvironmentSession,
  objects: readonly DesiredObject[],
): Promise<DriftReport> {
  return detectDrift(session.kubectl, session.environment, objects, inventoryNs(session));
}

/**
 * Apply → wait → verify → record, shared by deploy, rollback and promote: applies a revision's
 * objects (pruning what left git), waits for every workload whose spec changed, checks that
 * nothing drifts afterwards, and records the revision as verified in the inventory.
 */
export async function applyAndVerify(
  ctx: Context,
  session: EnvironmentSession,
  desired: RevisionObjects,
  options: { timeoutMs: number; actor?: string; live?: LiveState },
): Promise<ApplyOutcome> {
  const { reporter } = ctx;
  const namespace = inventoryNs(session);
  // The live state read for the drift gate serves here too: one read of the cluster, not two.
  const before = options.live
    ? compareLive(session.environment, desired.objects, options.live)
    : await driftAgainst(session, desired.objects);
  const changed = new Set(
    before.objects
      .filter((object) => object.state === 'missing' || object.state === 'modified')
      .map((object) => object.key),
  );
  const prune = before.objects
    .filter((object) => object.state === 'extra' && object.prunable)
    .map((object) => object.live!);
  const kept = before.objects.filter((object) => object.state === 'extra' && !object.prunable);
  for (const object of kept)
    reporter.warn(`${object.display} left git but is kept (prune.protect or pruning off)`);

  const applied = await reporter.step('apply and prune', async (step) => {
    const result = await applyEnvironment(ctx, session.kubectl, session.environment, {
      revision: desired.revision,
      objects: desired.objects.map((item) => item.object),
      prune,
      inventoryNamespace: namespace,
      ...(before.inventory ? { previous: before.inventory } : {}),
      ...(options.actor ? { actor: options.actor } : {}),
    });
    step.detail(
      `${result.applied} object(s) at ${desired.revision.slice(0, 12)}${result.pruned.length ? `, pruned ${result.pruned.join(', ')}` : ''}`,
    );
    return result;
  });

  // After an interrupted or failed run the live specs may already match while their rollout was
  // never seen to finish: then every workload is waited for, not only those this apply changes,
  // or the next deploy would verify a rollout nobody watched (issue 10).
  const unconfirmed = Boolean(before.inventory) && before.inventory?.phase !== 'verified';
  const workloads = waitables(
    desired.objects
      .map((item) => item.object)
      .filter((object) => unconfirmed || changed.has(objectKey(object))),
    session.environment.waitForJobs,
  );
  const rollouts = await reporter.step('wait for the rollout', async (step) => {
    if (workloads.length === 0) {
      step.skip('no workload changed');
      return [];
    }
    const outcomes = await waitForRollouts(session.kubectl, workloads, options.timeoutMs);
    for (const outcome of outcomes)
      step.log(`${outcome.ok ? '✓' : '✗'} ${outcome.object}: ${outcome.message}`);
    const failed = outcomes.filter((outcome) => !outcome.ok);
    if (failed.length > 0) {
      throw new RolloutFailure(
        `rollout of ${failed.map((outcome) => outcome.object).join(', ')} failed: ${failed.map((outcome) => outcome.message).join('; ')}`,
        {
          revision: desired.revision,
          applied: applied.applied,
          pruned: applied.pruned,
          rollouts: outcomes,
          verified: false,
        },
      );
    }
    step.detail(`${outcomes.length} workload(s) ready`);
    return outcomes;
  });

  await reporter.step('verify', async (step) => {
    const live = await readLive(session.kubectl, session.environment, desired.objects, namespace, {
      inventory: applied.inventory,
    });
    const after = compareLive(session.environment, desired.objects, live);
    if (!after.inSync) {
      reporter.print(formatDrift(after, reporter.color));
      throw new RolloutFailure(
        `the cluster does not match ${desired.revision.slice(0, 12)} after the apply (something changed it at once: a webhook, a controller or a person)`,
        {
          revision: desired.revision,
          applied: applied.applied,
          pruned: applied.pruned,
          rollouts,
          verified: false,
        },
        'see the differences above; add environments.<env>.ignoreDifferences for fields a controller owns',
      );
    }
    step.detail(`in sync with ${desired.revision.slice(0, 12)}`);
  });

  await reporter.step('record', async (step) => {
    await writeInventory(session.kubectl, session.environment, namespace, {
      ...applied.inventory,
      phase: 'verified',
      verifiedRevision: desired.revision,
      updatedAt: new Date().toISOString(),
    });
    step.detail(`${session.environment.name} is on ${desired.revision.slice(0, 12)}`);
  });
  return {
    revision: desired.revision,
    applied: applied.applied,
    pruned: applied.pruned,
    rollouts,
    verified: true,
  };
}

/** Records a failed deploy in the inventory so `status` and the next deploy can explain it. */
export async function recordFailure(session: EnvironmentSession, revision: string): Promise<void> {
  const namespace = inventoryNs(session);
  const inventory = await readInventory(session.kubectl, session.environment, namespace).catch(
    () => undefined,
  );
  if (!inventory) return;
  await writeInventory(session.kubectl, session.environment, namespace, {
    ...inventory,
    phase: 'failed',
    revision,
    updatedAt: new Date().toISOString(),
  }).catch(() => undefined);
}
