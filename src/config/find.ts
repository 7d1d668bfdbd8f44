import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { usageError } from '../core/errors.js';
import { enclosingRepository } from '../core/repository.js';

// Apart from load.ts so that finding the file needs no YAML parser: "no gitops.yaml" is the
// first error most people meet, and it is reported before the parser is loaded.

export const CONFIG_FILE_NAMES = ['gitops.yaml', 'gitops.yml'] as const;

/**
 * Finds gitops.yaml: the explicit path when given, else the nearest one from `cwd` upwards,
 * stopping at the repository root (the first directory holding `.git`).
 */
export function findConfigFile(cwd: string, explicit?: string): string {
  if (explicit) {
    const file = resolve(cwd, explicit);
    if (!existsSync(file)) {
      throw usageError('CONFIG_NOT_FOUND', `config file ${explicit} does not exist`, {
        hint: 'pass an existing file with --config, or run `gitops init` to write one',
      });
    }
    return file;
  }
  // Up to the repository root (the directory holding .git), or only the working directory when
  // there is no repository: a gitops.yaml of some parent directory (a shared runner's home, /tmp)
  // is nobody's config for this checkout.
  const start = resolve(cwd);
  const root = enclosingRepository(start);
  let dir = start;
  for (;;) {
    for (const name of CONFIG_FILE_NAMES) {
      const candidate = join(dir, name);
      if (existsSync(candidate)) return candidate;
    }
    if (root === undefined || dir === root) break;
    dir = dirname(dir);
  }
  throw usageError(
    'CONFIG_NOT_FOUND',
    root === undefined
      ? `no gitops.yaml found in ${cwd} (not inside a git repository, so no parent directory is searched)`
      : `no gitops.yaml found in ${cwd} or its parents up to the repository root ${root}`,
    {
      hint: 'run `gitops init` to write one, or pass --config <path>',
    },
  );
}
