/** Inputs for the commented starter gitops.yaml that `gitops init` writes. */
export interface StarterOptions {
  envRepo: string;
  branch: string;
  environments: string[];
  images: Array<{ name: string; repository: string }>;
  /** Env var holding the push token; written uncommented when set (CI workflows export GITOPS_TOKEN). */
  tokenEnv?: string;
}

function quote(text: string): string {
  return /^[\w./:@-]+$/.test(text) && !/^[-:@]/.test(text) ? text : JSON.stringify(text);
}

/** A starter config: every key it writes validates; commented keys show what else exists. */
export function starterConfig(options: StarterOptions): string {
  const images = options.images
    .map(
      (image) => `  - name: ${quote(image.name)}
    # Repository to push to; also how gitops finds this image in your manifests.
    repository: ${quote(image.repository)}
    context: .
    # dockerfile: Containerfile
    # buildArgs: { VERSION: "\${VERSION}" }   # \${VAR} reads the environment
    # tags: ["{branch}"]                      # the short commit sha is always a tag`,
    )
    .join('\n');
  const environments = options.environments
    .map(
      (name, index) => `  ${name}:
    # Directory of this environment in the env repo: plain YAML, a kustomization, or Helm values.
    path: envs/${name}
    # kubeContext: ${name}-cluster
    # namespace: ${name}
    # timeout: 5m
    # autoRollback: true${index > 0 ? `\n    promoteFrom: ${options.environments[index - 1]}` : ''}`,
    )
    .join('\n');
  return `# gitops.yaml — configuration for gitops (reference: docs/config.md)
version: 1

# Images built from this repository.
images:
${images || '  []'}

# The environment repo: Kubernetes manifests per environment. Every deploy is a commit there.
envRepo:
  url: ${quote(options.envRepo)}
  branch: ${quote(options.branch)}
  ${options.tokenEnv ? `tokenEnv: ${quote(options.tokenEnv)}      # env var with an HTTPS token for pushing (never printed)` : '# tokenEnv: GITOPS_TOKEN   # env var with an HTTPS token for pushing (never printed)'}
  # sign: true               # sign write-back commits (follows commit.gpgsign by default)

environments:
${environments}

# kubectl:
#   path: kubectl
# build:
#   engine: auto             # docker, podman or buildah
#   pin: digest              # write repo:tag@sha256:… into the env repo
`;
}
