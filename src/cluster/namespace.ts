import type { EnvironmentConfig } from '../config/types.js';
import { FIELD_MANAGER, type KubeObject } from '../kube/objects.js';
import { decorate } from './apply.js';
import type { Cluster } from './cluster.js';

/**
 * Applies one Namespace of the environment ahead of its apply, decorated exactly as the apply
 * decorates it: a first deploy needs the namespace of its inventory and apply lease before it
 * may take the lease. Server-side apply as field manager gitops, so the apply after it changes
 * nothing the two disagree on.
 */
export async function applyNamespace(
  cluster: Cluster,
  environment: EnvironmentConfig,
  namespace: KubeObject,
  revision: string,
): Promise<void> {
  await cluster.call(`creating the namespace ${namespace.metadata.name}`, (client) =>
    client.apply(decorate(namespace, environment, revision), { fieldManager: FIELD_MANAGER, force: true }),
  );
}
