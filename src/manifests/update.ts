import {
  closeSync,
  existsSync,
  fstatSync,
  openSync,
  readdirSync,
  readlinkSync,
  readSync,
  realpathSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, posix, relative, resolve, sep } from 'node:path';
import { usageError } from '../core/errors.js';
import { invalidUtf8Offset } from '../core/input-guards.js';
import { type FindContext, type Finder, needlesFor, referenceIn, updateFor } from './finder.js';
import { helmFinder } from './helm.js';
import { isKustomizationFile, KustomizeIndex, kustomizeFinder } from './kustomize.js';
import { MARKER_NEEDLE, markerFinder } from './markers.js';
import { FilePlan } from './plan.js';
import type { ImageUpdate, Refusal, SeenReference, UpdateOptions, UpdateResult } from './types.js';
import { workloadFinder } from './workloads.js';
import { documentError, scalarHit, walkValues, YamlFile } from './yaml-file.js';

export type * from './types.js';

const YAML_FILE = /\.ya?ml$/;
/** Files larger than this are not manifests anyone edits by hand; they are skipped. */
const MAX_FILE_BYTES = 8 * 1024 * 1024;

/** A symlink met while listing, relative to the listed directory, with where it leads. */
export interface SymlinkEntry {
  path: string;
  /** The resolved target (or the link text resolved against its directory, for a dangling link). */
  target: string;
}

/**
 * Every YAML file under `dir` (and `Kustomization`), relative with `/`, in sorted order.
 * Symlinks are never followed (neither to files nor to directories); `symlinks` collects them.
 */
export function listYamlFiles(dir: string, symlinks: SymlinkEntry[] = []): string[] {
  const files: string[] = [];
  const walk = (current: string) => {
    const entries = readdirSync(current, { withFileTypes: true }).sort((a, b) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
    );
    for (const entry of entries) {
      // Dot-directories are tooling (.git, .github), never manifests.
      if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
      const path = join(current, entry.name);
      if (entry.isSymbolicLink()) {
        symlinks.push({ path: relative(dir, path).split(sep).join('/'), target: linkTarget(path) });
      } else if (entry.isDirectory()) walk(path);
      else if (entry.isFile() && (YAML_FILE.test(entry.name) || entry.name === 'Kustomization')) {
        files.push(relative(dir, path).split(sep).join('/'));
      }
    }
  };
  walk(dir);
  return files;
}

function linkTarget(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    // Dangling (or a loop): where the link text points, which is what a later write would create.
    try {
      return resolve(dirname(path), readlinkSync(path));
    } catch {
      return path;
    }
  }
}

/** Whether `path` is `root` or below it (both real paths). */
function isWithin(root: string, path: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : `${root}${sep}`);
}

/**
 * The env repo around `envDir`: the nearest directory upwards (by name, not following symlinks)
 * that holds `.git`, else `envDir` itself. Symlinks may lead anywhere inside it, nowhere outside.
 */
export function repositoryRoot(envDir: string): string {
  let dir = resolve(envDir);
  for (;;) {
    if (existsSync(join(dir, '.git'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return resolve(envDir);
    dir = parent;
  }
}

type ReadOutcome = { bytes: Buffer } | { tooLarge: number } | undefined;

/**
 * Reads a file whole when it is at most MAX_FILE_BYTES; a larger one is not read at all (a 50 MB or
 * 5 GB file must not cost that much memory). open + fstat + read: the same system calls as
 * readFileSync, which this runs in place of for every file of the tree.
 */
function readCapped(path: string): ReadOutcome {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  try {
    const { size } = fstatSync(fd);
    if (size > MAX_FILE_BYTES) return { tooLarge: size };
    const bytes = Buffer.allocUnsafe(size);
    let read = 0;
    while (read < size) {
      const n = readSync(fd, bytes, read, size - read, read);
      if (n === 0) break;
      read += n;
    }
    return { bytes: read === size ? bytes : bytes.subarray(0, read) };
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

function readBytes(path: string): Buffer | undefined {
  const outcome = readCapped(path);
  return outcome && 'bytes' in outcome ? outcome.bytes : undefined;
}

/** Whether a file too large to read whole holds one of `needles`: read in 1 MiB chunks that overlap. */
function fileContains(path: string, needles: readonly Buffer[]): boolean {
  const overlap = Math.max(0, ...needles.map((needle) => needle.length)) - 1;
  const chunk = Buffer.allocUnsafe(1024 * 1024 + overlap);
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return false;
  }
  try {
    let kept = 0;
    let position = 0;
    for (;;) {
      const n = readSync(fd, chunk, kept, chunk.length - kept, position);
      if (n === 0) return false;
      position += n;
      const view = chunk.subarray(0, kept + n);
      if (needles.some((needle) => view.includes(needle))) return true;
      kept = Math.min(overlap, view.length);
      view.copyWithin(0, view.length - kept);
    }
  } finally {
    closeSync(fd);
  }
}

function megabytes(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
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
  // Hostile input (issue 10): the env repo is input, and a symlink in it may point anywhere.
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
  // Only files that can matter are decoded and kept: kustomizations, values files, and files
  // holding a needle or a marker. The test runs on the raw bytes, before any UTF-8 decoding.
  const byteNeedles = [...needles, MARKER_NEEDLE].map((needle) => Buffer.from(needle, 'utf8'));
  const texts = new Map<string, YamlFile>();
  for (const path of paths) {
    const outcome = readCapped(join(envDir, path));
    if (!outcome) continue;
    const special = isKustomizationFile(path) || helmFiles.has(path);
    if ('tooLarge' in outcome) {
      // Skipping it quietly would leave a stale reference behind while reporting success.
      if (special || fileContains(join(envDir, path), byteNeedles)) {
        refused.push({
          file: path,
          reason: `the file is ${megabytes(outcome.tooLarge)}, larger than the ${megabytes(MAX_FILE_BYTES)} gitops reads, and may hold an image to change; split it`,
        });
      }
      continue;
    }
    const { bytes } = outcome;
    if (!special && !byteNeedles.some((needle) => bytes.includes(needle))) continue;
    const invalid = invalidUtf8Offset(bytes);
    if (invalid !== undefined) {
      // Decoding would turn the bytes into U+FFFD, and writing back would change them.
      const line = bytes.subarray(0, invalid).filter((byte) => byte === 0x0a).length + 1;
      refused.push({
        file: path,
        line,
        reason: `not valid UTF-8 at line ${line} (byte 0x${bytes[invalid]!.toString(16).padStart(2, '0')}); gitops edits UTF-8 text only and would corrupt it`,
      });
      continue;
    }
    texts.set(path, new YamlFile(path, bytes.toString('utf8')));
  }

  // Bases outside the environment (`../base`) are read only when they, symlinks resolved, are in the repo.
  const insideRoot = (path: string): boolean => {
    try {
      return isWithin(root, realpathSync(join(envDir, path)));
    } catch {
      return false;
    }
  };

  // Kustomize first: which files are set through an `images:` entry rather than edited.
  const outside = new Map<string, YamlFile | undefined>();
  const source = {
    file(path: string): YamlFile | undefined {
      if (!path.startsWith('../')) return texts.get(path);
      if (!outside.has(path)) {
        const text =
          /\.ya?ml$|(^|\/)Kustomization$/.test(path) && insideRoot(path)
            ? readBytes(join(envDir, path))?.toString('utf8')
            : undefined;
        outside.set(path, text === undefined ? undefined : new YamlFile(path, text));
      }
      return outside.get(path);
    },
    isDirectory(path: string): boolean {
      try {
        return insideRoot(path) && statSync(join(envDir, path)).isDirectory();
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
    refused,
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
