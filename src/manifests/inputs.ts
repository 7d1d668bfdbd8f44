import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, posix } from 'node:path';
import type { Node, YAMLMap } from 'yaml';
import { isMap, isScalar, isSeq, LineCounter, parseDocument } from '../core/yaml.js';
import { isRemote, KUSTOMIZATION_FILE_NAMES } from './kustomize-files.js';

/**
 * The files an environment's render reads: its "revision closure". Two commits whose closures hold
 * the same content render the same objects, so `status`, `history`, rollback and the drift gate
 * look at these paths, not at the environment's directory alone (a commit that changes only a
 * kustomize base, a component or a shared chart changes what runs).
 *
 * For kustomize it follows what `kustomize build` loads (api/types/kustomization.go and
 * api/internal/target/kusttarget.go): the kustomization file of every directory reached through
 * `resources`, `bases` and `components`, and every file named by `crds`, `patches`,
 * `patchesStrategicMerge`, `patchesJson6902`, `replacements`, `configurations`, `generators`,
 * `transformers`, `validators`, `openapi.path`, the generators' `files`/`envs`/`env`, and the
 * chart home of `helmCharts`. For a Helm chart: the chart's directory (templates, subcharts,
 * `crds/`), local `file://` dependencies and the values files. Plain YAML: the directory.
 */

/** Read access to the env repo's files: a working tree or one commit. Paths are repo-relative with `/`. */
export interface RepoFiles {
  kind(path: string): Promise<'file' | 'dir' | undefined>;
  read(path: string): Promise<string | undefined>;
}

/** A remote kustomize resource (fetched on every build: the same commit can stand for other content). */
export interface RemoteResource {
  url: string;
  file: string;
  line: number;
}

export interface RenderInputs {
  layout: 'kustomize' | 'helm' | 'plain';
  /**
   * Repo-relative files and directories (a directory stands for everything below it) the render
   * reads, sorted, none below another; the environment's own directory always among them.
   */
  paths: string[];
  remote: RemoteResource[];
  /** A kustomization asks for `buildMetadata: [originAnnotations]` itself: its output keeps them. */
  originAnnotations: boolean;
}

/** What of an environment's config decides its inputs. */
export interface RenderSource {
  /** The environment's directory, repo-relative. */
  envPath: string;
  chart?: string | undefined;
  helmValues: readonly string[];
}

/** The working tree under `root`, as RepoFiles. */
export function workingTreeFiles(root: string): RepoFiles {
  return {
    async kind(path) {
      const full = join(root, path);
      if (!existsSync(full)) return undefined;
      return statSync(full).isDirectory() ? 'dir' : 'file';
    },
    async read(path) {
      const full = join(root, path);
      return existsSync(full) && statSync(full).isFile() ? readFileSync(full, 'utf8') : undefined;
    },
  };
}

/** `a/b/../c` → `a/c`; undefined for a path that leaves the repository. */
function inRepo(base: string, relative: string): string | undefined {
  if (posix.isAbsolute(relative)) return undefined;
  const joined = posix.normalize(posix.join(base, relative)).replace(/\/$/, '');
  return joined === '..' || joined.startsWith('../') ? undefined : joined === '' ? '.' : joined;
}

/** Keeps the shortest paths: one below another is covered by it. */
export function coveringPaths(paths: Iterable<string>): string[] {
  const sorted = [...new Set(paths)].sort();
  const out: string[] = [];
  for (const path of sorted) {
    if (out.some((kept) => kept === '.' || path === kept || path.startsWith(`${kept}/`))) continue;
    out.push(path);
  }
  return out;
}

/** Whether `path` is `covering` or lies below it (both repo-relative). */
export function isCoveredBy(path: string, covering: string): boolean {
  return covering === '.' || path === covering || path.startsWith(`${covering}/`);
}

/** Computes an environment's render inputs from its files (a working tree or a commit). */
export async function renderInputs(files: RepoFiles, source: RenderSource): Promise<RenderInputs> {
  const envPath = source.envPath;
  const paths = new Set<string>([envPath]);
  if (source.chart) {
    for (const values of source.helmValues) {
      const path = inRepo(envPath, values);
      if (path) paths.add(path);
    }
    const chart = inRepo(envPath, source.chart);
    // A chart named by a repository or an OCI reference is not in the env repo.
    if (chart && !/^[a-z][a-z0-9+.-]*:\/\//i.test(source.chart)) {
      paths.add(chart);
      for (const dependency of await localChartDependencies(files, chart)) paths.add(dependency);
    }
    return { layout: 'helm', paths: coveringPaths(paths), remote: [], originAnnotations: false };
  }
  if (!(await kustomizationIn(files, envPath))) {
    return { layout: 'plain', paths: [envPath], remote: [], originAnnotations: false };
  }
  const walk = new KustomizeWalk(files);
  await walk.directory(envPath);
  for (const path of walk.paths) paths.add(path);
  return {
    layout: 'kustomize',
    paths: coveringPaths(paths),
    remote: walk.remote,
    originAnnotations: walk.originAnnotations,
  };
}

async function kustomizationIn(files: RepoFiles, dir: string): Promise<string | undefined> {
  for (const name of KUSTOMIZATION_FILE_NAMES) {
    const path = dir === '.' ? name : `${dir}/${name}`;
    if ((await files.kind(path)) === 'file') return path;
  }
  return undefined;
}

/** `dependencies[].repository: file://../lib` of a chart (and of those, transitively). */
async function localChartDependencies(files: RepoFiles, chart: string, seen = new Set<string>()) {
  if (seen.has(chart)) return [];
  seen.add(chart);
  const text = await files.read(`${chart}/Chart.yaml`);
  if (!text) return [];
  const document = parseDocument(text, { uniqueKeys: false }).toJS({ maxAliasCount: 100 }) as {
    dependencies?: Array<{ repository?: unknown }>;
  } | null;
  const out: string[] = [];
  for (const dependency of document?.dependencies ?? []) {
    const repository = dependency?.repository;
    if (typeof repository !== 'string' || !repository.startsWith('file://')) continue;
    const path = inRepo(chart, repository.slice('file://'.length));
    if (!path) continue;
    out.push(path, ...(await localChartDependencies(files, path, seen)));
  }
  return out;
}

/** Fields whose entries are kustomizations (directories) or resource files. */
const RESOURCE_FIELDS = ['resources', 'bases', 'components'];
/** Fields holding file paths, or inline YAML (which has a newline or a `:`). */
const FILE_LIST_FIELDS = [
  'crds',
  'configurations',
  'patchesStrategicMerge',
  'generators',
  'transformers',
  'validators',
];
/** Fields holding lists of maps whose `path` names a file. */
const PATH_ITEM_FIELDS = ['patches', 'patchesJson6902', 'replacements'];
const GENERATOR_FIELDS = ['configMapGenerator', 'secretGenerator'];

class KustomizeWalk {
  readonly paths = new Set<string>();
  readonly remote: RemoteResource[] = [];
  originAnnotations = false;
  private readonly visited = new Set<string>();

  constructor(private readonly files: RepoFiles) {}

  /** A kustomization directory: its file and everything it names. */
  async directory(dir: string): Promise<void> {
    if (this.visited.has(dir)) return;
    this.visited.add(dir);
    const file = await kustomizationIn(this.files, dir);
    if (!file) return; // kustomize reports it when it builds.
    this.paths.add(file);
    const text = await this.files.read(file);
    if (text === undefined) return;
    const lines = new LineCounter();
    const document = parseDocument(text, { lineCounter: lines, uniqueKeys: false });
    // A broken kustomization is reported by kustomize itself, with its own words.
    if (document.errors.length > 0 || !isMap(document.contents)) return;
    const root = document.contents;
    const lineOf = (node: unknown) =>
      (node as Node).range ? lines.linePos((node as Node).range![0]).line : 1;

    for (const field of RESOURCE_FIELDS) {
      for (const node of seqItems(root, field)) {
        const entry = stringOf(node);
        if (entry === undefined) continue;
        if (isRemote(entry)) {
          this.remote.push({ url: entry, file, line: lineOf(node) });
          continue;
        }
        await this.entry(dir, entry);
      }
    }
    for (const field of FILE_LIST_FIELDS) {
      for (const node of seqItems(root, field)) {
        const entry = stringOf(node);
        if (entry !== undefined && !/[\n:]/.test(entry)) await this.entry(dir, entry);
      }
    }
    for (const field of PATH_ITEM_FIELDS) {
      for (const node of seqItems(root, field)) {
        const path = isMap(node) ? stringOf(node.get('path', true)) : undefined;
        if (path !== undefined) await this.entry(dir, path);
      }
    }
    for (const field of GENERATOR_FIELDS) {
      for (const node of seqItems(root, field)) {
        if (!isMap(node)) continue;
        const sources = [
          ...seqItems(node, 'files').map((item) => stringOf(item)?.replace(/^[^=]*=/, '')),
          ...seqItems(node, 'envs').map(stringOf),
          stringOf(node.get('env', true)),
        ];
        for (const path of sources) if (path) await this.entry(dir, path);
      }
    }
    const openapi = root.get('openapi', true);
    if (isMap(openapi)) {
      const path = stringOf(openapi.get('path', true));
      if (path) await this.entry(dir, path);
    }
    if (seqItems(root, 'helmCharts').length > 0 || seqItems(root, 'helmChartInflationGenerator').length > 0) {
      const globals = root.get('helmGlobals', true);
      const home = (isMap(globals) ? stringOf(globals.get('chartHome', true)) : undefined) ?? 'charts';
      await this.entry(dir, home);
      for (const chart of seqItems(root, 'helmCharts')) {
        if (!isMap(chart)) continue;
        const values = [
          stringOf(chart.get('valuesFile', true)),
          ...seqItems(chart, 'additionalValuesFiles').map(stringOf),
        ];
        for (const path of values) if (path && !isRemote(path)) await this.entry(dir, path);
      }
    }
    if (seqItems(root, 'buildMetadata').some((node) => stringOf(node) === 'originAnnotations'))
      this.originAnnotations = true;
  }

  /** A path named by a kustomization: a directory is a kustomization to follow, a file is read. */
  private async entry(dir: string, relative: string): Promise<void> {
    const path = inRepo(dir, relative);
    if (!path) return;
    const kind = await this.files.kind(path);
    if (kind === 'dir') {
      if (await kustomizationIn(this.files, path)) await this.directory(path);
      else this.paths.add(path); // a generator's directory of files, a chart home
    } else if (kind === 'file') this.paths.add(path);
  }
}

function seqItems(map: YAMLMap, key: string): unknown[] {
  const value = map.get(key, true);
  return isSeq(value) ? value.items : [];
}

function stringOf(node: unknown): string | undefined {
  return isScalar(node) && typeof node.value === 'string' ? node.value : undefined;
}
