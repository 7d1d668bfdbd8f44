// Where the control plane's binaries are: built by .ci/setup-control-plane.sh into its cache.

import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export const COMPONENTS = [
  'etcd',
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'kwok',
] as const;
export type Component = (typeof COMPONENTS)[number];

export interface ControlPlaneBinaries {
  dir: string;
  paths: Record<Component, string>;
  /** What the setup script recorded, e.g. { kubernetes: 'v1.32.9', etcd: 'v3.5.16', kwok: 'v0.7.0' }. */
  versions: Record<string, string>;
}

/** The cache the setup script owns: $GITOPS_CONTROL_PLANE_CACHE, else ~/.cache/gitops-control-plane. */
export function controlPlaneCache(env: NodeJS.ProcessEnv = process.env): string {
  return env.GITOPS_CONTROL_PLANE_CACHE ?? join(homedir(), '.cache', 'gitops-control-plane');
}

/** The built binaries, or a sentence saying what is missing. */
export function findControlPlaneBinaries(
  env: NodeJS.ProcessEnv = process.env,
): ControlPlaneBinaries | string {
  const dir = join(controlPlaneCache(env), 'bin');
  const manifest = join(dir, 'versions.json');
  if (!existsSync(manifest)) return `no control plane built in ${dir} (run: bash .ci/setup-control-plane.sh)`;
  const paths = Object.fromEntries(COMPONENTS.map((name) => [name, join(dir, name)])) as Record<
    Component,
    string
  >;
  const missing = COMPONENTS.filter((name) => !existsSync(paths[name]));
  if (missing.length > 0)
    return `the control plane in ${dir} lacks ${missing.join(', ')} (run: bash .ci/setup-control-plane.sh)`;
  const versions = JSON.parse(readFileSync(manifest, 'utf8')) as Record<string, string>;
  return { dir, paths, versions };
}
