import { type Inventory, readInventory } from '../cluster/inventory.js';
import type { Kubectl } from '../cluster/kubectl.js';
import type { EnvironmentConfig } from '../config/types.js';
import {
  ANNOTATION_REVISION,
  crdScopes,
  type DesiredObject,
  displayName,
  groupKind,
  isNamespaced,
  type KubeObject,
  LABEL_ENVIRONMENT,
  objectKey,
  ownerId,
  type SourceRef,
  WORKLOAD_KINDS,
} from '../kube/objects.js';
import { compareObject, type Difference } from './compare.js';
import type { ManagerRef } from './managed-fields.js';

export type DriftState = 'in-sync' | 'modified' | 'missing' | 'extra';

export interface ObjectDrift {
  key: string;
  kind: string;
  name: string;
  namespace?: string;
  display: string;
  state: DriftState;
  differences: Difference[];
  /** Distinct managers behind the differences. */
  managers: ManagerRef[];
  source?: SourceRef;
  /** Env-repo revision the live object was applied from (its annotation). */
  liveRevision?: string;
  desired?: KubeObject;
  live?: KubeObject;
  /** For `extra`: pruning would delete it (false when protected by prune.protect or pruning is off). */
  prunable?: boolean;
}

export interface DriftReport {
  environment: string;
  objects: ObjectDrift[];
  inSync: boolean;
  counts: Record<DriftState, number>;
  inventory?: Inventory;
  /** Revisions found in the live objects' annotations (one when a deploy completed). */
  liveRevisions: string[];
}

/** Whether `Kind/name` or `Kind/*` in prune.protect covers an object. */
export function isProtected(object: KubeObject, protect: readonly string[]): boolean {
  return protect.some((rule) => {
    const [kind, name] = rule.split('/');
    return (
      (kind === object.kind || kind === groupKind(object)) && (name === '*' || name === object.metadata.name)
    );
  });
}

function uniqueManagers(differences: readonly Difference[]): ManagerRef[] {
  const seen = new Map<string, ManagerRef>();
  for (const difference of differences) {
    for (const manager of difference.managers) {
      const key = `${manager.manager}/${manager.subresource ?? ''}`;
      if (!seen.has(key)) seen.set(key, manager);
    }
  }
  return [...seen.values()];
}

/** Workloads whose replicas an HPA owns: `Kind/namespace/name` of every scaleTargetRef. */
function hpaTargets(hpas: readonly KubeObject[]): Set<string> {
  const targets = new Set<string>();
  for (const hpa of hpas) {
    const ref = (hpa.spec as { scaleTargetRef?: { kind?: string; name?: string } } | undefined)
      ?.scaleTargetRef;
    if (ref?.kind && ref.name) targets.add(`${ref.kind}/${hpa.metadata.namespace ?? ''}/${ref.name}`);
  }
  return targets;
}

function ignoreRulesFor(environment: EnvironmentConfig, object: KubeObject): string[] {
  return environment.ignoreDifferences
    .filter(
      (rule) =>
        (!rule.kind || rule.kind === object.kind) &&
        (!rule.name || rule.name === object.metadata.name) &&
        (!rule.namespace || rule.namespace === object.metadata.namespace),
    )
    .flatMap((rule) => rule.jsonPointers);
}

/** What the cluster holds for an environment, read once and compared as often as needed. */
export interface LiveState {
  inventory?: Inventory;
  /** Objects labelled as this environment's, of every kind in git or the inventory. */
  objects: KubeObject[];
  /** HorizontalPodAutoscalers of the namespace (any owner): their targets' replicas are not drift. */
  hpas: KubeObject[];
}

/**
 * Reads the live state of an environment in a batch: the inventory (unless given), one
 * `kubectl get` of every kind labelled as this environment's, and one of the
 * HorizontalPodAutoscalers when workloads are involved — never one call per object.
 */
export async function readLive(
  kubectl: Kubectl,
  environment: EnvironmentConfig,
  desired: readonly DesiredObject[],
  inventoryNamespace: string,
  options: { inventory?: Inventory | null } = {},
): Promise<LiveState> {
  const inventory =
    options.inventory === undefined
      ? await readInventory(kubectl, environment, inventoryNamespace)
      : (options.inventory ?? undefined);
  const kinds = new Set<string>([
    ...desired.map((item) => groupKind(item.object)),
    ...(inventory?.kinds ?? []),
  ]);
  const namespaces = new Set<string>(inventory?.namespaces ?? []);
  for (const item of desired) {
    if (item.object.metadata.namespace) namespaces.add(item.object.metadata.namespace);
  }
  // One namespace: a namespace-scoped read (CI service accounts rarely may list cluster-wide).
  const namespace = namespaces.size <= 1 ? ([...namespaces][0] ?? inventoryNamespace) : undefined;
  const hasWorkloads = [...kinds].some((kind) => WORKLOAD_KINDS.has(kind.split('.')[0]!));
  // Two independent lists: read at once.
  const [objects, hpas] = await Promise.all([
    kubectl.list([...kinds].sort(), {
      ...(namespace ? { namespace } : {}),
      labelSelector: `${LABEL_ENVIRONMENT}=${ownerId(environment)}`,
    }),
    hasWorkloads
      ? kubectl.list(['horizontalpodautoscalers.autoscaling'], namespace ? { namespace } : {})
      : Promise.resolve([]),
  ]);
  return { ...(inventory ? { inventory } : {}), objects, hpas };
}

/** Compares the live state of an environment with the cluster (see detectDrift). */
export async function detectDrift(
  kubectl: Kubectl,
  environment: EnvironmentConfig,
  desired: readonly DesiredObject[],
  inventoryNamespace: string,
): Promise<DriftReport> {
  return compareLive(environment, desired, await readLive(kubectl, environment, desired, inventoryNamespace));
}

/**
 * Compares the desired objects of an environment with a live state: per object in sync,
 * modified, missing or extra (labelled as ours but gone from git, prunable unless protected).
 */
export function compareLive(
  environment: EnvironmentConfig,
  desired: readonly DesiredObject[],
  state: LiveState,
): DriftReport {
  const { inventory } = state;
  const scopes = crdScopes(desired.map((item) => item.object));
  const scaled = hpaTargets([
    ...state.hpas,
    ...desired.map((item) => item.object).filter((object) => object.kind === 'HorizontalPodAutoscaler'),
  ]);

  const liveByKey = new Map<string, KubeObject>();
  for (const object of state.objects) {
    // Cluster-scoped objects come back without a namespace; desired ones were normalised the same way.
    if (!isNamespaced(groupKind(object), scopes)) delete object.metadata.namespace;
    liveByKey.set(objectKey(object), object);
  }

  const objects: ObjectDrift[] = [];
  const revisions = new Set<string>();
  for (const item of desired) {
    const key = objectKey(item.object);
    const current = liveByKey.get(key);
    liveByKey.delete(key);
    const base = {
      key,
      kind: item.object.kind,
      name: item.object.metadata.name,
      ...(item.object.metadata.namespace ? { namespace: item.object.metadata.namespace } : {}),
      display: displayName(item.object),
      ...(item.source ? { source: item.source } : {}),
      desired: item.object,
    };
    if (!current) {
      objects.push({ ...base, state: 'missing', differences: [], managers: [] });
      continue;
    }
    const liveRevision = current.metadata.annotations?.[ANNOTATION_REVISION];
    if (liveRevision) revisions.add(liveRevision);
    const ignore = ignoreRulesFor(environment, item.object);
    if (
      scaled.has(`${item.object.kind}/${item.object.metadata.namespace ?? ''}/${item.object.metadata.name}`)
    ) {
      ignore.push('/spec/replicas');
    }
    const differences = compareObject(item.object, current, { ignore });
    objects.push({
      ...base,
      state: differences.length > 0 ? 'modified' : 'in-sync',
      differences,
      managers: uniqueManagers(differences),
      ...(liveRevision ? { liveRevision } : {}),
      live: current,
    });
  }
  for (const [key, object] of liveByKey) {
    const liveRevision = object.metadata.annotations?.[ANNOTATION_REVISION];
    objects.push({
      key,
      kind: object.kind,
      name: object.metadata.name,
      ...(object.metadata.namespace ? { namespace: object.metadata.namespace } : {}),
      display: displayName(object),
      state: 'extra',
      differences: [],
      managers: [],
      ...(liveRevision ? { liveRevision } : {}),
      live: object,
      prunable: environment.prune.enabled && !isProtected(object, environment.prune.protect),
    });
  }
  objects.sort((a, b) => a.key.localeCompare(b.key));
  const counts: Record<DriftState, number> = { 'in-sync': 0, modified: 0, missing: 0, extra: 0 };
  for (const object of objects) counts[object.state] += 1;
  return {
    environment: environment.name,
    objects,
    inSync: counts.modified + counts.missing + counts.extra === 0,
    counts,
    ...(inventory ? { inventory } : {}),
    liveRevisions: [...revisions].sort(),
  };
}
