import { tryParseImageReference } from '../images/reference.js';

/** Where users pull the gitops action from (`uses:`). One constant, so the examples and `init` agree. */
export const DEFAULT_ACTION_REF = 'acme/gitops@v1';

/** What the CI templates are generated from: the facts `gitops init` knows about a project. */
export interface CiTemplateOptions {
  /** Environments in promotion order: the first is deployed on every push, each next one promoted from the one before. */
  environments: string[];
  /** Images of gitops.yaml; their registries get a login step before builds. */
  images: Array<{ name: string; repository: string }>;
  /** App-repo branch whose pushes deploy the first environment. */
  branch: string;
  /** `uses:` reference of the gitops GitHub Action. */
  actionRef: string;
  /** gitops version Jenkins installs from npm. */
  version: string;
  /** Directory of gitops.yaml relative to the repository root, in POSIX form (`.` for the root). */
  workingDirectory: string;
}

/** A file a generator produces, with its path relative to the repository root. */
export interface GeneratedFile {
  path: string;
  content: string;
}

/** The options the checked-in examples (examples/github-actions, examples/jenkins) are generated from. */
export function exampleOptions(version: string): CiTemplateOptions {
  return {
    environments: ['staging', 'production'],
    images: [{ name: 'web', repository: 'ghcr.io/acme/web' }],
    branch: 'main',
    actionRef: DEFAULT_ACTION_REF,
    version,
    workingDirectory: '.',
  };
}

/** Environment name → `production` → `PRODUCTION`, for secret and credential names. */
export function upperSnake(name: string): string {
  return name.toUpperCase().replace(/-/g, '_');
}

/** Promotion pairs in order: [staging, production], [production, next], … */
export function promotions(environments: readonly string[]): Array<{ from: string; to: string }> {
  return environments.slice(1).map((to, index) => ({ from: environments[index]!, to }));
}

/**
 * Registries the build pushes to and that need a login: every distinct registry host of the
 * images, except loopback registries (a local registry for demos has no auth).
 */
export function registryHosts(images: CiTemplateOptions['images']): string[] {
  const hosts = new Set<string>();
  for (const image of images) {
    const domain = tryParseImageReference(image.repository)?.domain;
    if (!domain || /^(localhost|127\.0\.0\.1|\[::1\])(:\d+)?$/.test(domain)) continue;
    hosts.add(domain);
  }
  return [...hosts].sort();
}

const YAML_RESERVED = /^(y|yes|n|no|true|false|on|off|null|~)$/i;

/** A YAML scalar for a name or path: plain when that reads back as the same string, else double-quoted. */
export function yamlScalar(value: string): string {
  if (/^[A-Za-z_][\w./@-]*$/.test(value) && !YAML_RESERVED.test(value)) return value;
  return JSON.stringify(value);
}

/** A Groovy single-quoted string literal (no interpolation). */
export function groovyString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}
