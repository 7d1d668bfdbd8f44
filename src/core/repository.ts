import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

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
