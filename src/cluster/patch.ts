import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { displayName, groupOf, type KubeObject, REMOVAL_FIELD_MANAGER } from '../kube/objects.js';
import type { Kubectl } from './kubectl.js';

/** `Deployment.v1.apps`, `ConfigMap.v1.`: a kind at the exact version its patch paths were read from. */
function resourceArg(object: KubeObject): string {
  const group = groupOf(object.apiVersion);
  const version = object.apiVersion.slice(object.apiVersion.indexOf('/') + 1);
  return `${object.kind}.${version}.${group}`;
}

/**
 * A JSON patch (RFC 6902) of one live object, through the main resource (status is a
 * subresource and cannot change this way). The patch goes through a private temp file, never on
 * the command line: its `test` values may be Secret data. (kubectl cannot read it from stdin:
 * Node hands children a socket there, which /dev/stdin cannot open.)
 */
export async function jsonPatch(
  kubectl: Kubectl,
  object: KubeObject,
  operations: readonly unknown[],
  scratch: string = tmpdir(),
) {
  const namespace = object.metadata.namespace;
  const dir = mkdtempSync(join(scratch, 'gitops-patch-'));
  const file = join(dir, 'patch.json');
  writeFileSync(file, JSON.stringify(operations), { mode: 0o600 });
  try {
    await kubectl.run(
      [
        'patch',
        resourceArg(object),
        object.metadata.name,
        ...(namespace ? ['-n', namespace] : []),
        '--type=json',
        `--patch-file=${file}`,
        `--field-manager=${REMOVAL_FIELD_MANAGER}`,
      ],
      { timeoutMs: 60_000 },
    );
  } catch (error) {
    throw kubectl.clusterError(error, `removing fields git does not declare from ${displayName(object)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
