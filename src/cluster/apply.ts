import type { Context } from '../cli/context.js';
import type { EnvironmentConfig } from '../config/types.js';
import { type Inventory, writeInventory } from './inventory.js';
import type { Kubectl } from './kubectl.js';
import {
  ANNOTATION_REVISION,
  displayName,
  groupKind,
  type KubeObject,
  LABEL_ENVIRONMENT,
} from './objects.js';

export const FIELD_MANAGER = 'gitops';

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
  applied: number;
  /** `kubectl apply` lines such as `deployment.apps/web serverside-applied`. */
  lines: string[];
  pruned: string[];
}

/** Stamps an object with the environment label and the revision annotation (a copy). */
export function decorate(object: KubeObject, environment: string, revision: string): KubeObject {
  const copy = structuredClone(object);
  copy.metadata.labels = { ...copy.metadata.labels, [LABEL_ENVIRONMENT]: environment };
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
        mutates: true,
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
 * foundations (Namespaces, CRDs) first, then everything else; then deletion of what left git.
 * The inventory is written once the foundations exist (it may live in a namespace git creates)
 * and before the rest (phase `applying`, kinds of old and new) so an interrupted run can still
 * find and prune everything, and again at the end (phase `applied`).
 */
export async function applyEnvironment(
  ctx: Context,
  kubectl: Kubectl,
  environment: EnvironmentConfig,
  request: ApplyRequest,
): Promise<ApplyResult> {
  const objects = request.objects.map((object) => decorate(object, environment.name, request.revision));
  const kinds = [...new Set(objects.map(groupKind))];
  const namespaces = [
    ...new Set(objects.map((object) => object.metadata.namespace).filter((ns): ns is string => Boolean(ns))),
  ];
  const base: Inventory = {
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
  const foundations = objects.filter(isFoundation);
  const lines = await applyBatch(kubectl, foundations);
  const crds = foundations.filter((object) => object.kind === 'CustomResourceDefinition');
  if (crds.length > 0 && !ctx.dryRun) {
    try {
      await kubectl.run(
        [
          'wait',
          '--for=condition=Established',
          '--timeout=60s',
          ...crds.map((crd) => `crd/${crd.metadata.name}`),
        ],
        {
          timeoutMs: 90_000,
        },
      );
    } catch (error) {
      throw kubectl.clusterError(error, 'waiting for CRDs to be established');
    }
  }
  await writeInventory(kubectl, environment, request.inventoryNamespace, {
    ...base,
    kinds: [...new Set([...kinds, ...(request.previous?.kinds ?? [])])],
    namespaces: [...new Set([...namespaces, ...(request.previous?.namespaces ?? [])])],
    phase: 'applying',
    updatedAt: new Date().toISOString(),
  });
  lines.push(
    ...(await applyBatch(
      kubectl,
      objects.filter((object) => !isFoundation(object)),
    )),
  );

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
        mutates: true,
        timeoutMs: 120_000,
      });
    } catch (error) {
      throw kubectl.clusterError(error, 'deleting objects that left git');
    }
    pruned.push(...request.prune.map(displayName));
  }

  await writeInventory(kubectl, environment, request.inventoryNamespace, {
    ...base,
    phase: 'applied',
    updatedAt: new Date().toISOString(),
  });
  return { applied: objects.length, lines, pruned };
}
