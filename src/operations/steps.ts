import { applyEnvironment, type SourceOf } from '../cluster/apply.js';
import type { Inventory } from '../cluster/inventory.js';
import { describeHolder, LeaseNamespaceMissing, type LeaseRecord } from '../cluster/lease.js';
import { applyNamespace } from '../cluster/namespace.js';
import { jsonPatch } from '../cluster/patch.js';
import { type RolloutOutcome, waitables, waitForRollouts } from '../cluster/rollout.js';
import type { Context } from '../core/context.js';
import type { ErrorCode } from '../core/error-codes.js';
import { blockedError, GitopsError, isGitopsError } from '../core/errors.js';
import { ExitCode } from '../core/exit-codes.js';
import type { StepControl } from '../core/reporter.js';
import { compareLive, type DriftReport, type LiveState } from '../drift/detect.js';
import { undeclaredFieldsPatch } from '../drift/overwrite.js';
import { checkLockAndFreeze, type GateOverride } from '../gates/lock.js';
import { type OwnershipVerdict, ownershipGate } from '../gates/ownership.js';
import { type DryRunSummary, serverDryRunGate } from '../gates/server-dry-run.js';
import { contains, fetchBranchHead, isAncestor } from '../git/ancestry.js';
import { type EnvCheckout, openEnvRepo } from '../git/checkout.js';
import { allowedKeys, verifyCommitRange } from '../git/verify.js';
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
  /** The lock and freeze gate's override, when the operation is gated: checked again on every push and at the apply. */
  gate?: GateOverride;
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
   * it). Once the apply lease is held it is the branch head (which contains `commit`).
   */
  revision?: string;
  /** This run's own commit (what it pushed, or the head it started from), kept when `revision` moves on. */
  commit?: string;
  /** What the apply lease says this run does: `deploy` (default), `promote`, `rollback`, `auto-rollback`. */
  action?: string;
  /** Set just before the apply writes to the cluster: from then on a failure is recorded in the inventory. */
  applying?: boolean;
  /** `revision` is live and verified already, applied by another gitops run: nothing left to apply. */
  settled?: boolean;
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

/** Codes that mean another gitops run has the environment now: nothing to record, nothing to roll back. */
const HANDED_OVER: ReadonlySet<ErrorCode> = new Set(['SUPERSEDED', 'APPLIED_BY_ANOTHER_RUN', 'LEASE_LOST']);

/**
 * Interrupts end the run (exit 130), usage errors changed nothing, and a run another gitops run
 * overtook (superseded, lease lost) leaves the environment to it: none of them is a failed rollout.
 */
export function endsTheRun(error: unknown): boolean {
  return (
    isGitopsError(error) &&
    (error.exitCode === ExitCode.Interrupted ||
      error.exitCode === ExitCode.Usage ||
      HANDED_OVER.has(error.code))
  );
}

/**
 * The one failure plan of deploy, promote and rollback: once this run's apply began, a failure is
 * recorded in the inventory (phase `failed`, what ran and why), so `gitops status` and the next
 * run can explain it. Before the apply the inventory is left alone: it is true still, and it
 * belongs to whichever run holds the apply lease. An interrupt is not recorded either: the
 * inventory's `applying` says more.
 */
export function recordFailure<S extends ReleaseState>(action: string): FailurePlan<S> {
  return async (error, state) => {
    if (!state.revision || !state.applying || endsTheRun(error)) return;
    await state.session.fail({ revision: state.revision, action, reason: firstLine(error) });
  };
}

/**
 * A run whose revision is on the branch failed before its apply wrote anything to the cluster:
 * exit 3 with the advice to re-run (the re-run applies the branch head), never a rollback.
 * Gates (exit 5) and what ends the run pass through unchanged.
 */
export function nothingApplied(state: ReleaseState, error: unknown): unknown {
  if (!isGitopsError(error) || endsTheRun(error) || error.exitCode === ExitCode.Blocked) return error;
  if (error.code === 'LEASE_TIMEOUT') return error;
  const name = state.session.environment.name;
  const revision = state.commit ?? state.revision!;
  return new GitopsError(
    'NOTHING_APPLIED',
    `${error.message}\nnothing was applied to ${name}; ${revision.slice(0, 12)} is on the branch`,
    {
      exitCode: ExitCode.OperationFailed,
      hint: `re-run the job: gitops deploy --env ${name} --skip-build applies the branch head${error.hint ? ` (${error.hint})` : ''}`,
      cause: error,
      details: { ...error.details, cause: error.code, revision },
    },
  );
}

/**
 * After a run: when the revision live is not this run's commit but a newer one (the branch moved
 * on while it waited) that does not carry what this run changed (`carries` says whether it
 * does), the run was superseded: exit 6, saying which revision runs and that there is nothing to
 * roll back. Undefined when the run's own change is what runs.
 */
export async function supersededError(
  state: ReleaseState,
  carries: () => Promise<boolean>,
  what: string,
): Promise<GitopsError | undefined> {
  const { commit, revision } = state;
  if (!commit || !revision || commit === revision || (await carries())) return undefined;
  const name = state.session.environment.name;
  const by = state.settled ? 'another gitops run' : 'this run';
  return new GitopsError(
    'SUPERSEDED',
    `this run's ${commit.slice(0, 12)} was superseded: ${revision.slice(0, 12)}, a newer revision of ${name} that contains it, ${what}; ${revision.slice(0, 12)} is live and verified (applied by ${by})`,
    {
      exitCode: ExitCode.Superseded,
      hint: `nothing to roll back: ${revision.slice(0, 12)} is newer than ${commit.slice(0, 12)} (gitops history --env ${name})`,
      details: { commit, revision, appliedBy: state.settled ? 'another-run' : 'this-run' },
    },
  );
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
      const opened = await openEnvRepo(ctx, session.config, session.environment, { checkPush: true });
      if (gate) {
        state.gate = gate;
        state.overrides = await checkLockAndFreeze(ctx, session.config, session.environment, opened, gate);
      }
      state.checkout = opened;
      step.detail(`${opened.remote ?? opened.dir} (${opened.branch})`);
    },
  };
}

/**
 * The lock and freeze gate again, on the head the checkout is on now (a push retry's new head, or
 * the branch head the apply lease found): a lock committed since the run began stops it (exit 5).
 */
export async function regate(state: EnvRepoState): Promise<void> {
  if (!state.gate) return;
  const { ctx, session } = state;
  state.overrides = await checkLockAndFreeze(
    ctx,
    session.config,
    session.environment,
    state.checkout!,
    state.gate,
  );
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
      const head = await checkout.git.head();
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

/** Whether two reads of the inventory are the same record (no run applied in between). */
export function sameInventory(a: Inventory | undefined, b: Inventory | undefined): boolean {
  return a?.revision === b?.revision && a?.phase === b?.phase && a?.updatedAt === b?.updatedAt;
}

/**
 * While this run waits for the lease: has another gitops run already brought this run's commit
 * live (the verified revision is the commit, or a newer one containing it)? Then there is
 * nothing left to wait for.
 */
async function settledByAnotherRun(state: ReleaseState, commit: string): Promise<boolean> {
  const inventory = await state.session.readInventory();
  if (inventory?.phase !== 'verified' || !inventory.revision) return false;
  if (inventory.revision !== commit) {
    await fetchBranchHead(state.checkout!);
    if (!(await contains(state.checkout!, inventory.revision, commit))) return false;
  }
  state.revision = inventory.revision;
  state.settled = true;
  return true;
}

/** Takes the lease; a first deploy creates the namespace the lease lives in (from its own objects). */
async function acquireLease(state: ReleaseState, commit: string, step: StepControl): Promise<boolean> {
  const { session } = state;
  const lease = session.lease({
    action: state.action ?? 'deploy',
    revision: commit,
    ...(state.actor ? { actor: state.actor } : {}),
  });
  let last = '';
  const hooks = {
    waiting: (record: LeaseRecord) => {
      const line = `held by ${describeHolder(record)}; waiting`;
      if (line !== last) step.log(line);
      last = line;
    },
    settled: () => settledByAnotherRun(state, commit),
  };
  try {
    return (await lease.acquire(hooks)) === 'settled';
  } catch (error) {
    if (!(error instanceof LeaseNamespaceMissing)) throw error;
    const desired = await session.desiredState(state.checkout!, commit);
    const namespace = desired.objects.find(
      (item) => item.object.kind === 'Namespace' && item.object.metadata.name === error.namespace,
    );
    if (!namespace) throw error;
    await applyNamespace(session.cluster, session.environment, namespace.object, commit);
    step.log(`created the namespace ${error.namespace}, where the lease lives (first deploy)`);
    return (await lease.acquire(hooks)) === 'settled';
  }
}

/**
 * The apply lease (cluster/lease.ts): one run at a time applies, waits, verifies and records an
 * environment. While waiting, a run whose commit another run brought live stops waiting. Once
 * held, the run applies the branch head as it is now — it contains this run's commit — after
 * checking that the live revision is in its history (the environment only moves forward along
 * the branch) and that no lock or freeze appeared meanwhile.
 */
const takeTheLease: Step<ReleaseState> = {
  title: 'wait for the apply lease',
  dryRun: 'skip',
  async run(state, step) {
    const { ctx, session } = state;
    const checkout = state.checkout!;
    const name = session.environment.name;
    const commit = state.commit ?? state.revision!;
    state.commit = commit;
    const started = Date.now();
    if (await acquireLease(state, commit, step)) {
      step.detail(
        `${state.revision!.slice(0, 12)} is live and verified already (another gitops run applied it${state.revision === commit ? '' : `; it contains ${commit.slice(0, 12)}`})`,
      );
      return;
    }
    const lease = session.currentLease!;
    const waitedMs = Date.now() - started;
    if (lease.tookOver)
      ctx.reporter.warn(
        `took over the apply lease of ${name} from the ${describeHolder(lease.tookOver)}: it was not renewed for ${lease.tookOver.durationSeconds}s (that run crashed or lost the cluster)`,
      );
    lease.tookOver = undefined;
    // Usually nobody pushed since this run did: asking the remote where the branch is suffices.
    const [head, inventory] = await Promise.all([
      fetchBranchHead(checkout, { have: commit }),
      session.readInventory(),
    ]);
    const live = inventory?.revision;
    if (live && !(await isAncestor(checkout, live, head))) {
      throw blockedError(
        'REVISION_NOT_FORWARD',
        `the live revision ${live.slice(0, 12)} of ${name} is not in the history of the branch head ${head.slice(0, 12)}: applying the head would move ${name} backwards; nothing was applied`,
        {
          hint: `the branch was rewritten (force-pushed) or the inventory is another env repo's; compare gitops status --env ${name} with gitops history --env ${name}`,
          details: { live, head },
        },
      );
    }
    if (head !== commit && checkout.temporary) await checkout.git.run(['reset', '--quiet', '--hard', head]);
    // The head may carry commits made since this run's gates ran: a lock, unsigned commits.
    await regate(state);
    if (head !== commit) await verifyPushedSignatures(state, head);
    if (inventory?.phase === 'applying' || inventory?.phase === 'failed') {
      ctx.reporter.warn(
        `the last ${inventory.failedAction ?? 'deploy'} of ${name} (${live?.slice(0, 12) ?? '?'}) ${inventory.phase === 'applying' ? 'was interrupted while applying' : 'failed'}; this run applies the branch head and completes it`,
      );
    }
    // What was read before the wait is stale once another run applied meanwhile.
    if (!sameInventory(state.live?.inventory, inventory)) delete state.live;
    if (inventory?.verifiedRevision) state.verifiedRevision = inventory.verifiedRevision;
    state.revision = head;
    if (inventory?.phase === 'verified' && live === head) {
      state.settled = true;
      step.detail(`${head.slice(0, 12)} is live and verified already (another gitops run applied it)`);
      return;
    }
    await lease.update({ action: state.action ?? 'deploy', revision: head });
    const waited = waitedMs >= 1000 ? ` after ${Math.round(waitedMs / 1000)}s` : '';
    step.detail(
      head === commit
        ? `held${waited}; applying ${commit.slice(0, 12)}`
        : `held${waited}; the branch moved past ${commit.slice(0, 12)}: applying the branch head ${head.slice(0, 12)}, which contains it`,
    );
  },
};

/** The steps after the lease run only when there is something left to apply. */
const applies = (state: ReleaseState) => !state.settled;

/**
 * The ownership gate on a set about to be pushed (refuses with exit 5); its read of the live
 * objects is kept in `state.live` for the apply. The drift gate's read of a moment ago (only this
 * run's own work since: the bump and the render) answers when it covered these very objects, as
 * for a deploy that only sets images. Reading again would add no guarantee: the apply judges
 * ownership on this same read anyway, after the push and the wait for the lease, and the lease
 * step drops it when another gitops run applied meanwhile (the inventory moved).
 */
export async function judgeOwnership<S extends ReleaseState>(
  state: S,
  desired: readonly DesiredObject[],
): Promise<OwnershipVerdict> {
  const { session } = state;
  const live = await session.liveFor(desired, state.checkout, state.live);
  state.live = live;
  return ownershipGate(compareLive(session.environment, desired, live), Boolean(state.adopt));
}

/** The server-side dry run of a set about to be pushed, as of the head the checkout is on. */
export async function dryRunBeforePush(
  state: ReleaseState,
  rendered: readonly DesiredObject[],
): Promise<DryRunSummary> {
  const { session } = state;
  const head = await state.checkout!.git.head();
  return serverDryRunGate(session.cluster, session.environment, rendered, head);
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
      const desired = await objects(state);
      const verdict = await judgeOwnership(state, desired);
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
      const summary = await dryRunBeforePush(state, await objects(state));
      step.detail(
        `${summary.accepted} object(s) accepted by the API server${summary.awaitingCrd ? `; ${summary.awaitingCrd} wait for the CRD this apply installs` : ''}`,
      );
    },
  };
}

/** Where each desired object was declared, by object key: an apply error names file:line. */
function sourceLookup(objects: readonly DesiredObject[]): SourceOf {
  const sources = new Map(objects.map((item) => [objectKey(item.object), item.source]));
  return (object) => sources.get(objectKey(object));
}

const applyAndPrune: Step<ReleaseState> = {
  title: 'apply and prune',
  dryRun: 'skip',
  when: applies,
  async run(state, step) {
    const { ctx, session } = state;
    const desired = await session.desiredState(state.checkout!, state.revision!);
    state.desired = desired;
    // The live state read for the gates serves here too (one read of the cluster, not two) when
    // it asked for all this revision declares; one that declares more is read anew.
    if (!state.live || !session.liveCovers(state.live, desired.objects))
      state.live = await session.readLive(desired.objects, undefined, state.checkout);
    const before = compareLive(session.environment, desired.objects, state.live);
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
      await jsonPatch(session.cluster, object.live!, operations);
      step.log(`${object.display}: removed ${operations.length / 2} field(s) git does not declare`);
    }
    ctx.reporter.progress?.(
      `${desired.objects.length} object(s)${prune.length ? `, ${prune.length} to prune` : ''}`,
    );
    session.currentLease?.assertHeld();
    state.applying = true;
    const result = await applyEnvironment(session.cluster, session.environment, {
      revision: desired.revision,
      objects: desired.objects.map((item) => item.object),
      prune,
      adopt: [...verdict.adopt, ...verdict.takeOver].map((object) => object.key),
      takeOver: verdict.takeOver.map((object) => object.live!),
      release,
      inventoryNamespace: session.inventoryNamespace,
      ...(before.inventory ? { previous: before.inventory } : {}),
      ...(state.actor ? { actor: state.actor } : {}),
      sourceOf: sourceLookup(desired.objects),
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
  when: applies,
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
    // or the next deploy would verify a rollout nobody watched.
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
      session.cluster.rolloutSource(),
      workloads,
      state.timeoutMs,
      (done, total, failed) =>
        ctx.reporter.progress?.(
          `${done - failed}/${total} workload(s) ready${failed ? `, ${failed} failed` : ''}`,
        ),
      ctx.signal,
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

/**
 * When verify finds differences: were they made by another gitops run (field manager gitops —
 * so no foreign manager — and a revision annotation other than this run's)? Then says which run
 * (from the lease's history) and whether its revision is newer (SUPERSEDED, exit 6) or not
 * (APPLIED_BY_ANOTHER_RUN); never a rollback. Undefined for a person's or a controller's change.
 */
async function changedByAnotherRun(
  state: ReleaseState,
  after: DriftReport,
): Promise<GitopsError | undefined> {
  const ours = state.desired!.revision;
  const differing = after.objects.filter((object) => object.state !== 'in-sync');
  const attributed = differing.filter((object) => object.state !== 'missing');
  const others = new Set(attributed.map((object) => object.liveRevision));
  const byGitops = attributed.every(
    (object) => object.managers.length === 0 && object.liveRevision && object.liveRevision !== ours,
  );
  if (attributed.length === 0 || !byGitops) return undefined;
  const { session } = state;
  const name = session.environment.name;
  const revisions = [...others] as string[];
  const history = (await session.readLease().catch(() => undefined))?.history ?? [];
  const runs = history.filter(
    (entry) => revisions.includes(entry.revision) && entry.identity !== session.currentLease?.identity,
  );
  const who = runs.length
    ? runs
        .map((entry) => `${entry.action} by ${entry.actor ?? entry.identity} at ${entry.acquired}`)
        .join(', ')
    : 'one that did not take the apply lease';
  await fetchBranchHead(state.checkout!).catch(() => undefined);
  const newer = (
    await Promise.all(revisions.map((revision) => contains(state.checkout!, revision, ours)))
  ).every(Boolean);
  const list = revisions.map((revision) => revision.slice(0, 12)).join(', ');
  if (newer) {
    return new GitopsError(
      'SUPERSEDED',
      `right after this run applied ${ours.slice(0, 12)}, another gitops run (${who}) applied ${list}, which is newer and contains it: ${name} runs ${list}`,
      {
        exitCode: ExitCode.Superseded,
        hint: `nothing to roll back; gitops status --env ${name} shows what runs`,
        details: { commit: state.commit ?? ours, revision: revisions[0], appliedBy: 'another-run' },
      },
    );
  }
  return new GitopsError(
    'APPLIED_BY_ANOTHER_RUN',
    `right after this run applied ${ours.slice(0, 12)}, another gitops run (${who}) applied ${list}, which is not newer`,
    {
      hint: `do not roll back; apply the branch head again: gitops deploy --env ${name} --skip-build`,
      details: { revision: ours, others: revisions },
    },
  );
}

const verifyInSync: Step<ReleaseState> = {
  title: 'verify',
  dryRun: 'skip',
  when: applies,
  async run(state, step) {
    const { ctx, session } = state;
    const desired = state.desired!;
    const live = await session.readLive(desired.objects, state.applied!.inventory, state.checkout);
    const after = compareLive(session.environment, desired.objects, live);
    if (!after.inSync) {
      const overtaken = await changedByAnotherRun(state, after);
      if (overtaken) throw overtaken;
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
  when: applies,
  async run(state, step) {
    const { session } = state;
    const revision = state.desired!.revision;
    session.currentLease?.assertHeld();
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
 * Lease → apply → wait → verify → record, shared by deploy, rollback and promote: takes the
 * environment's apply lease (one run at a time; the branch head is applied, never an older
 * revision over a newer one), applies the revision's objects (pruning what left git), waits for
 * every workload whose spec changed, checks that nothing drifts afterwards, and records the
 * revision as verified in the inventory.
 */
export const APPLY_STEPS: readonly Step<ReleaseState>[] = [
  takeTheLease,
  applyAndPrune,
  waitForTheRollout,
  verifyInSync,
  recordVerified,
];
