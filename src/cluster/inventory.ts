import type { EnvironmentConfig } from '../config/types.js';
import { FIELD_MANAGER, type KubeObject, ownerId } from '../kube/objects.js';
import type { Cluster } from './cluster.js';

/**
 * What gitops last did to an environment, kept in the cluster as a ConfigMap: the objects it owns
 * (prune deletes nothing else), the kinds and namespaces it applied (so drift knows where to look
 * without listing every kind in the cluster), and the deploy state (revision, phase), so an
 * interrupted run is explained by the next one.
 */
export interface Inventory {
  /** `Kind.group` of everything applied. */
  kinds: string[];
  namespaces: string[];
  /**
   * Keys (`Kind.group/namespace/name`) of every object this environment applied and owns. While
   * an apply runs, those of the previous apply too: an interrupted run still knows what to prune.
   * Undefined in inventories written before gitops recorded objects.
   */
  objects?: string[];
  /**
   * The subset of `objects` that existed before this environment first applied them (adopted):
   * when they leave git they are released (gitops' marks removed), never deleted.
   */
  adopted?: string[];
  /** Env-repo revision of the last apply. */
  revision?: string;
  /** `applying` while objects are being applied, `applied` after, `verified` once healthy and in sync. */
  phase?: 'applying' | 'applied' | 'verified' | 'failed';
  /** Revision that was verified last (what rollback without a sha returns to). */
  verifiedRevision?: string;
  previousRevision?: string;
  updatedAt?: string;
  actor?: string;
  /** With phase `failed`: what was running (`deploy`, `rollback`, `auto-rollback`) and why it failed. */
  failedAction?: string;
  failure?: string;
  /**
   * Set when this is the state a release before environment ids left under the environment's
   * name (the ConfigMap's name): the next apply migrates it and deletes that ConfigMap.
   */
  legacyName?: string;
}

export function inventoryName(environment: Pick<EnvironmentConfig, 'name' | 'id'>): string {
  return `gitops-inventory-${ownerId(environment)}`;
}

export function inventoryNamespace(
  environment: Pick<EnvironmentConfig, 'namespace'>,
  contextNamespace: string,
): string {
  return environment.namespace ?? contextNamespace;
}

export const INVENTORY_LABEL = 'gitops.dev/inventory';

function split(text: string | undefined, separator = ','): string[] {
  return (text ?? '').split(separator).filter(Boolean);
}

/**
 * The inventory name of releases before environment ids (`gitops-inventory-<name>`), when it
 * differs from today's: read once to migrate an environment those releases deployed.
 */
export function legacyInventoryName(environment: Pick<EnvironmentConfig, 'name' | 'id'>): string | undefined {
  const legacy = `gitops-inventory-${environment.name}`;
  return legacy === inventoryName(environment) ? undefined : legacy;
}

export function readInventory(
  cluster: Cluster,
  environment: EnvironmentConfig,
  namespace: string,
): Promise<Inventory | undefined> {
  return readInventoryNamed(cluster, inventoryName(environment), namespace);
}

export async function readInventoryNamed(
  cluster: Cluster,
  name: string,
  namespace: string,
): Promise<Inventory | undefined> {
  const live = await cluster.call('reading the gitops inventory', (client) =>
    client.get({ apiVersion: 'v1', kind: 'ConfigMap', name, namespace }),
  );
  if (!live) return undefined;
  const data = ((live as { data?: Record<string, string> }).data ?? {}) as Record<string, string>;
  return {
    kinds: split(data.kinds),
    namespaces: split(data.namespaces),
    ...(data.objects !== undefined ? { objects: split(data.objects, '\n') } : {}),
    ...(data.adopted ? { adopted: split(data.adopted, '\n') } : {}),
    ...(data.revision ? { revision: data.revision } : {}),
    ...(data.phase ? { phase: data.phase as Inventory['phase'] } : {}),
    ...(data.verifiedRevision ? { verifiedRevision: data.verifiedRevision } : {}),
    ...(data.previousRevision ? { previousRevision: data.previousRevision } : {}),
    ...(data.updatedAt ? { updatedAt: data.updatedAt } : {}),
    ...(data.actor ? { actor: data.actor } : {}),
    ...(data.failedAction ? { failedAction: data.failedAction } : {}),
    ...(data.failure ? { failure: data.failure } : {}),
  };
}

export function inventoryManifest(
  environment: EnvironmentConfig,
  namespace: string,
  inventory: Inventory,
): Record<string, unknown> {
  const data: Record<string, string> = {
    kinds: [...new Set(inventory.kinds)].sort().join(','),
    namespaces: [...new Set(inventory.namespaces)].sort().join(','),
    // One key a line: ConfigMap data holds up to 1 MiB, some 15,000 objects.
    ...(inventory.objects ? { objects: [...new Set(inventory.objects)].sort().join('\n') } : {}),
    ...(inventory.adopted?.length ? { adopted: [...new Set(inventory.adopted)].sort().join('\n') } : {}),
  };
  for (const key of [
    'revision',
    'phase',
    'verifiedRevision',
    'previousRevision',
    'updatedAt',
    'actor',
    'failedAction',
    'failure',
  ] as const) {
    const value = inventory[key];
    if (value) data[key] = value;
  }
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: inventoryName(environment),
      namespace,
      labels: { [INVENTORY_LABEL]: ownerId(environment) },
    },
    data,
  };
}

/** Writes the inventory with server-side apply, as field manager gitops (like the apply that carries it). */
export async function writeInventory(
  cluster: Cluster,
  environment: EnvironmentConfig,
  namespace: string,
  inventory: Inventory,
): Promise<void> {
  const manifest = inventoryManifest(environment, namespace, inventory) as KubeObject;
  await cluster.call('recording the deploy state in the cluster', (client) =>
    client.apply(manifest, { fieldManager: FIELD_MANAGER, force: true }),
  );
}

/** Deletes an inventory ConfigMap by name (the name-keyed one of a migrated environment). */
export async function deleteInventoryNamed(cluster: Cluster, name: string, namespace: string): Promise<void> {
  await cluster.call(`deleting the migrated inventory ${name}`, (client) =>
    client.delete({ apiVersion: 'v1', kind: 'ConfigMap', name, namespace }),
  );
}
