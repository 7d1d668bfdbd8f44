import {
  existsSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import type { Kubectl } from '../cluster/kubectl.js';
import type { EnvironmentConfig } from '../config/types.js';
import type { Context } from '../core/context.js';
import { usageError } from '../core/errors.js';
import { ExecError } from '../core/exec.js';
import type { DesiredObject, KubeObject, SourceRef } from '../kube/objects.js';
import type { RenderInputs } from '../manifests/inputs.js';
import { parseDocuments } from './parse.js';

/** kustomize's own record of where an object came from (`buildMetadata: [originAnnotations]`). */
const ORIGIN_ANNOTATION = 'config.kubernetes.io/origin';
/** The name the wrapper kustomization gives the checkout (a symlink to its root). */
const TREE = 'tree';

/**
 * `kubectl kustomize` of the environment, through a wrapper kustomization in a temp directory
 * that lists it as its only resource and asks for origin annotations: the output is the same
 * objects (names, generator hashes and all), each annotated with the file it came from, which
 * gives rendered objects a file:line. The annotation is taken off again unless a kustomization of
 * the environment asks for it itself. Remote resources are refused unless allowed: they are
 * fetched on every build, so one commit could stand for different content.
 */
export async function renderKustomize(
  ctx: Context,
  environment: EnvironmentConfig,
  checkout: { dir: string; envDir: string },
  envPath: string,
  kubectl: Kubectl,
  inputs: RenderInputs,
): Promise<DesiredObject[]> {
  const remote = inputs.remote[0];
  if (remote && !environment.allowRemoteResources) {
    throw usageError(
      'KUSTOMIZE_REMOTE_RESOURCE',
      `${remote.file}:${remote.line} names the remote resource ${remote.url}: it is fetched on every render, so a commit no longer says what runs and a rollback cannot restore it`,
      {
        location: { file: remote.file, line: remote.line },
        hint: `vendor the resource into the env repo, or set environments.${environment.name}.allowRemoteResources: true (renders are then not reproducible)`,
      },
    );
  }
  const wrapper = mkdtempSync(join(ctx.env.TMPDIR || tmpdir(), 'gitops-kustomize-'));
  try {
    symlinkSync(realpathSync(checkout.dir), join(wrapper, TREE));
    writeFileSync(
      join(wrapper, 'kustomization.yaml'),
      `resources:\n  - ${JSON.stringify(posix.join(TREE, envPath))}\nbuildMetadata: [originAnnotations]\n`,
    );
    const result = await kubectl.run(['kustomize', wrapper], { timeoutMs: 120_000, read: true });
    return parseDocuments(result.stdout, '(kustomize output)').map(({ object }) => {
      const source = originOf(object, checkout.dir);
      if (!inputs.originAnnotations) stripOrigin(object);
      return { object, ...(source ? { source } : {}) };
    });
  } catch (error) {
    if (error instanceof ExecError) {
      // Paths in kustomize's words are the wrapper's (`tree/envs/x`, `/tmp/…/tree/envs/x`): the repo's.
      const message = (error.stderrTail.split('\n').at(-1) ?? '')
        .replaceAll(`${wrapper}/${TREE}/`, '')
        .replace(new RegExp(`(^|[\\s'"(])${TREE}/`, 'g'), '$1');
      throw usageError('KUSTOMIZE_FAILED', `kustomize could not build ${environment.path}: ${message}`, {
        location: { file: posix.join(environment.path, 'kustomization.yaml') },
        cause: error,
      });
    }
    throw error;
  } finally {
    rmSync(wrapper, { recursive: true, force: true });
  }
}

function stripOrigin(object: KubeObject): void {
  const annotations = object.metadata.annotations;
  if (!annotations || !(ORIGIN_ANNOTATION in annotations)) return;
  delete annotations[ORIGIN_ANNOTATION];
  if (Object.keys(annotations).length === 0) delete object.metadata.annotations;
}

/**
 * The file an object came from, by its origin annotation (`path:` for a resource file,
 * `configuredIn:` for a generated one), with the line of its document when the file declares it
 * under the same kind; remote origins (`repo:`) have no file here.
 */
function originOf(object: KubeObject, root: string): SourceRef | undefined {
  const text = object.metadata.annotations?.[ORIGIN_ANNOTATION];
  if (!text || /^repo:/m.test(text)) return undefined;
  const match = /^(path|configuredIn):\s*(.+)$/m.exec(text);
  if (!match) return undefined;
  const file = match[2]!.trim().replace(/^["']|["']$/g, '');
  if (!file.startsWith(`${TREE}/`)) return undefined;
  const repoPath = file.slice(TREE.length + 1);
  return { file: repoPath, line: lineIn(join(root, repoPath), object, match[1] === 'configuredIn') };
}

/** The line of the document declaring `object` (same kind, its name inside the rendered one). */
function lineIn(path: string, object: KubeObject, generated: boolean): number {
  if (!existsSync(path)) return 1;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return 1;
  }
  if (generated) {
    const key = object.kind === 'Secret' ? 'secretGenerator' : 'configMapGenerator';
    const index = text.split('\n').findIndex((line) => line.startsWith(`${key}:`));
    return index === -1 ? 1 : index + 1;
  }
  try {
    const documents = parseDocuments(text, path).filter((document) => document.object.kind === object.kind);
    const named = documents.find((document) => object.metadata.name.includes(document.object.metadata.name));
    return (named ?? documents[0])?.line ?? 1;
  } catch {
    return 1;
  }
}
