import { posix } from 'node:path';
import type { RepoFiles } from '../manifests/inputs.js';
import type { Git } from './runner.js';

/**
 * The files of one commit, read from git's object store (no checkout needed; a partial clone
 * fetches the blobs it lacks on demand). Lookups are cached: a closure reads a handful of paths.
 */
export function filesAt(git: Git, sha: string): RepoFiles {
  // One `ls-tree` per directory, not per path: a closure asks about several names in one
  // directory (the three spellings of a kustomization, a chart's files), each a git process.
  const listings = new Map<string, Promise<Map<string, 'file' | 'dir'>>>();
  const listing = (dir: string) => {
    let known = listings.get(dir);
    if (!known) {
      known = git
        .read(['ls-tree', '-z', sha, ...(dir === '.' ? [] : ['--', `${dir}/`])], { allowFailure: true })
        .then((result) => {
          const entries = new Map<string, 'file' | 'dir'>();
          if (result.exitCode !== 0) return entries;
          // `<mode> <type> <object>\t<path>`: trees are directories, blobs files (submodules neither).
          for (const line of result.stdout.split('\0')) {
            const match = /^\d+ (\w+) [0-9a-f]+\t(.*)$/s.exec(line);
            if (match?.[1] === 'tree') entries.set(match[2]!, 'dir');
            else if (match?.[1] === 'blob') entries.set(match[2]!, 'file');
          }
          return entries;
        });
      listings.set(dir, known);
    }
    return known;
  };
  return {
    async kind(path) {
      if (path === '.' || path === '') return 'dir';
      return (await listing(posix.dirname(path))).get(path);
    },
    async read(path) {
      if ((await this.kind(path)) !== 'file') return undefined;
      const result = await git.read(['cat-file', 'blob', `${sha}:${path}`], { allowFailure: true });
      return result.exitCode === 0 ? result.stdout : undefined;
    },
  };
}
