import { applyEnvironment } from '../cluster/apply.js';
import type { Inventory } from '../cluster/inventory.js';
import { jsonPatch } from '../cluster/patch.js';
import { type RolloutOutcome, waitables, waitForRollouts } from '../cluster/rollout.js';
import type { Context } from '../core/context.js';
import { GitopsError, isGitopsError } from '../core/errors.js';
import { ExitCode } from '../core/exit-codes.js';
import { compareLive, type DriftReport, type LiveState } from '../drift/detect.js';
import { undeclaredFieldsPatch } from '../drift/overwrite.js';
import { checkLockAndFreeze, type GateOverride } from '../gates/lock.js';
import { ownershipGate } from '../gates/ownership.js';
import { serverDryRunGate } from '../gates/server-dry-run.js';
import { type EnvCheckout, openEnvRepo } from '../git/checkout.js';
import { allowedKeys, verifyCommitRange } from '../git/verify.js';
import { checkPushAccess } from '../git/write.js';
import { type DesiredObject, objectKey } from '../kube/objects.js';
import type { FailurePlan, Step } from '../pipeline/step.js';
import type { DesiredState, EnvironmentSession } from './session.js';
import './views.js';

/** What `get the env repo` needs and fills in; deploy, promote, rollback, lock and unlock share it. */
export interface EnvRepoState {
  readonly ctx: Context;
  readonly session: Pick<EnvironmentSession, 'config' | 'environment'>;
  /** Set by `get the env repo`. */
  checkout?: EnvCheckout;
  /** Trailers recording a `--force` override of a lock or freeze. */
  overrides: Array<[string, string]>;
}

/**
 * What the steps shared by deploy, promote and rollback read and fill in: open the env repo
 * behind the lock and freeze gate, verify signatures, then apply → wait → verify → record one
 * revision, with one failure plan.
 */
export interface ReleaseState extends EnvRepoState {
  readonly session: EnvironmentSession;
  /** Take over objects another owner manages (`--adopt`, or environments.<env>.adopt). */
  adopt?: boolean;
  /** The revision whose signatures are trusted (the last verified deploy): the range starts after it. */
  verifiedRevision?: string;
  /**
   * The env-repo commit to apply: set once it is on the branch (pushed, or the head already had
   * it). From then on a failure is recorded in the inventory.
   */
  revision?: string;
  timeoutMs: number;
  actor?: string;
  /**
   * Make the live objects exactly what git declares: fields someone else added are removed too
   * (deploy --on-drift overwrite, rollback), not only those gitops applied before.
   */
  overwrite?: boolean;
  /** The live state read by the drift gate, reused by the apply (one read of the cluster, not two). */
  live?: LiveState;
  desired?: DesiredState;
  /** The live state before the apply, against the revision applied. */
  before?: DriftReport;
  applied?: { applied: number; pruned: string[]; inventory: Inventory };
  rollouts?: RolloutOutcome[];
  verified?: boolean;
}

/** What deploy, promote and rollback report about the revision they applied. */
export interface ApplyOutcome {
  revision: string;
  applied: number;
  pruned: string[];
  rollouts: RolloutOutcome[];
  verified: boolean;
}

export function applyOutcome(state: ReleaseState): ApplyOutcome {
  return {
    revision: state.revision ?? '',
    applied: state.applied?.applied ?? 0,
    pruned: state.applied?.pruned ?? [],
    rollouts: state.rollouts ?? [],
    verified: state.verified ?? false,
  };
}

/** Rollout failed or timed out: exit 4, with what failed. */
export class RolloutFailure extends GitopsError {
  constructor(message: string, hint?: string) {
    super('ROLLOUT_FAILED', message, { exitCode: ExitCode.RolloutFailed, ...(hint ? { hint } : {}) });
  }
}

/** The first line of an error's message: what a summary, a warning or the inventory keeps. */
export function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]!;
}

/** Interrupts end the run (exit 130) and usage errors changed nothing: neither is a failed rollout. */
export function endsTheRun(error: unknown): boolean {
  return (
    isGitopsError(error) && (error.exitCode === ExitCode.Interrupted || error.exitCode === ExitCode.Usage)
  );
}

/**
 * The one failure plan of deploy, promote and rollback: once a revision is on the branch, a
 * failure is recorded in the inventory (phase `failed`, what ran and why), so `gitops status` and
 * the next run can explain it. An interrupt is not recorded: the inventory's `applying` says more.
 */
export function recordFailure<S extends ReleaseState>(action: string): FailurePlan<S> {
  return async (error, state) => {
    if (!state.revision || endsTheRun(error)) return;
    await state.session.fail({ revision: state.revision, action, reason: firstLine(error) });
  };
}

/**
 * Opens the env repo and checks that this job may push (`git push --dry-run`: a job that cannot
 * push fails in a second, not after a build); with `gate`, passes the lock and freeze gate.
 */
export function getEnvRepoStep<S extends EnvRepoState>(gate?: GateOverride): Step<S> {
  return {
    title: 'get the env repo',
    dryRun: 'run',
    async run(state, step) {
      const { ctx, session } = state;
      const opened = await openEnvRepo(ctx, session.config, session.environment);
      await checkPushAccess(opened);
      if (gate)
        state.overrides = await checkLockAndFreeze(ctx, session.config, session.environment, opened, gate);
      state.checkout = opened;
      step.detail(`${opened.remote ?? opened.dir} (${opened.branch})`);
    },
  };
}

/**
 * With envRepo.verifyCommits: every commit since the last verified revision up to the branch head
 * is signed by an allowed key. `trusted` says where the range starts.
 */
export function verifySignaturesStep<S extends ReleaseState>(
  trusted: (state: S) => Promise<string | undefined>,
): Step<S> {
  return {
    title: 'verify signatures',
    dryRun: 'run',
    when: (state) => Boolean(state.session.config.envRepo.verifyCommits),
    async run(state, step) {
      const checkout = state.checkout!;
      const keys = allowedKeys(state.session.config)!;
      state.verifiedRevision = await trusted(state);
      const head = await checkout.git.output(['rev-parse', 'HEAD']);
      const checked = await verifyCommitRange(state.ctx, checkout, keys, head, state.verifiedRevision);
      step.detail(
        `${checked.commits.length} commit(s) since ${state.verifiedRevision?.slice(0, 12) ?? 'the start'} signed by allowed keys`,
      );
    },
  };
}

/** After a push: the commits it landed on, and gitops' own, are checked too. */
export async function verifyPushedSignatures(state: ReleaseState, head: string): Promise<void> {
  const keys = allowedKeys(state.session.config);
  if (keys) await verifyCommitRange(state.ctx, state.checkout!, keys, head, state.verifiedRevision);
}

/**
 * The ownership gate as a step, before the push: reads the live state of the objects about to be
 * applied (whatever their labels) and refuses those another owner manages. The read serves the
 * apply too.
 */
export function ownershipStep<S extends ReleaseState>(
  objects: (state: S) => Promise<readonly DesiredObject[]>,
): Step<S> {
  return {
    title: 'ownership',
    dryRun: 'run',
    async run(state, step) {
      const { session } = state;
      const desired = await objects(state);
      const live = await session.readLive(desired, undefined, state.checkout);
      state.live = live;
      const verdict = ownershipGate(compareLive(session.environment, desired, live), Boolean(state.adopt));
      const notes = [
        verdict.adopt.length ? `adopts ${verdict.adopt.map((object) => object.display).join(', ')}` : '',
        verdict.takeOver.length
          ? `takes over ${verdict.takeOver.map((object) => `${object.display} from ${object.owner}`).join(', ')}`
          : '',
      ].filter(Boolean);
      step.detail(
        notes.length ? notes.join('; ') : `${desired.length} object(s) are this environment's or new`,
      );
    },
  };
}

/**
 * The server-side dry run of what is about to be pushed and applied (gates/server-dry-run.ts):
 * deploy, promote and rollback run it before the push.
 */
export function serverDryRunStep<S extends ReleaseState>(
  objects: (state: S) => Promise<readonly DesiredObject[]>,
): Step<S> {
  return {
    title: 'server dry run',
    dryRun: 'run',
    async run(state, step) {
      const { session } = state;
      const rendered = await objects(state);
      const head = await state.checkout!.git.output(['rev-parse', 'HEAD']);
      const summary = await serverDryRunGate(session.kubectl, session.environment, rendered, head);
      step.detail(
        `${summary.accepted} object(s) accepted by the API server${summary.awaitingCrd ? `; ${summary.awaitingCrd} wait for the CRD this apply installs` : ''}`,
      );
    },
  };
}

const applyAndPrune: Step<ReleaseState> = {
  title: 'apply and prune',
  dryRun: 'skip',
  async run(state, step) {
    const { ctx, session } = state;
    const desired = await session.desiredState(state.checkout!, state.revision!);
    state.desired = desired;
    // The live state read for the gates serves here too: one read of the cluster, not two.
    const before = state.live
      ? compareLive(session.environment, desired.objects, state.live)
      : await session.drift(desired.objects, state.checkout);
    state.before = before;
    // The branch may have moved since the gate: what the revision applied declares is checked again.
    const verdict = ownershipGate(before, Boolean(state.adopt));
    const extras = before.objects.filter((object) => object.state === 'extra');
    const prune = extras.filter((object) => object.prunable).map((object) => object.live!);
    const release = session.environment.prune.enabled
      ? extras.filter((object) => object.adopted).map((object) => object.live!)
      : [];
    for (const object of extras.filter((each) => !each.prunable && !each.adopted))
      ctx.reporter.warn(
        `${object.display} left git but is kept (prune.protect, pruning off, or not created by gitops)`,
      );
    // Fields git does not declare go: everywhere when overwriting, and always on the objects this
    // apply adopts or takes over — they end as git says, or verify would find them drifted.
    const adopting = new Set([...verdict.adopt, ...verdict.takeOver].map((object) => object.key));
    for (const object of before.objects) {
      if (!state.overwrite && !adopting.has(object.key)) continue;
      const operations = undeclaredFieldsPatch(object);
      if (operations.length === 0) continue;
      await jsonPatch(session.kubectl, object.live!, operations, ctx.env.TMPDIR || undefined);
      step.log(`${object.display}: removed ${operations.length / 2} field(s) git does not declare`);
    }
    ctx.reporter.progress?.(
      `${desired.objects.length} object(s)${prune.length ? `, ${prune.length} to prune` : ''}`,
    );
    const result = await applyEnvironment(session.kubectl, session.environment, {
      revision: desired.revision,
      objects: desired.objects.map((item) => item.object),
      prune,
      adopt: [...verdict.adopt, ...verdict.takeOver].map((object) => object.key),
      takeOver: verdict.takeOver.map((object) => object.live!),
      release,
      inventoryNamespace: session.inventoryNamespace,
      ...(before.inventory ? { previous: before.inventory } : {}),
      ...(state.actor ? { actor: state.actor } : {}),
    });
    state.applied = result;
    for (const namespace of result.kept)
      ctx.reporter.warn(`Namespace/${namespace} left git but is kept: it holds objects gitops does not own`);
    const parts = [
      result.pruned.length ? `pruned ${result.pruned.join(', ')}` : '',
      result.released.length ? `released ${result.released.join(', ')}` : '',
      verdict.adopt.length + verdict.takeOver.length
        ? `adopted ${[...verdict.adopt, ...verdict.takeOver].map((object) => object.display).join(', ')}`
        : '',
    ].filter(Boolean);
    step.detail(
      `${result.applied} object(s) at ${desired.revision.slice(0, 12)}${parts.length ? `, ${parts.join('; ')}` : ''}`,
    );
  },
};

const waitForTheRollout: Step<ReleaseState> = {
  title: 'wait for the rollout',
  dryRun: 'skip',
  async run(state, step) {
    const { ctx, session, before } = state;
    const desired = state.desired!;
    const changed = new Set(
      before!.objects
        .filter((object) => object.state === 'missing' || object.state === 'modified')
        .map((object) => object.key),
    );
    // After an interrupted or failed run the live specs may already match while their rollout was
    // never seen to finish: then every workload is waited for, not only those this apply changes,
    // or the next deploy would verify a rollout nobody watched (issue 10).
    const unconfirmed = Boolean(before!.inventory) && before!.inventory?.phase !== 'verified';
    const workloads = waitables(
      desired.objects
        .map((item) => item.object)
        .filter((object) => unconfirmed || changed.has(objectKey(object))),
      session.environment.waitForJobs,
    );
    state.rollouts = [];
    if (workloads.length === 0) {
      step.skip('no workload changed');
      return;
    }
    ctx.reporter.progress?.(`0/${workloads.length} workload(s) ready`);
    const outcomes = await waitForRollouts(
      session.kubectl,
      workloads,
      state.timeoutMs,
      (done, total, failed) =>
        ctx.reporter.progress?.(
          `${done - failed}/${total} workload(s) ready${failed ? `, ${failed} failed` : ''}`,
        ),
    );
    state.rollouts = outcomes;
    for (const outcome of outcomes)
      step.log(`${outcome.ok ? '✓' : '✗'} ${outcome.object}: ${outcome.message}`);
    const failed = outcomes.filter((outcome) => !outcome.ok);
    if (failed.length > 0) {
      throw new RolloutFailure(
        `rollout of ${failed.map((outcome) => outcome.object).join(', ')} failed: ${failed.map((outcome) => outcome.message).join('; ')}`,
      );
    }
    step.detail(`${outcomes.length} workload(s) ready`);
  },
};

const verifyInSync: Step<ReleaseState> = {
  title: 'verify',
  dryRun: 'skip',
  async run(state, step) {
    const { ctx, session } = state;
    const desired = state.desired!;
    const live = await session.readLive(desired.objects, state.applied!.inventory, state.checkout);
    const after = compareLive(session.environment, desired.objects, live);
    if (!after.inSync) {
      ctx.reporter.show({ kind: 'drift', report: after });
      throw new RolloutFailure(
        `the cluster does not match ${desired.revision.slice(0, 12)} after the apply (something changed it at once: a webhook, a controller or a person)`,
        'see the differences above; add environments.<env>.ignoreDifferences for fields a controller owns',
      );
    }
    step.detail(`in sync with ${desired.revision.slice(0, 12)}`);
  },
};

const recordVerified: Step<ReleaseState> = {
  title: 'record',
  dryRun: 'skip',
  async run(state, step) {
    const { session } = state;
    const revision = state.desired!.revision;
    await session.writeInventory({
      ...state.applied!.inventory,
      phase: 'verified',
      verifiedRevision: revision,
      updatedAt: new Date().toISOString(),
    });
    // Migrated from a release before environment ids: its name-keyed state is superseded.
    const legacy = state.before?.inventory?.legacyName;
    if (legacy) await session.deleteInventoryNamed(legacy);
    state.verified = true;
    step.detail(`${session.environment.name} is on ${revision.slice(0, 12)}`);
  },
};

/**
 * Apply → wait → verify → record, shared by deploy, rollback and promote: applies the revision's
 * objects (pruning what left git), waits for every workload whose spec changed, checks that
 * nothing drifts afterwards, and records the revision as verified in the inventory.
 */
export const APPLY_STEPS: readonly Step<ReleaseState>[] = [
  applyAndPrune,
  waitForTheRollout,
  verifyInSync,
  recordVerified,
];
