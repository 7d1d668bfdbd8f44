import type { YAMLMap } from 'yaml';
import { formatImageReference, tryParseImageReference } from '../images/reference.js';
import { type Finder, planWholeReference, referenceIn, UP_TO_DATE, updateFor } from './finder.js';
import type { FilePlan } from './plan.js';
import { addMapKey } from './structure.js';
import type { ImageUpdate } from './types.js';
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

/** Keys that hold a whole reference in values files: `image`, `sidecarImage`, `initImage`, … */
const IMAGE_KEY = /image$/i;

/**
 * Helm values files (the environment's `helmValues`), at any key path:
 * - split form: a map with `repository` (+ optional `registry`, as Bitnami charts have it) and
 *   `tag` and/or `digest`; only the tag and digest tokens change;
 * - single-string form: `image: repo:tag` (any key ending in "image").
 */
export function helmFinder(valuesFiles: ReadonlySet<string>): Finder {
  return {
    format: 'helm',
    accepts: (file) => valuesFiles.has(file.file),
    plan(file, plan, context) {
      for (const parsed of file.documents()) {
        walkMaps(parsed.doc.contents, (map, path) => {
          planSplitForm(plan, parsed, map, path, context.updates);
          for (const pair of map.items) {
            const key = scalarText(pair.key);
            if (key === undefined || !IMAGE_KEY.test(key)) continue;
            const hit = scalarHit(parsed, pair.value, [...path, key]);
            const reference = referenceIn(hit);
            if (!hit || !reference || plan.markerClaims.has(hit.start)) continue;
            const update = updateFor(reference, context.updates);
            if (update)
              planWholeReference(plan, hit, reference, update, `Helm value ${[...path, key].join('.')}`);
          }
        });
      }
    },
  };
}

function planSplitForm(
  plan: FilePlan,
  parsed: ParsedDocument,
  map: YAMLMap,
  path: YamlPath,
  updates: readonly ImageUpdate[],
): void {
  const repositoryHit = scalarHit(parsed, mapGet(map, 'repository'), [...path, 'repository']);
  if (!repositoryHit || repositoryHit.value === '') return;
  const registry = scalarText(resolve(parsed, mapGet(map, 'registry')));
  const name = registry ? `${registry}/${repositoryHit.value}` : repositoryHit.value;
  const current = tryParseImageReference(name);
  if (!current || current.tag !== undefined || current.digest !== undefined) return;
  const update = updateFor(current, updates);
  if (!update) return;
  const tagPresent = mapGet(map, 'tag') !== undefined;
  const digestPresent = mapGet(map, 'digest') !== undefined;
  const tagHit = scalarHit(parsed, mapGet(map, 'tag'), [...path, 'tag']);
  const digestHit = scalarHit(parsed, mapGet(map, 'digest'), [...path, 'digest']);
  if ((tagPresent && !tagHit) || (digestPresent && !digestHit)) return;

  const owner = `Helm values ${path.join('.') || '(root)'}`;
  const { tag, digest } = update.reference;
  const oldTag = tagHit?.value || undefined;
  const oldDigest = digestHit?.value || undefined;
  // A chart without a digest key keeps its tag when pinned by digest alone: charts commonly
  // default an absent tag to the appVersion, which would silently change the image.
  const newTag = tag ?? oldTag;
  const newDigest = digest;
  let ok = true;
  const set = (hit: ScalarHit | undefined, key: 'tag' | 'digest', value: string | undefined) => {
    const wanted = value ?? '';
    if ((hit?.value ?? '') === wanted) return;
    if (hit) {
      ok = plan.replaceScalar(hit, wanted, owner) && ok;
    } else if (!addMapKey(plan, parsed, map, key, wanted, path, owner)) {
      plan.refuse(
        `cannot add ${key} to the map at ${path.join('.')}; add it by hand`,
        plan.yaml.lineOf(repositoryHit.start),
      );
      ok = false;
    }
  };
  const oldText = formatImageReference({ name, tag: oldTag, digest: oldDigest });
  const newText = formatImageReference({ name, tag: newTag, digest: newDigest });
  if (oldText === newText) {
    plan.see(repositoryHit, update.name, oldText, UP_TO_DATE);
    return;
  }
  set(tagHit, 'tag', newTag);
  set(digestHit, 'digest', newDigest);
  if (!ok) return;
  const changedAt = (tag !== oldTag ? tagHit : digestHit) ?? repositoryHit;
  plan.change(changedAt.at, update.name, oldText, newText);
}
