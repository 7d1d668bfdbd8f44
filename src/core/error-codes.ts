import { ExitCode, type ExitCodeValue } from './exit-codes.js';

/** What the catalogue says about one error code. */
export interface ErrorCodeSpec {
  exitCode: ExitCodeValue;
  /** When it happens, in one sentence. */
  meaning: string;
}

const usage = (meaning: string): ErrorCodeSpec => ({ exitCode: ExitCode.Usage, meaning });
const failed = (meaning: string): ErrorCodeSpec => ({ exitCode: ExitCode.OperationFailed, meaning });
const blocked = (meaning: string): ErrorCodeSpec => ({ exitCode: ExitCode.Blocked, meaning });

/**
 * Every `error.code` gitops reports. The codes are public API (`--json` prints them as
 * `error.code`): keep them stable, add new ones here (the type of GitopsError's code is this
 * table's keys), and regenerate docs/errors.md (`UPDATE_DOCS=1 node test/run.mjs errors-docs`).
 */
export const ERROR_CODES = {
  // Command line
  USAGE: usage('The command line is wrong: an unknown command or option, a missing argument.'),
  INVALID_ON_DRIFT: usage('`--on-drift` is not one of fail, warn, overwrite.'),
  INVALID_DURATION: usage(
    'A duration (`--timeout`, `environments.<env>.timeout`) is not like 90s, 5m or 1h30m.',
  ),
  INVALID_LIMIT: usage('`history --limit` is not a positive whole number.'),
  INVALID_REVISION: usage('A revision argument is not a git revision (an option, shell syntax, a range).'),
  FORCE_WITHOUT_REASON: usage('`--force` was given without `--reason`: an override must say why.'),
  LOCK_WITHOUT_REASON: usage('`gitops lock` was given no `--reason`.'),
  BUMP_NO_IMAGE: usage('`gitops bump` was given no `--image`.'),
  IMAGE_TWICE: usage('Two `--image` arguments name the same repository.'),
  NO_COMMIT_NEEDS_DIR: usage('`bump --no-commit` needs `--env-repo-dir`: there would be nothing to keep.'),
  BUILD_ARG_INVALID: usage('A `--build-arg` is not NAME=VALUE.'),
  REGISTRY_AUTH_INCOMPLETE: usage(
    '`--registry-username` and `--registry-password-stdin` were not given together.',
  ),
  REGISTRY_PASSWORD_EMPTY: usage('`--registry-password-stdin` read an empty password.'),
  INIT_CANCELLED: usage('Input ended before `gitops init` had its answers.'),
  INVALID_IMAGE_ARG: usage('An `init --image` is not name=repository.'),
  INVALID_NAME: usage('An environment or image name given to `gitops init` is not a DNS-1123 label.'),
  CONFIG_EXISTS: usage('`gitops init` would overwrite an existing file (pass --force).'),

  // Configuration
  CONFIG_NOT_FOUND: usage('No gitops.yaml was found, or `--config` names a file that does not exist.'),
  CONFIG_INVALID: usage('gitops.yaml does not match the schema (docs/config.md); the location is given.'),
  CONFIG_ENCODING: usage('gitops.yaml is not UTF-8 text, or holds a control character (raw).'),
  CONFIG_YAML: usage(
    'gitops.yaml is not valid YAML, or is too large, too deeply aliased or nested, or holds an escaped control character.',
  ),
  UNKNOWN_ENVIRONMENT: usage('The environment named is not in gitops.yaml.'),
  ENVIRONMENT_NAME_INVALID: usage('The environment name is not a DNS-1123 label.'),
  FREEZE_INVALID: usage('A freeze window has bad times (not HH:MM, no zone, `to` not after `from`).'),
  ALLOWED_SIGNERS_MISSING: usage('`envRepo.verifyCommits.allowedSigners` names a file that does not exist.'),
  TOKEN_MISSING: usage('`envRepo.tokenEnv` names an environment variable that is not set.'),
  INVALID_REQUEST_TIMEOUT: usage('GITOPS_KUBECTL_REQUEST_TIMEOUT is not a duration.'),

  // Tools
  COMMAND_NOT_FOUND: usage('A program gitops runs (git, kubectl, helm, an engine) is not on PATH.'),
  HELM_MISSING: usage('The environment is a Helm chart and helm is not installed.'),
  ENGINE_NOT_FOUND: usage('No container engine (docker, podman, buildah) works on this machine.'),
  ENGINE_TOO_OLD: usage('The container engine is older than gitops supports.'),
  ENGINE_NO_MULTI_PLATFORM: usage('Several platforms were asked for and docker has no buildx.'),
  EXEC_FAILED: failed('A program gitops ran exited with an error; its stderr is in the message.'),
  EXEC_TIMEOUT: failed('A program gitops ran did not finish in time and was stopped.'),
  INTERRUPTED: { exitCode: ExitCode.Interrupted, meaning: 'SIGINT or SIGTERM stopped the command.' },
  UNEXPECTED: failed('A bug or an unforeseen failure; the message (with --verbose, the stack) says more.'),

  // The env repo
  ENV_REPO_URL_MISSING: usage('`envRepo.url` is not set.'),
  SAME_REPO_NO_REMOTE: usage('`envRepo.sameRepo` is set and the app repo has no origin remote.'),
  ENV_REPO_NOT_FOUND: usage('The env repo could not be found at `envRepo.url`.'),
  ENV_BRANCH_NOT_FOUND: usage('`envRepo.branch` does not exist in the env repo.'),
  ENV_REPO_CLONE_FAILED: failed('Cloning the env repo failed (network, credentials).'),
  ENV_REPO_DIR_MISSING: usage('`--env-repo-dir` does not exist.'),
  ENV_REPO_DIR_NOT_GIT: usage('`--env-repo-dir` is not inside a git repository.'),
  ENV_PATH_MISSING: usage("The environment's path does not exist in the env repo (or at that revision)."),
  ENV_PATH_OUTSIDE: usage("The environment's path leaves the env repo (`..`, an absolute path, a symlink)."),
  NO_REMOTE: usage('The env repo checkout has no origin remote to push to.'),
  REVISION_NOT_FOUND: usage('The revision does not exist in the env repo.'),
  REVISION_AMBIGUOUS: usage('A short sha matches several commits of the env repo.'),
  REVISION_NOT_ON_BRANCH: usage('The rollback target is not in the history of the env branch.'),
  REVISION_WITHOUT_ENV: usage('The environment did not exist at the rollback target.'),
  ROLLBACK_RENDER_DIFFERS: failed(
    'The files of the rollback target, restored, do not render what the target rendered (something the render reads is not in git); nothing was committed.',
  ),
  NO_PREVIOUS_REVISION: usage('`rollback` without a sha, and no previous deployed revision is recorded.'),
  COMMIT_SIGN_FAILED: failed('Signing the commit failed (gpg or ssh-keygen).'),
  PUSH_REJECTED_BY_HOOK: failed("A server-side hook rejected the push; the hook's message is given."),
  PUSH_PROTECTED_BRANCH: failed('The env branch is protected against this push.'),
  PUSH_AUTH_FAILED: failed('Authentication to the env repo failed; not retried.'),
  PUSH_NETWORK: failed('The env repo could not be reached; nothing was pushed.'),
  PUSH_MAY_HAVE_LANDED: failed(
    'The connection broke while the push was under way: the remote may hold the commit. The next run finds it on the branch.',
  ),
  PUSH_FAILED: failed('The push failed for another reason; git’s message is given.'),
  PUSH_ATTEMPTS_EXHAUSTED: failed(
    'The branch kept moving: every push attempt within `envRepo.pushTimeout` (or `envRepo.pushAttempts`) was rejected; nothing of this run is on the remote.',
  ),

  // Manifests and images
  MANIFEST_YAML: usage(
    "A manifest (or a values file, a kustomization, a renderer's output) is not valid YAML, has a duplicate key, nests too deeply or expands aliases too far; file and line are given.",
  ),
  MANIFEST_ENCODING: usage(
    'A YAML file the render reads is not UTF-8, or holds a control character (NUL, ESC, …); file and line are given.',
  ),
  MANIFEST_INVALID: usage('A YAML document of the environment is not a Kubernetes object.'),
  MANIFEST_DUPLICATE: usage('The same object is declared twice in the environment.'),
  MANIFEST_SYMLINK: usage(
    "A file the render reads (a manifest, a chart file, a values file, a generator's file) is, or lies below, a symbolic link leading out of the env repo; nothing was read through it.",
  ),
  MANIFEST_TOO_LARGE: usage(
    'A file the render reads is larger than gitops reads from one file, or all of them together are more than it reads for one environment.',
  ),
  KUSTOMIZE_FAILED: usage('`kubectl kustomize` could not build the environment.'),
  HELM_FAILED: usage('`helm template` failed for the environment.'),
  KUSTOMIZE_REMOTE_RESOURCE: usage(
    'A kustomization names a remote resource (a URL): not reproducible, refused unless `environments.<env>.allowRemoteResources`; file and line are given.',
  ),
  IMAGE_REFERENCE_INVALID: usage('An image reference cannot be parsed, or has neither tag nor digest.'),
  IMAGE_ARGUMENT_INVALID: usage('An `--image` argument names no known image, or another repository.'),
  IMAGE_EDIT_REFUSED: usage('An image value cannot be changed on its own (duplicate keys, a shared anchor).'),
  IMAGE_NOT_FOUND: usage('None of the images given is referenced in the environment.'),
  IMAGE_NOT_EDITABLE: usage(
    'The render shows the image, but in no place gitops may change so that the render changes; nothing was written.',
  ),
  IMAGE_UNKNOWN: usage('`gitops build` was given an image name that is not in gitops.yaml.'),
  IMAGE_REPOSITORY_INVALID: usage('`images[].repository` is not a valid repository.'),

  // Build
  NO_IMAGES: usage('gitops.yaml lists no images to build.'),
  SOURCE_NOT_GIT: usage('The build runs outside a git repository with a commit.'),
  BUILD_CONTEXT_MISSING: usage('`images[].context` does not exist.'),
  BUILD_FILE_MISSING: usage('`images[].dockerfile` does not exist.'),
  BUILD_FAILED: failed('The container engine failed to build or push an image.'),
  DIGEST_UNKNOWN: failed('An image was pushed and its digest could not be learnt (build.pin: digest).'),
  REGISTRY_LOGIN_FAILED: failed('Logging into a registry failed.'),

  // Kubeconfig and credentials
  KUBECONFIG_NOT_FOUND: usage(
    'No kubeconfig was found (`environments.<env>.kubeconfig`, `KUBECONFIG`, `~/.kube/config`) and gitops does not run in a pod with a service account token.',
  ),
  KUBECONFIG_INVALID: usage(
    'The kubeconfig cannot be used: not YAML, a field of the wrong type, a context naming a missing cluster or user, a file it names that cannot be read; the file is given.',
  ),
  KUBE_CONTEXT_NOT_FOUND: usage(
    'The kubeconfig has no context of the name asked for (`environments.<env>.kubeContext`), or no current-context.',
  ),
  KUBE_AUTH_UNSUPPORTED: usage(
    'The kubeconfig user signs in a way gitops cannot use: an exec plugin that needs a terminal, an auth-provider client-go removed (gcp, azure), impersonation.',
  ),
  KUBE_EXEC_PLUGIN_MISSING: usage(
    "The credential plugin the kubeconfig user runs (`users[].user.exec.command`) is not installed; the plugin's install hint is given.",
  ),
  KUBE_CREDENTIALS_FAILED: failed(
    'Getting credentials for the cluster failed: the exec plugin failed or printed no valid ExecCredential, the OIDC token refresh failed, or the token file could not be read.',
  ),

  // Cluster and deploys
  CLUSTER_UNREACHABLE: failed('The cluster did not report a version.'),
  CLUSTER_FAILED: failed('A request to the API server failed; the server’s own message is given.'),
  DEPLOY_FAILED: failed('A deploy failed after the push for a reason that was not a rollout.'),
  NOTHING_APPLIED: failed(
    'The revision is on the branch, but the run failed before anything reached the cluster; re-running applies it.',
  ),
  LEASE_TIMEOUT: failed(
    "Another gitops run held the environment's apply lease for longer than `environments.<env>.lease.wait`; nothing of this run was applied.",
  ),
  LEASE_LOST: failed(
    'The apply lease could not be renewed in time and another run may have taken it over; this run stopped before recording.',
  ),
  LEASE_NAMESPACE_MISSING: failed(
    'The namespace of the inventory and the apply lease does not exist and the environment does not declare it.',
  ),
  APPLIED_BY_ANOTHER_RUN: failed(
    "Right after this run's apply, another gitops run applied a revision that is not newer; the branch head must be applied again.",
  ),
  SUPERSEDED: {
    exitCode: ExitCode.Superseded,
    meaning:
      "A newer revision of the branch, which changes what this run changed, is live and verified (applied by this run or another gitops run); this run's change is not what runs, and there is nothing to roll back.",
  },
  ROLLOUT_FAILED: {
    exitCode: ExitCode.RolloutFailed,
    meaning:
      'The rollout failed or timed out, or the cluster did not match git afterwards (rolled back or not).',
  },
  PROMOTE_NO_SOURCE: usage('`promote` has no `--from` and the target has no promoteFrom.'),
  PROMOTE_WRONG_SOURCE: usage("`--from` is not the target's promoteFrom."),
  PROMOTE_SOURCE_NOT_VERIFIED: usage('The source environment has no verified deploy to promote.'),
  PROMOTE_AMBIGUOUS: usage('The source deploys several references of one repository.'),
  PROMOTE_NOTHING: usage('No configured image is deployed in the source environment.'),

  // Gates
  DRIFT: blocked('The cluster drifted from the deployed revision (`--on-drift` decides).'),
  OBJECT_OWNED_ELSEWHERE: blocked(
    'Git declares objects another environment, app, Helm release, Flux or Argo CD manages (`--adopt` takes them over).',
  ),
  POLICY_VIOLATION: blocked(
    'The policy gate refused the manifests (unpinned image, registry, limits, plaintext Secret, a namespace or cluster-scoped kind outside the environment).',
  ),
  SERVER_DRY_RUN_REFUSED: blocked(
    'The API server refused the rendered objects in a server-side dry run (missing namespace, invalid object, immutable field, unknown kind); nothing was pushed.',
  ),
  ENVIRONMENT_LOCKED: blocked('The environment is locked (`gitops lock`); `--force --reason` overrides.'),
  ENVIRONMENT_FROZEN: blocked('A freeze window holds now; `--force --reason` overrides.'),
  ALREADY_LOCKED: blocked('`gitops lock` on an environment that is locked already.'),
  ROLLBACK_SHARED_FILES: blocked(
    'A rollback would change files other environments render from (a shared base, chart or values file); `--include-shared` restores them too.',
  ),
  UNSIGNED_COMMIT: blocked('An env-repo commit since the verified revision is not signed by an allowed key.'),
  REVISION_NOT_FORWARD: blocked(
    'The live revision is not in the history of the revision to apply: applying it would move the environment backwards (the branch was rewritten).',
  ),
  SIGNATURES_UNVERIFIABLE: blocked(
    'The deployed revision is not an ancestor of the head: the commits between cannot be checked.',
  ),
} as const satisfies Record<string, ErrorCodeSpec>;

export type ErrorCode = keyof typeof ERROR_CODES;

const EXIT_NAMES: Record<number, string> = {
  [ExitCode.Usage]: '2 usage',
  [ExitCode.OperationFailed]: '3 failed',
  [ExitCode.RolloutFailed]: '4 rollout',
  [ExitCode.Blocked]: '5 blocked',
  [ExitCode.Superseded]: '6 superseded',
  [ExitCode.Interrupted]: '130 interrupted',
};

/** docs/errors.md, generated from the catalogue so the reference cannot drift from the code. */
export function renderErrorReference(): string {
  const rows = Object.entries(ERROR_CODES as Record<string, ErrorCodeSpec>).map(
    ([code, spec]) =>
      `| \`${code}\` | ${EXIT_NAMES[spec.exitCode] ?? spec.exitCode} | ${spec.meaning.replace(/\|/g, '\\|')} |`,
  );
  return [
    '# Error codes',
    '',
    '<!-- Generated from src/core/error-codes.ts by `UPDATE_DOCS=1 node test/run.mjs errors-docs`. Do not edit by hand. -->',
    '',
    'Every failure prints `error: …` and a hint on stderr; with `--json` the document on stdout is',
    '`{ "ok": false, "error": { "code", "exitCode", "message", "hint"?, "location"?, "details"? } }`.',
    'The codes below are stable: scripts may match on them.',
    '',
    '| code | exit | when |',
    '|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}
