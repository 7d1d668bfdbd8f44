import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, posix, relative, sep } from 'node:path';
import { usageError } from '../core/errors.js';
import { type FindContext, type Finder, needlesFor, referenceIn, updateFor } from './finder.js';
import { helmFinder } from './helm.js';
import { isKustomizationFile, KustomizeIndex, kustomizeFinder } from './kustomize.js';
import { MARKER_NEEDLE, markerFinder } from './markers.js';
import { FilePlan } from './plan.js';
import type { ImageUpdate, SeenReference, UpdateOptions, UpdateResult } from './types.js';
import { workloadFinder } from './workloads.js';
import { documentError, scalarHit, walkValues, YamlFile } from './yaml-file.js';

export type * from './types.js';

const YAML_FILE = /\.ya?ml$/;
/** Files larger than this are not manifests anyone edits by hand; they are skipped. */
const MAX_FILE_BYTES = 8 * 1024 * 1024;

/** Every YAML file under `dir` (and `Kustomization`), relative with `/`, in sorted order. */
export function listYamlFiles(dir: string): string[] {
  const files: string[] = [];
  const walk = (current: string) => {
    const entries = readdirSync(current, { withFileTypes: true }).sort((a, b) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
    );
    for (const entry of entries) {
      // Dot-directories are tooling (.git, .github), never manifests.
      if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
      const path = join(current, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile() && (YAML_FILE.test(entry.name) || entry.name === 'Kustomization')) {
        files.push(relative(dir, path).split(sep).join('/'));
      }
    }
  };
  walk(dir);
  return files;
}

function readBytes(path: string): Buffer | undefined {
  try {
    // One read, no stat: this runs for every file of the tree.
    const bytes = readFileSync(path);
    return bytes.length > MAX_FILE_BYTES ? undefined : bytes;
  } catch {
    return undefined;
  }
}

/**
 * Finds every reference to the updated images under `envDir` (workload manifests, kustomizations,
 * the Helm values files named in `options.helmValues`, marker comments) and plans a byte-minimal
 * rewrite of each: only the value's token changes. Each edited file is re-parsed with js-yaml
 * and must show exactly the intended changes; if any file is refused, nothing is written.
 * With `write: false` nothing is written either way (the `files` list holds the would-be text).
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
  const helmFiles = new Set(options.helmValues.map((path) => posix.normalize(path.split(sep).join('/'))));
  const paths = listYamlFiles(envDir);
  // Only files that can matter are decoded and kept: kustomizations, values files, and files
  // holding a needle or a marker. The test runs on the raw bytes, before any UTF-8 decoding.
  const byteNeedles = [...needles, MARKER_NEEDLE].map((needle) => Buffer.from(needle, 'utf8'));
  const texts = new Map<string, YamlFile>();
  for (const path of paths) {
    const bytes = readBytes(join(envDir, path));
    if (!bytes) continue;
    const special = isKustomizationFile(path) || helmFiles.has(path);
    if (!special && !byteNeedles.some((needle) => bytes.includes(needle))) continue;
    texts.set(path, new YamlFile(path, bytes.toString('utf8')));
  }

  // Kustomize first: which files are set through an `images:` entry rather than edited.
  const outside = new Map<string, YamlFile | undefined>();
  const source = {
    file(path: string): YamlFile | undefined {
      if (!path.startsWith('../')) return texts.get(path);
      if (!outside.has(path)) {
        const text = /\.ya?ml$|(^|\/)Kustomization$/.test(path)
          ? readBytes(join(envDir, path))?.toString('utf8')
          : undefined;
        outside.set(path, text === undefined ? undefined : new YamlFile(path, text));
      }
      return outside.get(path);
    },
    isDirectory(path: string): boolean {
      try {
        return statSync(join(envDir, path)).isDirectory();
      } catch {
        return false;
      }
    },
  };
  const index = new KustomizeIndex(source, paths.filter(isKustomizationFile), needles);
  index.analyse(updates);

  const finders: Finder[] = [markerFinder, kustomizeFinder(index), helmFinder(helmFiles), workloadFinder];
  const context: FindContext = {
    updates,
    needles,
    coveredBy: (file, update) => index.coveredBy(file, update),
  };
  const result: UpdateResult = {
    changes: [],
    seen: [],
    files: [],
    refused: [],
    notFound: [],
    changed: false,
  };
  const writes: Array<{ path: string; text: string }> = [];

  for (const path of paths) {
    const file = texts.get(path);
    if (!file) continue;
    const special = isKustomizationFile(path) || helmFiles.has(path);

    const plan = new FilePlan(file);
    const parsed = special ? file.documents() : file.documentsContaining([...needles, MARKER_NEEDLE]);
    const broken = parsed.map((doc) => documentError(file, doc)).find((error) => error !== undefined);
    if (broken) {
      // A duplicate key or a syntax error: no one can say which value is the image.
      if (mentionsUpdate(file, updates)) plan.refuse(broken.reason, broken.line);
    } else {
      for (const finder of finders) {
        if (!finder.accepts(file)) continue;
        // A kustomization or values file is read by its own finder only (plus markers).
        if (finder.format === 'workload' && special) continue;
        finder.plan(file, plan, context);
      }
      if (!special) seeNonImageFields(file, plan, updates, needles);
    }

    const after = plan.apply();
    result.seen.push(...plan.seen);
    result.refused.push(...plan.refused);
    if (plan.refused.length > 0) continue;
    result.changes.push(...plan.changes);
    if (after !== undefined && after !== file.text) {
      result.files.push({ file: path, before: file.text, after });
      writes.push({ path: join(envDir, path), text: after });
    }
  }

  for (const update of updates) {
    const mentioned =
      result.changes.some((change) => change.image === update.name) ||
      result.seen.some((seen) => seen.image === update.name) ||
      result.refused.length > 0;
    if (!mentioned) result.notFound.push(update.name);
  }
  result.changed = result.refused.length === 0 && writes.length > 0;
  if (options.write && result.refused.length === 0) {
    for (const write of writes) writeFileSync(write.path, write.text, 'utf8');
  }
  return result;
}

function mentionsUpdate(file: YamlFile, updates: readonly ImageUpdate[]): boolean {
  return updates.some(
    (update) =>
      file.text.includes(update.reference.path.split('/').at(-1)!) || file.text.includes(update.name),
  );
}

/**
 * Reports references to an updated image that no finder took: an `image:` key outside a
 * container list (a ConfigMap's data, say). Only `image`-named keys and values with a tag or
 * digest are reported, so labels such as `app: nginx` stay quiet.
 */
function seeNonImageFields(
  file: YamlFile,
  plan: FilePlan,
  updates: readonly ImageUpdate[],
  needles: readonly string[],
): void {
  const taken = new Set<number>([
    ...plan.changes.map((change) => change.line),
    ...plan.seen.map((seen: SeenReference) => seen.line),
  ]);
  for (const parsed of file.documentsContaining(needles)) {
    walkValues(parsed.doc.contents, (node, path, key) => {
      const hit = scalarHit(parsed, node, path);
      const reference = referenceIn(hit);
      if (!hit || !reference) return;
      if (
        !(key !== undefined && /image$/i.test(key)) &&
        reference.tag === undefined &&
        reference.digest === undefined
      ) {
        return;
      }
      const update = updateFor(reference, updates);
      if (!update || taken.has(file.lineOf(hit.at))) return;
      plan.see(hit, update.name, hit.value, `not an image field (${path.join('.')})`);
    });
  }
}
