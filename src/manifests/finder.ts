import { formatImageReference, type ImageReference, tryParseImageReference } from '../images/reference.js';
import type { FilePlan } from './plan.js';
import type { ImageUpdate } from './types.js';
import type { ScalarHit, YamlFile } from './yaml-file.js';

/** Facts a finder may need beyond the file itself. */
export interface FindContext {
  updates: readonly ImageUpdate[];
  /** Substrings a document must contain to be worth parsing (see `needlesFor`). */
  needles: readonly string[];
  /**
   * For a file whose images a kustomization's `images:` entry sets: that kustomization, per update
   * name. Such files are reported, not edited.
   */
  coveredBy: (file: string, update: ImageUpdate) => string | undefined;
}

/**
 * One file format (renovate style: one module per format, one interface). `plan` records the edits,
 * changes, "seen" entries and refusals for one file on the plan; it never writes.
 */
export interface Finder {
  readonly format: 'marker' | 'kustomize' | 'helm' | 'workload';
  /** Whether this finder reads `file` at all. */
  accepts(file: YamlFile): boolean;
  plan(file: YamlFile, plan: FilePlan, context: FindContext): void;
}

/** The update whose repository a reference names, if any. */
export function updateFor(
  reference: ImageReference,
  updates: readonly ImageUpdate[],
): ImageUpdate | undefined {
  return updates.find((update) => update.reference.repository === reference.repository);
}

/** The text to write for `current`: its name as written, the update's tag and digest. */
export function newReferenceText(current: ImageReference, update: ImageUpdate): string {
  return formatImageReference({
    name: current.name,
    ...(update.reference.tag !== undefined ? { tag: update.reference.tag } : {}),
    ...(update.reference.digest !== undefined ? { digest: update.reference.digest } : {}),
  });
}

export const UP_TO_DATE = 'already up to date';

/**
 * Plans the rewrite of a scalar holding a whole reference (`repo:tag@digest`), or records it as
 * already up to date.
 */
export function planWholeReference(
  plan: FilePlan,
  hit: ScalarHit,
  current: ImageReference,
  update: ImageUpdate,
  owner: string,
): void {
  const value = newReferenceText(current, update);
  if (value === hit.value) {
    plan.see(hit, update.name, hit.value, UP_TO_DATE);
    return;
  }
  if (plan.replaceScalar(hit, value, owner)) plan.change(hit.at, update.name, hit.value, value);
}

/**
 * Cheap substrings that a document referring to an update must contain: the shortest spelling of
 * its repository (`nginx` for docker.io/library/nginx, `acme/web` for docker.io/acme/web, the full
 * `ghcr.io/acme/web` elsewhere, since a registry other than Docker Hub is always written out).
 * Kustomizations and Helm values files are parsed whole, so split forms do not depend on this.
 */
export function needlesFor(updates: readonly ImageUpdate[]): string[] {
  return [
    ...new Set(
      updates.map(({ reference }) =>
        reference.domain === 'docker.io' ? reference.path.replace(/^library\//, '') : reference.repository,
      ),
    ),
  ];
}

/** Parses a scalar's value as a reference when it can be one. */
export function referenceIn(hit: ScalarHit | undefined): ImageReference | undefined {
  return hit ? tryParseImageReference(hit.value) : undefined;
}
