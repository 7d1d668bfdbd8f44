import type { EnvironmentConfig } from '../config/types.js';
import {
  ANNOTATION_REVISION,
  displayName,
  FIELD_MANAGER,
  groupKind,
  type KubeObject,
  LABEL_ENVIRONMENT,
  ownerId,
} from '../kube/objects.js';
import { type Inventory, inventoryManifest } from './inventory.js';
import type { Kubectl } from './kubectl.js';

export interface ApplyRequest {
  /** Env-repo commit the objects come from: recorded on every object and in the inventory. */
  revision: string;
  objects: readonly KubeObject[];
  /** Live objects of this environment that left git (from drift detection) and may be deleted. */
  prune: readonly KubeObject[];
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
}

/** Stamps an object with the ownership label (the environment's id) and the revision annotation (a copy). */
export function decorate(object: KubeObject, owner: string, revision: string): KubeObject {
  const copy = structuredClone(object);
  copy.metadata.labels = { ...copy.metadata.labels, [LABEL_ENVIRONMENT]: owner };
  copy.metadata.annotations = { ...copy.metadata.annotations, [ANNOTATION_REVISION]: revision };
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
  const objects = request.objects.map((object) => decorate(object, ownerId(environment), request.revision));
  const kinds = [...new Set(objects.map(groupKind))];
  const namespaces = [
    ...new Set(objects.map((object) => object.metadata.namespace).filter((ns): ns is string => Boolean(ns))),
  ];
  const inventory: Inventory = {
    kinds,
    namespaces,
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
    phase: 'applying',
    updatedAt: new Date().toISOString(),
  }) as KubeObject;
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
  if (request.prune.length > 0) {
    const targets = request.prune.map((object) => ({
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
    pruned.push(...request.prune.map(displayName));
  }

  return { applied: objects.length, lines, pruned, inventory };
}
