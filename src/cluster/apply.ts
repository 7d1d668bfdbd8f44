import type { EnvironmentConfig } from '../config/types.js';
import { GitopsError } from '../core/errors.js';
import { ExitCode } from '../core/exit-codes.js';
import { sleep } from '../core/sleep.js';
import { KubeApiError, refOf } from '../kube/client/client.js';
import {
  ANNOTATION_REVISION,
  displayName,
  FIELD_MANAGER,
  groupKind,
  type KubeObject,
  LABEL_ENVIRONMENT,
  objectKey,
  ownerId,
} from '../kube/objects.js';
import { ANNOTATION_OWNER, foreignOwner, OWNER_MARKS } from '../kube/ownership.js';
import { type Cluster, inParallel, printedName, READ_PARALLELISM } from './cluster.js';
import { type Inventory, inventoryManifest } from './inventory.js';

export interface ApplyRequest {
  /** Env-repo commit the objects come from: recorded on every object and in the inventory. */
  revision: string;
  objects: readonly KubeObject[];
  /**
   * Live objects this environment created that left git (from drift detection, checked against
   * the inventory): deleted. A Namespace that holds objects of others is kept.
   */
  prune: readonly KubeObject[];
  /** Keys of objects that exist without an owner and are adopted by this apply. */
  adopt?: readonly string[];
  /** Live objects another owner manages, taken over on purpose: their owner's marks are removed first. */
  takeOver?: readonly KubeObject[];
  /** Adopted objects that left git: released (gitops' label and annotations removed), not deleted. */
  release?: readonly KubeObject[];
  inventoryNamespace: string;
  previous?: Inventory;
  actor?: string;
  /** Where each object was declared, for per-object errors. */
  sourceOf?: SourceOf;
}

export interface ApplyResult {
  /** The inventory of this apply (phase to be set by the caller when it records the outcome). */
  inventory: Inventory;
  applied: number;
  /** `kubectl apply` lines such as `deployment.apps/web serverside-applied`. */
  lines: string[];
  pruned: string[];
  /** Namespaces not deleted although they left git: they hold objects this environment does not own. */
  kept: string[];
  released: string[];
}

/** Who applied an object, in words: the owner annotation's value. */
export function ownerDescription(environment: Pick<EnvironmentConfig, 'name' | 'path' | 'repo'>): string {
  return `${environment.name} (${environment.repo}, ${environment.path})`;
}

/**
 * Stamps an object with the ownership label (the environment's id), the owner annotation and the
 * revision annotation (a copy).
 */
export function decorate(
  object: KubeObject,
  environment: Pick<EnvironmentConfig, 'name' | 'id' | 'path' | 'repo'>,
  revision: string,
): KubeObject {
  const copy = structuredClone(object);
  copy.metadata.labels = { ...copy.metadata.labels, [LABEL_ENVIRONMENT]: ownerId(environment) };
  copy.metadata.annotations = {
    ...copy.metadata.annotations,
    [ANNOTATION_REVISION]: revision,
    [ANNOTATION_OWNER]: ownerDescription(environment),
  };
  return copy;
}

/** Namespaces and CRDs go first: what lives in them cannot be applied before they exist. */
function isFoundation(object: KubeObject): boolean {
  return object.kind === 'Namespace' || object.kind === 'CustomResourceDefinition';
}

/**
 * Server-side applies at once: enough to hide the round trips of a large environment, few
 * enough that an API server's default max-inflight (400 mutating) is never near.
 */
export const APPLY_PARALLELISM = 16;
/** How many failures an apply error lists before "and N more". */
const LISTED_FAILURES = 5;
const CRD_ESTABLISHED_TIMEOUT_MS = 60_000;

/** Where in the env repo an object was declared (`file:line`), to name it in errors. */
export type SourceOf = (object: KubeObject) => { file: string; line?: number } | undefined;

/**
 * Server-side apply of a set (field manager gitops, conflicts forced: git is right), up to
 * APPLY_PARALLELISM at once. Every object is tried; the failures are reported together, each
 * with the server's words and the manifest it came from.
 */
async function applyBatch(
  cluster: Cluster,
  objects: readonly KubeObject[],
  sourceOf?: SourceOf,
): Promise<string[]> {
  const outcomes = await inParallel(objects, APPLY_PARALLELISM, async (object) => {
    try {
      await cluster.client.apply(object, { fieldManager: FIELD_MANAGER, force: true });
      return { line: `${printedName(object)} serverside-applied` };
    } catch (error) {
      if (!(error instanceof KubeApiError)) throw error;
      return { object, error };
    }
  });
  const failures = outcomes.filter((outcome) => 'error' in outcome);
  if (failures.length > 0) {
    const described = failures.map(({ object, error }) => {
      const source = sourceOf?.(object!);
      const where = source ? ` (${source.file}${source.line ? `:${source.line}` : ''})` : '';
      return `${displayName(object!)}${where}: ${error!.message}`;
    });
    const first = sourceOf?.(failures[0]!.object!);
    const more = described.length > LISTED_FAILURES ? `; and ${described.length - LISTED_FAILURES} more` : '';
    throw new GitopsError(
      'CLUSTER_FAILED',
      `applying ${objects.length} object(s) failed for ${failures.length}: ${described.slice(0, LISTED_FAILURES).join('; ')}${more}`,
      {
        exitCode: ExitCode.OperationFailed,
        hint: 'fix the manifest the server refused (its file and line are given) and deploy again',
        ...(first ? { location: first } : {}),
        cause: failures[0]!.error,
        details: { failed: failures.map(({ object }) => displayName(object!)) },
      },
    );
  }
  return outcomes.flatMap((outcome) => ('line' in outcome && outcome.line ? [outcome.line] : []));
}

/** Waits until every CRD reports Established, as `kubectl wait --for=condition=Established` would. */
async function waitEstablished(cluster: Cluster, crds: readonly KubeObject[]): Promise<void> {
  const deadline = Date.now() + CRD_ESTABLISHED_TIMEOUT_MS;
  const pending = new Set(crds.map((crd) => crd.metadata.name));
  while (pending.size > 0) {
    for (const name of [...pending]) {
      const live = await cluster.call(`reading CustomResourceDefinition/${name}`, (client) =>
        client.get({ apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', name }),
      );
      const conditions =
        (live?.status as { conditions?: Array<{ type: string; status: string }> })?.conditions ?? [];
      if (conditions.some((condition) => condition.type === 'Established' && condition.status === 'True'))
        pending.delete(name);
    }
    if (pending.size === 0) break;
    if (Date.now() > deadline)
      throw new GitopsError(
        'CLUSTER_FAILED',
        `waiting for CRDs to be established failed: ${[...pending].join(', ')} not Established after ${CRD_ESTABLISHED_TIMEOUT_MS / 1000}s`,
        {
          exitCode: ExitCode.OperationFailed,
          hint: "check the CRD's status conditions (kubectl describe crd)",
        },
      );
    await sleep(200);
  }
  // What discovery said before the apply is out of date. Established is set a moment before the
  // API server's discovery lists the new kinds: asked again until it does (as kubectl's
  // discovery-backed mapper asks again on a miss), within the same deadline.
  cluster.client.rediscover();
  const served = crds.flatMap((crd) => {
    const spec = crd.spec as
      | { group?: string; names?: { kind?: string }; versions?: Array<{ name: string; served?: boolean }> }
      | undefined;
    return (spec?.versions ?? [])
      .filter((version) => version.served !== false)
      .map((version) => ({ apiVersion: `${spec?.group}/${version.name}`, kind: spec?.names?.kind ?? '' }));
  });
  for (const { apiVersion, kind } of served) {
    for (;;) {
      cluster.client.forget(apiVersion);
      if (
        await cluster.call(`discovering ${kind} (${apiVersion})`, (client) =>
          client.resource(apiVersion, kind),
        )
      )
        break;
      if (Date.now() > deadline)
        throw new GitopsError(
          'CLUSTER_FAILED',
          `waiting for CRDs to be established failed: ${kind} (${apiVersion}) is Established but not served after ${CRD_ESTABLISHED_TIMEOUT_MS / 1000}s`,
          {
            exitCode: ExitCode.OperationFailed,
            hint: "check the CRD's status conditions (kubectl describe crd)",
          },
        );
      await sleep(200);
    }
  }
}

/**
 * Server-side apply of an environment (field manager `gitops`, conflicts forced: git is right),
 * then deletion of what left git. Order inside the apply: Namespaces and CRDs, then the
 * inventory (phase `applying`, kinds of old and new, so an interrupted run can still find and
 * prune everything), then the rest. Each group is applied at once (up to APPLY_PARALLELISM
 * requests); with CRDs the rest waits until they are Established. The inventory stays
 * `applying` until the caller records the outcome (`verified` or `failed`).
 */
export async function applyEnvironment(
  cluster: Cluster,
  environment: EnvironmentConfig,
  request: ApplyRequest,
): Promise<ApplyResult> {
  const objects = request.objects.map((object) => decorate(object, environment, request.revision));
  const keys = objects.map(objectKey);
  const adopted = [
    ...new Set([
      ...(request.previous?.adopted ?? []).filter((key) => keys.includes(key)),
      ...(request.adopt ?? []),
    ]),
  ];
  const kinds = [...new Set(objects.map(groupKind))];
  const namespaces = [
    ...new Set(objects.map((object) => object.metadata.namespace).filter((ns): ns is string => Boolean(ns))),
  ];
  const inventory: Inventory = {
    kinds,
    namespaces,
    objects: keys,
    ...(adopted.length ? { adopted } : {}),
    revision: request.revision,
    ...(request.previous?.verifiedRevision ? { verifiedRevision: request.previous.verifiedRevision } : {}),
    ...(request.previous?.revision && request.previous.revision !== request.revision
      ? { previousRevision: request.previous.revision }
      : request.previous?.previousRevision
        ? { previousRevision: request.previous.previousRevision }
        : {}),
    ...(request.actor ? { actor: request.actor } : {}),
  };
  const applying = inventoryManifest(environment, request.inventoryNamespace, {
    ...inventory,
    kinds: [...new Set([...kinds, ...(request.previous?.kinds ?? [])])],
    namespaces: [...new Set([...namespaces, ...(request.previous?.namespaces ?? [])])],
    // What the previous apply owned stays listed until this one is recorded: an interrupted run
    // leaves nothing the next one cannot find and prune.
    objects: [...new Set([...keys, ...(request.previous?.objects ?? [])])],
    adopted: [...new Set([...adopted, ...(request.previous?.adopted ?? [])])],
    phase: 'applying',
    updatedAt: new Date().toISOString(),
  }) as KubeObject;
  for (const object of request.takeOver ?? []) await stripOwnerMarks(cluster, object, ownerId(environment));
  const foundations = [
    ...objects.filter((object) => object.kind === 'Namespace'),
    ...objects.filter((object) => object.kind === 'CustomResourceDefinition'),
  ];
  const rest = objects.filter((object) => !isFoundation(object));
  const crds = foundations.filter((object) => object.kind === 'CustomResourceDefinition');
  const lines: string[] = [];
  const sourceOf = request.sourceOf;
  // Namespaces first, then CRDs, then the inventory (it lives in a namespace the set may create).
  lines.push(
    ...(await applyBatch(
      cluster,
      foundations.filter((object) => object.kind === 'Namespace'),
      sourceOf,
    )),
  );
  lines.push(...(await applyBatch(cluster, crds, sourceOf)));
  lines.push(...(await applyBatch(cluster, [applying])));
  if (crds.length > 0) await waitEstablished(cluster, crds);
  lines.push(...(await applyBatch(cluster, rest, sourceOf)));

  const pruned: string[] = [];
  const kept: string[] = [];
  const doomed: KubeObject[] = [];
  const release = [...(request.release ?? [])];
  for (const object of request.prune) {
    // Kept, and released: it is no longer this environment's, whoever's the rest is.
    if (
      object.kind === 'Namespace' &&
      (await holdsOthers(cluster, object.metadata.name, ownerId(environment)))
    ) {
      kept.push(object.metadata.name);
      release.push(object);
    } else doomed.push(object);
  }
  if (doomed.length > 0) {
    await cluster.call('deleting objects that left git', (client) =>
      inParallel(doomed, APPLY_PARALLELISM, (object) => client.delete(refOf(object))),
    );
    pruned.push(...doomed.map(displayName));
  }
  const released: string[] = [];
  for (const object of release) {
    await releaseObject(cluster, object);
    released.push(displayName(object));
  }

  return { applied: objects.length, lines, pruned, kept, released, inventory };
}

/** Objects gitops and Kubernetes create in every namespace, and those derived from others. */
function belongsToTheNamespace(object: KubeObject, owner: string): boolean {
  const { metadata } = object;
  if (metadata.labels?.[LABEL_ENVIRONMENT] === owner) return true;
  if (Array.isArray(metadata.ownerReferences) && metadata.ownerReferences.length > 0) return true;
  if (object.kind === 'Event') return true;
  if (object.kind === 'ServiceAccount' && metadata.name === 'default') return true;
  if (object.kind === 'ConfigMap' && metadata.name === 'kube-root-ca.crt') return true;
  // Endpoints mirror a Service of the same name; an owned Service's are not someone else's.
  return object.kind === 'Endpoints';
}

/**
 * Whether a namespace holds objects that are not this environment's (nor derived from them): then
 * deleting it would delete what gitops never created. Lists every namespaced kind once.
 */
async function holdsOthers(cluster: Cluster, namespace: string, owner: string): Promise<boolean> {
  const kinds = (await cluster.call('listing kinds', (client) => client.allResources())).filter(
    (info) =>
      info.namespaced &&
      info.verbs.includes('list') &&
      info.verbs.includes('delete') &&
      info.resource !== 'events',
  );
  const lists = await cluster.call(`listing what namespace ${namespace} holds`, (client) =>
    inParallel(kinds, READ_PARALLELISM, (info) => client.list(info, { namespace })),
  );
  return lists.some((list) => list.items.some((object) => !belongsToTheNamespace(object, owner)));
}

/** Removes gitops' label and annotations from an adopted object that left git: it is someone else's again. */
function releaseObject(cluster: Cluster, object: KubeObject): Promise<void> {
  return removeMarks(
    cluster,
    object,
    [LABEL_ENVIRONMENT],
    [ANNOTATION_REVISION, ANNOTATION_OWNER],
    'releasing',
  );
}

/** Removes the marks by which another tool claims an object this environment takes over. */
function stripOwnerMarks(cluster: Cluster, object: KubeObject, id: string): Promise<void> {
  const owner = foreignOwner(object, id);
  if (!owner) return Promise.resolve();
  const marks = OWNER_MARKS[owner.tool];
  return removeMarks(cluster, object, marks.labels, marks.annotations, 'taking over');
}

/** A merge patch deleting labels and annotations (null removes a key). */
async function removeMarks(
  cluster: Cluster,
  object: KubeObject,
  labels: readonly string[],
  annotations: readonly string[],
  what: string,
): Promise<void> {
  const present = (keys: readonly string[], map: Record<string, string> | undefined) =>
    keys.filter((key) => map?.[key] !== undefined);
  const dropLabels = present(labels, object.metadata.labels);
  const dropAnnotations = present(annotations, object.metadata.annotations);
  if (dropLabels.length + dropAnnotations.length === 0) return;
  const patch = {
    metadata: {
      ...(dropLabels.length ? { labels: Object.fromEntries(dropLabels.map((key) => [key, null])) } : {}),
      ...(dropAnnotations.length
        ? { annotations: Object.fromEntries(dropAnnotations.map((key) => [key, null])) }
        : {}),
    },
  };
  await cluster.call(`${what} ${displayName(object)}`, (client) =>
    client.patch(refOf(object), 'merge', patch),
  );
}
