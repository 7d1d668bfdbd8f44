import { posix } from 'node:path';
import { isMap, isSeq, type Pair, type YAMLMap } from 'yaml';
import { formatImageReference, normalizeRepository } from '../images/reference.js';
import { type Finder, UP_TO_DATE } from './finder.js';
import type { FilePlan } from './plan.js';
import { addMapKey, appendMapItem, plainOrQuoted, removeMapPair, replaceMapPair } from './structure.js';
import type { ImageUpdate } from './types.js';
import { containerImages } from './workloads.js';
import {
  mapGet,
  type ParsedDocument,
  type ScalarHit,
  scalarHit,
  scalarText,
  type YamlFile,
  type YamlPath,
} from './yaml-file.js';

/** The names kustomize looks for in a directory, in its order. */
export const KUSTOMIZATION_FILE_NAMES = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'] as const;

export function isKustomizationFile(file: string): boolean {
  return (KUSTOMIZATION_FILE_NAMES as readonly string[]).includes(posix.basename(file));
}

/** Reads files for the kustomize analysis: env files from memory, others (bases) from disk. */
export interface FileSource {
  /** The file at a path relative to the env dir (`../base/x.yaml` allowed), or undefined. */
  file(path: string): YamlFile | undefined;
  isDirectory(path: string): boolean;
}

interface Kustomization {
  path: string;
  yaml: YamlFile;
  parsed: ParsedDocument | undefined;
  root: YAMLMap | undefined;
  /** Resource, base and component paths, relative to the env dir; remote ones left out. */
  resources: string[];
}

function rootOf(yaml: YamlFile): { parsed: ParsedDocument | undefined; root: YAMLMap | undefined } {
  for (const parsed of yaml.documents()) {
    if (isMap(parsed.doc.contents)) return { parsed, root: parsed.doc.contents };
  }
  return { parsed: undefined, root: undefined };
}

function isRemote(resource: string): boolean {
  return (
    /^[a-z][a-z0-9+.-]*:\/\//i.test(resource) ||
    /^(?:github\.com|gitlab\.com|bitbucket\.org)\//.test(resource) ||
    resource.startsWith('git@')
  );
}

function stringList(parsed: ParsedDocument, node: unknown): string[] {
  if (!isSeq(node)) return [];
  const values: string[] = [];
  for (const item of node.items) {
    const hit = scalarHit(parsed, item, []);
    if (hit?.value) values.push(hit.value);
  }
  return values;
}

interface EntryFields {
  pair: (key: string) => Pair | undefined;
  name: string | undefined;
  newName: string | undefined;
}

function entryFields(entry: YAMLMap): EntryFields {
  const pair = (key: string) => entry.items.find((item) => scalarText(item.key) === key) as Pair | undefined;
  return { pair, name: scalarText(mapGet(entry, 'name')), newName: scalarText(mapGet(entry, 'newName')) };
}

/** Whether an `images:` entry is about `repository`, by its `name` or its `newName`. */
function entryMentions(entry: YAMLMap, repository: string): boolean {
  const { name, newName } = entryFields(entry);
  return (
    (name !== undefined && normalizeRepository(name) === repository) ||
    (newName !== undefined && normalizeRepository(newName) === repository)
  );
}

/**
 * Which kustomizations set which images (`kustomize build` semantics): an `images:` entry applies
 * to the resources of its kustomization and of everything it includes. A resource file reached
 * from a kustomization of the environment is therefore changed through an entry: an existing one,
 * or one added to the top kustomization as `kustomize edit set image` would.
 */
export class KustomizeIndex {
  private readonly cache = new Map<string, Kustomization | undefined>();
  /** update name → resource file → kustomization whose entry sets it. */
  private readonly covered = new Map<string, Map<string, string>>();
  /** kustomization → update name → image names (as written in resources) needing a new entry. */
  readonly additions = new Map<string, Map<string, string[]>>();

  constructor(
    private readonly source: FileSource,
    private readonly envKustomizations: readonly string[],
    private readonly needles: readonly string[],
  ) {}

  coveredBy(file: string, update: ImageUpdate): string | undefined {
    return this.covered.get(update.name)?.get(file);
  }

  private load(path: string): Kustomization | undefined {
    if (this.cache.has(path)) return this.cache.get(path);
    const yaml = this.source.file(path);
    let result: Kustomization | undefined;
    if (yaml) {
      const { parsed, root } = rootOf(yaml);
      const dir = posix.dirname(path);
      const resources =
        parsed && root
          ? ['resources', 'bases', 'components']
              .flatMap((key) => stringList(parsed, mapGet(root, key)))
              .filter((resource) => !isRemote(resource))
              .map((resource) => posix.normalize(posix.join(dir, resource)))
          : [];
      result = { path, yaml, parsed, root, resources };
    }
    this.cache.set(path, result);
    return result;
  }

  private kustomizationIn(dir: string): string | undefined {
    for (const name of KUSTOMIZATION_FILE_NAMES) {
      const path = posix.join(dir, name);
      if (this.source.file(path)) return path;
    }
    return undefined;
  }

  analyse(updates: readonly ImageUpdate[]): void {
    const included = new Set<string>();
    for (const path of this.envKustomizations) {
      for (const resource of this.load(path)?.resources ?? []) {
        if (this.source.isDirectory(resource)) {
          const inner = this.kustomizationIn(resource);
          if (inner) included.add(inner);
        }
      }
    }
    const roots = this.envKustomizations.filter((path) => !included.has(path));
    const inEnv = new Set(this.envKustomizations);
    for (const update of updates) {
      const covered = new Map<string, string>();
      this.covered.set(update.name, covered);
      const memo = new Map<string, Array<{ file: string; name: string }>>();
      const visit = (path: string): Array<{ file: string; name: string }> => {
        const known = memo.get(path);
        if (known) return known;
        memo.set(path, []); // a cycle adds nothing
        const kustomization = this.load(path);
        if (!kustomization) return [];
        const uses: Array<{ file: string; name: string }> = [];
        for (const resource of kustomization.resources) {
          if (this.source.isDirectory(resource)) {
            const inner = this.kustomizationIn(resource);
            if (inner) uses.push(...visit(inner));
            continue;
          }
          const yaml = this.source.file(resource);
          if (!yaml) continue;
          for (const parsed of yaml.documentsContaining(this.needles)) {
            for (const { reference } of containerImages(parsed)) {
              if (reference.repository === update.reference.repository) {
                uses.push({ file: resource, name: reference.name });
              }
            }
          }
        }
        const { parsed, root } = kustomization;
        const images = root && parsed ? mapGet(root, 'images') : undefined;
        const hasEntry =
          inEnv.has(path) &&
          isSeq(images) &&
          images.items.some((item) => isMap(item) && entryMentions(item, update.reference.repository));
        if (hasEntry) {
          for (const use of uses) if (!covered.has(use.file)) covered.set(use.file, path);
          memo.set(path, []);
          return [];
        }
        memo.set(path, uses);
        return uses;
      };
      for (const root of roots) {
        const uses = visit(root);
        if (uses.length === 0) continue;
        for (const use of uses) if (!covered.has(use.file)) covered.set(use.file, root);
        const byUpdate = this.additions.get(root) ?? new Map<string, string[]>();
        byUpdate.set(update.name, [...new Set(uses.map((use) => use.name))].sort());
        this.additions.set(root, byUpdate);
      }
    }
  }
}

/** The `images:` entry kustomize writes for a name: its keys in kustomize's (alphabetical) order. */
function newEntry(name: string, update: ImageUpdate): Array<[string, string]> {
  const entry: Array<[string, string]> = [];
  if (update.reference.digest !== undefined) entry.push(['digest', update.reference.digest]);
  entry.push(['name', name]);
  if (update.reference.tag !== undefined) entry.push(['newTag', update.reference.tag]);
  return entry;
}

/**
 * Kustomization files: rewrites `newTag`/`digest` of the `images:` entries for an updated image
 * (matched by `newName`, else `name`), and adds the entries the analysis asks for.
 */
export function kustomizeFinder(index: KustomizeIndex): Finder {
  return {
    format: 'kustomize',
    accepts: (file) => isKustomizationFile(file.file),
    plan(file, plan, context) {
      const { parsed, root } = rootOf(file);
      if (!parsed || !root) return;
      const images = mapGet(root, 'images');
      if (isSeq(images)) {
        images.items.forEach((item, index) => {
          if (isMap(item)) planEntry(plan, parsed, item, ['images', index], context.updates);
        });
      }
      const additions = index.additions.get(file.file);
      if (!additions) return;
      // Sorted by name, as `kustomize edit set image` keeps its list.
      const adding = context.updates
        .flatMap((update) =>
          (additions.get(update.name) ?? []).map((name) => ({ update, name, entry: newEntry(name, update) })),
        )
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      if (adding.length === 0) return;
      const refuse = () =>
        plan.refuse(
          `cannot add an images entry for ${adding.map(({ name }) => name).join(', ')} to ${file.file}; add it by hand`,
          file.lineOf(parsed.offset + (root.range?.[0] ?? 0)),
        );
      let lines: Array<number | undefined>;
      if (isSeq(images)) {
        let before = 0;
        lines = adding.map(({ name, entry }, index) => {
          const line = appendMapItem(
            plan,
            parsed,
            images,
            entry,
            ['images'],
            `the new images entry for ${name}`,
            index,
          );
          const shifted = line === undefined || images.flow ? line : line + before;
          before += entry.length;
          return shifted;
        });
      } else if (images === undefined) {
        const line = appendImagesKey(
          plan,
          parsed,
          root,
          adding.map(({ entry }) => entry),
          'the new images: list',
        );
        let next = line;
        lines = adding.map(({ entry }) => {
          const current = next;
          if (next !== undefined) next += entry.length;
          return current;
        });
      } else {
        refuse();
        return;
      }
      if (lines.some((line) => line === undefined)) {
        refuse();
        return;
      }
      adding.forEach(({ update, name }, index) => {
        const newText = formatImageReference({ ...update.reference, name });
        plan.change(0, update.name, '', newText, lines[index]);
      });
    },
  };
}

function planEntry(
  plan: FilePlan,
  parsed: ParsedDocument,
  entry: YAMLMap,
  path: YamlPath,
  updates: readonly ImageUpdate[],
): void {
  const { pair, name, newName } = entryFields(entry);
  if (name === undefined) return;
  const effective = newName ?? name;
  const repository = normalizeRepository(effective);
  const update = updates.find((candidate) => candidate.reference.repository === repository);
  const nameHit = scalarHit(parsed, mapGet(entry, 'name'), [...path, 'name']);
  if (!nameHit) return;
  if (!update) {
    const renamed = updates.find((candidate) => candidate.reference.repository === normalizeRepository(name));
    if (renamed && newName !== undefined) {
      plan.see(nameHit, renamed.name, name, `kustomize renames it to ${newName} in this entry; left alone`);
    }
    return;
  }
  const owner = `images entry ${name}`;
  const tagHit = scalarHit(parsed, mapGet(entry, 'newTag'), [...path, 'newTag']);
  const digestHit = scalarHit(parsed, mapGet(entry, 'digest'), [...path, 'digest']);
  const oldTag = tagHit?.value || undefined;
  const oldDigest = digestHit?.value || undefined;
  const { tag, digest } = update.reference;
  const oldText = formatImageReference({ name: effective, tag: oldTag, digest: oldDigest });
  const newText = formatImageReference({ name: effective, tag, digest });
  if (oldText === newText) {
    plan.see(nameHit, update.name, oldText, UP_TO_DATE);
    return;
  }
  type Action = { key: 'newTag' | 'digest'; hit: ScalarHit | undefined; wanted: string | undefined };
  const actions: Action[] = [
    { key: 'newTag', hit: tagHit, wanted: tag },
    { key: 'digest', hit: digestHit, wanted: digest },
  ].filter((action) => (action.hit?.value || undefined) !== action.wanted) as Action[];
  const removals = actions.filter((action) => action.wanted === undefined && pair(action.key));
  const additions = actions.filter((action) => action.wanted !== undefined && !action.hit);
  const line = plan.yaml.lineOf(nameHit.start);
  let ok = true;
  if (removals.length === 1 && additions.length === 1) {
    // newTag → digest (or back), as `kustomize edit set image` leaves it: swap the pair in place.
    const removed = pair(removals[0]!.key)!;
    const added = additions[0]!;
    if (!replaceMapPair(plan, parsed, removed, added.key, added.wanted!, path, owner)) {
      plan.refuse(`cannot rewrite ${removals[0]!.key} of the images entry ${name}; edit it by hand`, line);
      ok = false;
    }
  } else {
    for (const action of removals) {
      if (!removeMapPair(plan, parsed, entry, pair(action.key)!, path, owner)) {
        plan.refuse(`cannot remove ${action.key} from the images entry ${name}; edit it by hand`, line);
        ok = false;
      }
    }
    for (const action of additions) {
      if (!addMapKey(plan, parsed, entry, action.key, action.wanted!, path, owner)) {
        plan.refuse(`cannot add ${action.key} to the images entry ${name}; edit it by hand`, line);
        ok = false;
      }
    }
  }
  for (const action of actions) {
    if (action.hit && action.wanted !== undefined)
      ok = plan.replaceScalar(action.hit, action.wanted, owner) && ok;
  }
  if (ok) plan.change(nameHit.at, update.name, oldText, newText);
}

/**
 * Adds `images:` with the given entries at the end of the kustomization's top-level map.
 * Returns the line of the first entry in the edited file, or undefined for a layout it cannot extend.
 */
function appendImagesKey(
  plan: FilePlan,
  parsed: ParsedDocument,
  root: YAMLMap,
  entries: Array<Array<[string, string]>>,
  owner: string,
): number | undefined {
  const { text, eol } = plan.yaml;
  const first = root.items[0];
  if (root.flow || !root.range || !first || !(first.key as { range?: number[] }).range) return undefined;
  const keyColumn = plan.yaml.columnOf((first.key as { range: number[] }).range[0]! + parsed.offset);
  const indent = ' '.repeat(keyColumn);
  const lines = [
    `${indent}images:`,
    ...entries.flatMap((entry) =>
      entry.map(
        ([key, value], index) => `${indent}${index === 0 ? '- ' : '  '}${key}: ${plainOrQuoted(value)}`,
      ),
    ),
  ];
  const end = root.range[1] + parsed.offset;
  let at = end;
  if (!(at > 0 && text[at - 1] === '\n')) {
    const newline = text.indexOf('\n', at);
    at = newline === -1 ? text.length : newline + 1;
  }
  const block = lines.join(eol);
  const expect = [{ path: ['images'], after: entries.map((entry) => Object.fromEntries(entry)) }];
  if (at === text.length && !text.endsWith('\n')) {
    plan.insert(at, `${eol}${block}`, expect, owner);
    return plan.yaml.lineOf(at) + 2;
  }
  plan.insert(at, `${block}${eol}`, expect, owner);
  return plan.yaml.lineOf(at) + 1;
}
