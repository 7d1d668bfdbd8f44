import type { Spec } from './spec.js';

/**
 * Names of environments and images end up in paths, branch-safe commit subjects and
 * Kubernetes annotations, so they follow DNS-1123 labels (RFC 1123): no `/`, no `..`.
 */
export const NAME_PATTERN = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const NAME_HINT =
  'lowercase letters, digits and "-", starting and ending with a letter or digit (DNS-1123 label)';

const DURATION_PATTERN = /^(\d+|(\d+(\.\d+)?(ms|s|m|h))+)$/;
const DURATION_HINT = 'a duration such as 90s, 5m or 1h30m';

const imageSpec: Spec = {
  type: 'object',
  doc: 'An image the app repo builds.',
  fields: {
    name: {
      type: 'string',
      required: true,
      pattern: NAME_PATTERN,
      patternHint: NAME_HINT,
      doc: 'Short name used on the command line (`--image web=…`) and in commit trailers.',
      example: 'web',
    },
    repository: {
      type: 'string',
      required: true,
      doc: 'Image repository to push to and to look for in manifests, without tag.',
      example: 'ghcr.io/acme/web',
    },
    context: { type: 'string', default: '.', doc: 'Build context, relative to the config file.' },
    dockerfile: {
      type: 'string',
      doc: 'Dockerfile/Containerfile, relative to the config file. Default: `Containerfile` or `Dockerfile` in the context.',
    },
    target: { type: 'string', doc: 'Build stage to stop at (`--target`).' },
    buildArgs: {
      type: 'map',
      values: { type: 'string', doc: 'value' },
      default: {},
      doc: 'Build arguments (`--build-arg K=V`). `${VAR}` references are read from the environment.',
    },
    secretBuildArgs: {
      type: 'array',
      items: { type: 'string', doc: 'name' },
      default: [],
      doc: 'Names of `buildArgs` whose values are secret: masked in every output.',
    },
    platforms: {
      type: 'array',
      items: { type: 'string', doc: 'platform' },
      default: [],
      doc: 'Target platforms, e.g. `linux/amd64`. Empty: the engine default.',
    },
    tags: {
      type: 'array',
      items: { type: 'string', doc: 'tag' },
      default: [],
      doc: 'Extra tags besides the short commit sha. `{branch}` and `{sha}` are replaced. Never `latest` unless listed here.',
    },
    labels: { type: 'map', values: { type: 'string', doc: 'value' }, default: {}, doc: 'Extra OCI labels.' },
  },
};

const ignoreRuleSpec: Spec = {
  type: 'object',
  doc: 'Differences that are not drift.',
  fields: {
    kind: { type: 'string', doc: 'Kind the rule applies to; all kinds when absent.' },
    name: { type: 'string', doc: 'Object name the rule applies to; all names when absent.' },
    namespace: { type: 'string', doc: 'Namespace the rule applies to.' },
    jsonPointers: {
      type: 'array',
      items: { type: 'string', doc: 'pointer' },
      required: true,
      doc: 'RFC 6901 pointers of fields to ignore, e.g. `/spec/replicas`.',
    },
  },
};

/** An ISO 8601 timestamp with a zone (`2026-12-20T00:00:00Z`) or, in a weekly window, `HH:MM` (UTC). */
const FREEZE_TIME_PATTERN =
  /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})|([01]\d|2[0-3]):[0-5]\d|24:00)$/;
const FREEZE_TIME_HINT =
  'a timestamp with a zone such as 2026-12-20T00:00:00Z, or HH:MM (UTC) in a weekly window';

const freezeSpec: Spec = {
  type: 'object',
  doc: 'A window in which deploy, promote and rollback refuse to run (exit 5) unless `--force --reason`.',
  fields: {
    from: {
      type: 'string',
      required: true,
      pattern: FREEZE_TIME_PATTERN,
      patternHint: FREEZE_TIME_HINT,
      doc: 'Start (inclusive): a timestamp with a zone, or `HH:MM` UTC when `days` is set.',
      example: '2026-12-20T00:00:00Z',
    },
    to: {
      type: 'string',
      required: true,
      pattern: FREEZE_TIME_PATTERN,
      patternHint: FREEZE_TIME_HINT,
      doc: 'End (exclusive): a timestamp with a zone, or `HH:MM` UTC (`24:00` for midnight) when `days` is set.',
      example: '2027-01-02T00:00:00Z',
    },
    days: {
      type: 'array',
      items: { type: 'enum', values: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], doc: 'day' },
      default: [],
      doc: 'Makes the window weekly: on these days (UTC), from `from` to `to` as `HH:MM`.',
    },
    reason: {
      type: 'string',
      required: true,
      doc: 'Why; shown when a command is refused.',
      example: 'holidays',
    },
  },
};

const environmentSpec: Spec = {
  type: 'object',
  doc: 'One deploy target.',
  fields: {
    path: {
      type: 'string',
      required: true,
      doc: 'Directory of this environment in the env repo (plain YAML, a kustomization, or Helm values).',
      example: 'envs/staging',
    },
    kubeContext: { type: 'string', doc: 'kubeconfig context to use. Default: the current context.' },
    kubeconfig: { type: 'string', doc: 'kubeconfig file. Default: `KUBECONFIG`, then `~/.kube/config`.' },
    namespace: { type: 'string', doc: 'Namespace for objects that do not name one.' },
    id: {
      type: 'string',
      pattern: NAME_PATTERN,
      patternHint: NAME_HINT,
      doc: 'Identity of this environment in the cluster: the value of the `gitops.dev/environment` label on every object it applies, and its inventory ConfigMap `gitops-inventory-<id>`. Default: the name and a digest of the env repo URL and `path`, e.g. `staging-3f9a0c21be`, so two apps or env repos never share one. Set it to keep the identity when the repo URL or the path changes.',
      example: 'shop-staging',
    },
    promoteFrom: {
      type: 'string',
      pattern: NAME_PATTERN,
      patternHint: NAME_HINT,
      doc: 'Environment whose live images `gitops promote` copies into this one.',
    },
    helmValues: {
      type: 'array',
      items: { type: 'string', doc: 'path' },
      default: [],
      doc: 'Helm values files (relative to `path`) holding image references; with `chart`, passed to `helm template` in order.',
    },
    chart: {
      type: 'string',
      doc: "Helm chart to render this environment with (`helm template`), relative to `path`, e.g. `../../charts/web`. Needs helm (`helm.path`). Rendered as `helm install` would against the cluster: `--kube-version` of the server, the chart's `crds/` included and applied first, test hooks skipped (`--skip-tests`); other hooks are left out and named in a warning (gitops applies the release's objects, it does not run Helm's hook lifecycle).",
    },
    releaseName: {
      type: 'string',
      pattern: NAME_PATTERN,
      patternHint: NAME_HINT,
      doc: "Helm release name (`.Release.Name`) for `chart`. Default: the chart's name (its Chart.yaml `name`, or the last segment of a chart URL), as in `helm install web ./charts/web`. Environments rendered before this key existed used the environment's name: set `releaseName: <env>` to keep their object names and selector labels.",
      example: 'web',
    },
    allowRemoteResources: {
      type: 'boolean',
      default: false,
      doc: 'Allow kustomize `resources`/`components` that are URLs (https, git). They are fetched on every render, so the same commit can render differently and a rollback cannot restore them: not reproducible. Default: refused (exit 2, naming the file and line).',
    },
    timeout: {
      type: 'string',
      default: '5m',
      pattern: DURATION_PATTERN,
      patternHint: DURATION_HINT,
      doc: 'How long to wait for rollouts.',
    },
    autoRollback: {
      type: 'boolean',
      default: false,
      doc: 'On a failed rollout, revert the commit and re-apply the previous revision.',
    },
    waitForJobs: {
      type: 'boolean',
      default: false,
      doc: 'Wait for Jobs to complete as part of the rollout.',
    },
    lease: {
      type: 'object',
      default: {},
      doc: 'The apply lease: a coordination.k8s.io/v1 Lease `gitops-lease-<id>` beside the inventory, held by one run at a time from the apply to the record, so concurrent deploys, rollbacks and promotions of this environment apply one after another and never an older revision over a newer one.',
      fields: {
        duration: {
          type: 'string',
          default: '60s',
          pattern: DURATION_PATTERN,
          patternHint: DURATION_HINT,
          doc: 'How long the lease lasts without renewal (the holder renews it every third of this). A crashed run’s lease is taken over once it has not changed for this long.',
        },
        wait: {
          type: 'string',
          default: '15m',
          pattern: DURATION_PATTERN,
          patternHint: DURATION_HINT,
          doc: 'How long to wait for another run’s lease before giving up (exit 3, nothing applied; the commit stays on the branch).',
        },
      },
    },
    prune: {
      type: 'object',
      doc: 'Deleting objects that left git.',
      default: {},
      fields: {
        enabled: {
          type: 'boolean',
          default: true,
          doc: 'Delete objects this environment created that are no longer in git (objects it adopted are released instead: its label and annotations are removed). A Namespace that holds objects gitops does not own is never deleted.',
        },
        protect: {
          type: 'array',
          items: { type: 'string', doc: 'Kind/name' },
          default: [],
          doc: 'Objects never to delete, as `Kind/name` or `Kind/*`.',
        },
      },
    },
    freezes: {
      type: 'array',
      items: freezeSpec,
      default: [],
      doc: 'Freeze windows of this environment, in addition to the top-level `freezes`.',
    },
    ignoreDifferences: {
      type: 'array',
      items: ignoreRuleSpec,
      default: [],
      doc: 'Fields that drift detection ignores.',
    },
    policies: {
      type: 'object',
      doc: 'Checks the deploy gate runs before committing.',
      default: {},
      fields: {
        allowedRegistries: {
          type: 'array',
          items: { type: 'string', doc: 'registry' },
          default: [],
          doc: 'Only images from these registries (empty: any).',
        },
        allowPlaintextSecrets: {
          type: 'array',
          items: { type: 'string', doc: 'name' },
          default: [],
          doc: 'Secrets (by name) allowed to carry plaintext data in git.',
        },
        requireResourceLimits: {
          type: 'boolean',
          default: false,
          doc: 'Every container must set CPU and memory limits.',
        },
        clusterScopedKinds: {
          type: 'array',
          items: { type: 'string', doc: 'Kind' },
          default: ['Namespace', 'CustomResourceDefinition'],
          doc: 'Cluster-scoped kinds this environment may declare (anything else, e.g. a ClusterRole, is refused by the gate with file:line). Cluster-scoped objects are shared by every environment of the cluster, so each one is allowed on purpose.',
          example: '[Namespace, CustomResourceDefinition, ClusterRole, ClusterRoleBinding]',
        },
      },
    },
    namespaces: {
      type: 'array',
      items: { type: 'string', doc: 'namespace' },
      doc: "Namespaces this environment's objects may live in; an object elsewhere is refused by the gate with file:line. Default: the environment's namespace (or the kube context's) and the Namespaces it declares itself.",
      example: '[shop, shop-jobs]',
    },
    adopt: {
      type: 'boolean',
      default: false,
      doc: 'Take over objects that git declares and another owner manages (another environment or app, a Helm release, Flux, Argo CD), as `--adopt` does. Objects without an owner are adopted either way.',
    },
  },
};

export const configSchema: Spec = {
  type: 'object',
  doc: 'gitops.yaml',
  fields: {
    version: { type: 'integer', min: 1, max: 1, default: 1, doc: 'Config format version.' },
    images: { type: 'array', items: imageSpec, default: [], doc: 'Images built from the app repo.' },
    envRepo: {
      type: 'object',
      required: true,
      doc: 'Where the environment manifests live.',
      fields: {
        url: {
          type: 'string',
          doc: 'Git URL (https, ssh) or local path of the env repo. Leave out with `sameRepo: true`.',
          example: 'https://github.com/acme/environments.git',
        },
        sameRepo: {
          type: 'boolean',
          default: false,
          doc: 'Environments live in the app repo itself (paths are relative to its root).',
        },
        branch: { type: 'string', default: 'main', doc: 'Branch that holds what is deployed.' },
        tokenEnv: {
          type: 'string',
          doc: 'Name of the environment variable holding an HTTPS token for pushing. Handed to git via askpass, never on a command line.',
          example: 'GITOPS_TOKEN',
        },
        pushTimeout: {
          type: 'string',
          default: '5m',
          pattern: DURATION_PATTERN,
          patternHint: DURATION_HINT,
          doc: 'How long to keep pushing while the branch keeps moving (other jobs pushing): each rejected push is re-applied on the new head and retried after a jittered backoff until this time is used up.',
        },
        pushBackoff: {
          type: 'string',
          default: '400ms',
          pattern: DURATION_PATTERN,
          patternHint: DURATION_HINT,
          doc: 'The first retry window of a rejected push: each retry waits a random time up to the window, which doubles per attempt up to 64 times this value (full jitter).',
        },
        pushAttempts: {
          type: 'integer',
          min: 1,
          max: 1000,
          doc: 'An extra cap on push attempts. Default: none; `pushTimeout` bounds the retries.',
        },
        sign: { type: 'boolean', doc: 'Sign commits. Default: follow the repo’s `commit.gpgsign`.' },
        verifyCommits: {
          type: 'object',
          doc: 'Refuse (exit 5) to deploy or roll back unless every env-repo commit since the deployed revision (and a rollback’s target) is signed by an allowed key. Needs `sign: true`, so that gitops’ own commits are signed: without it the config is refused. Give `allowedSigners`, `allowedKeys` or both.',
          fields: {
            allowedSigners: {
              type: 'string',
              doc: 'SSH allowed-signers file (the format of `ssh-keygen -Y verify`, git’s `gpg.ssh.allowedSignersFile`), relative to the config file. SSH signatures are accepted only for its keys.',
              example: '.gitops/allowed_signers',
            },
            allowedKeys: {
              type: 'array',
              items: {
                type: 'string',
                doc: 'fingerprint',
                pattern: /^(?:[0-9A-Fa-f]{40}|[0-9A-Fa-f]{64})$/,
                patternHint: 'a full OpenPGP fingerprint: 40 hex digits (64 for a v5 key), no spaces',
              },
              doc: 'OpenPGP fingerprints (primary key or signing subkey) whose GPG signatures are accepted; a GPG signature by any other key is refused, however much the runner’s GnuPG trusts it. The public keys must be in the runner’s keyring (GNUPGHOME).',
              example: '["3AA5C34371567BD2A1F5B8E1D0E6C4A8F0B1C2D3"]',
            },
          },
        },
        author: {
          type: 'object',
          doc: 'Commit author. Default: `GIT_AUTHOR_*`, git config, then `gitops-bot`.',
          fields: {
            name: { type: 'string', required: true, doc: 'Author name.' },
            email: { type: 'string', required: true, doc: 'Author email.' },
          },
        },
      },
    },
    environments: {
      type: 'map',
      required: true,
      keyPattern: NAME_PATTERN,
      keyHint: NAME_HINT,
      values: environmentSpec,
      doc: 'Environments by name (`staging`, `production`, …).',
    },
    freezes: {
      type: 'array',
      items: freezeSpec,
      default: [],
      doc: 'Freeze windows of every environment.',
    },
    kubectl: {
      type: 'object',
      default: {},
      doc: 'How gitops talks to clusters.',
      fields: {
        path: { type: 'string', default: 'kubectl', doc: 'kubectl binary (a name on PATH or a path).' },
      },
    },
    helm: {
      type: 'object',
      default: {},
      doc: 'How gitops renders Helm charts.',
      fields: {
        path: { type: 'string', default: 'helm', doc: 'helm binary (a name on PATH or a path).' },
      },
    },
    build: {
      type: 'object',
      default: {},
      doc: 'How images are built.',
      fields: {
        engine: {
          type: 'enum',
          values: ['auto', 'docker', 'podman', 'buildah'],
          default: 'auto',
          doc: 'Build engine; `auto` tries docker, podman, buildah in that order.',
        },
        pin: {
          type: 'enum',
          values: ['digest', 'tag'],
          default: 'digest',
          doc: 'Write `repo:tag@sha256:…` (digest) or `repo:tag` into the env repo.',
        },
        concurrency: { type: 'integer', min: 1, max: 16, default: 2, doc: 'Images built at the same time.' },
      },
    },
  },
};
