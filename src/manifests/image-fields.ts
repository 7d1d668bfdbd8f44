import type { YAMLMap } from 'yaml';
import { isMap, isSeq } from '../core/yaml.js';
import { type ImageReference, tryParseImageReference } from '../images/reference.js';
import {
  mapGet,
  type ParsedDocument,
  resolve,
  type ScalarHit,
  scalarHit,
  scalarText,
  walkMaps,
  type YamlPath,
} from './yaml-file.js';

/** Lists of containers in a pod spec; each item's `image` is an image field. */
export const CONTAINER_LISTS = ['containers', 'initContainers', 'ephemeralContainers'] as const;

/** Where an image field sits: a container list, or `volumes` (an image volume's `image.reference`). */
export type ImageFieldList = (typeof CONTAINER_LISTS)[number] | 'volumes';

/** Kinds that hold data, never pod specs: an `image:` inside them is text, not an image field. */
const DATA_KINDS = new Set(['ConfigMap', 'Secret', 'Kustomization', 'Component', 'CustomResourceDefinition']);

/** One image field of a document: a container's `image`, or an image volume's `image.reference`. */
export interface ImageField {
  hit: ScalarHit;
  /** The path from the document's root with list indices (what a re-parse shows). */
  path: YamlPath;
  /**
   * The field's identity independent of list order: list items are named by their `name`, the
   * way a strategic merge patch finds them (`spec.template.spec.containers[web].image`).
   */
  key: string;
  /** The key of the list holding the item (`spec.template.spec.containers`). */
  listKey: string;
  list: ImageFieldList;
  /** The item's `name` (undefined when it has none). */
  itemName: string | undefined;
  /** The path of the map holding the list (the pod spec). */
  podSpecPath: YamlPath;
  /** The value parsed as a reference; undefined for templated or otherwise invalid values. */
  reference: ImageReference | undefined;
}

/** The document's `kind`, or undefined. */
export function kindOf(parsed: ParsedDocument): string | undefined {
  const root = parsed.doc.contents;
  return isMap(root) ? scalarText(mapGet(root, 'kind')) : undefined;
}

/** Whether image fields of this document are rendered as images (not data, not schema text). */
export function holdsPodSpecs(kind: string | undefined): boolean {
  return kind === undefined || !DATA_KINDS.has(kind);
}

/** `a.b[web].c` from a path whose indices are replaced by item names where known. */
export function keyOf(path: YamlPath, names: ReadonlyMap<number, string> = new Map()): string {
  let key = '';
  path.forEach((segment, index) => {
    if (typeof segment === 'number') key += `[${names.get(index) ?? `#${segment}`}]`;
    else key += key === '' ? segment : `.${segment}`;
  });
  return key;
}

/**
 * Every image field of a document, at any depth (Deployment, StatefulSet, CronJob's
 * `jobTemplate`, custom resources that embed a pod spec such as Argo Rollouts or Knative).
 * `root` and `basePath` place a fragment (a JSON patch `value`) at its position in a resource.
 */
export function imageFields(
  parsed: ParsedDocument,
  root: unknown = parsed.doc.contents,
  basePath: YamlPath = [],
): ImageField[] {
  if (root === parsed.doc.contents && !holdsPodSpecs(kindOf(parsed))) return [];
  const found: ImageField[] = [];
  walkMaps(
    root,
    (map, path) => {
      for (const pair of map.items) {
        const list = scalarText(pair.key);
        if (list === undefined || !isImageList(list)) continue;
        const items = resolve(parsed, pair.value);
        if (!isSeq(items)) continue;
        const listPath = [...path, list];
        items.items.forEach((node, index) => {
          const item = resolve(parsed, node);
          if (!isMap(item)) return;
          const itemName = scalarText(mapGet(item, 'name'));
          const itemPath = [...listPath, index];
          const field = fieldOf(parsed, item, list, itemPath);
          if (!field) return;
          const names = new Map<number, string>();
          if (itemName !== undefined) names.set(itemPath.length - 1, itemName);
          const fullPath = field.hit.path;
          found.push({
            hit: field.hit,
            path: fullPath,
            key: keyOf(fullPath, names),
            listKey: keyOf(listPath),
            list,
            itemName,
            podSpecPath: path,
            reference: tryParseImageReference(field.hit.value),
          });
        });
      }
    },
    basePath,
  );
  return found;
}

function isImageList(key: string): key is ImageFieldList {
  return key === 'volumes' || (CONTAINER_LISTS as readonly string[]).includes(key);
}

/** The image scalar of one list item; its hit's path is the path from the document's root. */
export function fieldOf(
  parsed: ParsedDocument,
  item: YAMLMap,
  list: ImageFieldList,
  itemPath: YamlPath,
): { hit: ScalarHit } | undefined {
  if (list !== 'volumes') {
    const hit = scalarHit(parsed, mapGet(item, 'image'), [...itemPath, 'image']);
    return hit ? { hit } : undefined;
  }
  // An image volume (KEP-4639): `volumes: [{name, image: {reference, pullPolicy}}]`.
  const image = resolve(parsed, mapGet(item, 'image'));
  if (!isMap(image)) return undefined;
  const hit = scalarHit(parsed, mapGet(image, 'reference'), [...itemPath, 'image', 'reference']);
  return hit ? { hit } : undefined;
}
