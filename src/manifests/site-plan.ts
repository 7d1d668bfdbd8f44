import type { YAMLMap } from 'yaml';
import { formatImageReference, type ImageReference, tryParseImageReference } from '../images/reference.js';
import { editableLeaves, type Leaf, type Slot } from './helm.js';
import { type EntryRef, entryLines, setsVersion } from './kustomize.js';
import { type Build, reachedByEntries, type Site, type Step } from './kustomize-build.js';
import { isKustomizationFile } from './kustomize-files.js';
import { defaultOwner, type Marker, type MarkerIndex, markerOwner, type Ownership } from './markers.js';
import type { ImageUpdate, Refusal, SeenReference } from './types.js';
import type { ParsedDocument, ScalarHit, YamlFile, YamlPath } from './yaml-file.js';

export const UP_TO_DATE = 'already up to date';

/** A change to report, at an offset (or a line, for inserted lines) of the edited file. */
export interface ChangeNote {
  at: number;
  line?: number;
  old: string;
  new: string;
  entryAdded?: boolean;
}

/** One edit to make; `update.ts` turns intents into splices of a FilePlan. */
export type Intent =
  | {
      kind: 'token';
      yaml: YamlFile;
      hit: ScalarHit;
      value: string;
      image: string;
      owner: string;
      change?: ChangeNote;
    }
  | {
      kind: 'entry';
      entry: EntryRef;
      tag: string | undefined;
      digest: string | undefined;
      image: string;
      owner: string;
      change: ChangeNote;
    }
  | {
      kind: 'add-entry';
      yaml: YamlFile;
      name: string;
      tag: string | undefined;
      digest: string | undefined;
      image: string;
      /** Rendered images the entry overrides (one change each). */
      olds: Set<string>;
      new: string;
    }
  | {
      kind: 'add-key';
      yaml: YamlFile;
      parsed: ParsedDocument;
      map: YAMLMap;
      path: YamlPath;
      key: string;
      value: string;
      image: string;
      owner: string;
      change?: ChangeNote;
    };

/** `name[:tag][@digest]` with the update's version on the given name. */
export function withVersion(name: string, update: ImageUpdate): string {
  return formatImageReference({ name, tag: update.reference.tag, digest: update.reference.digest });
}

/** An intent to rewrite one token to `value` for an update, reporting `change` if given. */
function tokenIntent(
  yaml: YamlFile,
  hit: ScalarHit,
  value: string,
  update: ImageUpdate,
  owner: string,
  change?: ChangeNote,
): Extract<Intent, { kind: 'token' }> {
  return { kind: 'token', yaml, hit, value, image: update.name, owner, ...(change ? { change } : {}) };
}

/** Whether a value is something gitops can rewrite as a whole reference. */
function referenceOf(value: string): ImageReference | undefined {
  return tryParseImageReference(value);
}

function where(yaml: YamlFile, at: number): string {
  return `${yaml.file}:${yaml.lineOf(at)}`;
}

/**
 * Decides, for every rendered image field of an updated image, which token or entry to change so that
 * the render shows the new image, records what the render must show afterwards, and says why when
 * nothing can be changed.
 */
export class Planner {
  readonly intents: Intent[] = [];
  readonly seen: SeenReference[] = [];
  readonly refused: Refusal[] = [];
  /** Update name → places the render holds it that gitops cannot change. */
  readonly notEditable = new Map<string, SeenReference[]>();
  /** Update names with at least one rendered field or marked value. */
  readonly used = new Set<string>();
  /** Site id → the value the render must show after the edit (sites not listed must not change). */
  readonly expected = new Map<string, string>();
  /** Helm slot (path) → the value the merged values must describe after the edit. */
  readonly expectedSlots = new Map<string, string>();
  private readonly entryIntents = new Map<string, Extract<Intent, { kind: 'entry' }>>();
  private readonly additions = new Map<string, Extract<Intent, { kind: 'add-entry' }>>();

  constructor(
    private readonly updates: readonly ImageUpdate[],
    private readonly markers: MarkerIndex,
    private readonly kustomization: (path: string) => YamlFile | undefined,
  ) {}

  see(yaml: YamlFile, at: number, image: string, value: string, reason: string): void {
    this.seen.push({ file: yaml.file, line: yaml.lineOf(at), image, value, reason });
  }

  private cannot(update: ImageUpdate, yaml: YamlFile, at: number, value: string, reason: string): void {
    const places = this.notEditable.get(update.name) ?? [];
    places.push({ file: yaml.file, line: yaml.lineOf(at), image: update.name, value, reason });
    this.notEditable.set(update.name, places);
  }

  private markerOf(file: string, line: number): Marker | undefined {
    return this.markers.on(file, line)[0];
  }

  /** Who owns a site: the marker nearest the end of its history, else the one update of its repository. */
  private ownerOfSite(site: Site, repository: string): Ownership | undefined {
    for (const step of [...site.steps].reverse()) {
      const marker =
        step.kind === 'token'
          ? this.markerOf(step.file, step.yaml.lineOf(step.hit.start))
          : this.markers.within(
              step.entry.kustomization,
              entryLines(step.entry).first,
              entryLines(step.entry).last,
            );
      if (marker) return markerOwner(marker.name, this.updates);
    }
    return defaultOwner(repository, this.updates);
  }

  private locate(step: Step): { yaml: YamlFile; at: number } {
    return step.kind === 'token'
      ? { yaml: step.yaml, at: step.hit.at }
      : { yaml: step.entry.yaml, at: step.entry.nameHit.at };
  }

  /** Plans one image field of a kustomize build or of a plain manifest (a site of one token step). */
  planSite(site: Site): void {
    const current = referenceOf(site.value);
    if (!current) return;
    const owner = this.ownerOfSite(site, current.repository);
    if (!owner) return;
    const first = site.steps[0]!;
    const firstPlace = this.locate(first);
    if (owner.kind === 'other') {
      const update = this.updates.find((candidate) => candidate.reference.repository === current.repository);
      if (update)
        this.see(firstPlace.yaml, firstPlace.at, update.name, site.value, `marked for ${owner.name}`);
      return;
    }
    if (owner.kind === 'ambiguous') {
      for (const update of this.updates.filter(
        (candidate) => candidate.reference.repository === current.repository,
      )) {
        this.used.add(update.name);
        this.cannot(
          update,
          firstPlace.yaml,
          firstPlace.at,
          site.value,
          `${current.repository} is the repository of ${owner.names.join(' and ')}: which one this value is cannot be told; mark it with "# gitops:image <name>"`,
        );
      }
      return;
    }
    const { update } = owner;
    this.used.add(update.name);
    const desired = withVersion(current.name, update);
    this.expected.set(site.id, desired);
    let originIndex = site.steps.length - 1;
    while (originIndex > 0) {
      const step = site.steps[originIndex]!;
      if (step.kind === 'token' || setsVersion(step.entry) || carriesVersion(step.entry.newName)) break;
      originIndex--;
    }
    const origin = site.steps[originIndex]!;
    const place = this.locate(origin);
    if (site.value === desired) {
      this.see(place.yaml, place.at, update.name, site.value, UP_TO_DATE);
      return;
    }
    if (origin.kind === 'entry') {
      const { entry } = origin;
      if (entry.tagSuffix) {
        this.cannot(
          update,
          entry.yaml,
          entry.nameHit.at,
          site.value,
          `the images entry ${entry.name} appends tagSuffix "${entry.tagSuffix}"; gitops does not rewrite suffixes`,
        );
        return;
      }
      if (carriesVersion(entry.newName) && !setsVersion(entry)) {
        this.cannot(
          update,
          entry.yaml,
          entry.nameHit.at,
          site.value,
          `the images entry ${entry.name} writes the version into newName (${entry.newName}); give it newTag or digest instead`,
        );
        return;
      }
      if (entry.inEnv) {
        this.planEntry(entry, update, site.value, desired);
        this.seeCovered(site, first, update, entry.kustomization);
        return;
      }
      this.entryRoute(site, update, originIndex, current, desired);
      return;
    }
    const marker = this.markerOf(origin.file, origin.yaml.lineOf(origin.hit.start));
    const markedHere = marker?.part === 'whole' && marker.hit?.start === origin.hit.start;
    if (origin.editable && (origin.role !== 'resource' || markedHere)) {
      // A plain manifest, a patch of the environment, or a value its marker names: edit it there.
      this.planToken(origin, update, site.value, desired);
      return;
    }
    if (reachedByEntries(site)) {
      this.entryRoute(site, update, originIndex, current, desired);
      return;
    }
    if (origin.editable) {
      // Images entries do not reach this field (ephemeral containers, image volumes before kustomize
      // 5.7): the environment's own token is the only place that sets it.
      this.planToken(origin, update, site.value, desired);
      return;
    }
    const why = origin.inline
      ? `set by the inline patch at ${origin.inline.kustomization}:${origin.inline.line}, and gitops does not edit inside a block scalar; move the patch to a file`
      : `kustomize images entries do not reach ${site.list === 'volumes' ? 'image volumes (before kustomize 5.7, kubectl 1.34)' : site.list}, and the value is set in ${where(origin.yaml, origin.hit.start)}, outside the environment`;
    this.cannot(update, place.yaml, place.at, site.value, why);
  }

  /** `set by the images entry in …` at the manifest's token, when an entry rather than it is edited. */
  private seeCovered(site: Site, first: Step, update: ImageUpdate, kustomization: string): void {
    if (first.kind !== 'token' || site.variant === 'from-5.7') return;
    if (site.steps.some((step) => step.kind === 'token' && step.role === 'patch')) return;
    this.see(
      first.yaml,
      first.hit.at,
      update.name,
      first.hit.value,
      `set by the images entry in ${kustomization}`,
    );
  }

  /** The version goes into an entry: the last one of the environment after the origin, else a new one. */
  private entryRoute(
    site: Site,
    update: ImageUpdate,
    originIndex: number,
    current: ImageReference,
    desired: string,
  ): void {
    for (let index = site.steps.length - 1; index > originIndex; index--) {
      const step = site.steps[index]!;
      if (step.kind === 'entry' && step.entry.inEnv) {
        this.planEntry(step.entry, update, site.value, desired);
        this.seeCovered(site, site.steps[0]!, update, step.entry.kustomization);
        return;
      }
    }
    const yaml = this.kustomization(site.build);
    if (!yaml) return;
    const key = `${site.build}\n${current.name}`;
    const existing = this.additions.get(key);
    if (existing) {
      if (existing.image !== update.name) {
        this.refused.push({
          file: site.build,
          reason: `a new images entry ${current.name} would have to set both ${existing.image} and ${update.name}`,
        });
        return;
      }
      existing.olds.add(site.value);
    } else {
      const intent: Extract<Intent, { kind: 'add-entry' }> = {
        kind: 'add-entry',
        yaml,
        name: current.name,
        tag: update.reference.tag,
        digest: update.reference.digest,
        image: update.name,
        olds: new Set([site.value]),
        new: desired,
      };
      this.additions.set(key, intent);
      this.intents.push(intent);
    }
    this.seeCovered(site, site.steps[0]!, update, site.build);
  }

  private planEntry(entry: EntryRef, update: ImageUpdate, old: string, desired: string): void {
    const key = `${entry.kustomization}\n${entry.path.join('.')}`;
    const existing = this.entryIntents.get(key);
    if (existing) {
      if (existing.image !== update.name) {
        this.refused.push({
          file: entry.kustomization,
          line: entry.line,
          reason: `the images entry ${entry.name} sets both ${existing.image} and ${update.name}, which need different versions`,
        });
      }
      return;
    }
    const intent: Extract<Intent, { kind: 'entry' }> = {
      kind: 'entry',
      entry,
      tag: update.reference.tag,
      digest: update.reference.digest,
      image: update.name,
      owner: `images entry ${entry.name}`,
      change: { at: entry.nameHit.at, old, new: desired },
    };
    this.entryIntents.set(key, intent);
    this.intents.push(intent);
  }

  private planToken(
    step: Extract<Step, { kind: 'token' }>,
    update: ImageUpdate,
    old: string,
    desired: string,
  ): void {
    const written = referenceOf(step.hit.value);
    if (!written) {
      this.cannot(
        update,
        step.yaml,
        step.hit.at,
        step.hit.value,
        'not an image reference gitops can rewrite',
      );
      return;
    }
    const value = withVersion(written.name, update);
    this.intents.push(
      tokenIntent(step.yaml, step.hit, value, update, `the image at ${step.hit.path.join('.')}`, {
        at: step.hit.at,
        old: step.role === 'resource' ? old : step.hit.value,
        new: step.role === 'resource' ? desired : value,
      }),
    );
  }

  /**
   * Entries of the build's kustomizations that name an updated image but that no field of the build
   * uses: kept in step as `kustomize edit set image` would when the image is used nowhere gitops can
   * see (a remote base, a generator); reported as not applying when it is used elsewhere in the build.
   */
  planUnusedEntries(build: Build): void {
    const used = new Set<EntryRef>();
    for (const site of build.sites)
      for (const step of site.steps) if (step.kind === 'entry') used.add(step.entry);
    for (const entry of build.entries) {
      if (!entry.inEnv) continue;
      const effective = referenceOf(entry.newName ?? entry.name);
      const named = referenceOf(entry.name);
      const renamed =
        named && this.updates.find((update) => update.reference.repository === named.repository);
      if (renamed && effective && effective.repository !== named?.repository) {
        this.see(
          entry.yaml,
          entry.nameHit.at,
          renamed.name,
          entry.name,
          `kustomize renames it to ${entry.newName} in this entry; left alone`,
        );
      }
      if (used.has(entry) || !effective) continue;
      const marker = this.markers.within(
        entry.kustomization,
        entryLines(entry).first,
        entryLines(entry).last,
      );
      const owner = marker
        ? markerOwner(marker.name, this.updates)
        : defaultOwner(effective.repository, this.updates);
      if (owner?.kind !== 'update') continue;
      const { update } = owner;
      const sitesOfImage = build.sites.filter(
        (site) => referenceOf(site.value)?.repository === update.reference.repository,
      );
      const old = formatImageReference({ name: effective.name, tag: entry.newTag, digest: entry.digest });
      if (sitesOfImage.length > 0) {
        const written = [...new Set(sitesOfImage.map((site) => site.value))].join(', ');
        this.see(
          entry.yaml,
          entry.nameHit.at,
          update.name,
          old,
          `this images entry does not apply: kustomize matches the name "${entry.name}" against the image as written in the resources (${written})`,
        );
        continue;
      }
      // Behind a remote base the entry may well be what deploys the image; in a build gitops sees
      // whole it applies to nothing, and the image counts as not found (the render cannot change).
      if (build.invisible.length > 0) this.used.add(update.name);
      const desired = withVersion(effective.name, update);
      if (old === desired) {
        this.see(entry.yaml, entry.nameHit.at, update.name, old, UP_TO_DATE);
        continue;
      }
      this.planEntry(entry, update, old, desired);
      this.see(
        entry.yaml,
        entry.nameHit.at,
        update.name,
        old,
        build.invisible.length > 0
          ? `applies to resources gitops cannot read (${build.invisible[0]!.what}); the render is not verified`
          : 'applies to no resource of the build; kept in step as kustomize edit set image would',
      );
    }
  }

  /** Plans one image of the Helm values (split map or single string). */
  planSlot(slot: Slot): void {
    const owner = this.ownerOfSlot(slot);
    if (!owner) return;
    const anchor = slot.repositoryLeaf ?? slot.leaf?.leaf;
    if (!anchor) return;
    if (owner.kind === 'other') {
      const update = this.updates.find(
        (candidate) => candidate.reference.repository === slot.reference.repository,
      );
      if (update)
        this.see(anchor.source.yaml, anchor.hit.at, update.name, slot.value, `marked for ${owner.name}`);
      return;
    }
    if (owner.kind === 'ambiguous') {
      for (const update of this.updates.filter(
        (candidate) => candidate.reference.repository === slot.reference.repository,
      )) {
        this.used.add(update.name);
        this.cannot(
          update,
          anchor.source.yaml,
          anchor.hit.at,
          slot.value,
          `${slot.reference.repository} is the repository of ${owner.names.join(' and ')}: which one this value is cannot be told; mark it with "# gitops:image <name>"`,
        );
      }
      return;
    }
    const { update } = owner;
    this.used.add(update.name);
    const valuesOwner = `Helm values ${slot.path.join('.') || '(root)'}`;
    if (slot.form === 'string') {
      const desired = withVersion(slot.reference.name, update);
      this.expectedSlots.set(slotKey(slot), desired);
      if (slot.reference.tag === undefined && slot.reference.digest === undefined) {
        this.cannot(
          update,
          anchor.source.yaml,
          anchor.hit.at,
          slot.value,
          'the value names no tag or digest: the chart adds the version from somewhere gitops cannot see',
        );
        return;
      }
      if (slot.value !== desired && !slot.leaf!.leaf.source.editable) {
        this.cannot(
          update,
          anchor.source.yaml,
          anchor.hit.at,
          slot.value,
          `set by the chart's default values (${anchor.source.file}), which gitops does not edit; set ${slot.path.join('.')} in a values file of the environment`,
        );
        return;
      }
      let changed = false;
      // The rendered value, and earlier values files of the environment it overrides (kept in step).
      for (const leaf of editableLeaves(slot.leaf)) {
        const written = referenceOf(leaf.hit.value);
        const value = written ? withVersion(written.name, update) : undefined;
        if (!value || value === leaf.hit.value) continue;
        changed = true;
        this.intents.push(
          tokenIntent(leaf.source.yaml, leaf.hit, value, update, valuesOwner, {
            at: leaf.hit.at,
            old: leaf.hit.value,
            new: value,
          }),
        );
      }
      if (!changed) this.see(anchor.source.yaml, anchor.hit.at, update.name, slot.value, UP_TO_DATE);
      return;
    }
    if (slot.ambiguous) {
      this.cannot(
        update,
        anchor.source.yaml,
        anchor.hit.at,
        slot.value,
        `the map at ${slot.path.join('.')} has ${slot.ambiguous}: which one the chart reads cannot be told`,
      );
      return;
    }
    const [oldTag] = versionOf(slot);
    const newTag = update.reference.tag ?? oldTag;
    const newDigest = update.reference.digest;
    // A chart without a digest key keeps its tag when pinned by digest alone: charts commonly
    // default an absent tag to the appVersion, which would silently change the image.
    const desired = formatImageReference({ name: slot.name, tag: newTag, digest: newDigest });
    this.expectedSlots.set(slotKey(slot), desired);
    const planned: Array<Extract<Intent, { kind: 'token' | 'add-key' }>> = [];
    const problem = (key: string, scalar: typeof slot.tag) =>
      `the ${key} is set only by the chart's default values (${scalar?.leaf.source.file ?? 'its values.yaml'}), and no values file of the environment has the map ${slot.path.join('.')} to set it in`;
    const token = (leaf: Leaf, value: string) =>
      planned.push(tokenIntent(leaf.source.yaml, leaf.hit, value, update, valuesOwner));
    const set = (
      scalar: typeof slot.tag,
      key: string,
      wanted: string | undefined,
      given: boolean,
    ): string | undefined => {
      // Earlier values files of the environment that the rendered one overrides are kept in step
      // (only with what the update itself gives: a tag kept from another file is not theirs).
      for (const leaf of given ? (scalar?.shadowed ?? []) : []) {
        if (leaf.source.editable && leaf.hit.value !== (wanted ?? '')) token(leaf, wanted ?? '');
      }
      if ((scalar?.leaf.hit.value ?? '') === (wanted ?? '')) return undefined;
      if (scalar?.leaf.source.editable) {
        token(scalar.leaf, wanted ?? '');
        return undefined;
      }
      if (wanted === undefined && !scalar) return undefined;
      // Not set by the environment (absent, or a chart default): add the key to its map.
      const target = slot.map!.sources.filter((source) => source.source.editable).at(-1);
      if (!target) return problem(key, scalar);
      planned.push({
        kind: 'add-key',
        yaml: target.source.yaml,
        parsed: target.parsed,
        map: target.map,
        path: target.path,
        key,
        value: wanted ?? '',
        image: update.name,
        owner: valuesOwner,
      });
      return undefined;
    };
    const tagGiven = update.reference.tag !== undefined;
    const problems = slot.embedded
      ? [set(slot.tag, slot.versionKey!, newDigest ? `${newTag}@${newDigest}` : newTag, tagGiven)]
      : [set(slot.tag, slot.versionKey!, newTag, tagGiven), set(slot.digest, 'digest', newDigest, true)];
    const why = problems.find((item) => item !== undefined);
    if (why) {
      this.cannot(update, anchor.source.yaml, anchor.hit.at, slot.value, why);
      return;
    }
    if (planned.length === 0) {
      this.see(anchor.source.yaml, anchor.hit.at, update.name, slot.value, UP_TO_DATE);
      return;
    }
    // One change per edited file, saying what that file described before.
    const noted = new Set<YamlFile>();
    for (const intent of planned) {
      if (noted.has(intent.yaml)) continue;
      noted.add(intent.yaml);
      const at =
        intent.kind === 'token' ? intent.hit.at : intent.parsed.offset + (intent.map.range?.[0] ?? 0);
      intent.change = { at, old: describedBy(slot, intent.yaml.file), new: desired };
    }
    this.intents.push(...planned);
  }

  private ownerOfSlot(slot: Slot): Ownership | undefined {
    const leaves = [slot.tag?.leaf, slot.digest?.leaf, slot.repositoryLeaf, slot.leaf?.leaf].filter(
      (leaf): leaf is Leaf => leaf !== undefined,
    );
    for (const leaf of leaves) {
      const marker = this.markerOf(leaf.source.file, leaf.source.yaml.lineOf(leaf.hit.start));
      if (marker) return markerOwner(marker.name, this.updates);
    }
    return defaultOwner(slot.reference.repository, this.updates);
  }

  /** Marked values: the marker says what the value is, so it is rewritten whatever file holds it. */
  planMarker(marker: Marker, yaml: YamlFile): void {
    const owner = markerOwner(marker.name, this.updates);
    if (owner.kind !== 'update') return;
    const { update } = owner;
    const inEntry =
      marker.hit &&
      ['images', 'imageTags'].includes(String(marker.hit.path[0])) &&
      isKustomizationFile(marker.file);
    if (inEntry) {
      // In an images entry a whole marker says whose entry it is (its name is never rewritten), and a
      // tag or digest marker is already served when the entry itself is planned.
      if (marker.part === 'whole') return;
      const planned = [...this.entryIntents.values()].some(
        (intent) =>
          intent.entry.kustomization === marker.file &&
          marker.line >= entryLines(intent.entry).first &&
          marker.line <= entryLines(intent.entry).last,
      );
      if (planned) return;
    }
    if (!marker.hit) {
      this.refused.push({
        file: marker.file,
        line: marker.line,
        reason: `the marker "gitops:image ${marker.spec}" at line ${marker.line} follows no value on its line`,
      });
      return;
    }
    this.used.add(update.name);
    const hit = marker.hit;
    let value: string;
    if (marker.part === 'whole') {
      const current = referenceOf(hit.value);
      if (!current) {
        this.refused.push({
          file: marker.file,
          line: marker.line,
          reason: `the value "${hit.value}" marked at line ${marker.line} is not an image reference`,
        });
        return;
      }
      value = withVersion(current.name, update);
    } else {
      const wanted = update.reference[marker.part];
      if (wanted === undefined) {
        this.see(
          yaml,
          hit.at,
          update.name,
          hit.value,
          `marked as the ${marker.part}, but ${update.reference.original} has no ${marker.part}`,
        );
        return;
      }
      value = wanted;
    }
    if (value === hit.value) {
      this.see(yaml, hit.at, update.name, hit.value, UP_TO_DATE);
      return;
    }
    this.intents.push(
      tokenIntent(yaml, hit, value, update, `marker gitops:image ${marker.spec}`, {
        at: hit.at,
        old: hit.value,
        new: value,
      }),
    );
  }
}

/** Whether a kustomize newName carries a tag or digest of its own (`newName: app:1.2`). */
function carriesVersion(newName: string | undefined): boolean {
  if (!newName) return false;
  const last = newName.slice(newName.lastIndexOf('/') + 1);
  return last.includes(':') || newName.includes('@');
}

/** A slot's tag and digest as the chart would render them (a digest in the tag split off). */
function versionOf(slot: Slot): [string | undefined, string | undefined] {
  return splitVersion(slot, slot.tag?.leaf.hit.value ?? '', slot.digest?.leaf.hit.value ?? '');
}

/** What one values file described for a slot: its own tag and digest, the merged ones otherwise. */
function describedBy(slot: Slot, file: string): string {
  const own = (scalar: typeof slot.tag) =>
    scalar && [scalar.leaf, ...scalar.shadowed].findLast((leaf) => leaf.source.file === file)?.hit.value;
  const [tag, digest] = splitVersion(
    slot,
    own(slot.tag) ?? slot.tag?.leaf.hit.value ?? '',
    own(slot.digest) ?? slot.digest?.leaf.hit.value ?? '',
  );
  return formatImageReference({
    name: slot.name,
    tag: tag ?? (digest ? undefined : slot.defaultTag),
    digest,
  });
}

function splitVersion(
  slot: Slot,
  tagText: string,
  digestText: string,
): [string | undefined, string | undefined] {
  if (slot.embedded) {
    const at = tagText.indexOf('@');
    return [tagText.slice(0, at) || undefined, tagText.slice(at + 1) || undefined];
  }
  return [tagText || undefined, digestText || undefined];
}

export function slotKey(slot: Slot): string {
  return `${slot.form}:${slot.path.join('.')}`;
}
