import { createHash } from 'node:crypto';
import { isAbsolute, resolve } from 'node:path';
import type { EnvironmentConfig } from './types.js';

/**
 * A repository URL reduced to what names the same repository however it is written:
 * `git@github.com:Acme/env.git`, `ssh://git@github.com/Acme/env`, `https://token@github.com/Acme/env.git/`
 * all give `github.com/Acme/env`; a local path (or file:// URL) gives its absolute path without `.git`.
 */
export function normaliseRepoUrl(url: string, baseDir: string): string {
  const trimmed = url
    .trim()
    .replace(/\/+$/, '')
    .replace(/\.git$/, '');
  const scp = /^(?:[^@/]+@)?([^:/]+):(?!\/)(.+)$/.exec(trimmed);
  if (scp && !/^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed) && !isAbsolute(trimmed))
    return `${scp[1]!.toLowerCase()}/${scp[2]}`;
  const parsed = /^([a-z][a-z0-9+.-]*):\/\/(?:[^@/]*@)?([^/:]*)(?::\d+)?(\/.*)?$/i.exec(trimmed);
  if (parsed) {
    const [, scheme, host, path = ''] = parsed;
    if (scheme!.toLowerCase() === 'file') return decodeURIComponent(path);
    return `${host!.toLowerCase()}${path}`;
  }
  return resolve(baseDir, trimmed);
}

/**
 * The identity that ties cluster objects to one environment of one env repo: the environment's
 * name and a digest of the repository and the environment's path. Two apps that both call an
 * environment `staging`, or two env repos deployed to one cluster, never share it. A label
 * value (at most 63 characters), used in the ownership label and the inventory's name.
 */
export function derivedEnvironmentId(
  repo: string,
  environment: Pick<EnvironmentConfig, 'name' | 'path'>,
): string {
  const path = environment.path.replace(/\\/g, '/').replace(/^\.\//, '').replace(/\/+$/, '');
  const digest = createHash('sha256')
    .update(`${repo}\n${path}\n${environment.name}`)
    .digest('hex')
    .slice(0, 10);
  return `${environment.name.slice(0, 52)}-${digest}`;
}
