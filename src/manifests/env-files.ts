import {
  closeSync,
  fstatSync,
  openSync,
  readdirSync,
  readlinkSync,
  readSync,
  realpathSync,
  statSync,
} from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { decodeText, MAX_FILE_BYTES } from '../core/input-guards.js';
import { enclosingRepository, isWithin } from '../core/repository.js';
import type { FileSource } from './kustomize-build.js';
import { YamlFile } from './yaml-file.js';

const YAML_FILE = /\.ya?ml$/;

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

/**
 * The env repo around `envDir`: the nearest directory upwards (by name, not following symlinks)
 * that holds `.git`, else `envDir` itself. Symlinks may lead anywhere inside it, nowhere outside.
 */
export function repositoryRoot(envDir: string): string {
  return enclosingRepository(envDir) ?? resolve(envDir);
}

export type ReadOutcome = { bytes: Buffer } | { tooLarge: number } | undefined;

/**
 * Reads a file whole when it is at most MAX_FILE_BYTES; a larger one is not read at all (a 50 MB or
 * 5 GB file must not cost that much memory). open + fstat + read: the same system calls as
 * readFileSync, which this runs in place of for every file of the tree.
 */
export function readCapped(path: string): ReadOutcome {
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

/** Whether a file too large to read whole holds one of `needles`: read in 1 MiB chunks that overlap. */
export function fileContains(path: string, needles: readonly Buffer[]): boolean {
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

/** Why a file's bytes cannot be read as YAML text (not UTF-8, a control character), or undefined. */
export function undecodable(bytes: Buffer): { line: number; reason: string } | undefined {
  const decoded = decodeText(bytes);
  return 'problem' in decoded
    ? { line: decoded.problem.line ?? 1, reason: decoded.problem.reason }
    : undefined;
}

/** Files a kustomization may name: manifests, patches (YAML or JSON) and kustomizations. */
const READABLE = /\.(ya?ml|json)$|(^|\/)Kustomization$/;

/**
 * The environment's files for the render models: those already read (they hold a needle), read on
 * demand otherwise (a kustomize resource naming its image by a placeholder holds no needle), and
 * bases outside the environment when they, symlinks resolved, are inside the env repo.
 */
export class EnvFiles implements FileSource {
  private readonly cache = new Map<string, YamlFile | undefined>();

  constructor(
    private readonly envDir: string,
    private readonly root: string,
    private readonly texts: ReadonlyMap<string, YamlFile>,
    private readonly listed: ReadonlySet<string>,
    private readonly edits: ReadonlyMap<string, string> = new Map(),
  ) {}

  /** The same files with some texts replaced: what the render models read after an edit. */
  withEdits(edits: ReadonlyMap<string, string>): EnvFiles {
    return new EnvFiles(this.envDir, this.root, this.texts, this.listed, edits);
  }

  private insideRoot(path: string): boolean {
    try {
      return isWithin(this.root, realpathSync(join(this.envDir, path)));
    } catch {
      return false;
    }
  }

  file(path: string): YamlFile | undefined {
    const edited = this.edits.get(path);
    if (edited !== undefined) {
      if (!this.cache.has(`edited:${path}`)) this.cache.set(`edited:${path}`, new YamlFile(path, edited));
      return this.cache.get(`edited:${path}`);
    }
    const known = this.texts.get(path);
    if (known) return known;
    if (this.cache.has(path)) return this.cache.get(path);
    let file: YamlFile | undefined;
    // Env files are read only when listed (never through a symlink); others only inside the repo.
    const allowed =
      READABLE.test(path) &&
      (path.startsWith('../')
        ? this.insideRoot(path)
        : this.listed.has(path) || (path.endsWith('.json') && this.insideRoot(path)));
    if (allowed) {
      const outcome = readCapped(join(this.envDir, path));
      if (outcome && 'bytes' in outcome && !undecodable(outcome.bytes)) {
        file = new YamlFile(path, outcome.bytes.toString('utf8'));
      }
    }
    this.cache.set(path, file);
    return file;
  }

  isDirectory(path: string): boolean {
    try {
      return this.insideRoot(path) && statSync(join(this.envDir, path)).isDirectory();
    } catch {
      return false;
    }
  }

  inEnv(path: string): boolean {
    return !path.startsWith('../') && !path.includes(':');
  }
}
