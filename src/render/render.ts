import { existsSync, lstatSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { join, posix, relative, sep } from 'node:path';
import { LineCounter, parseAllDocuments } from 'yaml';
import type { Kubectl } from '../cluster/kubectl.js';
import type { EnvironmentConfig } from '../config/types.js';
import type { Context } from '../core/context.js';
import { GitopsError, usageError } from '../core/errors.js';
import { ExecError } from '../core/exec.js';
import { crdScopes, type DesiredObject, groupKind, isNamespaced, type KubeObject } from '../kube/objects.js';
import { isKustomizationFile, KUSTOMIZATION_FILE_NAMES } from '../manifests/kustomize.js';

/** A manifest larger than this is refused: env repos hold hand-written YAML, not data dumps. */
export const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;

export type Layout = 'kustomize' | 'helm' | 'plain';

export function detectLayout(envDir: string, environment: Pick<EnvironmentConfig, 'chart'>): Layout {
  if (environment.chart) return 'helm';
  if (KUSTOMIZATION_FILE_NAMES.some((name) => existsSync(join(envDir, name)))) return 'kustomize';
  return 'plain';
}

function asObjects(value: unknown, where: { file: string; line?: number }): KubeObject[] {
  if (value === null || value === undefined) return [];
  const object = value as Partial<KubeObject> & { items?: unknown[] };
  const problem = (message: string) =>
    usageError('MANIFEST_INVALID', message, {
      location: { file: where.file, ...(where.line ? { line: where.line } : {}) },
      hint: 'every YAML document in an environment must be a Kubernetes object (apiVersion, kind, metadata.name)',
    });
  if (typeof value !== 'object' || Array.isArray(value))
    throw problem('document is not a Kubernetes object (a map)');
  if (typeof object.kind === 'string' && object.kind.endsWith('List') && Array.isArray(object.items)) {
    return object.items.flatMap((item) => asObjects(item, where));
  }
  if (typeof object.apiVersion !== 'string' || typeof object.kind !== 'string') {
    throw problem('document has no apiVersion/kind');
  }
  if (!object.metadata || typeof object.metadata.name !== 'string' || object.metadata.name === '') {
    throw problem(`${object.kind} has no metadata.name`);
  }
  return [object as KubeObject];
}

/** Parses a multi-document YAML text into objects with their starting line. */
export function parseManifests(text: string, file: string): DesiredObject[] {
  const lines = new LineCounter();
  const documents = parseAllDocuments(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: true });
  const out: DesiredObject[] = [];
  for (const document of Array.isArray(documents) ? documents : [documents]) {
    const error = document.errors[0];
    if (error) {
      const position = error.linePos?.[0];
      throw usageError('MANIFEST_YAML', `invalid YAML: ${error.message.split('\n')[0]}`, {
        location: { file, ...(position ? { line: position.line, column: position.col } : {}) },
        hint: 'fix the YAML at that position',
      });
    }
    const start = document.contents?.range?.[0];
    const line = start === undefined ? 1 : lines.linePos(start).line;
    let value: unknown;
    try {
      // maxAliasCount bounds "billion laughs" expansion.
      value = document.toJS({ maxAliasCount: 100 });
    } catch (cause) {
      throw usageError('MANIFEST_YAML', `cannot expand YAML document: ${(cause as Error).message}`, {
        location: { file, line },
        cause,
      });
    }
    for (const object of asObjects(value, { file, line })) out.push({ object, source: { file, line } });
  }
  return out;
}

/** Plain layout: every YAML file under the environment, recursively, in a stable order. */
function readPlain(root: string, envDir: string, skip: ReadonlySet<string>): DesiredObject[] {
  const realRoot = realpathSync(root);
  const out: DesiredObject[] = [];
  const walk = (dir: string) => {
    const entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
    );
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const path = join(dir, entry.name);
      const display = relative(root, path).split(sep).join('/');
      if (lstatSync(path).isSymbolicLink()) {
        const target = realpathSync(path);
        if (target !== realRoot && !target.startsWith(`${realRoot}/`)) {
          throw usageError('MANIFEST_SYMLINK', `${display} is a symbolic link leading out of the env repo`, {
            location: { file: display },
            hint: 'replace the link with the file itself',
          });
        }
      }
      const stat = statSync(path);
      if (stat.isDirectory()) {
        walk(path);
        continue;
      }
      if (!/\.ya?ml$/.test(entry.name) || isKustomizationFile(entry.name) || skip.has(display)) continue;
      if (stat.size > MAX_MANIFEST_BYTES) {
        throw usageError(
          'MANIFEST_TOO_LARGE',
          `${display} is ${stat.size} bytes; manifests are limited to ${MAX_MANIFEST_BYTES}`,
          {
            location: { file: display },
          },
        );
      }
      out.push(...parseManifests(readFileSync(path, 'utf8'), display));
    }
  };
  walk(envDir);
  return out;
}

function renderedObjects(text: string, tool: string): DesiredObject[] {
  return parseManifests(text, `(${tool} output)`).map(({ object }) => ({ object }));
}

/**
 * The desired state of an environment from a checkout: plain YAML (recursive, multi-document,
 * with file:line), a kustomization (`kubectl kustomize`), or a Helm chart (`helm template`).
 * Namespaced objects without a namespace get the environment's.
 */
export async function renderEnvironment(
  ctx: Context,
  environment: EnvironmentConfig,
  checkout: { dir: string; envDir: string },
  kubectl: Kubectl,
  defaultNamespace: string,
): Promise<DesiredObject[]> {
  const layout = detectLayout(checkout.envDir, environment);
  let objects: DesiredObject[];
  if (layout === 'kustomize') {
    try {
      const result = await kubectl.run(['kustomize', checkout.envDir], { timeoutMs: 120_000, read: true });
      objects = renderedObjects(result.stdout, 'kustomize');
    } catch (error) {
      if (error instanceof ExecError) {
        throw usageError(
          'KUSTOMIZE_FAILED',
          `kustomize could not build ${environment.path}: ${error.stderrTail.split('\n').at(-1)}`,
          {
            location: { file: posix.join(environment.path, 'kustomization.yaml') },
            cause: error,
          },
        );
      }
      throw error;
    }
  } else if (layout === 'helm') {
    const chart = join(checkout.envDir, environment.chart!);
    const values = environment.helmValues.flatMap((file) => ['--values', join(checkout.envDir, file)]);
    try {
      const result = await ctx.exec.run(
        'helm',
        ['template', environment.name, chart, '--namespace', defaultNamespace, ...values],
        { cwd: checkout.dir, timeoutMs: 120_000, read: true },
      );
      objects = renderedObjects(result.stdout, 'helm template');
    } catch (error) {
      if (error instanceof GitopsError && error.code === 'COMMAND_NOT_FOUND') {
        throw usageError(
          'HELM_MISSING',
          `environment ${environment.name} is a Helm chart, but helm is not installed`,
          {
            hint: 'install helm 3 (https://helm.sh/docs/intro/install/) and put it on PATH',
          },
        );
      }
      if (error instanceof ExecError) {
        throw usageError(
          'HELM_FAILED',
          `helm template failed for ${environment.path}: ${error.stderrTail.split('\n').at(-1)}`,
          { cause: error },
        );
      }
      throw error;
    }
  } else {
    const skip = new Set(environment.helmValues.map((file) => posix.join(environment.path, file)));
    objects = readPlain(checkout.dir, checkout.envDir, skip);
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
