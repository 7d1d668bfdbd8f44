import type { YAMLMap } from 'yaml';
import { isAlias, isMap, isScalar, isSeq } from '../core/yaml.js';
import { formatImageReference, type ImageReference, tryParseImageReference } from '../images/reference.js';
import {
  type ParsedDocument,
  type ScalarHit,
  scalarHit,
  scalarText,
  type YamlFile,
  type YamlPath,
} from './yaml-file.js';

/*
 * Helm values as `helm template` sees them: the chart's values.yaml, then each values file of the
 * environment in order, merged key by key (a later file wins; maps merge, anything else replaces).
 * Every scalar keeps the token it came from, so an edit can go to the file whose value is rendered.
 * Aliases and merge keys (`<<: *defaults`) are followed as Helm's YAML reader follows them.
 */

/** A values file in merge order. */
export interface ValuesSource {
  file: string;
  yaml: YamlFile;
  /** The environment's own values file (gitops may edit it), or the chart's defaults (it may not). */
  editable: boolean;
}

export interface Leaf {
  source: ValuesSource;
  /** The token; its `path` is where a re-parse of its file shows it (aliases and merges resolved). */
  hit: ScalarHit;
}

type Merged = MergedMap | MergedScalar | MergedOther;

export interface MergedMap {
  kind: 'map';
  entries: Map<string, Merged>;
  /** The maps of each file that make up this one, in merge order. */
  sources: Array<{ source: ValuesSource; parsed: ParsedDocument; map: YAMLMap; path: YamlPath }>;
}

interface MergedScalar {
  kind: 'scalar';
  /** The value Helm renders. */
  leaf: Leaf;
  /** Earlier files' values for the same key, overridden by `leaf`. */
  shadowed: Leaf[];
}

interface MergedOther {
  kind: 'seq' | 'other';
  items: Merged[];
}

/** Keys of a map that name the repository, by convention (`repository`; others under `*image`). */
const REPOSITORY_KEYS = ['repository', 'repo', 'image', 'name'] as const;
/** Keys that hold the version: `tag` (most charts) or `version` (some Bitnami charts). */
const VERSION_KEYS = ['tag', 'version'] as const;
/** Keys holding a whole reference: `image`, `sidecarImage`, `initImage`, … */
const IMAGE_KEY = /image$/i;

/** One image a values tree describes. */
export interface Slot {
  /** Path of the map (split form) or of the key (single string) in the merged values. */
  path: YamlPath;
  form: 'split' | 'string';
  /** The image's name as the chart renders it (`registry/repository`, or the string's name). */
  name: string;
  reference: ImageReference;
  /** The rendered reference, as far as values tell (name, tag and digest). */
  value: string;
  map?: MergedMap;
  repositoryLeaf?: Leaf;
  versionKey?: 'tag' | 'version';
  tag?: MergedScalar;
  digest?: MergedScalar;
  /** The tag carries its own digest (`tag: 1.2@sha256:…`). */
  embedded?: boolean;
  /** Split form whose map has both `tag` and `version`: which one the chart reads is unknown. */
  ambiguous?: string;
  /** What an empty tag renders as (the chart's appVersion), for reporting the current image. */
  defaultTag?: string;
  leaf?: MergedScalar;
}

export class ValuesModel {
  readonly root: MergedMap = { kind: 'map', entries: new Map(), sources: [] };

  constructor(
    readonly sources: readonly ValuesSource[],
    /**
     * The chart's appVersion: what `helm create`'s templates render for an empty tag
     * (`.Values.image.tag | default .Chart.AppVersion`), used to say what an empty tag renders as.
     */
    readonly appVersion?: string,
  ) {
    for (const source of sources) {
      const parsed = source.yaml.documents()[0];
      if (!parsed || parsed.doc.errors.length > 0) continue;
      const converted = convert(source, parsed, parsed.doc.contents, [], new Set());
      if (converted.kind === 'map') mergeInto(this.root, converted);
    }
  }

  /** Every image the merged values describe. */
  slots(): Slot[] {
    const slots: Slot[] = [];
    const global = this.root.entries.get('global');
    const globalRegistry =
      global?.kind === 'map' ? scalarValue(global.entries.get('imageRegistry')) || undefined : undefined;
    const walk = (node: Merged, path: YamlPath) => {
      if (node.kind === 'map') {
        const key = typeof path.at(-1) === 'string' ? (path.at(-1) as string) : '';
        const split = splitSlot(node, path, key, globalRegistry);
        if (split) slots.push(this.appVersion ? { ...split, defaultTag: this.appVersion } : split);
        for (const [child, value] of node.entries) {
          if (split && child === split.repositoryKey) continue;
          if (value.kind === 'scalar' && IMAGE_KEY.test(child)) {
            const reference = tryParseImageReference(value.leaf.hit.value);
            if (reference) {
              slots.push({
                path: [...path, child],
                form: 'string',
                name: reference.name,
                reference,
                value: value.leaf.hit.value,
                leaf: value,
              });
            }
          }
          walk(value, [...path, child]);
        }
      } else if (node.kind !== 'scalar') {
        node.items.forEach((item, index) => {
          walk(item, [...path, index]);
        });
      }
    };
    walk(this.root, []);
    return slots;
  }
}

function scalarValue(node: Merged | undefined): string | undefined {
  return node?.kind === 'scalar' ? node.leaf.hit.value : undefined;
}

function splitSlot(
  map: MergedMap,
  path: YamlPath,
  key: string,
  globalRegistry: string | undefined,
): (Slot & { repositoryKey: string }) | undefined {
  const hasVersion = ['tag', 'version', 'digest'].some((name) => map.entries.get(name)?.kind === 'scalar');
  const repositoryKey = REPOSITORY_KEYS.find((name) => {
    if (map.entries.get(name)?.kind !== 'scalar') return false;
    // `repository` is the convention; the other names count only under an `*image` key with a version.
    return name === 'repository' || (IMAGE_KEY.test(key) && hasVersion);
  });
  if (!repositoryKey) return undefined;
  // A map with a repository but no version (an anchor of shared defaults, say) is an image only
  // under an `*image` key; elsewhere gitops would be adding a tag to something that is not one.
  if (!hasVersion && !IMAGE_KEY.test(key)) return undefined;
  const repository = map.entries.get(repositoryKey) as MergedScalar;
  if (repository.leaf.hit.value === '') return undefined;
  const registryNode = map.entries.get('registry');
  let registry = scalarValue(registryNode);
  // Bitnami's common.images.image: a non-empty global.imageRegistry replaces every image's registry.
  if (registryNode !== undefined && globalRegistry) registry = globalRegistry;
  const name = registry ? `${registry}/${repository.leaf.hit.value}` : repository.leaf.hit.value;
  const parsed = tryParseImageReference(name);
  if (!parsed || parsed.tag !== undefined || parsed.digest !== undefined) return undefined;
  const present = VERSION_KEYS.filter((name) => map.entries.get(name)?.kind === 'scalar');
  const versionKey = present[0] ?? 'tag';
  const tag = map.entries.get(versionKey) as MergedScalar | undefined;
  const digest = map.entries.get('digest') as MergedScalar | undefined;
  const tagText = tag?.kind === 'scalar' ? tag.leaf.hit.value : '';
  const digestText = digest?.kind === 'scalar' ? digest.leaf.hit.value : '';
  const at = tagText.indexOf('@');
  const embedded = at !== -1 && !digestText;
  const tagPart = embedded ? tagText.slice(0, at) : tagText;
  const digestPart = embedded ? tagText.slice(at + 1) : digestText;
  const slot: Slot & { repositoryKey: string } = {
    path,
    form: 'split',
    name,
    reference: parsed,
    value: formatImageReference({ name, tag: tagPart || undefined, digest: digestPart || undefined }),
    map,
    repositoryLeaf: repository.leaf,
    repositoryKey,
    versionKey,
    ...(tag?.kind === 'scalar' ? { tag } : {}),
    ...(digest?.kind === 'scalar' ? { digest } : {}),
    ...(embedded ? { embedded } : {}),
    ...(present.length > 1 ? { ambiguous: `both ${present.join(' and ')}` } : {}),
  };
  return slot;
}

/** The file's node as a merged tree: aliases resolved, merge keys applied (explicit keys win). */
function convert(
  source: ValuesSource,
  parsed: ParsedDocument,
  node: unknown,
  path: YamlPath,
  resolving: Set<unknown>,
): Merged {
  const target = isAlias(node) ? node.resolve(parsed.doc) : node;
  if (resolving.has(target)) return { kind: 'other', items: [] };
  if (isMap(target)) {
    resolving.add(target);
    const map: MergedMap = {
      kind: 'map',
      entries: new Map(),
      sources: [{ source, parsed, map: target, path }],
    };
    // `<<: *a` or `<<: [*a, *b]`: the first map listed wins over later ones, explicit keys over all.
    const merges = target.items.filter((pair) => isScalar(pair.key) && pair.key.value === '<<');
    for (const pair of merges) {
      const value = pair.value;
      const list = isSeq(value) ? value.items : [value];
      for (const item of [...list].reverse()) {
        const merged = convert(source, parsed, item, path, resolving);
        if (merged.kind !== 'map') continue;
        for (const [key, child] of merged.entries) map.entries.set(key, child);
      }
    }
    for (const pair of target.items) {
      const key = scalarText(pair.key);
      if (key === undefined || key === '<<') continue;
      map.entries.set(key, convert(source, parsed, pair.value, [...path, key], resolving));
    }
    resolving.delete(target);
    return map;
  }
  if (isSeq(target)) {
    resolving.add(target);
    const items = target.items.map((item, index) =>
      convert(source, parsed, item, [...path, index], resolving),
    );
    resolving.delete(target);
    return { kind: 'seq', items };
  }
  const hit = scalarHit(parsed, node, path) ?? nullHit(parsed, node, target, path);
  if (hit) return { kind: 'scalar', leaf: { source, hit }, shadowed: [] };
  return { kind: 'other', items: [] };
}

/**
 * `key: null` (or `~`): Helm deletes the key, so it renders as absent, like an empty slot; and like
 * an empty slot it is a token a value can be written into.
 */
function nullHit(
  parsed: ParsedDocument,
  node: unknown,
  target: unknown,
  path: YamlPath,
): ScalarHit | undefined {
  if (!isScalar(target) || target.value !== null || !target.range) return undefined;
  const start = target.range[0] + parsed.offset;
  const end = target.range[1] + parsed.offset;
  const at = isAlias(node) && node.range ? node.range[0] + parsed.offset : start;
  return { scalar: target, start, end, value: '', path, at, viaAlias: isAlias(node) };
}

function mergeInto(base: MergedMap, over: MergedMap): void {
  base.sources.push(...over.sources);
  for (const [key, value] of over.entries) {
    const existing = base.entries.get(key);
    if (existing?.kind === 'map' && value.kind === 'map') {
      mergeInto(existing, value);
    } else if (existing?.kind === 'scalar' && value.kind === 'scalar') {
      base.entries.set(key, { ...value, shadowed: [...existing.shadowed, existing.leaf, ...value.shadowed] });
    } else {
      base.entries.set(key, value);
    }
  }
}

/** The leaves (effective first, then shadowed) of a scalar that the environment's files hold. */
export function editableLeaves(scalar: MergedScalar | undefined): Leaf[] {
  if (!scalar) return [];
  return [scalar.leaf, ...scalar.shadowed].filter((leaf) => leaf.source.editable);
}

export type { MergedScalar };
