import { posix } from 'node:path';
import type { RepoFiles } from '../manifests/inputs.js';
import type { Git } from './runner.js';

/** A full sha names one commit forever: what was listed of it is true for the whole run. */
const FULL_SHA = /^[0-9a-f]{40}$/;

/** Per runner, the files of each commit asked for by its full sha (a symbolic name like HEAD can move). */
const byCommit = new WeakMap<Git, Map<string, RepoFiles>>();

/**
 * The files of one commit, read from git's object store (no checkout needed; a partial clone
 * fetches the blobs it lacks on demand). Lookups are cached: a closure reads a handful of paths,
 * and a commit named by its full sha is listed once per run, however many steps ask about it
 * (the checkout, the drift check and the apply all compute the closure of the same head).
 */
export function filesAt(git: Git, sha: string): RepoFiles {
  if (!FULL_SHA.test(sha)) return listFiles(git, sha);
  let commits = byCommit.get(git);
  if (!commits) {
    commits = new Map();
    byCommit.set(git, commits);
  }
  let files = commits.get(sha);
  if (!files) {
    files = listFiles(git, sha);
    commits.set(sha, files);
  }
  return files;
}

function listFiles(git: Git, sha: string): RepoFiles {
  // One `ls-tree` per directory, not per path: a closure asks about several names in one
  // directory (the three spellings of a kustomization, a chart's files), each a git process.
  const listings = new Map<string, Promise<Map<string, 'file' | 'dir'>>>();
  const contents = new Map<string, Promise<string | undefined>>();
  const listing = (dir: string) => {
    let known = listings.get(dir);
    if (!known) {
      const asked = git
        .read(['ls-tree', '-z', sha, ...(dir === '.' ? [] : ['--', `${dir}/`])], { allowFailure: true })
        .then((result) => {
          const entries = new Map<string, 'file' | 'dir'>();
          // A failed listing (a lazy fetch that broke) answers this caller only: the next one asks again.
          if (result.exitCode !== 0) {
            if (listings.get(dir) === asked) listings.delete(dir);
            return entries;
          }
          // `<mode> <type> <object>\t<path>`: trees are directories, blobs files (submodules neither).
          for (const line of result.stdout.split('\0')) {
            const match = /^\d+ (\w+) [0-9a-f]+\t(.*)$/s.exec(line);
            if (match?.[1] === 'tree') entries.set(match[2]!, 'dir');
            else if (match?.[1] === 'blob') entries.set(match[2]!, 'file');
          }
          return entries;
        });
      known = asked;
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
      let text = contents.get(path);
      if (!text) {
        const asked = git
          .read(['cat-file', 'blob', `${sha}:${path}`], { allowFailure: true })
          .then((result) => {
            if (result.exitCode === 0) return result.stdout;
            if (contents.get(path) === asked) contents.delete(path);
            return undefined;
          });
        text = asked;
        contents.set(path, text);
      }
      return text;
    },
  };
}
