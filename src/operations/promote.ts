import { getEnvironment } from '../config/load.js';
import type { Context } from '../core/context.js';
import { usageError } from '../core/errors.js';
import type { OnDrift } from '../gates/drift.js';
import type { GateOverride } from '../gates/lock.js';
import { TRAILER } from '../git/message.js';
import { normalizeRepository, tryParseImageReference } from '../images/reference.js';
import { type KubeObject, podContainers } from '../kube/objects.js';
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

/** Kinds that hold data, not workloads: an `image` key inside them is text. */
const DATA_KINDS = new Set(['ConfigMap', 'Secret', 'CustomResourceDefinition']);

/**
 * Every image reference an object declares: containers at any depth (Deployments, CronJobs,
 * Argo Rollouts and other custom resources embedding a pod spec), and Helm-values-style maps of
 * custom resources (a Flux HelmRelease's `spec.values.image: {registry, repository, tag|digest}`).
 */
export function declaredImages(object: KubeObject): string[] {
  if (DATA_KINDS.has(object.kind)) return [];
  const found = new Set<string>();
  for (const container of podContainers(object))
    if (typeof container.image === 'string') found.add(container.image);
  const walk = (value: unknown) => {
    if (Array.isArray(value)) {
      for (const item of value) walk(item);
      return;
    }
    if (!value || typeof value !== 'object') return;
    const map = value as Record<string, unknown>;
    const text = (key: string) =>
      typeof map[key] === 'string' && map[key] ? (map[key] as string) : undefined;
    const repository = text('repository');
    const version = text('tag') ?? text('version');
    const digest = text('digest');
    if (repository && (version || digest)) {
      const registry = text('registry');
      found.add(
        `${registry ? `${registry}/` : ''}${repository}${version ? `:${version}` : ''}${digest ? `@${digest}` : ''}`,
      );
    }
    for (const child of Object.values(map)) walk(child);
  };
  walk(object.spec);
  return [...found];
}

/**
 * `gitops promote --from staging --to production`: the images of the source environment's
 * verified revision, as its render declares them (digests when they were pinned; images in custom
 * resources too), become the target's, through the same steps as deploy, on the target's session. Changes move through stages: the target's
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

  const promoted = await ctx.reporter.step(`read the images deployed in ${from}`, async (step) => {
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
    // The render of the verified revision is what the source runs (verify compared them), and it
    // also knows images that live in custom resources, which no list of workloads shows.
    const checkout = await source.openEnvRepo();
    const desired = await source.desiredState(checkout, inventory.revision);
    const byRepository = new Map<string, Set<string>>();
    for (const image of desired.objects.flatMap((item) => declaredImages(item.object))) {
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
    const updates: ImageUpdate[] = [];
    for (const [name, repository] of wanted) {
      const found = [...(byRepository.get(repository) ?? [])];
      if (found.length === 0) continue;
      if (found.length > 1) {
        throw usageError(
          'PROMOTE_AMBIGUOUS',
          `${from} deploys several references of ${repository}: ${found.join(', ')}`,
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
    if (updates.length === 0)
      throw usageError('PROMOTE_NOTHING', `no configured image is deployed in ${from}`);
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
