import { getEnvironment } from '../config/load.js';
import type { Context } from '../core/context.js';
import { usageError } from '../core/errors.js';
import type { OnDrift } from '../gates/drift.js';
import type { GateOverride } from '../gates/lock.js';
import { TRAILER } from '../git/message.js';
import { normalizeRepository, tryParseImageReference } from '../images/reference.js';
import { LABEL_ENVIRONMENT, ownerId, podContainers } from '../kube/objects.js';
import type { ImageUpdate } from '../manifests/types.js';
import { type DeployResult, deploy } from './deploy.js';
import { openSession } from './session.js';

export interface PromoteOptions extends GateOverride {
  from?: string;
  to: string;
  onDrift: OnDrift;
  /** How long to wait for the rollout; default: environments.<to>.timeout. */
  timeoutMs?: number;
  autoRollback?: boolean;
  adopt?: boolean;
}

/** The workload kinds whose running images are promoted (their API resources). */
const PROMOTED_RESOURCES = ['deployments.apps', 'statefulsets.apps', 'daemonsets.apps', 'cronjobs.batch'];

/**
 * `gitops promote --from staging --to production`: the images that RUN in the source environment
 * (as the cluster has them: digests when they were pinned) become the target's, through the same
 * steps as deploy, on the target's session. Changes move through stages: the target's
 * `promoteFrom` names its only source.
 */
export async function runPromote(ctx: Context, options: PromoteOptions): Promise<DeployResult> {
  const target = await openSession(ctx, options.to);
  const from = options.from ?? target.environment.promoteFrom;
  if (!from) {
    throw usageError(
      'PROMOTE_NO_SOURCE',
      `environment ${options.to} has no promoteFrom and no --from was given`,
      {
        hint: `pass --from <env>, or set environments.${options.to}.promoteFrom in gitops.yaml`,
      },
    );
  }
  if (target.environment.promoteFrom && target.environment.promoteFrom !== from) {
    throw usageError(
      'PROMOTE_WRONG_SOURCE',
      `${options.to} is promoted from ${target.environment.promoteFrom}, not ${from}`,
      {
        hint: `promote ${target.environment.promoteFrom} → ${options.to}, or change environments.${options.to}.promoteFrom`,
      },
    );
  }
  getEnvironment(target.config, from);
  const source = await openSession(ctx, from);
  const { config } = source;

  const promoted = await ctx.reporter.step(`read the images running in ${from}`, async (step) => {
    const inventory = await source.readInventory();
    if (!inventory?.revision || inventory.phase !== 'verified') {
      throw usageError(
        'PROMOTE_SOURCE_NOT_VERIFIED',
        `${from} has no verified deploy to promote (state: ${inventory?.phase ?? 'nothing deployed'})`,
        {
          hint: `deploy ${from} successfully first`,
        },
      );
    }
    const workloads = await source.kubectl.list(PROMOTED_RESOURCES, {
      ...(source.environment.namespace ? { namespace: source.environment.namespace } : {}),
      labelSelector: `${LABEL_ENVIRONMENT}=${ownerId(source.environment)}`,
    });
    const byRepository = new Map<string, Set<string>>();
    for (const container of workloads.flatMap((object) => podContainers(object.spec))) {
      if (typeof container.image !== 'string') continue;
      const reference = tryParseImageReference(container.image);
      if (!reference) continue;
      const set = byRepository.get(reference.repository) ?? new Set<string>();
      set.add(container.image);
      byRepository.set(reference.repository, set);
    }
    const wanted = config.images.length
      ? config.images.map(
          (image) => [image.name, normalizeRepository(image.repository) ?? image.repository] as const,
        )
      : [...byRepository.keys()].map((repository) => [repository, repository] as const);
    const updates: ImageUpdate[] = [];
    for (const [name, repository] of wanted) {
      const found = [...(byRepository.get(repository) ?? [])];
      if (found.length === 0) continue;
      if (found.length > 1) {
        throw usageError(
          'PROMOTE_AMBIGUOUS',
          `${from} runs several references of ${repository}: ${found.join(', ')}`,
          {
            hint: 'promote with gitops deploy --image to pick one',
          },
        );
      }
      const reference = tryParseImageReference(found[0]!)!;
      if (reference.tag === undefined && reference.digest === undefined) {
        throw usageError(
          'IMAGE_REFERENCE_INVALID',
          `image reference "${found[0]}" has neither a tag nor a digest`,
          { hint: 'write <repository>:<tag>, <repository>@sha256:<digest> or both' },
        );
      }
      updates.push({ name, reference });
    }
    if (updates.length === 0) throw usageError('PROMOTE_NOTHING', `no configured image runs in ${from}`);
    step.detail(updates.map((update) => `${update.name}=${update.reference.original}`).join(', '));
    return { updates, revision: inventory.revision };
  });

  return deploy(ctx, target, {
    updates: promoted.updates,
    skipBuild: true,
    onDrift: options.onDrift,
    action: 'promote',
    trailers: [[TRAILER.promotedFrom, `${from}@${promoted.revision}`]],
    sourceOf: { revision: promoted.revision, path: source.environment.path },
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    ...(options.autoRollback ? { autoRollback: true } : {}),
    ...(options.adopt ? { adopt: true } : {}),
    ...(options.force ? { force: true } : {}),
    ...(options.reason ? { reason: options.reason } : {}),
  });
}
