import type { Cluster } from '../cluster/cluster.js';
import { type Inventory, readInventory } from '../cluster/inventory.js';
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
import { foreignOwner } from '../kube/ownership.js';
import { compareObject, type Difference } from './compare.js';
import type { ManagerRef } from './managed-fields.js';

/**
 * `unmanaged`: declared in git and present in the cluster, but with no owner's marks (applied by
 * hand or by a script): the next deploy adopts it. `foreign`: present and owned by someone else
 * (another environment or app, a Helm release, Flux, Argo CD): a deploy refuses it unless told
 * to adopt it.
 */
export type DriftState = 'in-sync' | 'modified' | 'missing' | 'extra' | 'unmanaged' | 'foreign';

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
  /**
   * For `extra`: pruning would delete it — this environment created it, pruning is on and
   * prune.protect does not cover it.
   */
  prunable?: boolean;
  /** For `extra`: adopted once, so leaving git releases it instead of deleting it. */
  adopted?: boolean;
  /** For `foreign`: who owns it, e.g. `Helm release demo/web`. */
  owner?: string;
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
  /** Objects declared in git that exist without this environment's label: unmanaged or someone else's. */
  unowned?: KubeObject[];
  /** HorizontalPodAutoscalers of the namespace (any owner): their targets' replicas are not drift. */
  hpas: KubeObject[];
  /** What the read asked the cluster (see liveStateCovers). */
  scope?: LiveScope;
}

/** The requests behind a live state: the lists it sent and the objects it read by name. */
export interface LiveScope {
  /** Kinds listed by the environment's label, sorted. */
  kinds: string[];
  /** The namespace the lists were limited to; undefined: cluster-wide. */
  namespace: string | undefined;
  labelSelector: string;
  /** Whether the HorizontalPodAutoscalers were listed. */
  hpas: boolean;
  /** Keys of the desired objects read by name (found or not): those no list found labelled. */
  byName: string[];
}

/** HorizontalPodAutoscalers are read whenever workloads are: their targets' replicas are not drift. */
const HPA_KIND = 'HorizontalPodAutoscaler.autoscaling';

/** These kinds (`Kind.group`) once each, sorted, and whether workloads are among them (HPAs read too). */
function kindsListed(kinds: Iterable<string>): { kinds: string[]; hpas: boolean } {
  const sorted = [...new Set(kinds)].sort();
  return { kinds: sorted, hpas: sorted.some((kind) => WORKLOAD_KINDS.has(kind.split('.')[0]!)) };
}

/** The lists a read of the live state sends for these desired objects and this inventory. */
function listScope(
  environment: EnvironmentConfig,
  desired: readonly DesiredObject[],
  inventory: Inventory | undefined,
  inventoryNamespace: string,
  legacy: LegacyClaim | undefined,
): Omit<LiveScope, 'byName'> {
  const { kinds, hpas } = kindsListed([
    ...desired.map((item) => groupKind(item.object)),
    ...(inventory?.kinds ?? []),
  ]);
  const namespaces = new Set<string>(inventory?.namespaces ?? []);
  for (const item of desired) {
    if (item.object.metadata.namespace) namespaces.add(item.object.metadata.namespace);
  }
  // One namespace: a namespace-scoped read (CI service accounts rarely may list cluster-wide).
  const namespace = namespaces.size <= 1 ? ([...namespaces][0] ?? inventoryNamespace) : undefined;
  const id = ownerId(environment);
  return {
    kinds,
    namespace,
    labelSelector: legacy ? `${LABEL_ENVIRONMENT} in (${id},${legacy.label})` : `${LABEL_ENVIRONMENT}=${id}`,
    hpas,
  };
}

/**
 * The kinds a read of the live state lists whatever git declares: those the inventory names, and
 * the HorizontalPodAutoscalers when there are workloads among them.
 */
export function inventoryKinds(
  environment: EnvironmentConfig,
  inventory: Inventory | undefined,
  inventoryNamespace: string,
): string[] {
  const scope = listScope(environment, [], inventory, inventoryNamespace, undefined);
  return scope.hpas ? [...scope.kinds, HPA_KIND] : scope.kinds;
}

/**
 * Whether a live state read for some desired objects answers for these as a read of their own
 * would (with the same inventory record and no legacy claim): it listed the very same kinds (and
 * so the HPAs when they matter) in the same namespace with the same selector, and read by name
 * every object of these that no list found. A deploy's drift gate reads the deployed
 * revision's objects; the ownership gate asks about the revision it is about to push, which
 * sets other images on the same objects.
 */
export function liveStateCovers(
  state: LiveState,
  environment: EnvironmentConfig,
  desired: readonly DesiredObject[],
  inventoryNamespace: string,
): boolean {
  const read = state.scope;
  if (!read) return false;
  const wanted = listScope(environment, desired, state.inventory, inventoryNamespace, undefined);
  if (
    wanted.labelSelector !== read.labelSelector ||
    wanted.namespace !== read.namespace ||
    wanted.kinds.join('\0') !== read.kinds.join('\0')
  )
    return false;
  const scopes = crdScopes(desired.map((item) => item.object));
  const found = new Set(state.objects.map((object) => normalisedKey(object, scopes)));
  const byName = new Set(read.byName);
  return desired.every((item) => {
    const key = objectKey(item.object);
    return found.has(key) || byName.has(key);
  });
}

/**
 * Claims objects labelled by releases before environment ids (the plain environment name) when
 * they are this environment's: the label value and a check of the revision they were applied from.
 */
export interface LegacyClaim {
  label: string;
  isOurs(object: KubeObject): Promise<boolean>;
}

/**
 * Starts discovering what readLive reads for these desired objects, before the inventory is read
 * (which the lists wait for): the discovery requests then go out together with the inventory's
 * instead of after it. Failures are left to the reads themselves (discovery asks again).
 */
export function prepareLiveRead(cluster: Cluster, desired: readonly DesiredObject[]): void {
  const { kinds, hpas } = kindsListed(desired.map((item) => groupKind(item.object)));
  cluster.prepare(hpas ? [...kinds, HPA_KIND] : kinds);
}

/**
 * Reads the live state of an environment in a batch: the inventory (unless given), one
 * LIST of every kind labelled as this environment's (at once), one of the HorizontalPodAutoscalers
 * when workloads are involved, and a read by name of the objects git declares that
 * carry no such label (to tell unmanaged and others' objects from missing ones) — never one call
 * per object.
 */
export async function readLive(
  cluster: Cluster,
  environment: EnvironmentConfig,
  desired: readonly DesiredObject[],
  inventoryNamespace: string,
  options: { inventory?: Inventory | null; legacy?: LegacyClaim } = {},
): Promise<LiveState> {
  if (options.inventory === undefined) prepareLiveRead(cluster, desired);
  const inventory =
    options.inventory === undefined
      ? await readInventory(cluster, environment, inventoryNamespace)
      : (options.inventory ?? undefined);
  const scope = listScope(environment, desired, inventory, inventoryNamespace, options.legacy);
  const { namespace } = scope;
  const id = ownerId(environment);
  // Two independent lists: read at once.
  const [labelled, hpas] = await Promise.all([
    cluster.list(scope.kinds, { ...(namespace ? { namespace } : {}), labelSelector: scope.labelSelector }),
    scope.hpas ? cluster.list([HPA_KIND], namespace ? { namespace } : {}) : Promise.resolve([]),
  ]);
  const objects: KubeObject[] = [];
  const claimed: KubeObject[] = [];
  for (const object of labelled) {
    if (object.metadata.labels?.[LABEL_ENVIRONMENT] === id) objects.push(object);
    else if (await options.legacy?.isOurs(object)) claimed.push(object);
  }
  objects.push(...claimed);
  const scopes = crdScopes(desired.map((item) => item.object));
  const found = new Set(objects.map((object) => normalisedKey(object, scopes)));
  const unlabelled = desired.map((item) => item.object).filter((object) => !found.has(objectKey(object)));
  const unowned = await cluster.getByName(unlabelled);
  return {
    ...(inventory ? { inventory } : {}),
    objects,
    unowned,
    hpas,
    scope: { ...scope, byName: unlabelled.map((object) => objectKey(object)) },
  };
}

/** objectKey of a live object, with the namespace a cluster-scoped one comes back without. */
function normalisedKey(object: KubeObject, scopes: ReadonlyMap<string, boolean>): string {
  if (!isNamespaced(groupKind(object), scopes)) delete object.metadata.namespace;
  return objectKey(object);
}

/** Compares the live state of an environment with the cluster (see detectDrift). */
export async function detectDrift(
  cluster: Cluster,
  environment: EnvironmentConfig,
  desired: readonly DesiredObject[],
  inventoryNamespace: string,
): Promise<DriftReport> {
  return compareLive(environment, desired, await readLive(cluster, environment, desired, inventoryNamespace));
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

  // Cluster-scoped objects come back without a namespace; desired ones were normalised the same way.
  const liveByKey = new Map<string, KubeObject>();
  for (const object of state.objects) liveByKey.set(normalisedKey(object, scopes), object);
  const unownedByKey = new Map<string, KubeObject>();
  for (const object of state.unowned ?? []) unownedByKey.set(normalisedKey(object, scopes), object);
  const id = ownerId(environment);
  const created = (key: string) => !inventory?.objects || inventory.objects.includes(key);
  const adopted = (key: string) => Boolean(inventory?.adopted?.includes(key));

  const objects: ObjectDrift[] = [];
  const revisions = new Set<string>();
  for (const item of desired) {
    const key = objectKey(item.object);
    const unowned = liveByKey.has(key) ? undefined : unownedByKey.get(key);
    const current = liveByKey.get(key) ?? unowned;
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
    const owner = unowned ? foreignOwner(unowned, id) : undefined;
    objects.push({
      ...base,
      state: unowned ? (owner ? 'foreign' : 'unmanaged') : differences.length > 0 ? 'modified' : 'in-sync',
      ...(owner ? { owner: owner.name } : {}),
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
      // Only what this environment created is deleted; what it adopted is released.
      prunable:
        environment.prune.enabled &&
        !isProtected(object, environment.prune.protect) &&
        created(key) &&
        !adopted(key),
      ...(adopted(key) ? { adopted: true } : {}),
    });
  }
  objects.sort((a, b) => a.key.localeCompare(b.key));
  const counts: Record<DriftState, number> = {
    'in-sync': 0,
    modified: 0,
    missing: 0,
    extra: 0,
    unmanaged: 0,
    foreign: 0,
  };
  for (const object of objects) counts[object.state] += 1;
  return {
    environment: environment.name,
    objects,
    inSync: objects.every((object) => object.state === 'in-sync'),
    counts,
    ...(inventory ? { inventory } : {}),
    liveRevisions: [...revisions].sort(),
  };
}
