import { Cluster } from '../cluster/cluster.js';
import {
  deleteInventoryNamed,
  type Inventory,
  inventoryNamespace,
  legacyInventoryName,
  readInventory,
  readInventoryNamed,
  writeInventory,
} from '../cluster/inventory.js';
import { Kubectl } from '../cluster/kubectl.js';
import { ApplyLease, type LeaseHolder, type LeaseRecord, readLease } from '../cluster/lease.js';
import { parseDuration } from '../config/duration.js';
import { derivedEnvironmentId, normaliseRepoUrl } from '../config/identity.js';
import { findConfigFile, getEnvironment, readConfig } from '../config/load.js';
import type { EnvironmentConfig, GitopsConfig } from '../config/types.js';
import type { Context } from '../core/context.js';
import { Exec } from '../core/exec.js';
import {
  compareLive,
  type DriftReport,
  inventoryKinds,
  type LegacyClaim,
  type LiveState,
  liveStateCovers,
  prepareLiveRead,
  readLive,
} from '../drift/detect.js';
import { sameFiles } from '../git/ancestry.js';
import { type EnvCheckout, openEnvRepo, widenSparseCheckout } from '../git/checkout.js';
import { inputsAt, materializeRevision, resolveRevision } from '../git/revision.js';
import { Git } from '../git/runner.js';
import { ANNOTATION_REVISION, type DesiredObject } from '../kube/objects.js';
import { coveringPaths, type RenderInputs } from '../manifests/inputs.js';
import { renderEnvironment, renderFingerprint } from '../render/render.js';

/** The desired objects of an environment at one env-repo commit. */
export interface DesiredState {
  /** Env-repo commit the objects were rendered from. */
  revision: string;
  objects: DesiredObject[];
  checkout: EnvCheckout;
}

/** How a failed run is remembered in the inventory, so `status` and the next run can explain it. */
export interface FailureRecord {
  /** The commit that was being applied. */
  revision: string;
  /** What was running: `deploy`, `rollback`, `auto-rollback`. */
  action: string;
  /** Why, in one line. */
  reason: string;
}

/**
 * Everything a cluster-facing operation needs for one environment: config, the cluster, the default
 * namespace, the inventory (read, write, fail) and the one way to get the desired state at a
 * revision.
 */
export class EnvironmentSession {
  /** Where the inventory ConfigMap lives: the environment's namespace, else the kube context's. */
  readonly inventoryNamespace: string;
  /** This run's apply lease of the environment, once a step asked for it (shared by an auto-rollback). */
  private applyLease: ApplyLease | undefined;
  /** This run's last render of each tree, with the fingerprint of what it read (see render). */
  private readonly renders = new Map<string, { fingerprint: string; objects: DesiredObject[] }>();

  constructor(
    private readonly ctx: Context,
    readonly config: GitopsConfig,
    readonly environment: EnvironmentConfig,
    readonly cluster: Cluster,
    /** Namespace for objects that name none: the environment's, else the kube context's, else `default`. */
    readonly namespace: string,
  ) {
    this.inventoryNamespace = inventoryNamespace(environment, namespace);
  }

  /**
   * The inventory; with a checkout of the env repo, also that of a release before environment
   * ids (`gitops-inventory-<name>`) when its revision is a commit of this env repo — the one proof
   * that the old name-keyed state is this environment's and not another app's of the same name.
   */
  async readInventory(checkout?: EnvCheckout): Promise<Inventory | undefined> {
    const current = await readInventory(this.cluster, this.environment, this.inventoryNamespace);
    if (current || !checkout) return current;
    return (await this.legacyState(checkout))?.inventory;
  }

  private legacy?: Promise<{ inventory: Inventory; claim: LegacyClaim } | undefined>;

  /** The state an earlier release left under the environment's name, when it is provably ours. */
  private legacyState(
    checkout: EnvCheckout,
  ): Promise<{ inventory: Inventory; claim: LegacyClaim } | undefined> {
    this.legacy ??= (async () => {
      const name = legacyInventoryName(this.environment);
      if (!name) return undefined;
      const inventory = await readInventoryNamed(this.cluster, name, this.inventoryNamespace);
      const verdicts = new Map<string, Promise<boolean>>();
      const isOurCommit = (sha: string | undefined) => {
        if (!sha || !/^[0-9a-f]{40}$/.test(sha)) return Promise.resolve(false);
        let verdict = verdicts.get(sha);
        if (!verdict) {
          verdict = resolveRevision(this.ctx, checkout, sha).then(
            () => true,
            () => false,
          );
          verdicts.set(sha, verdict);
        }
        return verdict;
      };
      if (!inventory || !(await isOurCommit(inventory.revision))) return undefined;
      return {
        inventory: { ...inventory, legacyName: name },
        claim: {
          label: this.environment.name,
          isOurs: (object) => isOurCommit(object.metadata.annotations?.[ANNOTATION_REVISION]),
        },
      };
    })();
    return this.legacy;
  }

  writeInventory(inventory: Inventory): Promise<void> {
    return writeInventory(this.cluster, this.environment, this.inventoryNamespace, inventory);
  }

  /** Deletes an inventory ConfigMap by name (the name-keyed one of a migrated environment). */
  deleteInventoryNamed(name: string): Promise<void> {
    return deleteInventoryNamed(this.cluster, name, this.inventoryNamespace);
  }

  /**
   * Marks the last run failed, with what was running and why. Best effort: a cluster that cannot
   * be reached must not hide the failure being recorded.
   */
  async fail(record: FailureRecord): Promise<void> {
    const inventory = await this.readInventory().catch(() => undefined);
    if (!inventory) return;
    await this.writeInventory({
      ...inventory,
      phase: 'failed',
      revision: record.revision,
      failedAction: record.action,
      failure: record.reason,
      updatedAt: new Date().toISOString(),
    }).catch(() => undefined);
  }

  /** This run's apply lease, once a step asked for it. */
  get currentLease(): ApplyLease | undefined {
    return this.applyLease;
  }

  readLease(): Promise<LeaseRecord | undefined> {
    return readLease(this.cluster, this.environment, this.inventoryNamespace);
  }

  /**
   * This run's apply lease (environments.<env>.lease), created on first use; its release is a
   * clean-up of the context, and runs after SIGINT/SIGTERM too (through a client an interrupt
   * does not stop, on the run's own connections), so the next run does not wait for it to expire.
   */
  lease(holder: Omit<LeaseHolder, 'identity'>): ApplyLease {
    if (this.applyLease) return this.applyLease;
    const { name, lease } = this.environment;
    const settings = {
      durationMs: parseDuration(lease.duration, `environments.${name}.lease.duration`),
      waitMs: parseDuration(lease.wait, `environments.${name}.lease.wait`),
      ...(this.ctx.signal ? { signal: this.ctx.signal } : {}),
    };
    const { signal: _signal, ...uninterruptible } = this.ctx.exec.settings;
    const { signal: _interrupt, ...context } = this.ctx;
    const cleanupCluster = this.cluster.withContext({
      ...context,
      exec: new Exec({ ...uninterruptible, defaultTimeoutMs: 20_000 }),
    });
    const applyLease = new ApplyLease(
      this.cluster,
      cleanupCluster,
      this.environment,
      this.inventoryNamespace,
      settings,
      holder,
      (line) => this.ctx.reporter.debug(line),
    );
    this.ctx.cleanup.add(() => applyLease.release());
    this.applyLease = applyLease;
    return applyLease;
  }

  /**
   * The live state of the environment for a set of desired objects, read once. With a checkout,
   * an environment an earlier release deployed under its name is recognised (and migrated by the
   * next apply).
   */
  async readLive(
    objects: readonly DesiredObject[],
    inventory?: Inventory | null,
    checkout?: EnvCheckout,
  ): Promise<LiveState> {
    if (inventory === undefined) prepareLiveRead(this.cluster, objects);
    let known =
      inventory === undefined
        ? await readInventory(this.cluster, this.environment, this.inventoryNamespace)
        : inventory;
    let claim: LegacyClaim | undefined;
    if (checkout && (!known || known.legacyName)) {
      const legacy = await this.legacyState(checkout);
      if (legacy) {
        known ??= legacy.inventory;
        claim = legacy.claim;
      }
    }
    return readLive(this.cluster, this.environment, objects, this.inventoryNamespace, {
      inventory: known ?? null,
      ...(claim ? { legacy: claim } : {}),
    });
  }

  /**
   * Asks discovery about the kinds a run's later steps use, ahead of them: those the inventory
   * names (the drift check lists them, and the HPAs beside workloads) and, unless nothing is to
   * be written, the apply lease's. Each kind is asked once per run anyway (the client keeps the
   * answers, and a step asking meanwhile waits for the same request); asked early, the answers
   * are in before the steps that wait on them. Does not wait (Cluster.prepare): a failure is met
   * again, and reported, by the step that needs the kind.
   */
  discoverAhead(inventory: Inventory | undefined): void {
    const kinds = inventoryKinds(this.environment, inventory, this.inventoryNamespace);
    if (!this.ctx.dryRun) kinds.push('Lease.coordination.k8s.io');
    this.cluster.prepare(kinds);
  }

  /**
   * The live state for a set of desired objects: `earlier` when that read answers for them as a
   * read of their own would (liveStateCovers: same inventory record, same lists, every object
   * looked up), else a read of its own (see readLive).
   */
  async liveFor(
    objects: readonly DesiredObject[],
    checkout: EnvCheckout | undefined,
    earlier: LiveState | undefined,
  ): Promise<LiveState> {
    // Without an inventory, or with a release's name-keyed one, a read with the checkout claims
    // what that release labelled: another selector than a read without it.
    const reusable =
      earlier?.inventory !== undefined && !earlier.inventory.legacyName && this.liveCovers(earlier, objects);
    return reusable ? earlier : this.readLive(objects, undefined, checkout);
  }

  /** Whether a read of the live state asked the cluster all that a read for `objects` would. */
  liveCovers(live: LiveState, objects: readonly DesiredObject[]): boolean {
    return liveStateCovers(live, this.environment, objects, this.inventoryNamespace);
  }

  /** Drift of the live cluster against a set of desired objects. */
  async drift(objects: readonly DesiredObject[], checkout?: EnvCheckout): Promise<DriftReport> {
    return compareLive(this.environment, objects, await this.readLive(objects, undefined, checkout));
  }

  /**
   * The desired state of the environment: at `revision` (a sha, branch or tag of the env repo)
   * when given, else the checkout as it is (the branch head of a fresh clone, or the working copy
   * of --env-repo-dir with its uncommitted edits). A temp clone is rendered in place at that very
   * commit, and at any commit whose render inputs hold the same content as the head's (two commits
   * whose closures are the same render the same objects: commits of other environments of the env
   * repo lie between them); any other revision's render inputs are exported to a temp directory
   * first.
   */
  async desiredState(checkout: EnvCheckout, revision?: string): Promise<DesiredState> {
    const head = await checkout.git.head();
    const sha =
      revision === undefined || revision === head
        ? head
        : await resolveRevision(this.ctx, checkout, revision);
    const inPlace =
      revision === undefined ||
      (checkout.temporary && (sha === head || (await this.rendersAsHead(checkout, sha, head))));
    const tree = inPlace ? checkout : await materializeRevision(this.ctx, checkout, sha, this.environment);
    if (inPlace && checkout.temporary)
      await widenSparseCheckout(checkout, (await this.inputs(checkout, head)).paths);
    return { revision: sha, objects: await this.render(tree), checkout };
  }

  /**
   * Whether a commit renders what the head renders: its render inputs are the same paths, holding
   * the same content (so the head's working tree can be rendered in its place).
   */
  private async rendersAsHead(checkout: EnvCheckout, sha: string, head: string): Promise<boolean> {
    const [atSha, atHead] = await Promise.all([this.inputs(checkout, sha), this.inputs(checkout, head)]);
    if (atSha.paths.join('\0') !== atHead.paths.join('\0')) return false;
    return sameFiles(checkout, sha, head, atHead.paths);
  }

  /**
   * Renders a tree of the env repo (a checkout, or a revision exported by materializeRevision).
   * A deploy renders its temp clone for the gates and again, once committed, to apply it: when
   * the tree holds the same bytes as at this run's last render of it, that render is the answer
   * (a copy: callers may change what they get). After a bump, or anything else that changed a
   * file, the tree is rendered again.
   */
  async render(tree: { dir: string; envDir: string }): Promise<DesiredObject[]> {
    const key = `${tree.dir}\0${tree.envDir}`;
    const fingerprint = renderFingerprint(tree, this.environment);
    const last = this.renders.get(key);
    if (fingerprint !== undefined && last?.fingerprint === fingerprint) return structuredClone(last.objects);
    const kubectl = new Kubectl(this.ctx, this.config, this.environment, () => this.cluster.serverVersion());
    const objects = await renderEnvironment(this.ctx, this.environment, tree, kubectl, this.namespace, {
      helm: this.config.helm.path,
    });
    if (fingerprint !== undefined) this.renders.set(key, { fingerprint, objects: structuredClone(objects) });
    return objects;
  }

  /** What the environment's render reads at a commit (its revision closure): see manifests/inputs.ts. */
  inputs(checkout: EnvCheckout, sha: string): Promise<RenderInputs> {
    return inputsAt(checkout, sha, this.environment);
  }

  /**
   * The paths whose history says what this environment runs between commits: the render inputs
   * at each of them (a base added or dropped between two commits counts at either end).
   */
  async closure(checkout: EnvCheckout, shas: readonly string[]): Promise<string[]> {
    const all = await Promise.all(shas.map((sha) => this.inputs(checkout, sha)));
    return coveringPaths(all.flatMap((inputs) => inputs.paths));
  }

  /** A working copy of the env repo for this environment (see openEnvRepo). */
  openEnvRepo(options: { envRepoDir?: string } = {}): Promise<EnvCheckout> {
    return openEnvRepo(this.ctx, this.config, this.environment, options);
  }
}

/** Reads the config and opens a session for one environment (exit 2 for an unknown one). */
export async function openSession(ctx: Context, envName: string): Promise<EnvironmentSession> {
  const config = readConfig(findConfigFile(ctx.cwd, ctx.configPath), ctx.env);
  const environment = getEnvironment(config, envName);
  await resolveSameRepoIdentities(ctx, config);
  const cluster = new Cluster(ctx, config, environment);
  // The kubeconfig context's namespace: read from the kubeconfig, no request reaches the cluster.
  const namespace = environment.namespace || cluster.contextNamespace() || 'default';
  return new EnvironmentSession(ctx, config, environment, cluster, namespace);
}

/**
 * With `envRepo.sameRepo` the env repo is the app repo, known by its origin URL: environments
 * without an explicit id get theirs from it (a read of the local git config, no network).
 */
async function resolveSameRepoIdentities(ctx: Context, config: GitopsConfig): Promise<void> {
  const pending = Object.values(config.environments).filter((environment) => !environment.repo);
  if (pending.length === 0) return;
  const origin = await new Git(ctx, config.dir).tryOutput(['remote', 'get-url', 'origin']);
  const repo = normaliseRepoUrl(origin || config.dir, config.dir);
  for (const environment of pending) {
    environment.repo = repo;
    environment.id ||= derivedEnvironmentId(repo, environment);
  }
}
