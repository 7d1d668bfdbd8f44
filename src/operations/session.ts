import { type Inventory, inventoryNamespace, readInventory, writeInventory } from '../cluster/inventory.js';
import { Kubectl } from '../cluster/kubectl.js';
import { ApplyLease, type LeaseHolder, type LeaseRecord, readLease } from '../cluster/lease.js';
import { parseDuration } from '../config/duration.js';
import { derivedEnvironmentId, normaliseRepoUrl } from '../config/identity.js';
import { findConfigFile, getEnvironment, readConfig } from '../config/load.js';
import type { EnvironmentConfig, GitopsConfig } from '../config/types.js';
import type { Context } from '../core/context.js';
import { Exec } from '../core/exec.js';
import { compareLive, type DriftReport, type LiveState, readLive } from '../drift/detect.js';
import { type EnvCheckout, openEnvRepo } from '../git/checkout.js';
import { materializeRevision, resolveRevision } from '../git/revision.js';
import { Git } from '../git/runner.js';
import type { DesiredObject } from '../kube/objects.js';
import { renderEnvironment } from '../render/render.js';

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
 * Everything a cluster-facing operation needs for one environment: config, kubectl, the default
 * namespace, the inventory (read, write, fail) and the one way to get the desired state at a
 * revision.
 */
export class EnvironmentSession {
  /** Where the inventory ConfigMap lives: the environment's namespace, else the kube context's. */
  readonly inventoryNamespace: string;
  /** This run's apply lease of the environment, once a step asked for it (shared by an auto-rollback). */
  private applyLease: ApplyLease | undefined;

  constructor(
    private readonly ctx: Context,
    readonly config: GitopsConfig,
    readonly environment: EnvironmentConfig,
    readonly kubectl: Kubectl,
    /** Namespace for objects that name none: the environment's, else the kube context's, else `default`. */
    readonly namespace: string,
  ) {
    this.inventoryNamespace = inventoryNamespace(environment, namespace);
  }

  readInventory(): Promise<Inventory | undefined> {
    return readInventory(this.kubectl, this.environment, this.inventoryNamespace);
  }

  writeInventory(inventory: Inventory): Promise<void> {
    return writeInventory(this.kubectl, this.environment, this.inventoryNamespace, inventory);
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
    return readLease(this.kubectl, this.environment, this.inventoryNamespace);
  }

  /**
   * This run's apply lease (environments.<env>.lease), created on first use; its release is a
   * clean-up of the context, and runs after SIGINT/SIGTERM too (on its own kubectl, which an
   * interrupt does not stop), so the next run does not wait for it to expire.
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
    const cleanupKubectl = new Kubectl(
      { ...this.ctx, exec: new Exec({ ...uninterruptible, defaultTimeoutMs: 20_000 }) },
      this.config,
      this.environment,
    );
    const applyLease = new ApplyLease(
      this.kubectl,
      cleanupKubectl,
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

  /** The live state of the environment for a set of desired objects, read once. */
  readLive(objects: readonly DesiredObject[], inventory?: Inventory | null): Promise<LiveState> {
    return readLive(this.kubectl, this.environment, objects, this.inventoryNamespace, {
      ...(inventory !== undefined ? { inventory } : {}),
    });
  }

  /** Drift of the live cluster against a set of desired objects. */
  async drift(objects: readonly DesiredObject[]): Promise<DriftReport> {
    return compareLive(this.environment, objects, await this.readLive(objects));
  }

  /**
   * The desired state of the environment: at `revision` (a sha, branch or tag of the env repo)
   * when given, else the checkout as it is (the branch head of a fresh clone, or the working copy
   * of --env-repo-dir with its uncommitted edits). A temp clone at that very commit is rendered
   * in place; any other revision is exported to a temp directory first.
   */
  async desiredState(checkout: EnvCheckout, revision?: string): Promise<DesiredState> {
    const head = await checkout.git.output(['rev-parse', 'HEAD']);
    const sha = revision === undefined ? head : await resolveRevision(this.ctx, checkout, revision);
    const inPlace = revision === undefined || (sha === head && checkout.temporary);
    const tree = inPlace ? checkout : await materializeRevision(this.ctx, checkout, sha);
    const objects = await renderEnvironment(this.ctx, this.environment, tree, this.kubectl, this.namespace);
    return { revision: sha, objects, checkout };
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
  const kubectl = new Kubectl(ctx, config, environment);
  let namespace = environment.namespace;
  if (!namespace) {
    // Reads the kubeconfig only; no request reaches the cluster.
    const result = await kubectl.run(['config', 'view', '--minify', '-o', 'jsonpath={..namespace}'], {
      allowFailure: true,
      read: true,
    });
    namespace = result.exitCode === 0 && result.stdout.trim() ? result.stdout.trim() : 'default';
  }
  return new EnvironmentSession(ctx, config, environment, kubectl, namespace);
}

/**
 * With `envRepo.sameRepo` the env repo is the app repo, known by its origin URL: environments
 * without an explicit id get theirs from it (a read of the local git config, no network).
 */
async function resolveSameRepoIdentities(ctx: Context, config: GitopsConfig): Promise<void> {
  const pending = Object.values(config.environments).filter((environment) => !environment.id);
  if (pending.length === 0) return;
  const origin = await new Git(ctx, config.dir).tryOutput(['remote', 'get-url', 'origin']);
  const repo = normaliseRepoUrl(origin || config.dir, config.dir);
  for (const environment of pending) environment.id = derivedEnvironmentId(repo, environment);
}
