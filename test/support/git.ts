import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { tempDir } from './cli.js';

/** Environment for git in tests: no user config, fixed identity, C locale. */
export const gitTestEnv: Record<string, string> = {
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_AUTHOR_NAME: 'Test Author',
  GIT_AUTHOR_EMAIL: 'author@example.com',
  GIT_COMMITTER_NAME: 'Test Author',
  GIT_COMMITTER_EMAIL: 'author@example.com',
  LC_ALL: 'C',
};

export function git(cwd: string, args: string[], input?: string): string {
  return execFileSync('git', args, {
    cwd,
    env: { ...process.env, ...gitTestEnv },
    input,
    encoding: 'utf8',
    stdio: ['pipe', 'pipe', 'pipe'],
  }).trim();
}

/** Writes files (path → content) under a directory, creating parents. */
export function writeFiles(root: string, files: Record<string, string>): void {
  for (const [path, content] of Object.entries(files)) {
    const file = join(root, path);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, content);
  }
}

export interface TestRemote {
  /** Path of the bare repository (the "remote"). */
  bare: string;
  /** A scratch working clone used to seed it. */
  seed: string;
  branch: string;
  /** Content of a file at the remote branch head. */
  show(path: string): string;
  /** Commit shas on the branch, newest first. */
  log(): string[];
  /** Commits touching the branch as `sha parents…`, to check linear history. */
  parents(): string[][];
  head(): string;
}

/** A bare remote in a temp dir seeded with one commit of `files` on `branch`. */
export function createRemote(
  t: { after(fn: () => void): void },
  files: Record<string, string>,
  branch = 'main',
): TestRemote {
  const root = tempDir(t, 'gitops-remote-');
  const bare = join(root, 'env.git');
  const seed = join(root, 'seed');
  git(root, ['init', '--quiet', '--bare', `--initial-branch=${branch}`, bare]);
  git(root, ['init', '--quiet', `--initial-branch=${branch}`, seed]);
  writeFiles(seed, files);
  git(seed, ['add', '-A']);
  git(seed, ['commit', '--quiet', '-m', 'seed']);
  git(seed, ['remote', 'add', 'origin', bare]);
  git(seed, ['push', '--quiet', 'origin', branch]);
  return {
    bare,
    seed,
    branch,
    show: (path) => git(bare, ['show', `${branch}:${path}`]),
    log: () => git(bare, ['log', '--format=%H', branch]).split('\n').filter(Boolean),
    parents: () =>
      git(bare, ['log', '--format=%H %P', branch])
        .split('\n')
        .filter(Boolean)
        .map((line) => line.split(' ')),
    head: () => git(bare, ['rev-parse', branch]),
  };
}

/**
 * A person's commit on the remote's branch, on top of whatever was pushed meanwhile: writes
 * `files`, removes `remove`, pushes; returns the new head.
 */
export function commitToRemote(
  remote: TestRemote,
  files: Record<string, string>,
  message: string,
  remove: string[] = [],
): string {
  const { seed, branch } = remote;
  git(seed, ['pull', '--quiet', '--rebase', 'origin', branch]);
  if (remove.length > 0) git(seed, ['rm', '--quiet', '--', ...remove]);
  writeFiles(seed, files);
  git(seed, ['add', '-A']);
  git(seed, ['commit', '--quiet', '-m', message]);
  git(seed, ['push', '--quiet', 'origin', branch]);
  return git(seed, ['rev-parse', 'HEAD']);
}
