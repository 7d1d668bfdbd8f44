/** The validated gitops.yaml. Field docs live in schema.ts (and docs/config.md, generated from it). */
export interface ImageConfig {
  name: string;
  repository: string;
  context: string;
  dockerfile?: string;
  target?: string;
  buildArgs: Record<string, string>;
  secretBuildArgs: string[];
  platforms: string[];
  tags: string[];
  labels: Record<string, string>;
}

export interface IgnoreRule {
  kind?: string;
  name?: string;
  namespace?: string;
  jsonPointers: string[];
}

/** A freeze window; `days` non-empty makes it weekly with `HH:MM` (UTC) bounds. */
export interface FreezeWindow {
  from: string;
  to: string;
  days: Array<'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun'>;
  reason: string;
}

export interface EnvironmentConfig {
  /** The map key in `environments`. */
  name: string;
  /**
   * Identity in the cluster (ownership label value, inventory name): `environments.<env>.id`, or
   * derived from the env repo and `path` (config/identity.ts). Empty until the session resolves
   * it when the env repo is the app repo (its origin URL is read then).
   */
  id: string;
  /** The env repo as identities name it (config/identity.ts normaliseRepoUrl); set with `id`. */
  repo: string;
  path: string;
  kubeContext?: string;
  kubeconfig?: string;
  namespace?: string;
  promoteFrom?: string;
  helmValues: string[];
  chart?: string;
  releaseName?: string;
  allowRemoteResources: boolean;
  timeout: string;
  autoRollback: boolean;
  waitForJobs: boolean;
  lease: { duration: string; wait: string };
  prune: { enabled: boolean; protect: string[] };
  /** Allowed namespaces; undefined: the environment's and those it declares. */
  namespaces?: string[];
  adopt: boolean;
  freezes: FreezeWindow[];
  ignoreDifferences: IgnoreRule[];
  policies: {
    allowedRegistries: string[];
    allowPlaintextSecrets: string[];
    requireResourceLimits: boolean;
    clusterScopedKinds: string[];
  };
}

export interface EnvRepoConfig {
  url?: string;
  sameRepo: boolean;
  branch: string;
  tokenEnv?: string;
  pushTimeout: string;
  pushBackoff: string;
  pushAttempts?: number;
  sign?: boolean;
  verifyCommits?: { allowedSigners?: string; allowedKeys?: string[] };
  author?: { name: string; email: string };
}

export interface GitopsConfig {
  /** Absolute path of the file this was read from. */
  file: string;
  /** Directory of that file: relative paths in the config are relative to it. */
  dir: string;
  version: number;
  images: ImageConfig[];
  envRepo: EnvRepoConfig;
  environments: Record<string, EnvironmentConfig>;
  freezes: FreezeWindow[];
  kubectl: { path: string };
  helm: { path: string };
  build: { engine: 'auto' | 'docker' | 'podman' | 'buildah'; pin: 'digest' | 'tag'; concurrency: number };
}
