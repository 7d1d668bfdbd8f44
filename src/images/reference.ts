import { usageError } from '../core/errors.js';

/*
 * Container image references, after the grammar of the distribution project's `reference` package:
 * https://github.com/distribution/reference/blob/main/reference.go (grammar in the package comment)
 * and https://github.com/distribution/reference/blob/main/normalize.go (Docker Hub defaults):
 *
 *   reference        := name [ ":" tag ] [ "@" digest ]
 *   name             := [domain '/'] remote-name
 *   domain           := host [':' port-number]
 *   host             := domain-name | IPv4address | \[ IPv6address \]
 *   domain-name      := domain-component ['.' domain-component]*
 *   domain-component := /([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])/
 *   port-number      := /[0-9]+/
 *   path-component   := alpha-numeric [separator alpha-numeric]*
 *   remote-name      := path-component ['/' path-component]*
 *   alpha-numeric    := /[a-z0-9]+/
 *   separator        := /[_.]|__|[-]*\/
 *   tag              := /[\w][\w.-]{0,127}/
 *   digest           := digest-algorithm ":" digest-hex
 *   digest-algorithm := component [ /[+.-_]/ component ]*, component := /[A-Za-z][A-Za-z0-9]*\/
 *   digest-hex       := /[0-9a-fA-F]{32,}/
 *
 * normalize.go: the first path element is a domain only when it holds a "." or ":", is "localhost",
 * or is not all lowercase; otherwise the domain is docker.io. "index.docker.io" is the legacy name of
 * docker.io, and a single-element Docker Hub path gets the "library/" prefix.
 */

/** A parsed image reference. `repository` is normalised; `name` keeps the spelling it was given. */
export interface ImageReference {
  /** The text as given. */
  original: string;
  /** The name as written, without tag or digest (e.g. `nginx`, `localhost:5000/a/b`). */
  name: string;
  /** Registry host with optional port, normalised (`docker.io` when none was written). */
  domain: string;
  /** Path inside the registry, normalised (`library/nginx` for `nginx`). */
  path: string;
  /** `domain/path`: what two references must share to name the same repository. */
  repository: string;
  tag?: string;
  digest?: string;
}

const DEFAULT_DOMAIN = 'docker.io';
const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
const OFFICIAL_REPO_PREFIX = 'library/';
// NameTotalLengthMax in reference.go.
const NAME_TOTAL_LENGTH_MAX = 255;

const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN_RE = new RegExp(
  `^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[0-9a-fA-F:.]+\\])(?::[0-9]+)?$`,
);
const PATH_COMPONENT_RE = /^[a-z0-9]+(?:(?:[_.]|__|-+)[a-z0-9]+)*$/;
const TAG_RE = /^[\w][\w.-]{0,127}$/;
const DIGEST_RE = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/;
// Registered algorithms have a fixed length (opencontainers/go-digest).
const DIGEST_HEX_LENGTH: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };
/** Characters no reference can hold; named in errors because they usually mean a quoting mistake. */
const FORBIDDEN_RE = /[\s;&|$`'"<>(){}\\*?!#,=~]/;

function invalid(text: string, reason: string): never {
  throw usageError('IMAGE_REFERENCE_INVALID', `image reference "${printable(text)}" is invalid: ${reason}`, {
    hint: 'write references as repository:tag, repository@sha256:<64 hex> or repository:tag@sha256:<64 hex>, lowercase',
    details: { reference: text, reason },
  });
}

/** Shows control characters (a pasted newline, say) instead of printing them. */
function printable(text: string): string {
  return JSON.stringify(text).slice(1, -1);
}

function describeForbidden(char: string): string {
  if (char === '\n' || char === '\r') return 'it contains a line break';
  if (/\s/.test(char)) return 'it contains whitespace';
  return `it contains "${char}", which no image reference can hold (a shell or quoting mistake?)`;
}

function splitDomain(name: string): { domain: string | undefined; remainder: string } {
  const slash = name.indexOf('/');
  if (slash === -1) return { domain: undefined, remainder: name };
  const first = name.slice(0, slash);
  if (first.includes('.') || first.includes(':') || first === 'localhost' || first.toLowerCase() !== first) {
    return { domain: first, remainder: name.slice(slash + 1) };
  }
  return { domain: undefined, remainder: name };
}

/** The reference, or why `text` is not one. Never throws: scanning files meets many non-references. */
function analyse(text: string): ImageReference | string {
  if (text.length === 0) return 'it is empty';
  const forbidden = FORBIDDEN_RE.exec(text);
  if (forbidden) return describeForbidden(forbidden[0]);

  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (digest.length === 0) return 'the digest after "@" is empty';
    if (digest.includes('@')) return 'it has more than one "@"';
    if (!DIGEST_RE.test(digest)) {
      return `digest "${digest}" is not algorithm:hex (e.g. sha256: and 64 hex digits)`;
    }
    const [algorithm, hex] = digest.split(':') as [string, string];
    const expected = DIGEST_HEX_LENGTH[algorithm];
    if (expected !== undefined && hex.length !== expected) {
      return `a ${algorithm} digest has ${expected} hex digits, "${digest}" has ${hex.length}`;
    }
  }

  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (tag.length === 0) return 'the tag after ":" is empty';
    if (!TAG_RE.test(tag)) {
      return tag.length > 128
        ? `tag "${tag.slice(0, 20)}…" is longer than 128 characters`
        : `tag "${tag}" may hold only letters, digits, "_", "." and "-", and must not start with "." or "-"`;
    }
  }

  const name = rest;
  if (name.length === 0) return 'the repository name is empty';
  if (name.length > NAME_TOTAL_LENGTH_MAX) {
    return `the repository name is longer than ${NAME_TOTAL_LENGTH_MAX} characters`;
  }
  const { domain: writtenDomain, remainder } = splitDomain(name);
  if (writtenDomain !== undefined && !DOMAIN_RE.test(writtenDomain)) {
    return `registry "${writtenDomain}" is not a host name with an optional :port`;
  }
  if (remainder.length === 0) return 'the repository path is empty';
  for (const component of remainder.split('/')) {
    if (component.length === 0) return 'the repository path has an empty component ("//" or a trailing "/")';
    if (component.toLowerCase() !== component) {
      return `repository names must be lowercase, "${component}" is not`;
    }
    if (!PATH_COMPONENT_RE.test(component)) {
      return `path component "${component}" may hold only a-z, 0-9 and single ".", "_", "__" or "-" runs between them`;
    }
  }

  let domain = writtenDomain ?? DEFAULT_DOMAIN;
  if (domain === LEGACY_DEFAULT_DOMAIN) domain = DEFAULT_DOMAIN;
  const path =
    domain === DEFAULT_DOMAIN && !remainder.includes('/') ? OFFICIAL_REPO_PREFIX + remainder : remainder;
  return {
    original: text,
    name,
    domain,
    path,
    repository: `${domain}/${path}`,
    ...(tag !== undefined ? { tag } : {}),
    ...(digest !== undefined ? { digest } : {}),
  };
}

/**
 * Parses `text` as an image reference (see the grammar above). Throws an exit-2 error naming the
 * reference and what is wrong with it: uppercase path, empty tag, malformed digest, whitespace,
 * line breaks or shell metacharacters.
 */
export function parseImageReference(text: string): ImageReference {
  const result = analyse(text);
  if (typeof result === 'string') invalid(text, result);
  return result;
}

/** Parses without throwing: undefined when `text` is not a reference (for scanning files). */
export function tryParseImageReference(text: string): ImageReference | undefined {
  // A cheap guard first: most scalars in a manifest are not references at all.
  if (text.length === 0 || text.length > 512 || FORBIDDEN_RE.test(text)) return undefined;
  const result = analyse(text);
  return typeof result === 'string' ? undefined : result;
}

/** `name[:tag][@digest]`, keeping the name as written (no docker.io/library/ added). */
export function formatImageReference(reference: Pick<ImageReference, 'name' | 'tag' | 'digest'>): string {
  let text = reference.name;
  if (reference.tag !== undefined) text += `:${reference.tag}`;
  if (reference.digest !== undefined) text += `@${reference.digest}`;
  return text;
}

/** Whether two references name the same repository (`nginx` and `docker.io/library/nginx` do). */
export function sameRepository(a: ImageReference, b: ImageReference): boolean {
  return a.repository === b.repository;
}

/** Normalises a repository name written without tag or digest (e.g. a kustomize `name:`). */
export function normalizeRepository(name: string): string | undefined {
  const parsed = tryParseImageReference(name);
  if (!parsed || parsed.tag !== undefined || parsed.digest !== undefined) return undefined;
  return parsed.repository;
}
