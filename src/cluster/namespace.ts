import type { EnvironmentConfig } from '../config/types.js';
import { FIELD_MANAGER, type KubeObject } from '../kube/objects.js';
import { decorate } from './apply.js';
import type { Kubectl } from './kubectl.js';

/**
 * Applies one Namespace of the environment ahead of its apply, decorated exactly as the apply
 * decorates it: a first deploy needs the namespace of its inventory and apply lease before it
 * may take the lease. Server-side apply as field manager gitops, so the apply after it changes
 * nothing the two disagree on.
 */
export async function applyNamespace(
  kubectl: Kubectl,
  environment: EnvironmentConfig,
  namespace: KubeObject,
  revision: string,
): Promise<void> {
  try {
    await kubectl.run(
      ['apply', '--server-side', `--field-manager=${FIELD_MANAGER}`, '--force-conflicts', '-f', '-'],
      { input: JSON.stringify(decorate(namespace, environment, revision)), timeoutMs: 60_000 },
    );
  } catch (error) {
    throw kubectl.clusterError(error, `creating the namespace ${namespace.metadata.name}`);
  }
}
