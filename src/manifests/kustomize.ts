import type { Pair, YAMLMap } from 'yaml';
import { isMap, isSeq } from '../core/yaml.js';
import type { FilePlan } from './plan.js';
import { addMapKey, appendMapItem, plainOrQuoted, removeMapPair, replaceMapPair } from './structure.js';
import {
  mapGet,
  type ParsedDocument,
  type ScalarHit,
  scalarHit,
  scalarText,
  type YamlFile,
  type YamlPath,
} from './yaml-file.js';

/** The first document of a kustomization that is a map, with that map. */
export function rootOf(yaml: YamlFile): { parsed: ParsedDocument | undefined; root: YAMLMap | undefined } {
  for (const parsed of yaml.documents()) {
    if (isMap(parsed.doc.contents)) return { parsed, root: parsed.doc.contents };
  }
  return { parsed: undefined, root: undefined };
}

/*
 * How kustomize's image transformer matches and rewrites a value, after
 * https://github.com/kubernetes-sigs/kustomize/blob/master/api/internal/image/image.go (IsImageMatched,
 * Split) and api/filters/imagetag/updater.go (SetImageValue). An entry's `name` is matched against the
 * value AS WRITTEN in the resource: `nginx` matches `nginx:1.25` but not `docker.io/library/nginx:1.25`.
 * The name is even a regular expression (a "." matches any character), as kustomize compiles it.
 */

/** Whether an `images:` entry named `name` applies to the image field value `value`. */
export function isImageMatched(value: string, name: string): boolean {
  let pattern: RegExp;
  try {
    pattern = new RegExp(
      `^${name}(:[a-zA-Z0-9_.{}-]*)?(@[a-zA-Z0-9]+([.+_-][a-zA-Z0-9]+)*:[a-zA-Z0-9_.{}-]*)?$`,
    );
  } catch {
    // kustomize treats a name that is not a valid expression as matching nothing.
    return false;
  }
  return pattern.test(value);
}

/** kustomize's split of a value into name, tag and digest ("" when absent). */
export function splitImage(value: string): { name: string; tag: string; digest: string } {
  const slash = value.indexOf('/');
  const offset = slash > 0 ? slash : 0;
  const search = value.slice(offset);
  const at = search.indexOf('@');
  const colon = search.indexOf(':');
  if (colon < 0 && at < 0) return { name: value, tag: '', digest: '' };
  if (at >= 0 && (at < colon || colon < 0)) {
    return { name: value.slice(0, offset + at), tag: '', digest: value.slice(offset + at + 1) };
  }
  if (at >= 0 && colon >= 0) {
    return {
      name: value.slice(0, offset + colon),
      tag: value.slice(offset + colon + 1, offset + at),
      digest: value.slice(offset + at + 1),
    };
  }
  return { name: value.slice(0, offset + colon), tag: value.slice(offset + colon + 1), digest: '' };
}

/** The fields of an `images:` entry kustomize reads (empty strings count as absent, as in Go). */
export interface EntryFields {
  name: string;
  newName?: string;
  newTag?: string;
  digest?: string;
  tagSuffix?: string;
}

/** The value after one `images:` entry, or undefined when the entry does not match it. */
export function applyEntry(value: string, entry: EntryFields): string | undefined {
  if (!isImageMatched(value, entry.name)) return undefined;
  let { name, tag, digest } = splitImage(value);
  if (entry.newName) name = entry.newName;
  // A new tag or digest replaces both the old tag and the old digest.
  if (entry.newTag && entry.digest) {
    tag = entry.newTag;
    digest = entry.digest;
  } else if (entry.newTag) {
    tag = entry.newTag;
    digest = '';
  } else if (entry.digest) {
    tag = '';
    digest = entry.digest;
  } else if (entry.tagSuffix) {
    tag += entry.tagSuffix;
    digest = '';
  }
  return `${name}${tag ? `:${tag}` : ''}${digest ? `@${digest}` : ''}`;
}

/** One `images:` (or the deprecated `imageTags:`) entry of a kustomization, with its tokens. */
export interface EntryRef extends EntryFields {
  kustomization: string;
  yaml: YamlFile;
  parsed: ParsedDocument;
  map: YAMLMap;
  path: YamlPath;
  /** Line of the entry's `name`. */
  line: number;
  nameHit: ScalarHit;
  /** Whether the kustomization is a file of the environment (gitops may edit it). */
  inEnv: boolean;
}

/** Whether an entry sets the tag or digest (not only the name) of what it matches. */
export function setsVersion(entry: EntryFields): boolean {
  return Boolean(entry.newTag || entry.digest || entry.tagSuffix);
}

/** The `images:` entries of a kustomization, in kustomize's order (`images`, then `imageTags`). */
export function readEntries(
  kustomization: string,
  yaml: YamlFile,
  parsed: ParsedDocument,
  root: YAMLMap,
  inEnv: boolean,
): EntryRef[] {
  const entries: EntryRef[] = [];
  for (const field of ['images', 'imageTags']) {
    const list = mapGet(root, field);
    if (!isSeq(list)) continue;
    list.items.forEach((item, index) => {
      if (!isMap(item)) return;
      const path = [field, index];
      const nameHit = scalarHit(parsed, mapGet(item, 'name'), [...path, 'name']);
      if (!nameHit || nameHit.value === '') return;
      const text = (key: string) => scalarText(mapGet(item, key)) || undefined;
      const newName = text('newName');
      const newTag = text('newTag');
      const digest = text('digest');
      const tagSuffix = text('tagSuffix');
      entries.push({
        kustomization,
        yaml,
        parsed,
        map: item,
        path,
        line: yaml.lineOf(nameHit.start),
        nameHit,
        inEnv,
        name: nameHit.value,
        ...(newName ? { newName } : {}),
        ...(newTag ? { newTag } : {}),
        ...(digest ? { digest } : {}),
        ...(tagSuffix ? { tagSuffix } : {}),
      });
    });
  }
  return entries;
}

/** Lines an entry spans (for marker comments on any of them). */
export function entryLines(entry: EntryRef): { first: number; last: number } {
  const range = entry.map.range;
  if (!range) return { first: entry.line, last: entry.line };
  return {
    first: entry.yaml.lineOf(range[0] + entry.parsed.offset),
    last: entry.yaml.lineOf(Math.max(range[0], range[1] - 1) + entry.parsed.offset),
  };
}

/**
 * Sets an entry's version so that kustomize writes `tag` and `digest` (one may be undefined), as
 * `kustomize edit set image` leaves an entry: a tag alone drops the digest and the other way round.
 * A `newTag` that carries its own digest (`newTag: 1.2@sha256:…`) keeps that style.
 * Returns false (with a refusal recorded) when the entry's layout cannot be edited in place.
 */
export function planEntryVersion(
  plan: FilePlan,
  entry: EntryRef,
  tag: string | undefined,
  digest: string | undefined,
  owner: string,
): boolean {
  const { parsed, map, path } = entry;
  const pair = (key: string) => map.items.find((item) => scalarText(item.key) === key) as Pair | undefined;
  const tagHit = scalarHit(parsed, mapGet(map, 'newTag'), [...path, 'newTag']);
  const digestHit = scalarHit(parsed, mapGet(map, 'digest'), [...path, 'digest']);
  const line = entry.line;
  if (tagHit?.value.includes('@') && !digestHit) {
    // `newTag: 1.2@sha256:…` renders as written after the colon: keep writing both in it.
    if (tag !== undefined) {
      return plan.replaceScalar(tagHit, digest ? `${tag}@${digest}` : tag, owner);
    }
  }
  type Action = { key: 'newTag' | 'digest'; hit: ScalarHit | undefined; wanted: string | undefined };
  const actions = (
    [
      { key: 'newTag', hit: tagHit, wanted: tag },
      { key: 'digest', hit: digestHit, wanted: digest },
    ] as Action[]
  ).filter((action) => (action.hit?.value || undefined) !== action.wanted);
  const removals = actions.filter((action) => action.wanted === undefined && pair(action.key));
  const additions = actions.filter((action) => action.wanted !== undefined && !action.hit);
  let ok = true;
  if (removals.length === 1 && additions.length === 1) {
    // newTag → digest (or back), as `kustomize edit set image` leaves it: swap the pair in place.
    const removed = pair(removals[0]!.key)!;
    const added = additions[0]!;
    if (!replaceMapPair(plan, parsed, removed, added.key, added.wanted!, path, owner)) {
      plan.refuse(
        `cannot rewrite ${removals[0]!.key} of the images entry ${entry.name}; edit it by hand`,
        line,
      );
      ok = false;
    }
  } else {
    for (const action of removals) {
      if (!removeMapPair(plan, parsed, map, pair(action.key)!, path, owner)) {
        plan.refuse(`cannot remove ${action.key} from the images entry ${entry.name}; edit it by hand`, line);
        ok = false;
      }
    }
    for (const action of additions) {
      if (!addMapKey(plan, parsed, map, action.key, action.wanted!, path, owner)) {
        plan.refuse(`cannot add ${action.key} to the images entry ${entry.name}; edit it by hand`, line);
        ok = false;
      }
    }
  }
  for (const action of actions) {
    if (action.hit && action.wanted !== undefined)
      ok = plan.replaceScalar(action.hit, action.wanted, owner) && ok;
  }
  return ok;
}

/** The `images:` entry kustomize writes for a name: its keys in kustomize's (alphabetical) order. */
export function newEntry(
  name: string,
  tag: string | undefined,
  digest: string | undefined,
): Array<[string, string]> {
  const entry: Array<[string, string]> = [];
  if (digest !== undefined) entry.push(['digest', digest]);
  entry.push(['name', name]);
  if (tag !== undefined) entry.push(['newTag', tag]);
  return entry;
}

/**
 * Adds entries to a kustomization: appended to its `images:` list (block or flow), or as a new
 * `images:` key at the end of its top-level map. Returns the line of each new entry in the edited
 * file, or undefined (nothing planned) when the layout is not one gitops can extend.
 */
export function planAddedEntries(
  plan: FilePlan,
  yaml: YamlFile,
  entries: Array<Array<[string, string]>>,
  owner: string,
): number[] | undefined {
  const { parsed, root } = rootOf(yaml);
  if (!parsed || !root) return undefined;
  const images = mapGet(root, 'images');
  if (isSeq(images)) {
    let before = 0;
    const lines: number[] = [];
    for (const [index, entry] of entries.entries()) {
      const line = appendMapItem(plan, parsed, images, entry, ['images'], owner, index);
      if (line === undefined) return undefined;
      lines.push(images.flow ? line : line + before);
      before += entry.length;
    }
    return lines;
  }
  if (images !== undefined) return undefined;
  const first = appendImagesKey(plan, parsed, root, entries, owner);
  if (first === undefined) return undefined;
  let next = first;
  return entries.map((entry) => {
    const current = next;
    next += entry.length;
    return current;
  });
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
