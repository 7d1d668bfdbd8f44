import { parseDuration } from '../config/duration.js';
import type { Context } from '../core/context.js';
import { blockedError, GitopsError, usageError } from '../core/errors.js';
import type { GateOverride } from '../gates/lock.js';
import { sameEnvironment } from '../git/ancestry.js';
import { type EnvCheckout, envPathOf, widenSparseCheckout } from '../git/checkout.js';
import { commitMessage, TRAILER } from '../git/message.js';
import { type Provenance, readProvenance, sourceAt } from '../git/provenance.js';
import { deepenUntil, inputsAt, resolveRevision } from '../git/revision.js';
import { filesAt } from '../git/tree.js';
import { allowedKeys, verifyRollbackTarget } from '../git/verify.js';
import { type EditOutcome, writeAndPush } from '../git/write.js';
import type { DesiredObject } from '../kube/objects.js';
import { isCoveredBy } from '../manifests/inputs.js';
import { runSteps, type Step } from '../pipeline/step.js';
import { renderDifferences } from '../render/render.js';
import { openSession } from './session.js';
import {
  APPLY_STEPS,
  type ApplyOutcome,
  applyOutcome,
  getEnvRepoStep,
  nothingApplied,
  ownershipStep,
  type ReleaseState,
  recordFailure,
  regate,
  serverDryRunStep,
  supersededError,
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

/** What a rollback restores, learnt before anything is written. */
export interface RestorePlan {
  /** The environment's render inputs at the target and at the head: what is made as at the target. */
  paths: string[];
  /** Files of those paths that differ between the head and the target. */
  changed: string[];
  /** The target's render: what the environment must render once restored. */
  objects: DesiredObject[];
}

export interface RollbackState extends ReleaseState {
  request?: RestoreRequest;
  restore?: RestorePlan;
  restored?: RestoreResult;
  /** Unified diff of what a dry run would restore. */
  diff?: string;
}

/** A file a rollback would change that other environments render from too. */
export interface SharedFile {
  file: string;
  environments: string[];
}

/**
 * The changed files that other environments of the env repo read as well (at the head): restoring
 * them changes what those environments render.
 */
async function sharedFiles(
  state: RollbackState,
  head: string,
  changed: readonly string[],
): Promise<SharedFile[]> {
  const { session } = state;
  const checkout = state.checkout!;
  const others = Object.values(session.config.environments).filter(
    (environment) => environment.name !== session.environment.name,
  );
  const closures = await Promise.all(
    others.map(async (environment) => ({
      name: environment.name,
      paths: (await inputsAt(checkout, head, environment, envPathOf(environment))).paths,
    })),
  );
  return changed
    .map((file) => ({
      file,
      environments: closures
        .filter((closure) => closure.paths.some((path) => isCoveredBy(file, path)))
        .map((closure) => closure.name),
    }))
    .filter((shared) => shared.environments.length > 0);
}

/**
 * Learns what the rollback restores: the environment's render inputs at the target and at the
 * head (a base, a component, a chart, values files, not only its directory), which of their files
 * changed, whether other environments read any of those (refused, exit 5, unless
 * `--include-shared`), and the target's render, which the restored tree must reproduce.
 */
function planRestoreStep(includeShared: boolean): Step<RollbackState> {
  return {
    title: 'plan the restore',
    dryRun: 'run',
    async run(state, step) {
      const { ctx, session } = state;
      const checkout = state.checkout!;
      const { target } = state.request!;
      const head = await checkout.git.head();
      const paths = await session.closure(checkout, [target, head]);
      const changed = (await checkout.git.output(['diff', '--name-only', head, target, '--', ...paths]))
        .split('\n')
        .filter(Boolean);
      const shared = await sharedFiles(state, head, changed);
      const lines = shared.map((each) => `${each.file} (also read by ${each.environments.join(', ')})`);
      if (shared.length > 0 && !includeShared) {
        throw blockedError(
          'ROLLBACK_SHARED_FILES',
          `rolling ${session.environment.name} back to ${target.slice(0, 12)} would change files other environments render from:\n${lines.join('\n')}`,
          {
            hint: 'roll back with --include-shared to restore them too (the other environments then differ from git until they are deployed), or change the files in a commit of your own',
            details: { shared },
          },
        );
      }
      if (shared.length > 0)
        ctx.reporter.warn(`--include-shared: restoring files other environments read:\n${lines.join('\n')}`);
      const desired = await session.desiredState(checkout, target);
      state.restore = { paths, changed, objects: desired.objects };
      step.detail(`${changed.length} file(s) differ from ${target.slice(0, 12)} in ${paths.join(', ')}`);
    },
  };
}

/**
 * Makes everything the environment renders from (its render inputs at the target and at the head)
 * as it was at `target`, as a NEW commit on top of the branch (history is never rewritten),
 * pushed with the write path's retries. Before each commit the restored tree is rendered and must
 * render what the target renders; otherwise nothing is committed.
 */
async function restoreRevision(state: RollbackState): Promise<RestoreResult> {
  const { ctx, session, overrides } = state;
  const checkout = state.checkout!;
  const request = state.request!;
  const plan = state.restore!;
  const { environment, config } = session;
  const { target, reverts } = request;
  const atTarget = filesAt(checkout.git, target);
  const edit = async (): Promise<EditOutcome> => {
    await widenSparseCheckout(checkout, plan.paths);
    // Removals are staged by `git rm`; what the target has is staged by the checkout.
    const restored: string[] = [];
    for (const path of plan.paths) {
      await checkout.git.run(['rm', '-r', '-q', '--ignore-unmatch', '--', path]);
      if (!(await atTarget.kind(path))) continue;
      await checkout.git.run(['checkout', target, '--', path]);
      restored.push(path);
    }
    const status = await checkout.git.output(['status', '--porcelain', '--', ...plan.paths]);
    const differing = renderDifferences(await session.render(checkout), plan.objects);
    if (differing.length > 0) {
      throw new GitopsError(
        'ROLLBACK_RENDER_DIFFERS',
        `restoring the files of ${target.slice(0, 12)} does not make ${environment.name} render as it did then (${differing.join(', ')}); nothing was committed`,
        {
          hint: 'something the render reads is not in the env repo at that commit (a remote resource, a chart dependency): roll forward with a fix instead',
          details: { objects: differing },
        },
      );
    }
    const subject = `rollback(${environment.name}): to ${target.slice(0, 12)}${reverts ? `, reverting ${reverts.slice(0, 12)}` : ''}`;
    return {
      changed: status !== '',
      files: restored,
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
  const result = await writeAndPush(ctx, checkout, config.envRepo, {
    push: true,
    edit,
    check: () => regate(state),
  });
  const head = result.commit ?? (await checkout.git.head());
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
      const paths = state.restore!.paths;
      const diff = (await checkout.git.read(['diff', 'HEAD', target, '--', ...paths])).stdout;
      state.diff = diff;
      if (diff) state.ctx.reporter.show({ kind: 'diff', text: diff });
      step.skip(
        diff
          ? `dry run: a commit would restore ${paths.join(', ')} as they were at ${target.slice(0, 12)}`
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
    action: 'auto-rollback',
    overrides: [],
    timeoutMs: state.timeoutMs,
    overwrite: true,
    request,
    ...(state.checkout ? { checkout: state.checkout } : {}),
    ...(state.verifiedRevision ? { verifiedRevision: state.verifiedRevision } : {}),
    ...(state.actor ? { actor: state.actor } : {}),
  };
  return rollback;
}

/** Whether the revision live has the environment exactly as the rollback restored it. */
export function rollbackCarried(state: RollbackState): Promise<boolean> {
  return sameEnvironment(state.checkout!, state.commit ?? state.revision!, state.revision!);
}

/** Plan → server dry run of the target's render → commit and push → apply, wait, verify, record. */
function restoreSteps(automatic: boolean, includeShared: boolean): Step<RollbackState>[] {
  return [
    planRestoreStep(includeShared),
    // An auto-rollback returns to what this environment ran a moment ago: its objects are its own.
    ...(automatic ? [] : [ownershipStep<RollbackState>(async (state) => state.restore!.objects)]),
    serverDryRunStep<RollbackState>(async (state) => state.restore!.objects),
    restoreStep(automatic),
    ...APPLY_STEPS,
  ];
}

export async function rollBack(rollback: RollbackState): Promise<void> {
  const automatic = rollback.request?.reverts !== undefined;
  await runSteps(
    rollback.ctx,
    restoreSteps(automatic, false),
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
  /** Restore files that other environments render from too (refused without it). */
  includeShared?: boolean;
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
      const keys = allowedKeys(state.session.config);
      if (keys) {
        const head = await state.checkout!.git.head();
        await verifyRollbackTarget(state.checkout!, keys, target, head, state.verifiedRevision);
      }
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
    action: 'rollback',
    overrides: [],
    adopt: options.adopt ?? environment.adopt,
    overwrite: true,
    timeoutMs:
      options.timeoutMs ?? parseDuration(environment.timeout, `environments.${environment.name}.timeout`),
  };
  try {
    await runSteps(
      ctx,
      [
        getEnvRepoStep(options),
        verifySignaturesStep(async () => (await session.readInventory())?.verifiedRevision),
        checkTargetStep(options),
        ...restoreSteps(false, Boolean(options.includeShared)),
      ],
      state,
      recordFailure('rollback'),
    );
  } catch (error) {
    throw state.revision && !state.applying ? nothingApplied(state, error) : error;
  }
  const target = state.request!.target;
  if (ctx.dryRun) {
    const head = await state.checkout!.git.head();
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
  const superseded = await supersededError(
    state,
    () => rollbackCarried(state),
    'changes the environment again',
  );
  if (superseded) throw superseded;
  ctx.reporter.success(
    `${environment.name} rolled back to ${target.slice(0, 12)} (commit ${restored.head.slice(0, 12)}${state.revision !== restored.head ? `, live in the branch head ${state.revision!.slice(0, 12)}` : ''})`,
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
