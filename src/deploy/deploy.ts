import { type BumpEdit, editImages } from '../bump/bump.js';
import type { CommandOutcome } from '../cli/action.js';
import type { Context } from '../cli/context.js';
import { readInventory } from '../cluster/inventory.js';
import { renderEnvironment } from '../cluster/render.js';
import { openSession } from '../cluster/session.js';
import { parseDuration } from '../config/duration.js';
import { blockedError, GitopsError, isGitopsError, usageError } from '../core/errors.js';
import { ExitCode } from '../core/exit-codes.js';
import { compareLive, type LiveState, readLive } from '../drift/detect.js';
import { driftDocument, formatDrift } from '../drift/format.js';
import { openEnvRepo } from '../git/checkout.js';
import { readProvenance } from '../git/provenance.js';
import { allowedSignersFile, verifyCommitRange } from '../git/verify.js';
import { checkPushAccess, writeAndPush } from '../git/write.js';
import { parseImageUpdate } from '../manifests/arguments.js';
import type { ImageUpdate } from '../manifests/types.js';
import { unifiedDiff } from '../output/diff.js';
import { checkFreeze, checkLockAndFreeze, checkOverrideOptions } from './lock.js';
import {
  type ApplyOutcome,
  applyAndVerify,
  inventoryNs,
  RolloutFailure,
  recordFailure,
  renderAt,
} from './pipeline.js';
import { checkPolicies, policyError } from './policy.js';
import { restoreRevision } from './rollback.js';

export type OnDrift = 'fail' | 'warn' | 'overwrite';

export interface DeployOptions {
  env: string;
  images: string[];
  skipBuild: boolean;
  rebuild?: boolean;
  onDrift: OnDrift;
  timeout?: string;
  autoRollback?: boolean;
  /** `promote` when called by gitops promote (commit trailers say so). */
  action?: 'deploy' | 'promote';
  /** Extra commit trailers, e.g. Gitops-Promoted-From. */
  trailers?: Array<[string, string]>;
  /** Override a lock or a freeze window; needs `reason` (recorded in Gitops-Override trailers). */
  force?: boolean;
  reason?: string;
}

interface ImageRecord {
  name: string;
  old?: string;
  new: string;
}

function summaryTable(
  environment: string,
  images: ImageRecord[],
  revision: string | undefined,
  durationMs: number,
  result: string,
): string {
  const rows = images.length
    ? images.map(
        (image) =>
          `| ${environment} | ${image.name}: ${image.old ?? '—'} → ${image.new} | ${revision?.slice(0, 12) ?? '—'} | ${(durationMs / 1000).toFixed(1)}s | ${result} |`,
      )
    : [
        `| ${environment} | (no image change) | ${revision?.slice(0, 12) ?? '—'} | ${(durationMs / 1000).toFixed(1)}s | ${result} |`,
      ];
  return `### gitops deploy\n\n| environment | image | env sha | duration | result |\n|---|---|---|---|---|\n${rows.join('\n')}`;
}

/**
 * `gitops deploy`: preflight → build → drift gate → bump → policy gate → commit and push →
 * apply and prune → wait → verify → record. A failure after the push exits 4 and either rolls
 * back through git (--auto-rollback) or prints the exact rollback command.
 */
export async function runDeploy(ctx: Context, options: DeployOptions): Promise<CommandOutcome> {
  const started = Date.now();
  const { reporter } = ctx;
  checkOverrideOptions(options);
  const session = await openSession(ctx, options.env);
  const { config, environment, kubectl } = session;
  const timeoutMs = parseDuration(options.timeout ?? environment.timeout, '--timeout');
  const autoRollback = options.autoRollback ?? environment.autoRollback;
  const explicit = options.images.map((argument) => parseImageUpdate(argument, config.images));
  const allowedSigners = allowedSignersFile(config);
  const images: ImageRecord[] = [];
  let revision: string | undefined;
  const finish = (result: string) =>
    reporter.summary(summaryTable(environment.name, images, revision, Date.now() - started, result));

  try {
    const preflight = await reporter.step('preflight', async (step) => {
      // Independent probes, at once: tool versions, the cluster, and the last deploy's record.
      const [gitVersion, versions, inventory] = await Promise.all([
        ctx.exec.run('git', ['--version'], { cwd: config.dir }).then((result) => result.stdout.trim()),
        kubectl.version(),
        readInventory(kubectl, environment, inventoryNs(session)),
      ]);
      const git = gitVersion;
      if (!versions.server)
        throw new GitopsError('CLUSTER_UNREACHABLE', 'the cluster did not report a version');
      if (inventory?.phase === 'applying' || inventory?.phase === 'failed') {
        reporter.warn(
          `the last deploy of ${environment.name} (${inventory.revision?.slice(0, 12) ?? '?'}) ${inventory.phase === 'applying' ? 'was interrupted while applying' : 'failed'}; this deploy applies the branch head and completes it`,
        );
      }
      // A freeze needs no env repo: refuse before a build, not after it.
      checkFreeze(ctx, config, environment, options);
      step.detail(`${git}, kubectl ${versions.client ?? '?'} → server ${versions.server}`);
      return { inventory };
    });

    const updates: ImageUpdate[] = [...explicit];
    await reporter.step('build', async (step) => {
      const toBuild = config.images.filter((image) => !explicit.some((update) => update.name === image.name));
      if (options.skipBuild || toBuild.length === 0) {
        step.skip(options.skipBuild ? '--skip-build' : 'every image given with --image');
        return;
      }
      const { buildImages } = await import('../build/build.js');
      const built = await buildImages(ctx, config, {
        images: toBuild.map((image) => image.name),
        rebuild: Boolean(options.rebuild),
        buildArgs: {},
        push: true,
      });
      const { parseImageReference } = await import('../images/reference.js');
      for (const image of built)
        updates.push({ name: image.name, reference: parseImageReference(image.reference) });
      step.detail(built.map((image) => `${image.name} ${image.status}`).join(', '));
    });

    let overrides: Array<[string, string]> = [];
    const checkout = await reporter.step('get the env repo', async (step) => {
      const opened = await openEnvRepo(ctx, config, environment);
      await checkPushAccess(opened);
      overrides = await checkLockAndFreeze(ctx, config, environment, opened, options);
      step.detail(`${opened.remote ?? opened.dir} (${opened.branch})`);
      return opened;
    });

    const deployed =
      preflight.inventory?.phase === 'applied' || preflight.inventory?.phase === 'verified'
        ? preflight.inventory.revision
        : undefined;
    // One read of the live state serves the drift gate and the apply's plan (what changed, what to prune).
    let live: LiveState | undefined;
    await reporter.step('drift check', async (step) => {
      if (!deployed) {
        step.skip(
          preflight.inventory
            ? 'the last deploy did not finish; nothing verified to compare with'
            : 'nothing deployed yet',
        );
        return;
      }
      const objects = await renderAt(ctx, session, checkout, deployed);
      live = await readLive(kubectl, environment, objects.objects, inventoryNs(session), {
        inventory: preflight.inventory ?? null,
      });
      const drift = compareLive(environment, objects.objects, live);
      if (drift.inSync) {
        step.detail(`in sync with the deployed revision ${deployed.slice(0, 12)}`);
        return;
      }
      reporter.print(formatDrift(drift, reporter.color));
      if (options.onDrift === 'fail') {
        throw blockedError(
          'DRIFT',
          `${environment.name} has drifted from the deployed revision ${deployed.slice(0, 12)}; nothing was changed`,
          {
            hint: 'find out who changed what (above), then deploy with --on-drift overwrite to put git back, or --on-drift warn',
            details: driftDocument(drift),
          },
        );
      }
      if (options.onDrift === 'warn')
        reporter.warn(`${environment.name} has drifted; deploying anyway (--on-drift warn)`);
      step.detail(
        options.onDrift === 'overwrite' ? 'drift found; this deploy overwrites it' : 'drift found (warn)',
      );
    });

    const verifiedRevision = preflight.inventory?.verifiedRevision ?? deployed;
    if (allowedSigners) {
      await reporter.step('verify signatures', async (step) => {
        const head = await checkout.git.output(['rev-parse', 'HEAD']);
        const checked = await verifyCommitRange(ctx, checkout, allowedSigners, head, verifiedRevision);
        step.detail(
          `${checked.commits.length} commit(s) since ${verifiedRevision?.slice(0, 12) ?? 'the start'} signed by allowed keys`,
        );
      });
    }

    const provenance = await readProvenance(ctx, config.dir);
    const trailers = [...(options.trailers ?? []), ...overrides];
    const editOptions = {
      action: options.action ?? 'deploy',
      provenance,
      ...(trailers.length ? { trailers } : {}),
    } as const;
    let firstEdit: BumpEdit | undefined;
    await reporter.step('bump images', async (step) => {
      if (updates.length === 0) {
        step.skip('no image to change; deploying the branch head');
        return;
      }
      firstEdit = await editImages(checkout, environment, updates, editOptions);
      for (const change of firstEdit.update.changes)
        step.log(`${change.file}:${change.line} ${change.old} → ${change.new}`);
      step.detail(firstEdit.changed ? `${firstEdit.update.changes.length} change(s)` : 'already up to date');
    });

    await reporter.step('policy gate', async (step) => {
      const objects = await renderEnvironment(ctx, environment, checkout, kubectl, session.namespace);
      const violations = checkPolicies(environment, objects);
      if (violations.length > 0) throw policyError(violations);
      step.detail(`${objects.length} object(s) pass`);
    });

    if (ctx.dryRun) {
      const diff = (firstEdit?.update.files ?? [])
        .map((file) =>
          unifiedDiff(file.before, file.after, {
            from: `a/${checkout.envPath}/${file.file}`,
            to: `b/${checkout.envPath}/${file.file}`,
          }),
        )
        .join('');
      if (diff) reporter.print(diff);
      reporter.success(
        `dry run: ${firstEdit?.update.changes.length ?? 0} change(s) would be committed to ${environment.name}; nothing was pushed or applied`,
      );
      return {
        result: {
          environment: environment.name,
          dryRun: true,
          changes: firstEdit?.update.changes ?? [],
          diff,
        },
      };
    }

    revision = await reporter.step('commit and push', async (step) => {
      if (!firstEdit?.changed) {
        step.skip('nothing to commit');
        return checkout.git.output(['rev-parse', 'HEAD']);
      }
      const pending = firstEdit;
      const written = await writeAndPush<BumpEdit>(ctx, checkout, config.envRepo, {
        push: true,
        edit: async (attempt) => {
          if (attempt === 1) return pending;
          step.log(`remote moved; re-applying the edit on the new head (attempt ${attempt})`);
          const again = await editImages(checkout, environment, updates, editOptions);
          const violations = checkPolicies(
            environment,
            await renderEnvironment(ctx, environment, checkout, kubectl, session.namespace),
          );
          if (violations.length > 0) throw policyError(violations);
          return again;
        },
      });
      for (const change of written.outcome.update.changes)
        images.push({ name: change.image, old: change.old, new: change.new });
      const head = written.commit ?? (await checkout.git.output(['rev-parse', 'HEAD']));
      // The push may have landed on commits others pushed meanwhile, and adds gitops' own: check again.
      if (allowedSigners) await verifyCommitRange(ctx, checkout, allowedSigners, head, verifiedRevision);
      step.detail(
        written.commit
          ? `${head.slice(0, 12)}${written.attempts > 1 ? ` after ${written.attempts} attempts` : ''}`
          : 'the remote already had these images',
      );
      return head;
    });
    const pushed = revision;

    let outcome: ApplyOutcome;
    try {
      outcome = await applyAndVerify(ctx, session, await renderAt(ctx, session, checkout, pushed), {
        timeoutMs,
        ...(live ? { live } : {}),
        ...(provenance.actor ? { actor: provenance.actor } : {}),
      });
    } catch (error) {
      const failure = isGitopsError(error)
        ? error
        : new GitopsError('DEPLOY_FAILED', String(error), { cause: error });
      if (failure.exitCode === ExitCode.Interrupted || failure.exitCode === ExitCode.Usage) throw failure;
      await recordFailure(session, pushed);
      const previous = preflight.inventory?.verifiedRevision ?? deployed;
      if (!previous) {
        throw new RolloutFailure(
          `${failure.message}\nthere is no earlier verified revision of ${environment.name} to return to`,
          {},
          'fix the manifests and deploy again',
        );
      }
      if (!autoRollback) {
        throw new RolloutFailure(
          `${failure.message}\n${environment.name} is on ${pushed.slice(0, 12)} (pushed, not healthy)`,
          {},
          `roll back with: gitops rollback ${previous.slice(0, 12)} --env ${environment.name}`,
        );
      }
      reporter.warn(
        `deploy failed (${failure.message.split('\n')[0]}); rolling back to ${previous.slice(0, 12)} (--auto-rollback)`,
      );
      const restored = await reporter.step('auto-rollback: commit and push the revert', async (step) => {
        const result = await restoreRevision(ctx, session, checkout, previous, {
          reverts: pushed,
          provenance,
          reason: `Automatic rollback: ${failure.message.split('\n')[0]}`,
        });
        step.detail(
          result.commit
            ? `${result.commit.slice(0, 12)} reverts ${pushed.slice(0, 12)}`
            : 'nothing to revert',
        );
        return result;
      });
      revision = restored.head;
      try {
        await applyAndVerify(ctx, session, await renderAt(ctx, session, checkout, restored.head), {
          timeoutMs,
        });
      } catch (rollbackError) {
        finish('✗ rollback did not become healthy');
        // Never report a rollback as done when its own rollout failed (werf/nelm#131).
        throw new RolloutFailure(
          `${failure.message.split('\n')[0]}\ngit is back on ${previous.slice(0, 12)} (revert commit ${restored.head.slice(0, 12)}) and it was re-applied, but the rollback's rollout did not become healthy either: ${(rollbackError as Error).message.split('\n')[0]}`,
          {},
          `inspect the workloads (kubectl rollout status), then run: gitops deploy --env ${environment.name} --skip-build`,
        );
      }
      finish('rolled back');
      throw new RolloutFailure(
        `${failure.message.split('\n')[0]}\n${environment.name} is back on ${previous.slice(0, 12)} (revert commit ${restored.head.slice(0, 12)}, verified)`,
        {},
        'the failed commit stays in history; fix forward and deploy again',
      );
    }
    finish('✓ deployed');
    reporter.success(`${environment.name} deployed at ${pushed.slice(0, 12)} and verified`);
    return {
      result: {
        environment: environment.name,
        revision: pushed,
        previousRevision: deployed ?? null,
        images,
        changed: images.length > 0,
        applied: outcome.applied,
        pruned: outcome.pruned,
        rollouts: outcome.rollouts,
        verified: outcome.verified,
        durationMs: Date.now() - started,
      },
    };
  } catch (error) {
    if (!(error instanceof RolloutFailure) || !/back on/.test(error.message))
      finish(`✗ ${isGitopsError(error) ? error.code : 'failed'}`);
    throw error;
  }
}

export function parseOnDrift(value: string): OnDrift {
  if (value === 'fail' || value === 'warn' || value === 'overwrite') return value;
  throw usageError('INVALID_ON_DRIFT', `--on-drift ${value} is not one of fail, warn, overwrite`);
}
