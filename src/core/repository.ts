import { existsSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';

/**
 * The nearest directory at or above `dir` holding `.git` (a directory, or a worktree's file),
 * found by name without following symlinks; undefined outside any repository.
 */
export function enclosingRepository(dir: string): string | undefined {
  for (let at = resolve(dir); ; at = dirname(at)) {
    if (existsSync(join(at, '.git'))) return at;
    if (dirname(at) === at) return undefined;
  }
}

/** Whether `path` is `root` or below it (both real paths). */
export function isWithin(root: string, path: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : `${root}${sep}`);
}
