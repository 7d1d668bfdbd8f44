import { posix } from 'node:path';
import type { YAMLSeq } from 'yaml';
import { isMap, isSeq } from '../core/yaml.js';
import { fieldOf, type ImageField, type ImageFieldList, imageFields, keyOf } from './image-fields.js';
import { applyEntry, type EntryRef, readEntries, rootOf } from './kustomize.js';
import { isRemote, KUSTOMIZATION_FILE_NAMES } from './kustomize-files.js';
import {
  mapGet,
  type ParsedDocument,
  resolve,
  type ScalarHit,
  scalarHit,
  scalarText,
  YamlFile,
  type YamlPath,
} from './yaml-file.js';

/*
 * A model of what `kustomize build` (kubectl kustomize) does to image fields, precise enough to say,
 * before and after an edit, which value every image field of the output has and which token or
 * `images:` entry gave it that value. It follows kustomize's own order
 * (api/internal/target/kusttarget.go, kusttarget_configplugin.go): resources (and bases) first,
 * then components, then the kustomization's transformers: patchesStrategicMerge and patches,
 * namespace, namePrefix/nameSuffix, patchesJson6902, and one image transformer per `images:` entry,
 * in list order. Features that could also change images and that the model does not follow
 * (replacements of image fields, transformers, generators, helmCharts, configurations) are
 * recorded as opaque, so callers can refuse rather than guess.
 */

/** Reads files for the model: env files, and bases outside the env that are inside the repo. */
export interface FileSource {
  /** The file at a path relative to the env dir (`../base/x.yaml` allowed), or undefined. */
  file(path: string): YamlFile | undefined;
  isDirectory(path: string): boolean;
  /** Whether the path is a file of the environment (gitops may edit it). */
  inEnv(path: string): boolean;
}

/** Something that set an image field's value, in the order it happened. */
export type Step =
  | {
      kind: 'token';
      /**
       * `resource`: a manifest a kustomization lists; `patch`: a patch that sets the field;
       * `plain`: a manifest rendered as it is (no kustomization reads it).
       */
      role: 'resource' | 'patch' | 'plain';
      file: string;
      yaml: YamlFile;
      hit: ScalarHit;
      /** A token gitops may rewrite: in a file of the environment, not inside an inline patch. */
      editable: boolean;
      /** For an inline patch: the kustomization and line holding it. */
      inline?: { kustomization: string; line: number };
    }
  | { kind: 'entry'; entry: EntryRef; before: string; after: string };

/** One image field of the build's output. */
export interface Site {
  /** Stable between two builds of the same files (before and after an edit). */
  id: string;
  /** The root kustomization whose build this is. */
  build: string;
  /** `Kind/name`, the name as the output has it. */
  object: string;
  key: string;
  list: ImageFieldList;
  value: string;
  steps: Step[];
  /**
   * Image volumes are set by `images:` entries only from kustomize 5.7 (kubectl 1.34) on; each such
   * field is modelled twice, once for either behaviour, and an edit must be right for both.
   */
  variant?: 'before-5.7' | 'from-5.7';
}

/** A feature of a kustomization the model does not follow, with where it is. */
export interface Opaque {
  file: string;
  line: number;
  what: string;
}

export interface Build {
  root: string;
  sites: Site[];
  /** Every file the build read: kustomizations, resources, patches. */
  reached: Set<string>;
  /** Every `images:` entry of the kustomizations of the build. */
  entries: EntryRef[];
  opaque: Opaque[];
  /** Resources gitops cannot see (remote, or outside the env repo): their images are unknown. */
  invisible: Opaque[];
  /** Errors kustomize itself would stop on. */
  problems: Array<{ file: string; line?: number; reason: string }>;
}

interface Resource {
  id: string;
  kind: string | undefined;
  group: string;
  version: string;
  names: string[];
  namespaces: string[];
  labels: Record<string, string>;
  annotations: Record<string, string>;
  sites: Site[];
  /** Item names of each image list, in order (for JSON patch indices). */
  order: Map<string, string[]>;
}

/** Kinds kustomize merges by its built-in schema: their container lists merge by `name`. */
const STRATEGIC_KINDS = new Set([
  'Pod',
  'PodTemplate',
  'ReplicationController',
  'Deployment',
  'StatefulSet',
  'DaemonSet',
  'ReplicaSet',
  'Job',
  'CronJob',
]);

const IMAGE_LISTS = new Set(['containers', 'initContainers', 'ephemeralContainers', 'volumes']);

/** Keys of a kustomization that can change images in ways the model does not follow. */
const OPAQUE_KEYS: Record<string, string> = {
  transformers: 'transformers (plugins)',
  generators: 'generators',
  helmCharts: 'helmCharts',
  helmChartInflationGenerator: 'helmChartInflationGenerator',
  configurations: 'configurations (custom field specs)',
};

/** Opaque keys that add resources of their own (whose images gitops cannot see). */
const GENERATING_KEYS = new Set(['generators', 'helmCharts', 'helmChartInflationGenerator']);

export class KustomizeModel {
  constructor(private readonly source: FileSource) {}

  /** The kustomization file of a directory; an error when there are several (kustomize refuses). */
  kustomizationIn(dir: string): { path?: string; problem?: string } {
    const present = KUSTOMIZATION_FILE_NAMES.map((name) => posix.join(dir, name)).filter((path) =>
      this.source.file(path),
    );
    if (present.length > 1) {
      return {
        problem: `${dir === '.' ? 'the environment' : dir} has ${present.length} kustomization files (${present.map((path) => posix.basename(path)).join(', ')}); kustomize refuses to choose, and so does gitops`,
      };
    }
    return present[0] ? { path: present[0] } : {};
  }

  /** Builds one root kustomization. */
  build(root: string): Build {
    const build: Build = {
      root,
      sites: [],
      reached: new Set(),
      entries: [],
      opaque: [],
      invisible: [],
      problems: [],
    };
    const resources = this.accumulate(build, root, [], new Set());
    const seen = new Map<string, number>();
    for (const resource of resources) {
      for (const site of resource.sites) {
        // The same file reached twice would be rejected by kustomize; keep ids unique anyway.
        const count = seen.get(site.id) ?? 0;
        seen.set(site.id, count + 1);
        if (count > 0) site.id = `${site.id}~${count}`;
        site.object = `${resource.kind ?? '?'}/${resource.names.at(-1) ?? '?'}`;
        build.sites.push(site);
      }
    }
    return build;
  }

  private accumulate(build: Build, path: string, into: Resource[], visiting: Set<string>): Resource[] {
    if (visiting.has(path)) return into;
    visiting.add(path);
    const yaml = this.source.file(path);
    build.reached.add(path);
    if (!yaml) return into;
    const { parsed, root } = rootOf(yaml);
    if (!parsed || !root) return into;
    const dir = posix.dirname(path);
    const lineOf = (node: unknown) => {
      const range = (node as { range?: number[] } | undefined)?.range;
      return yaml.lineOf(parsed.offset + (range?.[0] ?? 0));
    };
    const inEnv = this.source.inEnv(path);

    for (const key of ['resources', 'bases']) {
      const list = mapGet(root, key);
      if (!isSeq(list)) continue;
      for (const item of list.items) {
        const entry = scalarText(item);
        if (!entry) continue;
        if (isRemote(entry)) {
          build.invisible.push({ file: path, line: lineOf(item), what: `the remote resource ${entry}` });
          continue;
        }
        const target = posix.normalize(posix.join(dir, entry));
        if (this.source.isDirectory(target)) {
          const inner = this.kustomizationIn(target);
          if (inner.problem) build.problems.push({ file: path, line: lineOf(item), reason: inner.problem });
          if (inner.path) into.push(...this.accumulate(build, inner.path, [], visiting));
          else if (!inner.problem) {
            build.invisible.push({
              file: path,
              line: lineOf(item),
              what: `${entry} (no kustomization gitops can read)`,
            });
          }
          continue;
        }
        const file = this.source.file(target);
        if (!file) {
          build.invisible.push({
            file: path,
            line: lineOf(item),
            what: `${entry} (a file gitops cannot read)`,
          });
          continue;
        }
        build.reached.add(target);
        into.push(...this.resourcesOf(build.root, target, file));
      }
    }

    const components = mapGet(root, 'components');
    if (isSeq(components)) {
      for (const item of components.items) {
        const entry = scalarText(item);
        if (!entry) continue;
        if (isRemote(entry)) {
          build.invisible.push({ file: path, line: lineOf(item), what: `the remote component ${entry}` });
          continue;
        }
        const inner = this.kustomizationIn(posix.normalize(posix.join(dir, entry)));
        if (inner.problem) build.problems.push({ file: path, line: lineOf(item), reason: inner.problem });
        // A component's resources join, and its transformers run on, the including kustomization's set.
        if (inner.path) this.accumulate(build, inner.path, into, visiting);
      }
    }

    for (const [key, what] of Object.entries(OPAQUE_KEYS)) {
      const node = mapGet(root, key);
      if (node === undefined || node === null) continue;
      build.opaque.push({ file: path, line: lineOf(node), what });
      // Generated resources (inflated charts, generator output) are resources gitops cannot read.
      if (GENERATING_KEYS.has(key))
        build.invisible.push({ file: path, line: lineOf(node), what: `the output of ${what}` });
    }
    const replacements = mapGet(root, 'replacements') as { range?: number[] } | undefined;
    if (replacements?.range) {
      const text = yaml.text.slice(
        parsed.offset + replacements.range[0]!,
        parsed.offset + replacements.range[1]!,
      );
      // Replacements copy values between fields; only those that write an image field matter here.
      if (/image|containers/i.test(text)) {
        build.opaque.push({
          file: path,
          line: lineOf(replacements),
          what: 'replacements that target image fields',
        });
      }
    }

    const patches = new PatchContext(this, build, path, yaml, parsed, inEnv);
    patches.strategicMerge(mapGet(root, 'patchesStrategicMerge'), into);
    patches.patches(mapGet(root, 'patches'), into, false);
    const namespace = scalarText(mapGet(root, 'namespace'));
    const prefix = scalarText(mapGet(root, 'namePrefix')) ?? '';
    const suffix = scalarText(mapGet(root, 'nameSuffix')) ?? '';
    for (const resource of into) {
      if (namespace) resource.namespaces.push(namespace);
      if (prefix || suffix) resource.names.push(`${prefix}${resource.names.at(-1) ?? ''}${suffix}`);
    }
    patches.patches(mapGet(root, 'patchesJson6902'), into, true);

    const entries = readEntries(path, yaml, parsed, root, inEnv);
    build.entries.push(...entries);
    for (const entry of entries) {
      for (const resource of into) {
        if (resource.kind === 'CustomResourceDefinition') continue;
        for (const site of resource.sites) {
          if (!reachedByEntries(site)) continue;
          const after = applyEntry(site.value, entry);
          if (after === undefined) continue;
          site.steps.push({ kind: 'entry', entry, before: site.value, after });
          site.value = after;
        }
      }
    }
    visiting.delete(path);
    return into;
  }

  resourcesOf(buildRoot: string, file: string, yaml: YamlFile): Resource[] {
    const resources: Resource[] = [];
    yaml.documents().forEach((parsed, index) => {
      const root = parsed.doc.contents;
      if (!isMap(root) || parsed.doc.errors.length > 0) return;
      const meta = resolve(parsed, mapGet(root, 'metadata'));
      const name = isMap(meta) ? scalarText(mapGet(meta, 'name')) : undefined;
      const namespace = isMap(meta) ? scalarText(mapGet(meta, 'namespace')) : undefined;
      const apiVersion = scalarText(mapGet(root, 'apiVersion')) ?? '';
      const slash = apiVersion.indexOf('/');
      const resource: Resource = {
        id: `${file}#${index}`,
        kind: scalarText(mapGet(root, 'kind')),
        group: slash === -1 ? '' : apiVersion.slice(0, slash),
        version: slash === -1 ? apiVersion : apiVersion.slice(slash + 1),
        names: name === undefined ? [] : [name],
        namespaces: namespace === undefined ? [] : [namespace],
        labels: stringMap(parsed, isMap(meta) ? mapGet(meta, 'labels') : undefined),
        annotations: stringMap(parsed, isMap(meta) ? mapGet(meta, 'annotations') : undefined),
        sites: [],
        order: new Map(),
      };
      for (const field of imageFields(parsed)) {
        const names = resource.order.get(field.listKey) ?? [];
        names.push(field.itemName ?? `#${names.length}`);
        resource.order.set(field.listKey, names);
        resource.sites.push(
          ...sitesOf(buildRoot, resource.id, field, {
            kind: 'token',
            role: 'resource',
            file,
            yaml,
            hit: field.hit,
            editable: this.source.inEnv(file),
          }),
        );
      }
      resources.push(resource);
    });
    return resources;
  }

  readFile(path: string): YamlFile | undefined {
    return this.source.file(path);
  }
}

/** Whether kustomize's image transformer reaches a field (its legacy filter plus field specs). */
export function reachedByEntries(site: Site): boolean {
  if (site.list === 'containers' || site.list === 'initContainers') return true;
  return site.variant === 'from-5.7';
}

/** The site (or, for an image volume a 5.7 entry can reach, two sites) of one image field. */
export function sitesOf(buildRoot: string, resourceId: string, field: ImageField, first: Step): Site[] {
  const base = {
    build: buildRoot,
    object: '',
    key: field.key,
    list: field.list,
    value: field.hit.value,
  };
  const id = `${buildRoot}|${resourceId}|${field.key}`;
  const podSpec = field.podSpecPath.join('.');
  if (field.list === 'volumes' && (podSpec === 'spec' || podSpec === 'spec.template.spec')) {
    return [
      { ...base, id: `${id}|before-5.7`, steps: [first], variant: 'before-5.7' },
      { ...base, id: `${id}|from-5.7`, steps: [first], variant: 'from-5.7' },
    ];
  }
  return [{ ...base, id, steps: [first] }];
}

function stringMap(parsed: ParsedDocument, node: unknown): Record<string, string> {
  const map = resolve(parsed, node);
  const out: Record<string, string> = {};
  if (!isMap(map)) return out;
  for (const pair of map.items) {
    const key = scalarText(pair.key);
    const value = scalarText(resolve(parsed, pair.value));
    if (key !== undefined && value !== undefined) out[key] = value;
  }
  return out;
}

/** A patch's text: a file (editable when it is the environment's) or an inline patch. */
interface PatchContent {
  yaml: YamlFile;
  file: string;
  editable: boolean;
  inline?: { kustomization: string; line: number };
}

/** The step a patch's value adds to the history of the field it sets. */
function patchStep(content: PatchContent, hit: ScalarHit): Step {
  return {
    kind: 'token',
    role: 'patch',
    file: content.file,
    yaml: content.yaml,
    hit,
    editable: content.editable,
    ...(content.inline ? { inline: content.inline } : {}),
  };
}

interface Target {
  group?: string;
  version?: string;
  kind?: string;
  name?: string;
  namespace?: string;
  labelSelector?: string;
  annotationSelector?: string;
}

/** The patches of one kustomization, applied to the resources accumulated so far. */
class PatchContext {
  private readonly dir: string;

  constructor(
    private readonly model: KustomizeModel,
    private readonly build: Build,
    private readonly path: string,
    private readonly yaml: YamlFile,
    private readonly parsed: ParsedDocument,
    private readonly inEnv: boolean,
  ) {
    this.dir = posix.dirname(path);
  }

  private lineOf(node: unknown): number {
    const range = (node as { range?: number[] } | undefined)?.range;
    return this.yaml.lineOf(this.parsed.offset + (range?.[0] ?? 0));
  }

  private opaque(node: unknown, what: string): void {
    this.build.opaque.push({ file: this.path, line: this.lineOf(node), what });
  }

  /** `patchesStrategicMerge:` — file paths or inline YAML. */
  strategicMerge(list: unknown, resources: Resource[]): void {
    if (!isSeq(list)) return;
    for (const item of list.items) {
      const text = scalarText(item);
      if (!text) continue;
      const content = this.content(item, { path: text });
      if (!content) continue;
      for (const doc of content.yaml.documents()) this.applyStrategic(content, doc, undefined, resources);
    }
  }

  /** `patches:` (SMP or JSON 6902, told apart by content) or `patchesJson6902:`. */
  patches(list: unknown, resources: Resource[], jsonOnly: boolean): void {
    if (!isSeq(list)) return;
    for (const item of list.items) {
      if (!isMap(item)) continue;
      const path = scalarText(mapGet(item, 'path'));
      const content = this.content(item, path ? { path } : { inline: mapGet(item, 'patch') });
      if (!content) continue;
      const target = this.target(mapGet(item, 'target'));
      const docs = content.yaml.documents();
      const first = docs[0]?.doc.contents;
      if (isSeq(first) || jsonOnly) {
        if (!target) continue;
        if (docs[0]) this.applyJson(content, docs[0], target, resources);
        continue;
      }
      for (const doc of docs) this.applyStrategic(content, doc, target, resources);
    }
  }

  private content(node: unknown, from: { path?: string; inline?: unknown }): PatchContent | undefined {
    if (from.path !== undefined) {
      const file = posix.normalize(posix.join(this.dir, from.path));
      const yaml = this.model.readFile(file);
      if (yaml) {
        this.build.reached.add(file);
        return { yaml, file, editable: this.inEnv && this.isEnvFile(file) };
      }
      if (!from.path.includes('\n') && !from.path.includes(':')) {
        this.build.invisible.push({
          file: this.path,
          line: this.lineOf(node),
          what: `the patch ${from.path}`,
        });
        return undefined;
      }
      // patchesStrategicMerge also takes inline YAML in place of a path.
      return this.inline(node, from.path);
    }
    const text = scalarText(from.inline);
    return text === undefined ? undefined : this.inline(from.inline, text);
  }

  private isEnvFile(file: string): boolean {
    return !file.startsWith('../');
  }

  private inline(node: unknown, text: string): PatchContent {
    const line = this.lineOf(node);
    const file = `${this.path}:${line}`;
    // The inline patch's tokens sit inside a string of the kustomization: never edited in place.
    return {
      yaml: new YamlFile(file, text),
      file,
      editable: false,
      inline: { kustomization: this.path, line },
    };
  }

  private target(node: unknown): Target | undefined {
    if (!isMap(node)) return undefined;
    const target: Target = {};
    for (const key of [
      'group',
      'version',
      'kind',
      'name',
      'namespace',
      'labelSelector',
      'annotationSelector',
    ]) {
      const value = scalarText(mapGet(node, key));
      if (value !== undefined) (target as Record<string, string>)[key] = value;
    }
    return target;
  }

  private selects(target: Target, resource: Resource, node: unknown): boolean {
    const regex = (pattern: string, value: string | undefined) => {
      try {
        return value !== undefined && new RegExp(`^(?:${pattern})$`).test(value);
      } catch {
        return false;
      }
    };
    if (target.kind !== undefined && target.kind !== resource.kind) return false;
    if (target.group !== undefined && target.group !== resource.group) return false;
    if (target.version !== undefined && target.version !== resource.version) return false;
    if (target.name !== undefined && !regex(target.name, resource.names.at(-1))) return false;
    if (target.namespace !== undefined && !regex(target.namespace, resource.namespaces.at(-1) ?? 'default')) {
      return false;
    }
    for (const [selector, values] of [
      [target.labelSelector, resource.labels],
      [target.annotationSelector, resource.annotations],
    ] as const) {
      if (selector === undefined) continue;
      const matched = matchesSelector(selector, values);
      if (matched === undefined) {
        this.opaque(node, `a patch target selector gitops cannot evaluate (${selector})`);
        return false;
      }
      if (!matched) return false;
    }
    return true;
  }

  private applyStrategic(
    content: PatchContent,
    doc: ParsedDocument,
    target: Target | undefined,
    resources: Resource[],
  ): void {
    const root = doc.doc.contents;
    if (!isMap(root)) return;
    const fields = imageFields(doc);
    const touchesImages =
      fields.length > 0 ||
      /\b(containers|initContainers|ephemeralContainers|volumes):/.test(content.yaml.text);
    if (touchesImages && content.yaml.text.includes('$patch')) {
      this.opaque(root, `a strategic merge patch with $patch directives (${content.file})`);
      return;
    }
    if (fields.length === 0) return;
    const kind = scalarText(mapGet(root, 'kind'));
    const meta = resolve(doc, mapGet(root, 'metadata'));
    const name = isMap(meta) ? scalarText(mapGet(meta, 'name')) : undefined;
    const namespace = isMap(meta) ? scalarText(mapGet(meta, 'namespace')) : undefined;
    const selected = resources.filter((resource) =>
      target
        ? this.selects(target, resource, root)
        : resource.kind === kind &&
          name !== undefined &&
          resource.names.includes(name) &&
          (namespace === undefined ||
            resource.namespaces.includes(namespace) ||
            resource.namespaces.length === 0),
    );
    for (const resource of selected) {
      const byList = new Map<string, ImageField[]>();
      for (const field of fields) byList.set(field.listKey, [...(byList.get(field.listKey) ?? []), field]);
      for (const [listKey, patchFields] of byList) {
        const step = (field: ImageField): Step => patchStep(content, field.hit);
        const patchNames = patchFields.map((field) => field.itemName ?? '');
        const existing = resource.order.get(listKey) ?? [];
        if (resource.kind !== undefined && STRATEGIC_KINDS.has(resource.kind)) {
          // Merged by `name`; kustomize puts the patch's items first, then the others in their order.
          for (const field of patchFields) {
            const site = resource.sites.filter((candidate) => candidate.key === field.key);
            if (site.length > 0) {
              for (const one of site) {
                one.steps.push(step(field));
                one.value = field.hit.value;
              }
            } else {
              resource.sites.push(...sitesOf(this.build.root, resource.id, field, step(field)));
            }
          }
          resource.order.set(listKey, [
            ...patchNames,
            ...existing.filter((item) => !patchNames.includes(item)),
          ]);
        } else {
          // No schema: the patch's list replaces the resource's list (JSON merge patch semantics).
          resource.sites = resource.sites.filter((site) => !site.key.startsWith(`${listKey}[`));
          for (const field of patchFields)
            resource.sites.push(...sitesOf(this.build.root, resource.id, field, step(field)));
          resource.order.set(listKey, patchNames);
        }
      }
    }
  }

  private applyJson(content: PatchContent, doc: ParsedDocument, target: Target, resources: Resource[]): void {
    const ops = doc.doc.contents;
    if (!isSeq(ops)) return;
    const selected = resources.filter((resource) => this.selects(target, resource, ops));
    ops.items.forEach((node, index) => {
      const op = resolve(doc, node);
      if (!isMap(op)) return;
      const verb = scalarText(mapGet(op, 'op'));
      const pointer = scalarText(mapGet(op, 'path'));
      if (!verb || pointer === undefined) return;
      const segments = pointer
        .split('/')
        .slice(1)
        .map((segment) => segment.replace(/~1/g, '/').replace(/~0/g, '~'));
      const listAt = segments.findIndex((segment) => IMAGE_LISTS.has(segment));
      const valueNode = resolve(doc, mapGet(op, 'value'));
      for (const resource of selected) {
        if (listAt === -1) {
          // A path above the image lists (`/spec/template`) that replaces what holds them.
          const prefix = keyOf(segments);
          const touches = resource.sites.some((site) => prefix === '' || site.key.startsWith(`${prefix}.`));
          if (touches && verb !== 'test')
            this.opaque(op, `a JSON patch on ${pointer} that replaces image fields (${content.file})`);
          continue;
        }
        const list = segments[listAt] as ImageFieldList;
        const listKey = keyOf(segments.slice(0, listAt + 1));
        const names = resource.order.get(listKey) ?? [];
        const rest = segments.slice(listAt + 1);
        const step = (hit: ScalarHit): Step => patchStep(content, hit);
        const fieldRest = list === 'volumes' ? ['image', 'reference'] : ['image'];
        const itemIndex = rest[0] === '-' ? names.length : Number(rest[0]);
        if (verb === 'move' || verb === 'copy') {
          this.opaque(op, `a JSON patch ${verb} of image fields (${content.file})`);
          continue;
        }
        if (rest.length === 0) {
          // The whole list.
          resource.sites = resource.sites.filter((site) => !site.key.startsWith(`${listKey}[`));
          resource.order.set(listKey, []);
          if (verb !== 'remove' && isSeq(valueNode))
            this.addItems(resource, valueNode, doc, list, listKey, [index, 'value'], step);
          continue;
        }
        if (!Number.isInteger(itemIndex) || itemIndex < 0 || itemIndex > names.length) continue;
        if (rest.length === 1) {
          const item = names[itemIndex];
          if (verb === 'remove' || verb === 'replace') {
            resource.sites = resource.sites.filter((site) => !site.key.startsWith(`${listKey}[${item}]`));
            names.splice(itemIndex, 1);
          }
          if (verb === 'add' || verb === 'replace') {
            if (!isMap(valueNode)) continue;
            const itemName = scalarText(mapGet(valueNode, 'name')) ?? `#${itemIndex}`;
            names.splice(itemIndex, 0, itemName);
            const field = fieldOf(doc, valueNode, list, [index, 'value']);
            if (field)
              resource.sites.push(
                ...this.sitesFrom(
                  resource,
                  `${listKey}[${itemName}].${fieldRest.join('.')}`,
                  list,
                  field.hit,
                  step,
                ),
              );
          }
          resource.order.set(listKey, names);
          continue;
        }
        if (rest.slice(1).join('/') !== fieldRest.join('/')) continue;
        const item = names[itemIndex];
        if (item === undefined) continue;
        const key = `${listKey}[${item}].${fieldRest.join('.')}`;
        const sites = resource.sites.filter((site) => site.key === key);
        if (verb === 'remove') {
          resource.sites = resource.sites.filter((site) => site.key !== key);
          continue;
        }
        if (verb !== 'add' && verb !== 'replace') continue;
        const hit = scalarHit(doc, mapGet(op, 'value'), [index, 'value']);
        if (!hit) continue;
        if (sites.length === 0) resource.sites.push(...this.sitesFrom(resource, key, list, hit, step));
        for (const site of sites) {
          site.steps.push(step(hit));
          site.value = hit.value;
        }
      }
    });
  }

  private addItems(
    resource: Resource,
    seq: YAMLSeq,
    doc: ParsedDocument,
    list: ImageFieldList,
    listKey: string,
    valuePath: YamlPath,
    step: (hit: ScalarHit) => Step,
  ): void {
    const names: string[] = [];
    seq.items.forEach((node, index) => {
      const item = resolve(doc, node);
      if (!isMap(item)) return;
      const itemName = scalarText(mapGet(item, 'name')) ?? `#${index}`;
      names.push(itemName);
      const field = fieldOf(doc, item, list, [...valuePath, index]);
      const rest = list === 'volumes' ? 'image.reference' : 'image';
      if (field)
        resource.sites.push(
          ...this.sitesFrom(resource, `${listKey}[${itemName}].${rest}`, list, field.hit, step),
        );
    });
    resource.order.set(listKey, names);
  }

  private sitesFrom(
    resource: Resource,
    key: string,
    list: ImageFieldList,
    hit: ScalarHit,
    step: (hit: ScalarHit) => Step,
  ): Site[] {
    const listKey = key.slice(0, key.lastIndexOf('['));
    const podSpecPath = listKey.split('.').slice(0, -1);
    return sitesOf(
      this.build.root,
      resource.id,
      {
        hit,
        path: hit.path,
        key,
        listKey,
        list,
        itemName: undefined,
        podSpecPath,
        reference: undefined,
      },
      step(hit),
    );
  }
}

/** `a=b,c!=d` label selectors; undefined for set-based selectors the model does not evaluate. */
function matchesSelector(selector: string, values: Record<string, string>): boolean | undefined {
  for (const part of selector
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean)) {
    const match = /^([\w./-]+)\s*(==|=|!=)\s*([\w./-]*)$/.exec(part);
    if (!match) return undefined;
    const [, key, operator, value] = match as unknown as [string, string, string, string];
    const equal = values[key] === value;
    if (operator === '!=' ? equal : !equal) return false;
  }
  return true;
}

export type { Resource };
