import { type BumpEdit, editImages } from '../bump/bump.js';
import type { Inventory } from '../cluster/inventory.js';
import { parseDuration } from '../config/duration.js';
import type { Context } from '../core/context.js';
import { unifiedDiff } from '../core/diff.js';
import { GitopsError, isGitopsError } from '../core/errors.js';
import { compareLive, type LiveState } from '../drift/detect.js';
import { driftGate, type OnDrift } from '../gates/drift.js';
import { checkFreeze, type GateOverride } from '../gates/lock.js';
import { checkPolicies, policyError } from '../gates/policy.js';
import { deepenToAncestor } from '../git/ancestry.js';
import { type GitopsAction, TRAILER } from '../git/message.js';
import { type Provenance, readProvenance, sourceAt } from '../git/provenance.js';
import { Git } from '../git/runner.js';
import { writeAndPush } from '../git/write.js';
import { parseImageReference, tryParseImageReference } from '../images/reference.js';
import { type DesiredObject, podContainers } from '../kube/objects.js';
import { parseImageUpdate } from '../manifests/arguments.js';
import type { ImageUpdate } from '../manifests/types.js';
import { runSteps, type Step } from '../pipeline/step.js';
import { renderDifferences } from '../render/render.js';
import { rollBack, rollbackCarried, startRollback } from './rollback.js';
import { type EnvironmentSession, openSession } from './session.js';
import {
  APPLY_STEPS,
  applyOutcome,
  dryRunBeforePush,
  endsTheRun,
  firstLine,
  getEnvRepoStep,
  judgeOwnership,
  nothingApplied,
  ownershipStep,
  type ReleaseState,
  RolloutFailure,
  recordFailure,
  regate,
  sameInventory,
  serverDryRunStep,
  supersededError,
  verifyPushedSignatures,
  verifySignaturesStep,
} from './steps.js';
import type { DeployEnding, ImageRecord } from './views.js';

/** What to deploy and how, with every option already parsed (no flag names here). */
export interface DeployPlan extends GateOverride {
  /** Images to set, typed: from `--image` arguments, or what promote found running in its source. */
  updates: ImageUpdate[];
  skipBuild: boolean;
  rebuild?: boolean;
  onDrift: OnDrift;
  /** How long to wait for the rollout; default: environments.<env>.timeout. */
  timeoutMs?: number;
  /** Default: environments.<env>.autoRollback. */
  autoRollback?: boolean;
  /** `promote` when called by gitops promote (commit trailers say so). */
  action?: Extract<GitopsAction, 'deploy' | 'promote'>;
  /** Extra commit trailers, e.g. Gitops-Promoted-From. */
  trailers?: Array<[string, string]>;
  /** Take over objects another owner manages; default: environments.<env>.adopt. */
  adopt?: boolean;
  /**
   * The env-repo revision and path whose images this deploy copies (promote): the commit's source
   * trailers come from there, not from the app repo this run is in.
   */
  sourceOf?: { revision: string; path: string };
}

export interface DeployOptions extends Omit<DeployPlan, 'updates'> {
  env: string;
  /** `--image name=reference` arguments as given. */
  images: string[];
}

export interface DeployResult {
  environment: string;
  dryRun?: true;
  changes?: BumpEdit['update']['changes'];
  diff?: string;
  /** The revision live and verified: this run's commit, or the branch head that contains it. */
  revision?: string;
  /** This run's own commit, when `revision` is a newer branch head containing it. */
  commit?: string;
  /** Set when another gitops run applied `revision` and this run had nothing left to apply. */
  appliedBy?: 'another-run';
  previousRevision?: string | null;
  images?: ImageRecord[];
  changed?: boolean;
  applied?: number;
  pruned?: string[];
  rollouts?: ReturnType<typeof applyOutcome>['rollouts'];
  verified?: boolean;
  durationMs?: number;
}

interface DeployState extends ReleaseState {
  readonly plan: DeployPlan;
  /** Every image to set: the given ones, then those built. */
  updates: ImageUpdate[];
  inventory?: Inventory;
  /** The revision the cluster was last applied and verified at: what drift is measured against. */
  deployed?: string;
  /** Where the change comes from as CI and the app repo say (preflight). */
  appProvenance?: Provenance;
  /** The commit's provenance: appProvenance, with the source trailers of what promote copies. */
  provenance?: Provenance;
  edit?: BumpEdit;
  images: ImageRecord[];
  diff?: string;
  /** What the policy gate rendered: the objects the commit will hold (the ownership gate and the server dry run check the same). */
  rendered?: DesiredObject[];
}

const preflight: Step<DeployState> = {
  title: 'preflight',
  dryRun: 'run',
  async run(state, step) {
    const { ctx, session } = state;
    // Independent probes, at once: tool versions, the cluster, the last deploy's record, and
    // where this change comes from (CI variables, the app repo: for the commit's trailers).
    const [git, server, inventory, provenance] = await Promise.all([
      new Git(ctx, session.config.dir).output(['--version']),
      session.cluster.serverVersion(),
      session.readInventory(),
      readProvenance(ctx, session.config.dir),
    ]);
    if (!server) throw new GitopsError('CLUSTER_UNREACHABLE', 'the cluster did not report a version');
    state.appProvenance = provenance;
    // Discovery runs while the env repo is cloned; the steps that list and write those kinds
    // wait for the very same requests.
    session.discoverAhead(inventory);
    // A freeze needs no env repo: refuse before a build, not after it.
    checkFreeze(ctx, session.config, session.environment, state.plan);
    // (An `applying` or `failed` record is explained once the apply lease is held: before that
    // it may be another run at work.)
    remember(state, inventory);
    step.detail(`${git}, cluster ${server} (context ${session.cluster.client.endpoint.contextName})`);
  },
};

/** Takes in an inventory record: what is deployed (what drift is measured against) and verified. */
function remember(state: DeployState, inventory: Inventory | undefined): void {
  if (inventory) state.inventory = inventory;
  else delete state.inventory;
  const deployed =
    inventory?.phase === 'applied' || inventory?.phase === 'verified' ? inventory.revision : undefined;
  if (deployed) state.deployed = deployed;
  else delete state.deployed;
  const verified = inventory?.verifiedRevision ?? deployed;
  if (verified) state.verifiedRevision = verified;
}

const build: Step<DeployState> = {
  title: 'build',
  dryRun: 'run',
  async run(state, step) {
    const { ctx, session, plan } = state;
    const toBuild = session.config.images.filter(
      (image) => !plan.updates.some((update) => update.name === image.name),
    );
    if (plan.skipBuild || toBuild.length === 0) {
      step.skip(plan.skipBuild ? '--skip-build' : 'every image given with --image');
      return;
    }
    const { buildImages } = await import('../build/build.js');
    const built = await buildImages(ctx, session.config, {
      images: toBuild.map((image) => image.name),
      rebuild: Boolean(plan.rebuild),
      buildArgs: {},
      push: true,
    });
    for (const image of built)
      state.updates.push({ name: image.name, reference: parseImageReference(image.reference) });
    step.detail(built.map((image) => `${image.name} ${image.status}`).join(', '));
  },
};

/** Rounds of the drift check when other gitops runs keep applying while it reads. */
const DRIFT_READS = 3;

const driftCheck: Step<DeployState> = {
  title: 'drift check',
  dryRun: 'run',
  async run(state, step) {
    const { ctx, session } = state;
    let desired: Awaited<ReturnType<typeof session.desiredState>> | undefined;
    let live: LiveState | undefined;
    for (let round = 1; ; round++) {
      const deployed = state.deployed;
      if (!deployed) {
        step.skip(
          state.inventory
            ? 'the last deploy did not finish (or another gitops run is applying); nothing verified to compare with'
            : 'nothing deployed yet',
        );
        return;
      }
      if (desired?.revision !== deployed) {
        await fetchHistoryTo(state, deployed);
        desired = await session.desiredState(state.checkout!, deployed);
      }
      // One read of the live state serves the drift gate, the ownership gate and the apply's
      // plan (what changed, what to prune).
      live = await session.readLive(desired.objects, state.inventory ?? null);
      // Another gitops run may have applied since the inventory was read: its objects would look
      // like drift without a manager. The inventory moves on every apply: read it again.
      const again = await session.readInventory();
      if (sameInventory(again, state.inventory)) break;
      remember(state, again);
      if (round === DRIFT_READS) {
        step.skip(
          'other gitops runs kept applying while the cluster was read; their apply lease orders this run',
        );
        return;
      }
    }
    state.live = live;
    const deployed = desired.revision;
    const drift = compareLive(session.environment, desired.objects, live);
    if (drift.inSync) {
      step.detail(`in sync with the deployed revision ${deployed.slice(0, 12)}`);
      return;
    }
    ctx.reporter.show({ kind: 'drift', report: drift, decision: state.plan.onDrift });
    const decision = driftGate(drift, state.plan.onDrift, deployed);
    step.detail(decision === 'overwrite' ? 'drift found; this deploy overwrites it' : 'drift found (warn)');
  },
};

/** How far behind the head the revision deployed usually is: other environments' commits. */
const USUAL_DISTANCE = 50;

/**
 * Other environments' commits usually lie between the revision deployed and the head of gitops'
 * shallow clone. The drift check needs that commit, and the lease step checks that what runs is in
 * the history of the head it applies: deepened once now (one fetch), the clone holds both, where
 * a partial clone would first fetch the lone commit on demand (a round trip that tells nothing
 * about its history) and the lease step would deepen after all. What the history says is the
 * lease step's to judge; beyond the usual distance (or for a revision that is not in the
 * history at all) the commit is fetched alone, as before, and the lease step deepens further.
 * A dry run takes no lease: the commit alone is fetched when asked for.
 */
async function fetchHistoryTo(state: DeployState, deployed: string): Promise<void> {
  const checkout = state.checkout!;
  if (state.ctx.dryRun || !checkout.temporary) return;
  const head = await checkout.git.head();
  if (deployed !== head) await deepenToAncestor(checkout, deployed, head, USUAL_DISTANCE);
}

function editOptions(state: DeployState) {
  const trailers = [...(state.plan.trailers ?? []), ...state.overrides];
  return {
    action: state.plan.action ?? 'deploy',
    provenance: state.provenance!,
    ...(trailers.length ? { trailers } : {}),
  } as const;
}

async function policyGate(state: DeployState): Promise<number> {
  const { session, checkout } = state;
  const objects = await session.render(checkout!);
  state.rendered = objects;
  const violations = checkPolicies(session.environment, objects, { defaultNamespace: session.namespace });
  if (violations.length > 0) throw policyError(violations);
  return objects.length;
}

const bumpImages: Step<DeployState> = {
  title: 'bump images',
  dryRun: 'run',
  async run(state, step) {
    const { session } = state;
    const copied = state.plan.sourceOf
      ? await sourceAt(state.checkout!, state.plan.sourceOf.revision, state.plan.sourceOf.path)
      : {};
    state.provenance = { ...state.appProvenance, ...copied };
    if (state.provenance.actor) state.actor = state.provenance.actor;
    if (state.updates.length === 0) {
      step.skip('no image to change; deploying the branch head');
      return;
    }
    // Edits the temp clone's working tree: the commit (or, in a dry run, the diff) is made from it.
    const edit = await editImages(state.checkout!, session.environment, state.updates, editOptions(state));
    state.edit = edit;
    for (const change of edit.update.changes)
      step.log(`${change.file}:${change.line} ${change.old} → ${change.new}`);
    step.detail(edit.changed ? `${edit.update.changes.length} change(s)` : 'already up to date');
  },
};

const policyGateStep: Step<DeployState> = {
  title: 'policy gate',
  dryRun: 'run',
  async run(state, step) {
    step.detail(`${await policyGate(state)} object(s) pass`);
  },
};

const commitAndPush: Step<DeployState> = {
  title: 'commit and push',
  dryRun: 'preview',
  async run(state, step) {
    const { ctx, session } = state;
    const checkout = state.checkout!;
    const pending = state.edit;
    if (!pending?.changed) {
      state.revision = await checkout.git.head();
      step.skip(`nothing to commit${await earlierPush(state, state.revision)}`);
      return;
    }
    const written = await writeAndPush<BumpEdit>(ctx, checkout, session.config.envRepo, {
      push: true,
      // Every retry lands on a new head: the lock and freeze gate is checked on it again.
      check: () => regate(state),
      edit: async (attempt) => {
        if (attempt === 1) return pending;
        step.log(`remote moved; re-applying the edit on the new head (attempt ${attempt})`);
        const again = await editImages(checkout, session.environment, state.updates, editOptions(state));
        // The new head holds others' commits. When they change what this environment renders
        // (a commit to another environment does not), the render is judged again before it is
        // pushed, by every gate the first attempt passed: an object they added may belong to
        // someone else, or be one the API server refuses.
        const judged = state.rendered!;
        await policyGate(state);
        if (renderDifferences(judged, state.rendered!).length > 0) {
          await judgeOwnership(state, state.rendered!);
          await dryRunBeforePush(state, state.rendered!);
        }
        return again;
      },
    });
    for (const change of written.outcome.update.changes)
      state.images.push({ name: change.image, old: change.old, new: change.new });
    const head = written.commit ?? (await checkout.git.head());
    // The push may have landed on commits others pushed meanwhile, and adds gitops' own: check again.
    await verifyPushedSignatures(state, head);
    state.revision = head;
    step.detail(
      written.commit
        ? `${head.slice(0, 12)}${written.attempts > 1 ? ` after ${written.attempts} attempts` : ''}`
        : `the remote already had these images${await earlierPush(state, head)}`,
    );
  },
  async preview(state, step) {
    const checkout = state.checkout!;
    const diff = (state.edit?.update.files ?? [])
      .map((file) =>
        unifiedDiff(file.before, file.after, {
          from: `a/${checkout.envPath}/${file.file}`,
          to: `b/${checkout.envPath}/${file.file}`,
        }),
      )
      .join('');
    state.diff = diff;
    if (diff) state.ctx.reporter.show({ kind: 'diff', text: diff });
    step.skip(`dry run: ${state.edit?.update.changes.length ?? 0} change(s) not committed`);
  },
};

/**
 * When the branch head is a commit of this environment with the very images this run sets, an
 * earlier push of the same change landed (perhaps one whose connection broke): say so.
 */
async function earlierPush(state: DeployState, head: string): Promise<string> {
  if (state.updates.length === 0) return '';
  const trailers = await state.checkout!.git.tryOutput([
    'log',
    '-1',
    `--format=%(trailers:key=${TRAILER.environment},valueonly)%(trailers:key=${TRAILER.image},valueonly)`,
    head,
  ]);
  const lines = (trailers ?? '').split('\n').map((line) => line.trim());
  const same =
    lines.includes(state.session.environment.name) &&
    state.updates.every((update) => lines.includes(`${update.name}=${update.reference.original}`));
  return same ? `: the branch head ${head.slice(0, 12)} is an earlier push of this change` : '';
}

/**
 * A deploy on an open session, with typed image updates: preflight → build → get the env repo
 * (lock and freeze gate) → drift gate → verify signatures → bump → policy gate → commit and push
 * → apply and prune → wait → verify → record. A failure after the push exits 4 and either rolls
 * back through git (auto-rollback) or names the exact rollback command.
 */
export async function deploy(
  ctx: Context,
  session: EnvironmentSession,
  plan: DeployPlan,
): Promise<DeployResult> {
  const started = Date.now();
  const { environment } = session;
  const state: DeployState = {
    ctx,
    session,
    plan,
    action: plan.action ?? 'deploy',
    overrides: [],
    updates: [...plan.updates],
    images: [],
    adopt: plan.adopt ?? environment.adopt,
    ...(plan.onDrift === 'overwrite' ? { overwrite: true } : {}),
    timeoutMs:
      plan.timeoutMs ?? parseDuration(environment.timeout, `environments.${environment.name}.timeout`),
  };
  const summarize = (ending: DeployEnding, code?: string) =>
    ctx.reporter.show({
      kind: 'deploy-summary',
      environment: environment.name,
      images: state.images,
      ...(state.revision ? { revision: state.revision } : {}),
      durationMs: Date.now() - started,
      ending,
      ...(code ? { code } : {}),
    });
  try {
    await runSteps(
      ctx,
      [
        preflight,
        build,
        getEnvRepoStep<DeployState>(plan),
        driftCheck,
        verifySignaturesStep<DeployState>(async (current) => current.verifiedRevision),
        bumpImages,
        policyGateStep,
        ownershipStep<DeployState>(async (current) => current.rendered!),
        serverDryRunStep<DeployState>(async (current) => current.rendered!),
        commitAndPush,
        ...APPLY_STEPS,
      ],
      state,
      recordFailure(plan.action ?? 'deploy'),
    );
  } catch (error) {
    if (!state.revision || !state.applying || endsTheRun(error)) {
      // Before the apply wrote anything the cluster is as it was: re-running is the advice.
      const reported = state.revision ? nothingApplied(state, error) : error;
      summarize('failed', isGitopsError(reported) ? reported.code : undefined);
      throw reported;
    }
    throw await afterFailedRollout(state, error, summarize);
  }
  if (ctx.dryRun) {
    ctx.reporter.success(
      `dry run: ${state.edit?.update.changes.length ?? 0} change(s) would be committed to ${environment.name}; nothing was pushed or applied`,
    );
    return {
      environment: environment.name,
      dryRun: true,
      changes: state.edit?.update.changes ?? [],
      diff: state.diff ?? '',
    };
  }
  const revision = state.revision!;
  const superseded = await supersededError(state, () => carriesImages(state), 'sets these images again');
  if (superseded) {
    summarize('superseded');
    throw superseded;
  }
  summarize('deployed');
  ctx.reporter.success(deployedMessage(state));
  const { revision: _revision, ...outcome } = applyOutcome(state);
  return {
    environment: environment.name,
    revision,
    ...(state.commit && state.commit !== revision ? { commit: state.commit } : {}),
    ...(state.settled ? { appliedBy: 'another-run' as const } : {}),
    previousRevision: state.deployed ?? null,
    images: state.images,
    changed: state.images.length > 0,
    ...outcome,
    durationMs: Date.now() - started,
  };
}

/** What the run did, in one line: its own commit, or the branch head containing it; by this run or another. */
function deployedMessage(state: DeployState): string {
  const name = state.session.environment.name;
  const revision = state.revision!.slice(0, 12);
  const commit = state.commit?.slice(0, 12);
  const contains =
    commit && commit !== revision ? `, the branch head, which contains this run's ${commit}` : '';
  return state.settled
    ? `${name} runs ${revision}${contains}, deployed and verified by another gitops run`
    : `${name} deployed at ${revision}${contains} and verified`;
}

/**
 * Whether the revision live still runs the images this run set — as written by its edit, or as
 * asked for when the branch had them already (a newer commit may set them again).
 */
async function carriesImages(state: DeployState): Promise<boolean> {
  if (state.images.length === 0 && state.updates.length === 0) return true;
  const applied = state.desired;
  const desired =
    applied && applied.revision === state.revision
      ? applied
      : await state.session.desiredState(state.checkout!, state.revision!);
  const running = desired.objects
    .flatMap((item) => podContainers(item.object.spec).map((container) => container.image))
    .filter((image): image is string => typeof image === 'string');
  if (state.images.length > 0) return state.images.every((image) => running.includes(image.new));
  const references = running.map((text) => tryParseImageReference(text));
  return state.updates.every(({ reference: wanted }) =>
    references.some(
      (reference) =>
        reference?.repository === wanted.repository &&
        reference.tag === wanted.tag &&
        (wanted.digest === undefined || reference.digest === wanted.digest),
    ),
  );
}

/**
 * A revision was pushed and its rollout failed (the failure is recorded already): without an
 * earlier verified revision or without auto-rollback, say how to get back; with auto-rollback,
 * run the rollback operation reverting the pushed commit. Returns the error to end with.
 */
async function afterFailedRollout(
  state: DeployState,
  error: unknown,
  summarize: (ending: DeployEnding, code?: string) => void,
): Promise<GitopsError> {
  const { ctx, session } = state;
  const name = session.environment.name;
  const pushed = state.revision!;
  const failure = isGitopsError(error)
    ? error
    : new GitopsError('DEPLOY_FAILED', String(error), { cause: error });
  const previous = state.verifiedRevision;
  if (!previous || !(state.plan.autoRollback ?? session.environment.autoRollback)) {
    summarize('failed', 'ROLLOUT_FAILED');
    return previous
      ? new RolloutFailure(
          `${failure.message}\n${name} is on ${pushed.slice(0, 12)} (pushed, not healthy)`,
          `roll back with: gitops rollback ${previous.slice(0, 12)} --env ${name}`,
        )
      : new RolloutFailure(
          `${failure.message}\nthere is no earlier verified revision of ${name} to return to`,
          'fix the manifests and deploy again',
        );
  }
  const why = firstLine(failure);
  ctx.reporter.warn(`deploy failed (${why}); rolling back to ${previous.slice(0, 12)} (--auto-rollback)`);
  const rollback = startRollback(state, {
    target: previous,
    reverts: pushed,
    provenance: {
      ...state.provenance!,
      ...(await sourceAt(state.checkout!, previous, state.checkout!.envPath)),
    },
    reason: `Automatic rollback: ${why}`,
  });
  try {
    await rollBack(rollback);
  } catch (rollbackError) {
    // Typed, not guessed from a message: was the revert on the branch when it failed?
    if (!rollback.restored || endsTheRun(rollbackError)) {
      summarize('failed', isGitopsError(rollbackError) ? rollbackError.code : undefined);
      throw rollbackError;
    }
    state.revision = rollback.restored.head;
    summarize('rollback-unhealthy');
    // Never report a rollback as done when its own rollout failed (werf/nelm#131).
    return new RolloutFailure(
      `${why}\ngit is back on ${previous.slice(0, 12)} (revert commit ${rollback.restored.head.slice(0, 12)}) and it was re-applied, but the rollback's rollout did not become healthy either: ${firstLine(rollbackError)}`,
      `inspect the workloads (kubectl rollout status), then run: gitops deploy --env ${name} --skip-build`,
    );
  }
  const superseded = await supersededError(
    rollback,
    () => rollbackCarried(rollback),
    'changes the environment again',
  );
  if (superseded) {
    state.revision = rollback.revision!;
    summarize('superseded');
    return superseded;
  }
  const head = rollback.restored!.head;
  state.revision = head;
  summarize('rolled-back');
  return new RolloutFailure(
    `${why}\n${name} is back on ${previous.slice(0, 12)} (revert commit ${head.slice(0, 12)}, verified)`,
    'the failed commit stays in history; fix forward and deploy again',
  );
}

/** `gitops deploy`: opens the environment's session and parses the `--image` arguments, then deploys. */
export async function runDeploy(ctx: Context, options: DeployOptions): Promise<DeployResult> {
  const session = await openSession(ctx, options.env);
  const { env: _env, images, ...plan } = options;
  const updates = images.map((argument) => parseImageUpdate(argument, session.config.images));
  return deploy(ctx, session, { ...plan, updates });
}
