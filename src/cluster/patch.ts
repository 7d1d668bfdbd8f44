import { refOf } from '../kube/client/client.js';
import { displayName, type KubeObject, REMOVAL_FIELD_MANAGER } from '../kube/objects.js';
import type { Cluster } from './cluster.js';

/**
 * A JSON patch (RFC 6902) of one live object at the exact version its patch paths were read
 * from, through the main resource (status is a subresource and cannot change this way). Its
 * `test` operations make the server refuse it when the object changed since it was read.
 */
export async function jsonPatch(cluster: Cluster, object: KubeObject, operations: readonly unknown[]) {
  await cluster.call(`removing fields git does not declare from ${displayName(object)}`, (client) =>
    client.patch(refOf(object), 'json', operations, { fieldManager: REMOVAL_FIELD_MANAGER }),
  );
}
