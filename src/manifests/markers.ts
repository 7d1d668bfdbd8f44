import { normalizeRepository } from '../images/reference.js';
import type { ImageUpdate } from './types.js';
import { type ScalarHit, scalarHit, walkValues, type YamlFile } from './yaml-file.js';

/** The text every marker holds; files without it are not parsed for markers. */
export const MARKER_NEEDLE = 'gitops:image';

/**
 * `# gitops:image <name>` after a value on the same line marks it as the whole reference of image
 * `<name>` (a config image name or a repository); `<name>:tag` and `<name>:digest` mark a value
 * holding only the tag or only the digest (as Flux's `$imagepolicy` setters do). A marker also
 * decides which image owns a value when two configured images share a repository.
 */
const MARKER = /#[ \t]*gitops:image[ \t]+([^\s#]+)/g;

export interface Marker {
  file: string;
  line: number;
  spec: string;
  /** The image the marker names, without `:tag`/`:digest`. */
  name: string;
  part: 'whole' | 'tag' | 'digest';
  /** The marked value: the last value that ends on the marker's line before the `#`. */
  hit: ScalarHit | undefined;
}

/** Every marker comment of a file. */
export function findMarkers(file: YamlFile): Marker[] {
  if (!file.text.includes(MARKER_NEEDLE)) return [];
  const hits: ScalarHit[] = [];
  for (const parsed of file.documentsContaining([MARKER_NEEDLE])) {
    walkValues(parsed.doc.contents, (node, path) => {
      const hit = scalarHit(parsed, node, path);
      if (hit && !hit.viaAlias) hits.push(hit);
    });
  }
  const markers: Marker[] = [];
  for (const match of file.text.matchAll(MARKER)) {
    const spec = match[1]!;
    const line = file.lineOf(match.index);
    let part: Marker['part'] = 'whole';
    let name = spec;
    const suffix = /:(tag|digest)$/.exec(spec);
    if (suffix) {
      part = suffix[1] as 'tag' | 'digest';
      name = spec.slice(0, suffix.index);
    }
    const hit = hits
      .filter((candidate) => candidate.end <= match.index && file.lineOf(candidate.start) === line)
      .sort((a, b) => b.end - a.end)[0];
    const marked = hit && file.text.slice(hit.end, match.index).trim() === '' ? hit : undefined;
    markers.push({ file: file.file, line, spec, name, part, hit: marked });
  }
  return markers;
}

/** Who owns a value: an update being applied, another configured image, or nobody can say. */
export type Ownership =
  | { kind: 'update'; update: ImageUpdate }
  | { kind: 'other'; name: string }
  | { kind: 'ambiguous'; names: string[] };

/** The owner a marker names, among the updates (and the images they share a repository with). */
export function markerOwner(name: string, updates: readonly ImageUpdate[]): Ownership {
  const byName = updates.find((update) => update.name === name);
  if (byName) return { kind: 'update', update: byName };
  if (updates.some((update) => update.sharedWith?.includes(name))) return { kind: 'other', name };
  const repository = normalizeRepository(name);
  const byRepository = updates.filter((update) => update.reference.repository === repository);
  if (byRepository.length === 1 && !byRepository[0]!.sharedWith?.length) {
    return { kind: 'update', update: byRepository[0]! };
  }
  if (byRepository.length > 0) return { kind: 'ambiguous', names: ownersOf(byRepository) };
  return { kind: 'other', name };
}

/** The owner of an unmarked value in `repository`, if one update is. */
export function defaultOwner(repository: string, updates: readonly ImageUpdate[]): Ownership | undefined {
  const candidates = updates.filter((update) => update.reference.repository === repository);
  if (candidates.length === 0) return undefined;
  if (candidates.length === 1 && !candidates[0]!.sharedWith?.length) {
    return { kind: 'update', update: candidates[0]! };
  }
  return { kind: 'ambiguous', names: ownersOf(candidates) };
}

function ownersOf(updates: readonly ImageUpdate[]): string[] {
  return [...new Set(updates.flatMap((update) => [update.name, ...(update.sharedWith ?? [])]))].sort();
}

/** Markers of a set of files, looked up by file and line. */
export class MarkerIndex {
  private readonly byLine = new Map<string, Marker[]>();

  constructor(readonly all: readonly Marker[]) {
    for (const marker of all) {
      const key = `${marker.file}:${marker.line}`;
      this.byLine.set(key, [...(this.byLine.get(key) ?? []), marker]);
    }
  }

  on(file: string, line: number): Marker[] {
    return this.byLine.get(`${file}:${line}`) ?? [];
  }

  /** The first marker on any of the lines from `first` to `last`. */
  within(file: string, first: number, last: number): Marker | undefined {
    for (let line = first; line <= last; line++) {
      const marker = this.on(file, line)[0];
      if (marker) return marker;
    }
    return undefined;
  }
}
