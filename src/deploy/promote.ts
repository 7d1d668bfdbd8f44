import type { CommandOutcome } from '../cli/action.js';
import type { Context } from '../cli/context.js';
import { readInventory } from '../cluster/inventory.js';
import { LABEL_ENVIRONMENT, ownerId } from '../cluster/objects.js';
import { openSession } from '../cluster/session.js';
import { getEnvironment } from '../config/load.js';
import { usageError } from '../core/errors.js';
import { TRAILER } from '../git/message.js';
import { normalizeRepository, tryParseImageReference } from '../images/reference.js';
import { type OnDrift, runDeploy } from './deploy.js';
import { checkOverrideOptions } from './lock.js';
import { inventoryNs } from './pipeline.js';

export interface PromoteOptions {
  from?: string;
  to: string;
  onDrift: OnDrift;
  timeout?: string;
  autoRollback?: boolean;
  /** Override a lock or a freeze window of the target; needs `reason`. */
  force?: boolean;
  reason?: string;
}

function containerImages(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) for (const item of value) containerImages(item, out);
  else if (value && typeof value === 'object') {
    for (const [key, child] of Object.entries(value)) {
      if ((key === 'containers' || key === 'initContainers') && Array.isArray(child)) {
        for (const container of child) if (typeof container?.image === 'string') out.push(container.image);
      } else containerImages(child, out);
    }
  }
  return out;
}

/**
 * `gitops promote --from staging --to production`: the images that RUN in the source environment
 * (as the cluster has them: digests when they were pinned) become the target's, through the same
 * commit → apply → wait → verify path as deploy. Changes move through stages: the target's
 * `promoteFrom` names its only source.
 */
export async function runPromote(ctx: Context, options: PromoteOptions): Promise<CommandOutcome> {
  checkOverrideOptions(options);
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
    const inventory = await readInventory(source.kubectl, source.environment, inventoryNs(source));
    if (!inventory?.revision || inventory.phase !== 'verified') {
      throw usageError(
        'PROMOTE_SOURCE_NOT_VERIFIED',
        `${from} has no verified deploy to promote (state: ${inventory?.phase ?? 'nothing deployed'})`,
        {
          hint: `deploy ${from} successfully first`,
        },
      );
    }
    const workloads = await source.kubectl.list(
      ['deployments.apps', 'statefulsets.apps', 'daemonsets.apps', 'cronjobs.batch'],
      {
        ...(source.environment.namespace ? { namespace: source.environment.namespace } : {}),
        labelSelector: `${LABEL_ENVIRONMENT}=${ownerId(source.environment)}`,
      },
    );
    const byRepository = new Map<string, Set<string>>();
    for (const image of workloads.flatMap((object) => containerImages(object.spec))) {
      const reference = tryParseImageReference(image);
      if (!reference) continue;
      const set = byRepository.get(reference.repository) ?? new Set<string>();
      set.add(image);
      byRepository.set(reference.repository, set);
    }
    const wanted = config.images.length
      ? config.images.map(
          (image) => [image.name, normalizeRepository(image.repository) ?? image.repository] as const,
        )
      : [...byRepository.keys()].map((repository) => [repository, repository] as const);
    const args: string[] = [];
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
      args.push(`${name}=${found[0]}`);
    }
    if (args.length === 0) throw usageError('PROMOTE_NOTHING', `no configured image runs in ${from}`);
    step.detail(args.join(', '));
    return { args, revision: inventory.revision };
  });

  return runDeploy(ctx, {
    env: options.to,
    images: promoted.args,
    skipBuild: true,
    onDrift: options.onDrift,
    action: 'promote',
    trailers: [[TRAILER.promotedFrom, `${from}@${promoted.revision}`]],
    ...(options.timeout ? { timeout: options.timeout } : {}),
    ...(options.autoRollback ? { autoRollback: true } : {}),
    ...(options.force ? { force: true } : {}),
    ...(options.reason ? { reason: options.reason } : {}),
  });
}
