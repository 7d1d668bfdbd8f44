import { normalizeRepository, tryParseImageReference } from '../images/reference.js';
import { type Finder, planWholeReference, UP_TO_DATE } from './finder.js';
import type { ImageUpdate } from './types.js';
import { type ScalarHit, scalarHit, walkValues } from './yaml-file.js';

/** The text every marker holds; files without it are not parsed for markers. */
export const MARKER_NEEDLE = 'gitops:image';

/**
 * `# gitops:image <name>` after a value on the same line marks it as the whole reference of image
 * `<name>` (a config image name or a repository); `<name>:tag` and `<name>:digest` mark a value
 * holding only the tag or only the digest (as Flux's `$imagepolicy` setters do).
 */
const MARKER = /#[ \t]*gitops:image[ \t]+([^\s#]+)/g;

function updateNamed(spec: string, updates: readonly ImageUpdate[]): ImageUpdate | undefined {
  const repository = normalizeRepository(spec);
  return updates.find((update) => update.name === spec || update.reference.repository === repository);
}

/** Marker comments, in any YAML file of the environment. Runs before the other finders. */
export const markerFinder: Finder = {
  format: 'marker',
  accepts: (file) => file.text.includes(MARKER_NEEDLE),
  plan(file, plan, context) {
    const hits: ScalarHit[] = [];
    for (const parsed of file.documentsContaining([MARKER_NEEDLE])) {
      walkValues(parsed.doc.contents, (node, path) => {
        const hit = scalarHit(parsed, node, path);
        if (hit && !hit.viaAlias) hits.push(hit);
      });
    }
    for (const match of file.text.matchAll(MARKER)) {
      const spec = match[1]!;
      const line = file.lineOf(match.index);
      let part: 'whole' | 'tag' | 'digest' = 'whole';
      let name = spec;
      const suffix = /:(tag|digest)$/.exec(spec);
      if (suffix) {
        part = suffix[1] as 'tag' | 'digest';
        name = spec.slice(0, suffix.index);
      }
      const update = updateNamed(name, context.updates);
      if (!update) continue;
      // The marked value: the last value that ends on the marker's line before the `#`.
      const hit = hits
        .filter((candidate) => candidate.end <= match.index && file.lineOf(candidate.start) === line)
        .sort((a, b) => b.end - a.end)[0];
      if (!hit || file.text.slice(hit.end, match.index).trim() !== '') {
        plan.refuse(`the marker "gitops:image ${spec}" at line ${line} follows no value on its line`, line);
        continue;
      }
      plan.markerClaims.add(hit.start);
      const owner = `marker gitops:image ${spec}`;
      if (part === 'whole') {
        const current = tryParseImageReference(hit.value);
        if (!current) {
          plan.refuse(`the value "${hit.value}" marked at line ${line} is not an image reference`, line);
          continue;
        }
        planWholeReference(plan, hit, current, update, owner);
        continue;
      }
      const wanted = update.reference[part];
      if (wanted === undefined) {
        plan.see(
          hit,
          update.name,
          hit.value,
          `marked as the ${part}, but ${update.reference.original} has no ${part}`,
        );
        continue;
      }
      if (wanted === hit.value) {
        plan.see(hit, update.name, hit.value, UP_TO_DATE);
        continue;
      }
      if (plan.replaceScalar(hit, wanted, owner)) plan.change(hit.at, update.name, hit.value, wanted);
    }
  },
};
