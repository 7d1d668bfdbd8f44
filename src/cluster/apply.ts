import type { EnvironmentConfig } from '../config/types.js';
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
import { type Inventory, inventoryManifest } from './inventory.js';
import type { Kubectl } from './kubectl.js';

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

async function applyBatch(kubectl: Kubectl, objects: readonly KubeObject[]): Promise<string[]> {
  if (objects.length === 0) return [];
  try {
    const result = await kubectl.run(
      ['apply', '--server-side', `--field-manager=${FIELD_MANAGER}`, '--force-conflicts', '-f', '-'],
      {
        input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }),
        timeoutMs: 300_000,
      },
    );
    return result.stdout.split('\n').filter(Boolean);
  } catch (error) {
    throw kubectl.clusterError(error, `applying ${objects.length} object(s)`);
  }
}

/**
 * Server-side apply of an environment (field manager `gitops`, conflicts forced: git is right),
 * then deletion of what left git. Order inside the apply: Namespaces and CRDs, then the
 * inventory (phase `applying`, kinds of old and new, so an interrupted run can still find and
 * prune everything), then the rest. Without CRDs that is one kubectl call (kubectl applies a
 * List in order); with CRDs the rest waits until they are Established. The inventory stays
 * `applying` until the caller records the outcome (`verified` or `failed`).
 */
export async function applyEnvironment(
  kubectl: Kubectl,
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
  for (const object of request.takeOver ?? []) await stripOwnerMarks(kubectl, object, ownerId(environment));
  // Namespaces, then CRDs: kubectl applies a List in order.
  const foundations = [
    ...objects.filter((object) => object.kind === 'Namespace'),
    ...objects.filter((object) => object.kind === 'CustomResourceDefinition'),
  ];
  const rest = objects.filter((object) => !isFoundation(object));
  const crds = foundations.filter((object) => object.kind === 'CustomResourceDefinition');
  const lines: string[] = [];
  if (crds.length === 0) {
    lines.push(...(await applyBatch(kubectl, [...foundations, applying, ...rest])));
  } else {
    lines.push(...(await applyBatch(kubectl, [...foundations, applying])));
    try {
      // Not declared a read: it waits on what the apply above wrote, and is skipped with it.
      await kubectl.run(
        [
          'wait',
          '--for=condition=Established',
          '--timeout=60s',
          ...crds.map((crd) => `crd/${crd.metadata.name}`),
        ],
        { timeoutMs: 90_000 },
      );
    } catch (error) {
      throw kubectl.clusterError(error, 'waiting for CRDs to be established');
    }
    lines.push(...(await applyBatch(kubectl, rest)));
  }

  const pruned: string[] = [];
  const kept: string[] = [];
  const doomed: KubeObject[] = [];
  const release = [...(request.release ?? [])];
  for (const object of request.prune) {
    // Kept, and released: it is no longer this environment's, whoever's the rest is.
    if (
      object.kind === 'Namespace' &&
      (await holdsOthers(kubectl, object.metadata.name, ownerId(environment)))
    ) {
      kept.push(object.metadata.name);
      release.push(object);
    } else doomed.push(object);
  }
  if (doomed.length > 0) {
    const targets = doomed.map((object) => ({
      apiVersion: object.apiVersion,
      kind: object.kind,
      metadata: {
        name: object.metadata.name,
        ...(object.metadata.namespace ? { namespace: object.metadata.namespace } : {}),
      },
    }));
    try {
      await kubectl.run(['delete', '--ignore-not-found', '--wait=false', '-f', '-'], {
        input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: targets }),
        timeoutMs: 120_000,
      });
    } catch (error) {
      throw kubectl.clusterError(error, 'deleting objects that left git');
    }
    pruned.push(...doomed.map(displayName));
  }
  const released: string[] = [];
  for (const object of release) {
    await releaseObject(kubectl, object);
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
async function holdsOthers(kubectl: Kubectl, namespace: string, owner: string): Promise<boolean> {
  const resources = (
    await kubectl.read(
      ['api-resources', '--namespaced=true', '--verbs=list,delete', '-o', 'name'],
      'listing kinds',
    )
  )
    .split('\n')
    .map((line) => line.trim())
    .filter((name) => name && !name.startsWith('events'));
  if (resources.length === 0) return false;
  const live = await kubectl.read(
    ['get', resources.join(','), '-n', namespace, '-o', 'json', '--ignore-not-found'],
    `listing what namespace ${namespace} holds`,
  );
  const items = (JSON.parse(live || '{"items":[]}') as { items?: KubeObject[] }).items ?? [];
  return items.some((object) => !belongsToTheNamespace(object, owner));
}

/** Removes gitops' label and annotations from an adopted object that left git: it is someone else's again. */
function releaseObject(kubectl: Kubectl, object: KubeObject): Promise<void> {
  return removeMarks(
    kubectl,
    object,
    [LABEL_ENVIRONMENT],
    [ANNOTATION_REVISION, ANNOTATION_OWNER],
    'releasing',
  );
}

/** Removes the marks by which another tool claims an object this environment takes over. */
function stripOwnerMarks(kubectl: Kubectl, object: KubeObject, id: string): Promise<void> {
  const owner = foreignOwner(object, id);
  if (!owner) return Promise.resolve();
  const marks = OWNER_MARKS[owner.tool];
  return removeMarks(kubectl, object, marks.labels, marks.annotations, 'taking over');
}

/** A merge patch deleting labels and annotations (null removes a key). */
async function removeMarks(
  kubectl: Kubectl,
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
  const target = `${groupKind(object)}/${object.metadata.name}`;
  try {
    await kubectl.run(
      [
        'patch',
        target,
        ...(object.metadata.namespace ? ['-n', object.metadata.namespace] : []),
        '--type=merge',
        '-p',
        JSON.stringify(patch),
      ],
      { timeoutMs: 60_000 },
    );
  } catch (error) {
    throw kubectl.clusterError(error, `${what} ${displayName(object)}`);
  }
}
