/**
 * Image names, tags and registry hosts, following the reference grammar of the distribution
 * project: https://github.com/distribution/reference/blob/main/reference.go
 */
import { parseImageReference, tryParseImageReference } from '../images/reference.js';

/** A tag: `[\w][\w.-]{0,127}` (distribution/reference `tag`). */
const TAG_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/** The registry Docker uses for names without a host part (`nginx`, `acme/web`). */
export const DEFAULT_REGISTRY = 'docker.io';

export function isValidTag(tag: string): boolean {
  return TAG_PATTERN.test(tag);
}

/**
 * Turns free text (a branch such as `feature/login`) into a valid tag: every character outside
 * the tag alphabet becomes `-`, leading `.`/`-` are dropped, the result is cut at 128 characters.
 * Returns undefined when nothing usable is left.
 */
export function sanitizeTag(text: string): string | undefined {
  const cleaned = text
    .replace(/[^A-Za-z0-9_.-]/g, '-')
    .replace(/^[.-]+/, '')
    .slice(0, 128);
  return isValidTag(cleaned) ? cleaned : undefined;
}

/** The registry host of a repository (`splitDockerDomain` of distribution/reference, via the one parser). */
export function registryHost(repository: string): string {
  return tryParseImageReference(repository)?.domain ?? DEFAULT_REGISTRY;
}

/**
 * True for registries on the loopback interface (127.0.0.0/8, localhost, [::1]).
 * These are spoken to over plain HTTP without TLS verification, as dockerd does by default
 * ("insecure-registries" always contains 127.0.0.0/8): a registry on the build machine itself
 * has no certificate to verify, and no traffic leaves the machine.
 */
export function isLoopbackRegistry(host: string): boolean {
  const name = host.startsWith('[') ? host.slice(1, host.indexOf(']')) : (host.split(':')[0] ?? host);
  return name === 'localhost' || name === '::1' || /^127(\.\d{1,3}){3}$/.test(name);
}

/**
 * Why a configured repository cannot be used, or undefined when it is fine.
 * The config holds the repository without tag or digest; gitops adds both.
 */
export function repositoryProblem(repository: string): string | undefined {
  if (repository.includes('@')) return 'must not contain a digest (@sha256:…); gitops pins digests itself';
  const lastSlash = repository.lastIndexOf('/');
  if (repository.slice(lastSlash + 1).includes(':')) return 'must not contain a tag; list tags under `tags`';
  try {
    parseImageReference(repository);
    return undefined;
  } catch (error) {
    // The parser says what is wrong ("repository names must be lowercase, …"); keep only that part.
    return (error as Error).message.replace(/^image reference ".*?" is invalid: /, 'is invalid: ');
  }
}
