import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { join, posix, relative, sep } from 'node:path';
import type { Kubectl } from '../cluster/kubectl.js';
import type { EnvironmentConfig } from '../config/types.js';
import type { Context } from '../core/context.js';
import { usageError } from '../core/errors.js';
import { MAX_FILE_BYTES, MAX_TOTAL_BYTES } from '../core/input-guards.js';
import { crdScopes, type DesiredObject, groupKind, isNamespaced, objectKey } from '../kube/objects.js';
import { renderInputs } from '../manifests/inputs.js';
import { isKustomizationFile, KUSTOMIZATION_FILE_NAMES } from '../manifests/kustomize-files.js';
import { type CheckedInputs, checkRenderInputs, confinedTreeFiles } from './input-check.js';
import { manifestsOf, parseManifests } from './parse.js';

export { parseManifests };

export type Layout = 'kustomize' | 'helm' | 'plain';

export function detectLayout(envDir: string, environment: Pick<EnvironmentConfig, 'chart'>): Layout {
  if (environment.chart) return 'helm';
  if (KUSTOMIZATION_FILE_NAMES.some((name) => existsSync(join(envDir, name)))) return 'kustomize';
  return 'plain';
}

/**
 * Plain layout: every YAML file under the environment, recursively, in a stable order. The files
 * were checked (confined to the repo, guarded) by checkRenderInputs before; those it read with
 * js-yaml are not parsed again.
 */
function readPlain(
  root: string,
  envDir: string,
  skip: ReadonlySet<string>,
  checked: CheckedInputs,
): DesiredObject[] {
  const out: DesiredObject[] = [];
  const walk = (dir: string) => {
    const entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
    );
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const path = join(dir, entry.name);
      const display = relative(root, path).split(sep).join('/');
      const stat = statSync(path);
      if (stat.isDirectory()) {
        walk(path);
        continue;
      }
      if (!/\.ya?ml$/.test(entry.name) || isKustomizationFile(entry.name) || skip.has(display)) continue;
      const read = checked.yaml.get(display);
      out.push(...(read ? manifestsOf(read, display) : parseManifests(readFileSync(path, 'utf8'), display)));
    }
  };
  walk(envDir);
  return out;
}

/**
 * The desired state of an environment from a checkout: plain YAML (recursive, multi-document,
 * with file:line), a kustomization (`kubectl kustomize`), or a Helm chart (`helm template`).
 * Namespaced objects without a namespace get the environment's. Rendered objects carry the file
 * they come from where the tool says it (kustomize's origin annotations, Helm's `# Source:`).
 */
export async function renderEnvironment(
  ctx: Context,
  environment: EnvironmentConfig,
  checkout: { dir: string; envDir: string },
  kubectl: Kubectl,
  defaultNamespace: string,
  tools: { helm: string } = { helm: 'helm' },
): Promise<DesiredObject[]> {
  const layout = detectLayout(checkout.envDir, environment);
  const envPath = relative(checkout.dir, checkout.envDir).split(sep).join('/') || '.';
  const inputs = await renderInputs(confinedTreeFiles(checkout.dir), {
    envPath,
    chart: environment.chart,
    helmValues: environment.helmValues,
  });
  const skip = new Set(environment.helmValues.map((file) => posix.join(envPath, file)));
  const checked = checkRenderInputs(checkout.dir, {
    layout,
    paths: inputs.paths,
    // kustomize loads any file below a kustomization's directory, named in the closure or not.
    roots: inputs.paths.filter((path) => isKustomizationFile(posix.basename(path))).map(posix.dirname),
    ...(layout === 'plain' ? { skip } : {}),
  });
  let objects: DesiredObject[];
  // The renderers that run a tool are loaded by the layouts that need them.
  if (layout === 'kustomize') {
    const { renderKustomize } = await import('./kustomize.js');
    objects = await renderKustomize(ctx, environment, checkout, envPath, kubectl, inputs);
  } else if (layout === 'helm') {
    const { renderHelm } = await import('./helm.js');
    objects = await renderHelm(ctx, environment, checkout, envPath, kubectl, defaultNamespace, tools.helm);
  } else {
    objects = readPlain(checkout.dir, checkout.envDir, skip, checked);
  }

  const scopes = crdScopes(objects.map((item) => item.object));
  const seen = new Map<string, DesiredObject>();
  for (const item of objects) {
    const { metadata } = item.object;
    if (isNamespaced(groupKind(item.object), scopes)) metadata.namespace ??= defaultNamespace;
    else delete metadata.namespace;
    const key = `${groupKind(item.object)}/${metadata.namespace ?? ''}/${metadata.name}`;
    const previous = seen.get(key);
    if (previous) {
      const where = (source?: { file: string; line: number }) =>
        source ? `${source.file}:${source.line}` : 'rendered output';
      throw usageError(
        'MANIFEST_DUPLICATE',
        `${item.object.kind} ${metadata.name} is declared twice: ${where(previous.source)} and ${where(item.source)}`,
        {
          ...(item.source ? { location: item.source } : {}),
        },
      );
    }
    seen.set(key, item);
  }
  return objects;
}

/** Entries of a tree past which renderFingerprint gives up: digesting would cost more than it saves. */
const MAX_FINGERPRINT_ENTRIES = 50_000;

/**
 * A digest of everything a render of `tree` can read: the bytes, names and symlinks of the tree
 * (its `.git` aside) and where the environment sits in it. Two renders of the same tree with the
 * same fingerprint in one run render the same objects. Undefined when the render reads more than
 * the tree (remote resources, a chart by URL), or the tree is too large to be worth digesting.
 */
export function renderFingerprint(
  tree: { dir: string; envDir: string },
  environment: Pick<EnvironmentConfig, 'chart' | 'allowRemoteResources'>,
): string | undefined {
  if (environment.allowRemoteResources) return undefined;
  if (environment.chart && /^[a-z][a-z0-9+.-]*:\/\//i.test(environment.chart)) return undefined;
  const hash = createHash('sha256').update(`${relative(tree.dir, tree.envDir)}\0`);
  let bytes = 0;
  let entries = 0;
  const pending = [''];
  try {
    while (pending.length > 0) {
      const dir = pending.pop()!;
      const listing = readdirSync(join(tree.dir, dir), { withFileTypes: true }).sort((a, b) =>
        a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
      );
      for (const entry of listing) {
        if (dir === '' && entry.name === '.git') continue;
        if (++entries > MAX_FINGERPRINT_ENTRIES) return undefined;
        const path = dir === '' ? entry.name : `${dir}/${entry.name}`;
        if (entry.isSymbolicLink()) {
          hash.update(`link ${path} ${readlinkSync(join(tree.dir, path))}\0`);
        } else if (entry.isDirectory()) {
          hash.update(`dir ${path}\0`);
          pending.push(path);
        } else if (entry.isFile()) {
          // Within the budgets the render holds its inputs to (a larger file is refused if read).
          const size = statSync(join(tree.dir, path)).size;
          bytes += size;
          if (size > MAX_FILE_BYTES || bytes > MAX_TOTAL_BYTES) return undefined;
          const content = readFileSync(join(tree.dir, path));
          hash.update(`file ${path} ${content.length}\0`).update(content);
        } else {
          hash.update(`other ${path}\0`);
        }
      }
    }
  } catch {
    // Unreadable: the render says why, if it reads it.
    return undefined;
  }
  return hash.digest('hex');
}

/** JSON with map keys sorted: equal objects print equal, whatever the order a tool wrote. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object')
    return `{${Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonical((value as Record<string, unknown>)[key])}`)
      .join(',')}}`;
  return JSON.stringify(value);
}

/**
 * Objects two renders disagree on (`Kind.group/namespace/name`, sorted): declared by one only, or
 * declared differently. Empty when both render the same objects.
 */
export function renderDifferences(a: readonly DesiredObject[], b: readonly DesiredObject[]): string[] {
  const index = (objects: readonly DesiredObject[]) =>
    new Map(objects.map((item) => [objectKey(item.object), canonical(item.object)]));
  const left = index(a);
  const right = index(b);
  const keys = new Set([...left.keys(), ...right.keys()]);
  return [...keys].filter((key) => left.get(key) !== right.get(key)).sort();
}
