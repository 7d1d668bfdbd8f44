import { realpathSync, writeFileSync } from 'node:fs';
import { join, posix, sep } from 'node:path';
import { usageError } from '../core/errors.js';
import { MAX_FILE_BYTES, megabytes, ReadBudget } from '../core/input-guards.js';
import { isWithin } from '../core/repository.js';
import { isMap, isSeq } from '../core/yaml.js';
import { tryParseImageReference } from '../images/reference.js';
import {
  EnvFiles,
  fileContains,
  listYamlFiles,
  readCapped,
  repositoryRoot,
  type SymlinkEntry,
  undecodable,
} from './env-files.js';
import { type Slot, ValuesModel, type ValuesSource } from './helm.js';
import { imageFields } from './image-fields.js';
import { newEntry, planAddedEntries, planEntryVersion, rootOf } from './kustomize.js';
import { type Build, KustomizeModel } from './kustomize-build.js';
import { isKustomizationFile } from './kustomize-files.js';
import { findMarkers, MARKER_NEEDLE, MarkerIndex } from './markers.js';
import { FilePlan } from './plan.js';
import { type Intent, Planner, slotKey } from './site-plan.js';
import { addMapKey } from './structure.js';
import type { ImageUpdate, Refusal, UpdateOptions, UpdateResult } from './types.js';
import { documentError, mapGet, scalarHit, scalarText, walkValues, YamlFile } from './yaml-file.js';

export type * from './types.js';
export { listYamlFiles, repositoryRoot, type SymlinkEntry };

/**
 * Cheap substrings that a document referring to an update must contain: the shortest spelling of
 * its repository (`nginx` for docker.io/library/nginx, `acme/web` for docker.io/acme/web, the full
 * `ghcr.io/acme/web` elsewhere, since a registry other than Docker Hub is always written out).
 * Kustomizations and Helm values files are parsed whole, and so are files a kustomization reads.
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

/**
 * Sets images in an environment so that its render shows them: finds every image field the render
 * holds (kustomize builds as `kubectl kustomize` makes them, Helm values as `helm template` merges
 * them, plain manifests as they are), decides for each which token or kustomize `images:` entry gives
 * it its value, and plans a byte-minimal rewrite of that token only. Each edited file is re-parsed
 * (js-yaml) and must show exactly the intended changes; the render model is then run again on the
 * edited files and must show exactly the intended images. If anything is refused, or an image the
 * render holds cannot be changed, nothing is written. With `write: false` nothing is written either way.
 */
export async function updateImages(
  envDir: string,
  updates: ImageUpdate[],
  options: UpdateOptions,
): Promise<UpdateResult> {
  for (const update of updates) {
    if (update.reference.tag === undefined && update.reference.digest === undefined) {
      throw usageError(
        'IMAGE_REFERENCE_INVALID',
        `image reference "${update.reference.original}" has neither a tag nor a digest`,
        { hint: 'pass --image <name>=<repository>:<tag> or <repository>@sha256:<digest>' },
      );
    }
  }
  const needles = needlesFor(updates);
  const normalize = (path: string) => posix.normalize(path.split(sep).join('/'));
  const helmFiles = options.helmValues.map(normalize);
  const chartValues =
    options.chart === undefined ? undefined : posix.join(normalize(options.chart), 'values.yaml');
  const helmSet = new Set([...helmFiles, ...(chartValues ? [chartValues] : [])]);
  // Hostile input: the env repo is input, and a symlink in it may point anywhere.
  // Nothing is read or written through a symlink that leaves the env repo, and the environment
  // directory itself must not resolve outside it.
  const root = realpathSync(options.root ?? repositoryRoot(envDir));
  const realEnvDir = realpathSync(envDir);
  if (!isWithin(root, realEnvDir)) {
    throw usageError(
      'ENV_PATH_OUTSIDE',
      `the environment directory ${envDir} resolves to ${realEnvDir}, outside the env repo ${root}`,
      { hint: 'replace the symlink with a directory of the env repo, or fix environments.<name>.path' },
    );
  }
  const isSpecial = (path: string) => isKustomizationFile(path) || helmSet.has(path);
  const { paths, texts, refused } = readTree(envDir, root, needles, isSpecial);
  const files = new EnvFiles(envDir, root, texts, new Set(paths));

  // Files with a syntax error or a duplicate key: no one can say which value is the image.
  const broken = new Set<string>();
  for (const [path, file] of texts) {
    const parsed = isSpecial(path) ? file.documents() : file.documentsContaining([...needles, MARKER_NEEDLE]);
    const error = parsed.map((doc) => documentError(file, doc)).find((found) => found !== undefined);
    if (!error) continue;
    broken.add(path);
    if (mentionsUpdate(file, updates)) refused.push({ file: path, line: error.line, reason: error.reason });
  }

  const layout = analyseLayout(files, paths, options.chart !== undefined);
  refused.push(...layout.problems);
  const repositories = new Set(updates.map((update) => update.reference.repository));
  const builds = layout.roots.map((kustomization) => layout.model.build(kustomization));
  const reached = new Set(builds.flatMap((build) => [...build.reached]));
  const markers = [...texts.values()].filter((file) => !broken.has(file.file)).flatMap(findMarkers);
  // Markers in a base outside the environment say who owns its values; they never edit it.
  const baseMarkers = [...reached]
    .filter((path) => !texts.has(path) && path.startsWith('../'))
    .flatMap((path) => {
      const yaml = files.file(path);
      return yaml ? findMarkers(yaml) : [];
    });
  const planner = new Planner(updates, new MarkerIndex([...markers, ...baseMarkers]), (path) =>
    files.file(path),
  );
  for (const build of builds) {
    for (const problem of build.problems) refused.push(problem);
    const relevant = build.sites.some((site) =>
      repositories.has(tryParseImageReference(site.value)?.repository ?? ''),
    );
    if (relevant) {
      for (const opaque of build.opaque) {
        refused.push({
          file: opaque.file,
          line: opaque.line,
          reason: `the kustomization uses ${opaque.what}, which can change images in ways gitops does not model; it cannot check the render, so it edits nothing`,
        });
      }
    }
    for (const site of build.sites) planner.planSite(site);
    planner.planUnusedEntries(build);
  }

  const imageLines = planPlainFiles(paths, texts, {
    isSpecial,
    broken,
    reached,
    builds,
    layout,
    planner,
    updates,
    needles,
  });

  let values: { model: ValuesModel; slots: Slot[] } | undefined;
  if (helmFiles.length > 0) {
    const model = new ValuesModel(
      valuesSources(files, helmFiles, options.chart, broken),
      appVersionOf(files, options.chart),
    );
    const slots = model.slots().filter((slot) => repositories.has(slot.reference.repository));
    for (const slot of slots) planner.planSlot(slot);
    values = { model, slots };
  }
  for (const marker of markers) planner.planMarker(marker, texts.get(marker.file)!);
  for (const [path, lines] of imageLines) {
    for (const marker of markers) if (marker.file === path) lines.add(marker.line);
    seeNonImageFields(texts.get(path)!, planner, updates, needles, lines);
  }
  refused.push(...planner.refused);

  const result: UpdateResult = {
    changes: [],
    seen: [],
    files: [],
    refused,
    notFound: [],
    notEditable: [...planner.notEditable].map(([image, places]) => ({ image, places })),
    changed: false,
  };
  const order = new Map(paths.map((path, index) => [path, index]));
  const plans = materialize(planner.intents, (path) => order.get(path) ?? paths.length);
  const edits = new Map<string, string>();
  for (const plan of plans) {
    const after = plan.apply();
    result.refused.push(...plan.refused);
    if (plan.refused.length > 0) continue;
    result.changes.push(...plan.changes);
    if (after !== undefined && after !== plan.yaml.text) {
      if (!files.inEnv(plan.file)) {
        // Every planned token is one of the environment's; anything else is a planning error.
        result.refused.push({ file: plan.file, reason: 'gitops edits only files of the environment' });
        continue;
      }
      result.files.push({ file: plan.file, before: plan.yaml.text, after });
      edits.set(plan.file, after);
    }
  }
  result.seen.push(...planner.seen);
  const byPosition = (a: { file: string; line: number }, b: { file: string; line: number }) =>
    (order.get(a.file) ?? paths.length) - (order.get(b.file) ?? paths.length) || a.line - b.line;
  result.changes.sort(byPosition);
  result.files.sort((a, b) => (order.get(a.file) ?? 0) - (order.get(b.file) ?? 0));

  if (result.refused.length === 0 && result.notEditable.length === 0 && edits.size > 0) {
    result.refused.push(
      ...checkRender(files.withEdits(edits), builds, values, planner, helmFiles, options, broken),
    );
  }

  for (const update of updates) {
    // Seen only outside image fields (a ConfigMap's data, a file the render does not read), or only
    // in an images entry that applies to nothing, is not found: the render holds no such image.
    const mentioned = planner.used.has(update.name) || result.refused.length > 0;
    if (!mentioned) result.notFound.push(update.name);
  }
  // When no update is in the render, nothing is written either: no edit could change what deploys.
  const writable =
    result.refused.length === 0 && result.notEditable.length === 0 && result.notFound.length < updates.length;
  result.changed = writable && edits.size > 0;
  if (options.write && writable) {
    for (const [path, text] of edits) writeFileSync(join(envDir, path), text, 'utf8');
  }
  return result;
}

/**
 * The environment's YAML files, and the text of those that can matter: kustomizations, values
 * files, and files holding a needle or a marker (tested on the raw bytes, before any UTF-8
 * decoding). Refusals for symlinks leaving the repo, files too large to read, text that is not
 * UTF-8 or holds control characters, and more text in all than the read budget allows.
 */
function readTree(
  envDir: string,
  root: string,
  needles: readonly string[],
  isSpecial: (path: string) => boolean,
): { paths: string[]; texts: Map<string, YamlFile>; refused: Refusal[] } {
  const refused: Refusal[] = [];
  const symlinks: SymlinkEntry[] = [];
  const paths = listYamlFiles(envDir, symlinks);
  for (const link of symlinks) {
    if (isWithin(root, link.target)) continue;
    refused.push({
      file: link.path,
      reason: `a symlink to ${link.target}, outside the env repo; gitops does not read or write through it`,
    });
  }
  const byteNeedles = [...needles, MARKER_NEEDLE].map((needle) => Buffer.from(needle, 'utf8'));
  const texts = new Map<string, YamlFile>();
  const budget = new ReadBudget();
  for (const path of paths) {
    const outcome = readCapped(join(envDir, path));
    if (!outcome) continue;
    const special = isSpecial(path);
    if ('tooLarge' in outcome) {
      // Skipping it quietly would leave a stale reference behind while reporting success.
      if (special || fileContains(join(envDir, path), byteNeedles)) {
        refused.push({
          file: path,
          reason: `the file is ${megabytes(outcome.tooLarge)}, larger than the ${megabytes(MAX_FILE_BYTES)} gitops reads from one file, and may hold an image to change; split it`,
        });
      }
      continue;
    }
    const { bytes } = outcome;
    if (!special && !byteNeedles.some((needle) => bytes.includes(needle))) continue;
    const bad = undecodable(bytes) ?? budget.take(bytes.length);
    if (bad) {
      refused.push({ file: path, ...(bad.line ? { line: bad.line } : {}), reason: bad.reason });
      continue;
    }
    texts.set(path, new YamlFile(path, bytes.toString('utf8')));
  }
  return { paths, texts, refused };
}

interface Layout {
  model: KustomizeModel;
  /** Root kustomizations: each is one build. */
  roots: string[];
  problems: Refusal[];
  /** Why a file outside every build is not rendered as it is, or undefined when it is. */
  notRendered(path: string): string | undefined;
}

/**
 * What renders: the environment's kustomization (when its directory has one), else every
 * kustomization of the tree no other one includes, plus the files no kustomization reads; with a
 * chart, only the chart.
 */
function analyseLayout(files: EnvFiles, paths: readonly string[], helm: boolean): Layout {
  const model = new KustomizeModel(files);
  const problems: Refusal[] = [];
  const top = model.kustomizationIn('.');
  if (top.problem) problems.push({ file: '.', reason: top.problem });
  if (helm)
    return {
      model,
      roots: [],
      problems,
      notRendered: () =>
        'not rendered: the environment renders its chart, and only its values files set images',
    };
  if (top.path) {
    const rootPath = top.path;
    return {
      model,
      roots: [rootPath],
      problems,
      notRendered: () => `not part of the kustomize build of ${rootPath}`,
    };
  }
  const kustomizations = paths.filter(isKustomizationFile);
  const included = new Set<string>();
  for (const path of kustomizations) {
    const yaml = files.file(path);
    if (!yaml) continue;
    const { root } = rootOf(yaml);
    if (!root) continue;
    const dir = posix.dirname(path);
    for (const key of ['resources', 'bases', 'components']) {
      const list = mapGet(root, key);
      if (!isSeq(list)) continue;
      for (const item of list.items) {
        const entry = scalarText(item);
        if (!entry) continue;
        const inner = model.kustomizationIn(posix.normalize(posix.join(dir, entry)));
        if (inner.path) included.add(inner.path);
      }
    }
  }
  return {
    model,
    roots: kustomizations.filter((path) => !included.has(path)),
    problems,
    notRendered: () => undefined,
  };
}

/**
 * Plain manifests (files no build reads): each image field of an updated image is a site rendered as
 * it is, or, where the layout does not render such files, reported. Returns the lines holding image
 * fields or build tokens per file, which the "not an image field" report leaves out.
 */
function planPlainFiles(
  paths: readonly string[],
  texts: ReadonlyMap<string, YamlFile>,
  context: {
    isSpecial: (path: string) => boolean;
    broken: ReadonlySet<string>;
    reached: ReadonlySet<string>;
    builds: readonly Build[];
    layout: Layout;
    planner: Planner;
    updates: readonly ImageUpdate[];
    needles: readonly string[];
  },
): Map<string, Set<number>> {
  const { isSpecial, broken, reached, builds, layout, planner, updates, needles } = context;
  const repositories = new Set(updates.map((update) => update.reference.repository));
  // Lines holding a value a build reads (resource or patch tokens, JSON patch values included).
  const tokenLines = new Set<string>();
  for (const build of builds) {
    for (const site of build.sites) {
      for (const step of site.steps) {
        if (step.kind === 'token') tokenLines.add(`${step.file}:${step.yaml.lineOf(step.hit.start)}`);
      }
    }
  }
  const imageLines = new Map<string, Set<number>>();
  for (const path of paths) {
    const file = texts.get(path);
    if (!file || isSpecial(path) || broken.has(path)) continue;
    const lines = new Set<number>();
    for (const key of tokenLines) {
      if (key.startsWith(`${path}:`)) lines.add(Number(key.slice(path.length + 1)));
    }
    imageLines.set(path, lines);
    const inBuild = reached.has(path);
    file.documentsContaining(needles).forEach((parsed) => {
      for (const field of imageFields(parsed)) {
        lines.add(file.lineOf(field.hit.start));
        if (inBuild || !field.reference || !repositories.has(field.reference.repository)) continue;
        const reason = layout.notRendered(path);
        if (reason) {
          const update = updates.find(
            (candidate) => candidate.reference.repository === field.reference!.repository,
          )!;
          planner.see(file, field.hit.at, update.name, field.hit.value, reason);
          continue;
        }
        planner.planSite({
          id: `plain|${path}|${parsed.offset}|${field.key}`,
          build: path,
          object: path,
          key: field.key,
          list: field.list,
          value: field.hit.value,
          steps: [{ kind: 'token', role: 'plain', file: path, yaml: file, hit: field.hit, editable: true }],
        });
      }
    });
  }

  return imageLines;
}

function valuesSources(
  files: EnvFiles,
  helmFiles: readonly string[],
  chart: string | undefined,
  broken: ReadonlySet<string>,
): ValuesSource[] {
  const sources: ValuesSource[] = [];
  if (chart !== undefined) {
    const defaults = posix.join(posix.normalize(chart.split(sep).join('/')), 'values.yaml');
    const yaml = files.file(defaults);
    if (yaml) sources.push({ file: defaults, yaml, editable: false });
  }
  for (const file of helmFiles) {
    const yaml = files.file(file);
    if (yaml && !broken.has(file)) sources.push({ file, yaml, editable: true });
  }
  return sources;
}

/** The chart's appVersion (Chart.yaml), when the chart is readable. */
function appVersionOf(files: EnvFiles, chart: string | undefined): string | undefined {
  if (chart === undefined) return undefined;
  const yaml = files.file(posix.join(posix.normalize(chart.split(sep).join('/')), 'Chart.yaml'));
  const root = yaml?.documents()[0]?.doc.contents;
  return isMap(root) ? scalarText(mapGet(root, 'appVersion')) || undefined : undefined;
}

/** Turns intents into one FilePlan per file (in the order of `rank`), splices planned. */
function materialize(intents: readonly Intent[], rank: (path: string) => number): FilePlan[] {
  const plans = new Map<string, FilePlan>();
  const planFor = (yaml: YamlFile) => {
    let plan = plans.get(yaml.file);
    if (!plan) {
      plan = new FilePlan(yaml);
      plans.set(yaml.file, plan);
    }
    return plan;
  };
  const additions = new Map<YamlFile, Array<Extract<Intent, { kind: 'add-entry' }>>>();
  // A marked field is planned by its marker and as a field: one change is reported.
  const reported = new Set<string>();
  for (const intent of intents) {
    switch (intent.kind) {
      case 'token': {
        const plan = planFor(intent.yaml);
        const key = `${intent.yaml.file}:${intent.change?.at}:${intent.image}`;
        if (
          plan.replaceScalar(intent.hit, intent.value, intent.owner) &&
          intent.change &&
          !reported.has(key)
        ) {
          reported.add(key);
          plan.change(intent.change.at, intent.image, intent.change.old, intent.change.new);
        }
        break;
      }
      case 'entry': {
        const plan = planFor(intent.entry.yaml);
        if (planEntryVersion(plan, intent.entry, intent.tag, intent.digest, intent.owner)) {
          plan.change(intent.change.at, intent.image, intent.change.old, intent.change.new);
        }
        break;
      }
      case 'add-key': {
        const plan = planFor(intent.yaml);
        if (
          !addMapKey(plan, intent.parsed, intent.map, intent.key, intent.value, intent.path, intent.owner)
        ) {
          plan.refuse(
            `cannot add ${intent.key} to the map at ${intent.path.join('.')}; add it by hand`,
            intent.yaml.lineOf(intent.parsed.offset + (intent.map.range?.[0] ?? 0)),
          );
        } else if (intent.change) {
          plan.change(intent.change.at, intent.image, intent.change.old, intent.change.new);
        }
        break;
      }
      case 'add-entry':
        additions.set(intent.yaml, [...(additions.get(intent.yaml) ?? []), intent]);
        break;
    }
  }
  for (const [yaml, adding] of additions) {
    // Sorted by name, as `kustomize edit set image` keeps its list.
    adding.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const plan = planFor(yaml);
    const lines = planAddedEntries(
      plan,
      yaml,
      adding.map((intent) => newEntry(intent.name, intent.tag, intent.digest)),
      `the new images entries of ${yaml.file}`,
    );
    if (!lines) {
      const { parsed, root } = rootOf(yaml);
      plan.refuse(
        `cannot add an images entry for ${adding.map((intent) => intent.name).join(', ')} to ${yaml.file}; add it by hand`,
        yaml.lineOf((parsed?.offset ?? 0) + (root?.range?.[0] ?? 0)),
      );
      continue;
    }
    adding.forEach((intent, index) => {
      for (const old of intent.olds)
        plan.change(0, intent.image, old, intent.new, lines[index], { entryAdded: true });
    });
  }
  return [...plans.values()].sort((a, b) => rank(a.file) - rank(b.file));
}

/**
 * The render after the edit, by the same models: every image field of an updated image must show
 * the new image, and every other field must be as it was. A failure here means the planned edit
 * would not deploy what it reports, so the whole edit is refused.
 */
function checkRender(
  after: EnvFiles,
  builds: readonly Build[],
  values: { model: ValuesModel; slots: Slot[] } | undefined,
  planner: Planner,
  helmFiles: readonly string[],
  options: UpdateOptions,
  broken: ReadonlySet<string>,
): Refusal[] {
  const problems: Refusal[] = [];
  const model = new KustomizeModel(after);
  for (const build of builds) {
    const rebuilt = new Map(model.build(build.root).sites.map((site) => [site.id, site]));
    for (const site of build.sites) {
      const expected = planner.expected.get(site.id) ?? site.value;
      const now = rebuilt.get(site.id);
      rebuilt.delete(site.id);
      if (now?.value === expected) continue;
      problems.push({
        file: build.root,
        reason: `the render would not show the intended image: ${site.object} ${site.key}${site.variant ? ` (kustomize ${site.variant})` : ''} would be ${now?.value ?? 'gone'}, not ${expected}`,
      });
    }
    for (const site of rebuilt.values()) {
      problems.push({
        file: build.root,
        reason: `the edit would add the image field ${site.object} ${site.key}`,
      });
    }
  }
  if (values) {
    const now = new Map(
      new ValuesModel(valuesSources(after, helmFiles, options.chart, broken))
        .slots()
        .map((slot) => [slotKey(slot), slot]),
    );
    for (const slot of values.slots) {
      const expected = planner.expectedSlots.get(slotKey(slot)) ?? slot.value;
      const found = now.get(slotKey(slot));
      if (found?.value === expected) continue;
      problems.push({
        file: helmFiles.at(-1)!,
        reason: `the merged Helm values would not describe the intended image at ${slot.path.join('.')}: ${found?.value ?? 'gone'}, not ${expected}`,
      });
    }
  }
  return problems;
}

function mentionsUpdate(file: YamlFile, updates: readonly ImageUpdate[]): boolean {
  return updates.some(
    (update) =>
      file.text.includes(update.reference.path.split('/').at(-1)!) || file.text.includes(update.name),
  );
}

/**
 * Reports references to an updated image that are not image fields: an `image:` key outside a
 * container list (a ConfigMap's data, say). Only `image`-named keys and values with a tag or
 * digest are reported, so labels such as `app: nginx` stay quiet.
 */
function seeNonImageFields(
  file: YamlFile,
  planner: Planner,
  updates: readonly ImageUpdate[],
  needles: readonly string[],
  taken: ReadonlySet<number>,
): void {
  for (const parsed of file.documentsContaining(needles)) {
    walkValues(parsed.doc.contents, (node, path, key) => {
      const hit = scalarHit(parsed, node, path);
      const reference = hit ? tryParseImageReference(hit.value) : undefined;
      if (!hit || !reference) return;
      if (
        !(key !== undefined && /image$/i.test(key)) &&
        reference.tag === undefined &&
        reference.digest === undefined
      ) {
        return;
      }
      const update = updates.find((candidate) => candidate.reference.repository === reference.repository);
      if (!update || taken.has(file.lineOf(hit.at))) return;
      planner.see(file, hit.at, update.name, hit.value, `not an image field (${path.join('.')})`);
    });
  }
}
