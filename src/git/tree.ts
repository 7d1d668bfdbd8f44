import type { RepoFiles } from '../manifests/inputs.js';
import type { Git } from './runner.js';

/**
 * The files of one commit, read from git's object store (no checkout needed; a partial clone
 * fetches the blobs it lacks on demand). Lookups are cached: a closure reads a handful of paths.
 */
export function filesAt(git: Git, sha: string): RepoFiles {
  const kinds = new Map<string, Promise<'file' | 'dir' | undefined>>();
  const lookup = async (path: string): Promise<'file' | 'dir' | undefined> => {
    if (path === '.' || path === '') return 'dir';
    const result = await git.read(['ls-tree', '-z', sha, '--', path], { allowFailure: true });
    if (result.exitCode !== 0) return undefined;
    // `<mode> <type> <object>\t<path>`; only the entry for `path` itself counts.
    const entry = result.stdout
      .split('\0')
      .map((line) => /^\d+ (\w+) [0-9a-f]+\t(.*)$/s.exec(line))
      .find((match) => match?.[2] === path);
    if (!entry) return undefined;
    return entry[1] === 'tree' ? 'dir' : entry[1] === 'blob' ? 'file' : undefined;
  };
  return {
    kind(path) {
      let known = kinds.get(path);
      if (!known) {
        known = lookup(path);
        kinds.set(path, known);
      }
      return known;
    },
    async read(path) {
      if ((await this.kind(path)) !== 'file') return undefined;
      const result = await git.read(['cat-file', 'blob', `${sha}:${path}`], { allowFailure: true });
      return result.exitCode === 0 ? result.stdout : undefined;
    },
  };
}
