import { displayName, FIELD_MANAGER, groupOf, type KubeObject } from '../kube/objects.js';
import type { Kubectl } from './kubectl.js';

/** `Deployment.v1.apps`, `ConfigMap.v1.`: a kind at the exact version its patch paths were read from. */
function resourceArg(object: KubeObject): string {
  const group = groupOf(object.apiVersion);
  const version = object.apiVersion.slice(object.apiVersion.indexOf('/') + 1);
  return `${object.kind}.${version}.${group}`;
}

/**
 * A JSON patch (RFC 6902) of one live object, through the main resource (status is a
 * subresource and cannot change this way). The patch goes on stdin, never on the command line:
 * its `test` values may be Secret data.
 */
export async function jsonPatch(kubectl: Kubectl, object: KubeObject, operations: readonly unknown[]) {
  const namespace = object.metadata.namespace;
  try {
    await kubectl.run(
      [
        'patch',
        resourceArg(object),
        object.metadata.name,
        ...(namespace ? ['-n', namespace] : []),
        '--type=json',
        '--patch-file=/dev/stdin',
        `--field-manager=${FIELD_MANAGER}`,
      ],
      { input: JSON.stringify(operations), timeoutMs: 60_000 },
    );
  } catch (error) {
    throw kubectl.clusterError(error, `removing fields git does not declare from ${displayName(object)}`);
  }
}
