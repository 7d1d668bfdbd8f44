// Renders an environment the way a deploy does (kubectl kustomize, helm template, or the plain files)
// with the upstream kubectl and helm of kube-tools, and lists the image fields of the output.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { kubeTools } from '@gitops/kube-apiserver/kube-tools';
import jsYaml from 'js-yaml';

export type RenderLayout =
  | { kind: 'kustomize'; dir: string }
  | { kind: 'helm'; chart: string; values: string[] }
  | { kind: 'plain'; dir: string; skip: string[] };

export interface Rendered {
  /** `Kind/name path` → image (containers, initContainers, ephemeralContainers, image volumes). */
  images: Map<string, string>;
  /** The output with every image field blanked: what must not change at all. */
  rest: unknown[];
}

const KUSTOMIZATION = new Set(['kustomization.yaml', 'kustomization.yml', 'Kustomization']);
const DATA_KINDS = new Set(['ConfigMap', 'Secret', 'CustomResourceDefinition']);

/** The layout `gitops` renders for an environment directory (chart → helm, kustomization → kustomize). */
export function layoutOf(envDir: string, options: { chart?: string; helmValues?: string[] }): RenderLayout {
  if (options.chart) {
    return {
      kind: 'helm',
      chart: join(envDir, options.chart),
      values: (options.helmValues ?? []).map((file) => join(envDir, file)),
    };
  }
  if ([...KUSTOMIZATION].some((name) => existsSync(join(envDir, name))))
    return { kind: 'kustomize', dir: envDir };
  return { kind: 'plain', dir: envDir, skip: options.helmValues ?? [] };
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && /\.ya?ml$/.test(entry.name) && !KUSTOMIZATION.has(entry.name))
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)).split(sep).join('/'))
    .sort();
}

/** Renders and lists image fields; throws with the tool's stderr when the render fails. */
export function render(layout: RenderLayout): Rendered {
  let documents: unknown[];
  if (layout.kind === 'kustomize') {
    const out = execFileSync(kubeTools().kubectl, ['kustomize', layout.dir], {
      encoding: 'utf8',
      stdio: 'pipe',
    });
    documents = jsYaml.loadAll(out);
  } else if (layout.kind === 'helm') {
    const out = execFileSync(
      kubeTools().helm,
      ['template', 'release', layout.chart, ...layout.values.flatMap((file) => ['--values', file])],
      { encoding: 'utf8', stdio: 'pipe', env: { ...process.env, HELM_CACHE_HOME: '/tmp/gitops-helm-cache' } },
    );
    documents = jsYaml.loadAll(out);
  } else {
    documents = yamlFiles(layout.dir)
      .filter((file) => !layout.skip.includes(file))
      .flatMap((file) => jsYaml.loadAll(readFileSync(join(layout.dir, file), 'utf8')));
  }
  // JSON round trip: aliases become copies, as every renderer expands them.
  const objects = JSON.parse(JSON.stringify(documents.filter((doc) => doc !== null))) as unknown[];
  const images = new Map<string, string>();
  for (const object of objects) collect(object, images);
  return { images, rest: objects };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function collect(object: unknown, images: Map<string, string>): void {
  if (!isObject(object)) return;
  const kind = typeof object.kind === 'string' ? object.kind : '?';
  if (kind === 'List' && Array.isArray(object.items)) {
    for (const item of object.items) collect(item, images);
    return;
  }
  if (DATA_KINDS.has(kind)) return;
  const name = isObject(object.metadata) ? String(object.metadata.name) : '?';
  const walk = (node: unknown, path: string) => {
    if (Array.isArray(node)) {
      node.forEach((item, index) => {
        walk(item, `${path}[${index}]`);
      });
      return;
    }
    if (!isObject(node)) return;
    for (const [key, value] of Object.entries(node)) {
      const here = path ? `${path}.${key}` : key;
      if (
        ['containers', 'initContainers', 'ephemeralContainers', 'volumes'].includes(key) &&
        Array.isArray(value)
      ) {
        for (const item of value) {
          if (!isObject(item)) continue;
          const at = `${here}[${String(item.name)}]`;
          if (key === 'volumes') {
            if (isObject(item.image) && typeof item.image.reference === 'string') {
              images.set(`${kind}/${name} ${at}.image.reference`, item.image.reference);
              item.image.reference = '<image>';
            }
          } else if (typeof item.image === 'string') {
            images.set(`${kind}/${name} ${at}.image`, item.image);
            item.image = '<image>';
          }
        }
      }
      walk(value, here);
    }
  };
  walk(object, '');
}
