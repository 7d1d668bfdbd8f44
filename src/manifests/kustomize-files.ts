import { posix } from 'node:path';

/*
 * Which files kustomize reads, apart from the editing of kustomizations (kustomize.ts): the render
 * path needs these few names, and not the YAML editing machinery behind the rest.
 */

/** The names kustomize looks for in a directory, in its order. */
export const KUSTOMIZATION_FILE_NAMES = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'] as const;

export function isKustomizationFile(file: string): boolean {
  return (KUSTOMIZATION_FILE_NAMES as readonly string[]).includes(posix.basename(file));
}

/** A resource, base or component kustomize fetches over the network (never read by gitops). */
export function isRemote(resource: string): boolean {
  return (
    /^[a-z][a-z0-9+.-]*:\/\//i.test(resource) ||
    /^(?:github\.com|gitlab\.com|bitbucket\.org)\//.test(resource) ||
    resource.startsWith('git@') ||
    resource.startsWith('git::')
  );
}
