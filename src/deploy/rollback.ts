import type { CommandOutcome } from '../cli/action.js';
import type { Context } from '../cli/context.js';
import { readInventory } from '../cluster/inventory.js';
import { type EnvironmentSession, openSession } from '../cluster/session.js';
import { parseDuration } from '../config/duration.js';
import { usageError } from '../core/errors.js';
import { type EnvCheckout, openEnvRepo } from '../git/checkout.js';
import { commitMessage, TRAILER } from '../git/message.js';
import { type Provenance, readProvenance } from '../git/provenance.js';
import { deepenUntil, resolveRevision } from '../git/revision.js';
import { allowedSignersFile, verifyCommitRange } from '../git/verify.js';
import { type EditOutcome, writeAndPush } from '../git/write.js';
import { checkLockAndFreeze, checkOverrideOptions } from './lock.js';
import { type ApplyOutcome, applyAndVerify, inventoryNs, renderAt } from './pipeline.js';

export interface RestoreResult {
  /** The new commit, or undefined when the branch already had that content. */
  commit?: string;
  /** The commit that is now the branch head for this environment (what gets applied). */
  head: string;
  attempts: number;
}

/**
 * Restores the environment's directory as it was at `target`, as a NEW commit on top of the
 * branch (history is never rewritten), pushed with the write path's retries.
 */
export async function restoreRevision(
  ctx: Context,
  session: EnvironmentSession,
  checkout: EnvCheckout,
  target: string,
  options: {
    reverts?: string;
    provenance: Provenance;
    reason?: string;
    /** Extra trailers, e.g. Gitops-Override of a forced rollback. */
    trailers?: Array<[string, string]>;
  },
): Promise<RestoreResult> {
  const { environment, config } = session;
  const path = checkout.envPath;
  const edit = async (): Promise<EditOutcome> => {
    await checkout.git.run(['rm', '-r', '-q', '--ignore-unmatch', '--', path]);
    await checkout.git.run(['checkout', target, '--', path]);
    const status = await checkout.git.output(['status', '--porcelain', '--', path]);
    const subject = `rollback(${environment.name}): to ${target.slice(0, 12)}${options.reverts ? `, reverting ${options.reverts.slice(0, 12)}` : ''}`;
    return {
      changed: status !== '',
      files: [path],
      message: commitMessage({
        environment: environment.name,
        action: 'rollback',
        changes: [],
        images: {},
        provenance: options.provenance,
        subject,
        ...(options.reason ? { body: options.reason } : {}),
        extraTrailers: [
          [TRAILER.rollbackTo, target],
          ...(options.reverts ? ([[TRAILER.reverts, options.reverts]] as Array<[string, string]>) : []),
          ...(options.trailers ?? []),
        ],
      }),
    };
  };
  const result = await writeAndPush(ctx, checkout, config.envRepo, { push: true, edit });
  const head = result.commit ?? (await checkout.git.output(['rev-parse', 'HEAD']));
  return { ...(result.commit ? { commit: result.commit } : {}), head, attempts: result.attempts };
}

export interface RollbackOptions {
  env: string;
  sha?: string;
  timeout?: string;
  reason?: string;
  /** Override a lock or a freeze window; needs `reason`. */
  force?: boolean;
}

/** Checks a rollback target: it exists, the branch reaches it, and it has the environment. */
async function validateTarget(ctx: Context, checkout: EnvCheckout, ref: string): Promise<string> {
  const sha = await resolveRevision(ctx, checkout, ref);
  const reachable = async () =>
    (await checkout.git.run(['merge-base', '--is-ancestor', sha, 'HEAD'], { allowFailure: true }))
      .exitCode === 0;
  if (!(await deepenUntil(checkout, reachable))) {
    throw usageError('REVISION_NOT_ON_BRANCH', `${ref} is not in the history of ${checkout.branch}`, {
      hint: `roll back to a commit of ${checkout.branch} (see gitops history)`,
    });
  }
  const present = await checkout.git.run(['cat-file', '-e', `${sha}:${checkout.envPath}`], {
    allowFailure: true,
  });
  if (present.exitCode !== 0) {
    throw usageError('REVISION_WITHOUT_ENV', `${checkout.envPath} does not exist at ${sha.slice(0, 12)}`, {
      hint: 'pick a revision at which the environment existed',
    });
  }
  return sha;
}

/** `gitops rollback [sha] --env`: a forward commit restoring the environment, applied, waited for and verified. */
export async function runRollback(ctx: Context, options: RollbackOptions): Promise<CommandOutcome> {
  checkOverrideOptions(options);
  const session = await openSession(ctx, options.env);
  const { reporter } = ctx;
  const timeoutMs = parseDuration(options.timeout ?? session.environment.timeout, '--timeout');
  const allowedSigners = allowedSignersFile(session.config);
  let overrides: Array<[string, string]> = [];
  const checkout = await reporter.step('get the env repo', async (step) => {
    const opened = await openEnvRepo(ctx, session.config, session.environment);
    overrides = await checkLockAndFreeze(ctx, session.config, session.environment, opened, options);
    step.detail(`${opened.remote ?? opened.dir} (${opened.branch})`);
    return opened;
  });
  let verifiedRevision: string | undefined;
  if (allowedSigners) {
    await reporter.step('verify signatures', async (step) => {
      const inventory = await readInventory(session.kubectl, session.environment, inventoryNs(session));
      verifiedRevision = inventory?.verifiedRevision;
      const head = await checkout.git.output(['rev-parse', 'HEAD']);
      const checked = await verifyCommitRange(ctx, checkout, allowedSigners, head, verifiedRevision);
      step.detail(
        `${checked.commits.length} commit(s) since ${verifiedRevision?.slice(0, 12) ?? 'the start'} signed by allowed keys`,
      );
    });
  }
  const target = await reporter.step('check the target revision', async (step) => {
    let ref = options.sha;
    if (!ref) {
      const inventory = await readInventory(session.kubectl, session.environment, inventoryNs(session));
      ref = inventory?.previousRevision;
      if (!ref) {
        throw usageError(
          'NO_PREVIOUS_REVISION',
          `no previous deployed revision of ${session.environment.name} is recorded`,
          {
            hint: 'name the revision: gitops rollback <sha> --env <env> (see gitops history)',
          },
        );
      }
      step.log(`previous deployed revision: ${ref.slice(0, 12)}`);
    }
    const sha = await validateTarget(ctx, checkout, ref);
    step.detail(sha.slice(0, 12));
    return sha;
  });
  const provenance = await readProvenance(ctx, session.config.dir);
  const restored = await reporter.step('commit and push the rollback', async (step) => {
    const result = await restoreRevision(ctx, session, checkout, target, {
      provenance,
      ...(options.reason ? { reason: options.reason } : {}),
      ...(overrides.length ? { trailers: overrides } : {}),
    });
    if (result.commit) step.detail(`${result.commit.slice(0, 12)} restores ${target.slice(0, 12)}`);
    else step.skip(`${checkout.branch} already has the content of ${target.slice(0, 12)}`);
    return result;
  });
  // The rollback's own commit, and any the push landed on, are in the range too.
  if (allowedSigners) await verifyCommitRange(ctx, checkout, allowedSigners, restored.head, verifiedRevision);
  const desired = await renderAt(ctx, session, checkout, restored.head);
  const outcome: ApplyOutcome = await applyAndVerify(ctx, session, desired, {
    timeoutMs,
    ...(provenance.actor ? { actor: provenance.actor } : {}),
  });
  reporter.success(
    `${session.environment.name} rolled back to ${target.slice(0, 12)} (commit ${restored.head.slice(0, 12)})`,
  );
  return {
    result: {
      environment: session.environment.name,
      target,
      commit: restored.commit ?? null,
      revision: restored.head,
      attempts: restored.attempts,
      applied: outcome.applied,
      pruned: outcome.pruned,
      rollouts: outcome.rollouts,
      verified: outcome.verified,
    },
  };
}
