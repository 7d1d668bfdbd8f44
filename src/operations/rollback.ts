import { parseDuration } from '../config/duration.js';
import type { Context } from '../core/context.js';
import { usageError } from '../core/errors.js';
import type { GateOverride } from '../gates/lock.js';
import type { EnvCheckout } from '../git/checkout.js';
import { commitMessage, TRAILER } from '../git/message.js';
import { type Provenance, readProvenance, sourceAt } from '../git/provenance.js';
import { deepenUntil, resolveRevision } from '../git/revision.js';
import { type EditOutcome, writeAndPush } from '../git/write.js';
import { runSteps, type Step } from '../pipeline/step.js';
import { openSession } from './session.js';
import {
  APPLY_STEPS,
  type ApplyOutcome,
  applyOutcome,
  getEnvRepoStep,
  ownershipStep,
  type ReleaseState,
  recordFailure,
  verifyPushedSignatures,
  verifySignaturesStep,
} from './steps.js';

export interface RestoreResult {
  /** The new commit, or undefined when the branch already had that content. */
  commit?: string;
  /** The commit that is now the branch head for this environment (what gets applied). */
  head: string;
  attempts: number;
}

/** What to return to, and how the commit says why. */
export interface RestoreRequest {
  /** The env-repo commit whose environment directory is restored. */
  target: string;
  /** The commit being undone (auto-rollback): recorded in the Gitops-Reverts trailer. */
  reverts?: string;
  provenance: Provenance;
  reason?: string;
}

export interface RollbackState extends ReleaseState {
  request?: RestoreRequest;
  restored?: RestoreResult;
  /** Unified diff of what a dry run would restore. */
  diff?: string;
}

/**
 * Restores the environment's directory as it was at `target`, as a NEW commit on top of the
 * branch (history is never rewritten), pushed with the write path's retries.
 */
async function restoreRevision(state: RollbackState): Promise<RestoreResult> {
  const { ctx, session, overrides } = state;
  const checkout = state.checkout!;
  const request = state.request!;
  const { environment, config } = session;
  const path = checkout.envPath;
  const { target, reverts } = request;
  const edit = async (): Promise<EditOutcome> => {
    await checkout.git.run(['rm', '-r', '-q', '--ignore-unmatch', '--', path]);
    await checkout.git.run(['checkout', target, '--', path]);
    const status = await checkout.git.output(['status', '--porcelain', '--', path]);
    const subject = `rollback(${environment.name}): to ${target.slice(0, 12)}${reverts ? `, reverting ${reverts.slice(0, 12)}` : ''}`;
    return {
      changed: status !== '',
      files: [path],
      message: commitMessage({
        environment: environment.name,
        action: 'rollback',
        changes: [],
        images: {},
        provenance: request.provenance,
        subject,
        ...(request.reason ? { body: request.reason } : {}),
        extraTrailers: [
          [TRAILER.rollbackTo, target],
          ...(reverts ? ([[TRAILER.reverts, reverts]] as Array<[string, string]>) : []),
          ...overrides,
        ],
      }),
    };
  };
  const result = await writeAndPush(ctx, checkout, config.envRepo, { push: true, edit });
  const head = result.commit ?? (await checkout.git.output(['rev-parse', 'HEAD']));
  return { ...(result.commit ? { commit: result.commit } : {}), head, attempts: result.attempts };
}

/** Writes the restoring commit and pushes it; a dry run shows the diff it would commit. */
function restoreStep(automatic: boolean): Step<RollbackState> {
  return {
    title: automatic ? 'auto-rollback: commit and push the revert' : 'commit and push the rollback',
    dryRun: 'preview',
    async run(state, step) {
      const { target, reverts } = state.request!;
      const restored = await restoreRevision(state);
      state.restored = restored;
      // The rollback's own commit, and any the push landed on, are in the range too.
      if (!automatic) await verifyPushedSignatures(state, restored.head);
      state.revision = restored.head;
      if (automatic)
        step.detail(
          restored.commit
            ? `${restored.commit.slice(0, 12)} reverts ${reverts!.slice(0, 12)}`
            : 'nothing to revert',
        );
      else if (restored.commit)
        step.detail(`${restored.commit.slice(0, 12)} restores ${target.slice(0, 12)}`);
      else step.skip(`${state.checkout!.branch} already has the content of ${target.slice(0, 12)}`);
    },
    async preview(state, step) {
      const checkout = state.checkout!;
      const { target } = state.request!;
      const diff = (await checkout.git.read(['diff', 'HEAD', target, '--', checkout.envPath])).stdout;
      state.diff = diff;
      if (diff) state.ctx.reporter.show({ kind: 'diff', text: diff });
      step.skip(
        diff
          ? `dry run: a commit would restore ${checkout.envPath} as it was at ${target.slice(0, 12)}`
          : `${checkout.branch} already has the content of ${target.slice(0, 12)}`,
      );
    },
  };
}

/**
 * The rollback operation on an open env repo, from the state of the run it follows: restore
 * `target` in a new commit, then apply, wait, verify and record (rollBack); a failure after the
 * push is recorded in the inventory. Deploy's auto-rollback is this operation with `reverts` set;
 * `restored` is set on the state once the commit is on the branch.
 */
export function startRollback(state: ReleaseState, request: RestoreRequest): RollbackState {
  // A fresh state on the same session and checkout: nothing read for the run it undoes is reused.
  const rollback: RollbackState = {
    ctx: state.ctx,
    session: state.session,
    overrides: [],
    timeoutMs: state.timeoutMs,
    request,
    ...(state.checkout ? { checkout: state.checkout } : {}),
    ...(state.verifiedRevision ? { verifiedRevision: state.verifiedRevision } : {}),
    ...(state.actor ? { actor: state.actor } : {}),
  };
  return rollback;
}

export async function rollBack(rollback: RollbackState): Promise<void> {
  const automatic = rollback.request?.reverts !== undefined;
  await runSteps(
    rollback.ctx,
    [restoreStep(automatic), ...APPLY_STEPS],
    rollback,
    recordFailure(automatic ? 'auto-rollback' : 'rollback'),
  );
}

export interface RollbackOptions extends GateOverride {
  env: string;
  /** Take over objects another owner manages; default: environments.<env>.adopt. */
  adopt?: boolean;
  /** The revision to return to; default: the previous deployed one (from the inventory). */
  sha?: string;
  /** How long to wait for the rollout; default: environments.<env>.timeout. */
  timeoutMs?: number;
  reason?: string;
}

export interface RollbackResult extends Partial<Omit<ApplyOutcome, 'revision'>> {
  environment: string;
  target: string;
  commit: string | null;
  /** The branch head after the rollback (the branch head as it is, in a dry run). */
  revision: string;
  attempts?: number;
  verified: boolean;
  dryRun?: true;
  diff?: string;
}

/** Checks a rollback target: it exists, the branch reaches it, and it has the environment. */
async function validateTarget(ctx: Context, checkout: EnvCheckout, ref: string): Promise<string> {
  const sha = await resolveRevision(ctx, checkout, ref);
  const reachable = async () =>
    (await checkout.git.read(['merge-base', '--is-ancestor', sha, 'HEAD'], { allowFailure: true }))
      .exitCode === 0;
  if (!(await deepenUntil(checkout, reachable))) {
    throw usageError('REVISION_NOT_ON_BRANCH', `${ref} is not in the history of ${checkout.branch}`, {
      hint: `roll back to a commit of ${checkout.branch} (see gitops history)`,
    });
  }
  const present = await checkout.git.read(['cat-file', '-e', `${sha}:${checkout.envPath}`], {
    allowFailure: true,
  });
  if (present.exitCode !== 0) {
    throw usageError('REVISION_WITHOUT_ENV', `${checkout.envPath} does not exist at ${sha.slice(0, 12)}`, {
      hint: 'pick a revision at which the environment existed',
    });
  }
  return sha;
}

function checkTargetStep(options: RollbackOptions): Step<RollbackState> {
  return {
    title: 'check the target revision',
    dryRun: 'run',
    async run(state, step) {
      let ref = options.sha;
      if (!ref) {
        ref = (await state.session.readInventory())?.previousRevision;
        if (!ref) {
          throw usageError(
            'NO_PREVIOUS_REVISION',
            `no previous deployed revision of ${state.session.environment.name} is recorded`,
            { hint: 'name the revision: gitops rollback <sha> --env <env> (see gitops history)' },
          );
        }
        step.log(`previous deployed revision: ${ref.slice(0, 12)}`);
      }
      const target = await validateTarget(state.ctx, state.checkout!, ref);
      // The run is this one (actor, build URL); the source is what built the revision restored.
      const provenance = {
        ...(await readProvenance(state.ctx, state.session.config.dir)),
        ...(await sourceAt(state.checkout!, target, state.checkout!.envPath)),
      };
      state.request = { target, provenance, ...(options.reason ? { reason: options.reason } : {}) };
      state.actor = provenance.actor;
      step.detail(target.slice(0, 12));
    },
  };
}

/** `gitops rollback [sha] --env`: a forward commit restoring the environment, applied, waited for and verified. */
export async function runRollback(ctx: Context, options: RollbackOptions): Promise<RollbackResult> {
  const session = await openSession(ctx, options.env);
  const { environment } = session;
  const state: RollbackState = {
    ctx,
    session,
    overrides: [],
    adopt: options.adopt ?? environment.adopt,
    timeoutMs:
      options.timeoutMs ?? parseDuration(environment.timeout, `environments.${environment.name}.timeout`),
  };
  await runSteps(
    ctx,
    [
      getEnvRepoStep(options),
      verifySignaturesStep(async () => (await session.readInventory())?.verifiedRevision),
      checkTargetStep(options),
      ownershipStep<RollbackState>(
        async (current) => (await session.desiredState(current.checkout!, current.request!.target)).objects,
      ),
      restoreStep(false),
      ...APPLY_STEPS,
    ],
    state,
    recordFailure('rollback'),
  );
  const target = state.request!.target;
  if (ctx.dryRun) {
    const head = await state.checkout!.git.output(['rev-parse', 'HEAD']);
    ctx.reporter.success(
      `dry run: would roll back ${environment.name} to ${target.slice(0, 12)}; nothing was pushed or applied`,
    );
    return {
      environment: environment.name,
      target,
      commit: null,
      revision: head,
      verified: false,
      dryRun: true,
      diff: state.diff ?? '',
    };
  }
  const restored = state.restored!;
  ctx.reporter.success(
    `${environment.name} rolled back to ${target.slice(0, 12)} (commit ${restored.head.slice(0, 12)})`,
  );
  const { revision: _revision, ...outcome } = applyOutcome(state);
  return {
    environment: environment.name,
    target,
    commit: restored.commit ?? null,
    revision: restored.head,
    attempts: restored.attempts,
    ...outcome,
  };
}
