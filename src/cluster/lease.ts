import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { EnvironmentConfig } from '../config/types.js';
import { GitopsError } from '../core/errors.js';
import { ExitCode } from '../core/exit-codes.js';
import { sleep } from '../core/sleep.js';
import { KubeApiError } from '../kube/client/client.js';
import type { KubeObject } from '../kube/objects.js';
import { ownerId } from '../kube/objects.js';
import type { Cluster } from './cluster.js';

/**
 * The apply lease of an environment: a coordination.k8s.io/v1 Lease beside the inventory, held by
 * one gitops run at a time from its apply to its record, so concurrent deploys, rollbacks and
 * promotions apply one after another. The semantics are client-go's leader election
 * (tools/leaderelection): the holder renews `renewTime` well within `leaseDurationSeconds`; a
 * waiter takes a lease over only once the record has not changed for a whole duration by its own
 * clock (clock skew between machines does not matter), and every write carries the
 * resourceVersion it read, so of two runs taking over at once only one succeeds.
 */

export const LEASE_LABEL = 'gitops.dev/lease';
/** The holder's run, as JSON (LeaseHolder): what `gitops status` shows. */
const HOLDER_ANNOTATION = 'gitops.dev/holder';
/** The last holders, newest first, as JSON (LeaseHistoryEntry[]): who applied what, and when. */
const HISTORY_ANNOTATION = 'gitops.dev/history';
const HISTORY_LENGTH = 10;
/** Polls in a row whose read of the lease failed before waiting gives up (the API server is gone). */
const UNREADABLE_POLLS = 3;

export function leaseName(environment: Pick<EnvironmentConfig, 'name' | 'id'>): string {
  return `gitops-lease-${ownerId(environment)}`;
}

/** The run holding (or, in the history, having held) the lease. */
export interface LeaseHolder {
  /** Unique per run: `host/pid/nonce`. */
  identity: string;
  /** `deploy`, `promote`, `rollback`, `auto-rollback`. */
  action: string;
  /** The env-repo revision the run applies. */
  revision: string;
  actor?: string;
}

export interface LeaseHistoryEntry extends LeaseHolder {
  acquired: string;
  released?: string;
}

/** A Lease as read from the cluster. */
export interface LeaseRecord {
  holderIdentity?: string;
  /** The holder's run, when the lease is held by a gitops run. */
  holder?: LeaseHolder;
  durationSeconds: number;
  acquireTime?: string;
  renewTime?: string;
  transitions: number;
  resourceVersion: string;
  history: LeaseHistoryEntry[];
}

export interface LeaseSettings {
  durationMs: number;
  waitMs: number;
  signal?: AbortSignal;
}

/** The moment the lease runs out unless renewed, by the holder's clock (for display only). */
export function leaseExpiry(record: LeaseRecord): Date | undefined {
  if (!record.holderIdentity || !record.renewTime) return undefined;
  return new Date(Date.parse(record.renewTime) + record.durationSeconds * 1000);
}

/** A unique identity for this run's lease: host, pid and a nonce (runs in one process differ too). */
export function runIdentity(): string {
  return `${hostname()}/${process.pid}/${randomBytes(3).toString('hex')}`;
}

/** Lease timestamps are MicroTime: RFC 3339 with exactly six fractional digits. */
function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

function parseJson<T>(text: string | undefined, fallback: T): T {
  if (!text) return fallback;
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}

interface LeaseObject {
  metadata: { resourceVersion: string; annotations?: Record<string, string> };
  spec?: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

function toRecord(object: LeaseObject): LeaseRecord {
  const spec = object.spec ?? {};
  const annotations = object.metadata.annotations ?? {};
  const holder = parseJson<LeaseHolder | undefined>(annotations[HOLDER_ANNOTATION], undefined);
  return {
    ...(spec.holderIdentity ? { holderIdentity: spec.holderIdentity } : {}),
    ...(spec.holderIdentity && holder?.identity === spec.holderIdentity ? { holder } : {}),
    durationSeconds: spec.leaseDurationSeconds ?? 0,
    ...(spec.acquireTime ? { acquireTime: spec.acquireTime } : {}),
    ...(spec.renewTime ? { renewTime: spec.renewTime } : {}),
    transitions: spec.leaseTransitions ?? 0,
    resourceVersion: object.metadata.resourceVersion,
    history: parseJson<LeaseHistoryEntry[]>(annotations[HISTORY_ANNOTATION], []).filter(
      (entry) => entry && typeof entry.identity === 'string',
    ),
  };
}

/** Reads the apply lease of an environment; undefined when there is none. */
export async function readLease(
  cluster: Cluster,
  environment: EnvironmentConfig,
  namespace: string,
): Promise<LeaseRecord | undefined> {
  const live = await cluster.call('reading the apply lease', (client) =>
    client.get({
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      name: leaseName(environment),
      namespace,
    }),
  );
  return live ? toRecord(live as unknown as LeaseObject) : undefined;
}

/** Says who holds a lease and since when, in one line. */
export function describeHolder(record: LeaseRecord): string {
  const holder = record.holder;
  const who = holder
    ? `${holder.action} of ${holder.revision.slice(0, 12)}${holder.actor ? ` by ${holder.actor}` : ''} (${holder.identity})`
    : (record.holderIdentity ?? 'nobody');
  return `${who}, since ${record.acquireTime ?? '?'}, renewed ${record.renewTime ?? '?'}`;
}

type WriteOutcome =
  | { ok: true; record: LeaseRecord }
  | { ok: false; reason: 'exists' | 'conflict' | 'gone' | 'namespace' | 'transient'; message: string };

/** The namespace of the lease does not exist yet (a first deploy): the caller may create it. */
export class LeaseNamespaceMissing extends GitopsError {
  constructor(readonly namespace: string) {
    super(
      'LEASE_NAMESPACE_MISSING',
      `the namespace ${namespace}, where the inventory and the apply lease live, does not exist`,
      {
        hint: 'declare the Namespace in the environment, create it, or set environments.<env>.namespace',
      },
    );
  }
}

export interface AcquireHooks {
  /** Called whenever the lease is seen held by another run (first sight, and each change). */
  waiting?(record: LeaseRecord): void;
  /** Called after `waiting`: returning true stops waiting (this run has nothing left to do). */
  settled?(record: LeaseRecord): Promise<boolean>;
}

/**
 * This run's hold on an environment's apply lease: acquire (waiting up to `waitMs`), renew in the
 * background every third of the duration, release. `release` uses `cleanupCluster`, whose requests run
 * even after SIGINT/SIGTERM: an interrupted run hands the lease on instead of leaving it to expire.
 */
export class ApplyLease {
  readonly identity = runIdentity();
  private record: LeaseRecord | undefined;
  private timer: NodeJS.Timeout | undefined;
  private renewal: Promise<void> | undefined;
  private lastRenewed = 0;
  private held = false;
  /** Set when a renewal found another holder, or none succeeded for a whole duration. */
  lost = false;
  /** The record of the holder this run took the lease over from (it had stopped renewing it). */
  tookOver: LeaseRecord | undefined;

  constructor(
    private readonly cluster: Cluster,
    private readonly cleanupCluster: Cluster,
    private readonly environment: EnvironmentConfig,
    private readonly namespace: string,
    private readonly settings: LeaseSettings,
    private holder: Omit<LeaseHolder, 'identity'>,
    private readonly debug: (line: string) => void = () => {},
  ) {}

  get isHeld(): boolean {
    return this.held && !this.lost;
  }

  /** The record this run last wrote (while it holds the lease). */
  get current(): LeaseRecord | undefined {
    return this.record;
  }

  read(): Promise<LeaseRecord | undefined> {
    return readLease(this.cluster, this.environment, this.namespace);
  }

  private body(previous: LeaseRecord | undefined, now: number, release = false): Record<string, unknown> {
    const mine = previous?.holderIdentity === this.identity;
    const holder: LeaseHolder = { identity: this.identity, ...this.holder };
    let history = previous?.history ?? [];
    if (!mine && !release) history = [{ ...holder, acquired: microTime(now) }, ...history];
    history = history
      .map((entry) =>
        entry.identity !== this.identity
          ? entry
          : { ...entry, revision: holder.revision, ...(release ? { released: microTime(now) } : {}) },
      )
      .slice(0, HISTORY_LENGTH);
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {
        name: leaseName(this.environment),
        namespace: this.namespace,
        labels: { [LEASE_LABEL]: ownerId(this.environment) },
        annotations: {
          ...(release ? {} : { [HOLDER_ANNOTATION]: JSON.stringify(holder) }),
          [HISTORY_ANNOTATION]: JSON.stringify(history),
        },
        ...(previous ? { resourceVersion: previous.resourceVersion } : {}),
      },
      spec: {
        ...(release ? {} : { holderIdentity: this.identity }),
        leaseDurationSeconds: Math.max(1, Math.ceil(this.settings.durationMs / 1000)),
        acquireTime: mine && previous?.acquireTime ? previous.acquireTime : microTime(now),
        renewTime: microTime(now),
        leaseTransitions: (previous?.transitions ?? 0) + (previous && !mine && !release ? 1 : 0),
      },
    };
  }

  /** create or replace (with the resourceVersion read: a compare-and-swap). */
  private async write(
    verb: 'create' | 'replace',
    body: Record<string, unknown>,
    cluster = this.cluster,
  ): Promise<WriteOutcome> {
    try {
      const object = body as unknown as KubeObject;
      const written =
        verb === 'create'
          ? await cluster.client.create(object, { fieldManager: 'gitops' })
          : await cluster.client.replace(object, { fieldManager: 'gitops' });
      // Under --dry-run no write is sent: the lease is as good as held for a run that applies nothing.
      return { ok: true, record: toRecord((written ?? object) as unknown as LeaseObject) };
    } catch (error) {
      if (!(error instanceof KubeApiError)) throw error;
      const { message } = error;
      if (error.reason === 'AlreadyExists') return { ok: false, reason: 'exists', message };
      if (error.reason === 'Conflict') return { ok: false, reason: 'conflict', message };
      if (/namespaces? "[^"]*" not found/.test(message)) return { ok: false, reason: 'namespace', message };
      if (error.status === 404) return { ok: false, reason: 'gone', message };
      if (error.transient) return { ok: false, reason: 'transient', message };
      throw cluster.clusterError(error, 'writing the apply lease');
    }
  }

  private polls = 0;

  /** How long to wait before the next look: from 200 ms, doubling, up to a quarter of the duration (at most 3 s), jittered. */
  private pollDelay(): number {
    this.polls += 1;
    const cap = Math.min(3000, this.settings.durationMs / 4, 200 * 2 ** this.polls);
    return Math.round(cap * (0.5 + Math.random()));
  }

  /**
   * Takes the lease, waiting while another run holds it (up to `waitMs`, then LEASE_TIMEOUT).
   * Returns 'settled' when the `settled` hook ended the wait. Throws LeaseNamespaceMissing when
   * the lease's namespace does not exist.
   */
  async acquire(hooks: AcquireHooks = {}): Promise<'acquired' | 'settled'> {
    if (this.isHeld) return 'acquired';
    const deadline = Date.now() + this.settings.waitMs;
    let observed: { version: string; at: number } | undefined;
    let last: LeaseRecord | undefined;
    let unreadable = 0;
    for (;;) {
      let current: LeaseRecord | undefined;
      try {
        current = await this.read();
        unreadable = 0;
      } catch (error) {
        // A loaded API server may fail a few reads in a row (each already retried): keep waiting,
        // but not for a server that is gone.
        if (++unreadable >= UNREADABLE_POLLS || Date.now() >= deadline) throw error;
        this.debug(`reading the apply lease failed; waiting on: ${(error as Error).message.split('\n')[0]}`);
        await sleep(this.pollDelay(), this.settings.signal);
        continue;
      }
      const now = Date.now();
      let outcome: WriteOutcome | undefined;
      if (!current) {
        outcome = await this.write('create', this.body(undefined, now));
        if (!outcome.ok && outcome.reason === 'namespace') throw new LeaseNamespaceMissing(this.namespace);
      } else {
        last = current;
        const fresh = observed?.version !== current.resourceVersion;
        if (fresh) observed = { version: current.resourceVersion, at: now };
        const mine = current.holderIdentity === this.identity;
        // Expiry by this run's own clock: unchanged for a whole duration since it was first seen.
        const expired = now - observed!.at >= current.durationSeconds * 1000;
        if (!current.holderIdentity || mine || expired) {
          outcome = await this.write('replace', this.body(current, now));
          if (outcome.ok && current.holderIdentity && !mine) this.tookOver = current;
        } else if (fresh) {
          hooks.waiting?.(current);
          if (await hooks.settled?.(current)) return 'settled';
        }
      }
      if (outcome?.ok) {
        this.taken(outcome.record, now);
        return 'acquired';
      }
      if (outcome && !outcome.ok) this.debug(`apply lease: ${outcome.reason}: ${outcome.message}`);
      if (Date.now() >= deadline) throw this.timeout(last);
      await sleep(
        outcome && !outcome.ok && outcome.reason !== 'transient' ? 0 : this.pollDelay(),
        this.settings.signal,
      );
      if (this.settings.signal?.aborted)
        throw new GitopsError('INTERRUPTED', 'interrupted while waiting for the apply lease', {
          exitCode: ExitCode.Interrupted,
        });
    }
  }

  private timeout(last: LeaseRecord | undefined): GitopsError {
    const minutes = Math.round(this.settings.waitMs / 60_000);
    const waited = minutes >= 1 ? `${minutes}m` : `${Math.round(this.settings.waitMs / 1000)}s`;
    return new GitopsError(
      'LEASE_TIMEOUT',
      `another gitops run held the apply lease of ${this.environment.name} for longer than ${waited} (${last ? describeHolder(last) : 'unknown holder'})`,
      {
        hint: `nothing of this run was applied; re-run the job, or raise environments.${this.environment.name}.lease.wait`,
        details: { waitedMs: this.settings.waitMs, ...(last?.holder ? { holder: last.holder } : {}) },
      },
    );
  }

  private taken(record: LeaseRecord, now: number): void {
    this.record = record;
    this.held = true;
    this.lost = false;
    this.lastRenewed = now;
    this.schedule();
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      this.renewal = this.renew().finally(() => {
        this.renewal = undefined;
        if (this.isHeld) this.schedule();
      });
    }, this.settings.durationMs / 3);
    this.timer.unref();
  }

  /** One renewal: a compare-and-swap on the record this run wrote last. */
  private async renew(): Promise<void> {
    const now = Date.now();
    let outcome: WriteOutcome;
    try {
      outcome = await this.write('replace', this.body(this.record, now));
    } catch (error) {
      outcome = { ok: false, reason: 'transient', message: (error as Error).message };
    }
    if (!outcome.ok && (outcome.reason === 'conflict' || outcome.reason === 'gone')) {
      const current = await this.read().catch(() => undefined);
      if (current?.holderIdentity === this.identity) {
        this.record = current;
        outcome = await this.write('replace', this.body(current, now)).catch((error: Error) => ({
          ok: false as const,
          reason: 'transient' as const,
          message: error.message,
        }));
      } else if (current || outcome.reason === 'gone') {
        this.lost = true;
        this.debug(`the apply lease was taken over: ${current ? describeHolder(current) : 'deleted'}`);
        return;
      }
    }
    if (outcome.ok) {
      this.record = outcome.record;
      this.lastRenewed = now;
      return;
    }
    this.debug(`renewing the apply lease failed: ${outcome.message}`);
    if (Date.now() - this.lastRenewed >= this.settings.durationMs) this.lost = true;
  }

  /**
   * Changes what the holder annotation says this run applies (renews the lease at once). What it
   * says already is not written again: the background renewal keeps the lease.
   */
  async update(holder: Partial<Omit<LeaseHolder, 'identity'>>): Promise<void> {
    const next = { ...this.holder, ...holder };
    const same = (Object.keys(next) as Array<keyof typeof next>).every(
      (key) => next[key] === this.holder[key],
    );
    this.holder = next;
    if (!this.isHeld || same) return;
    await this.renewal;
    clearTimeout(this.timer);
    await this.renew();
    if (this.isHeld) this.schedule();
  }

  /** Throws LEASE_LOST when another run may have taken the lease over. */
  assertHeld(): void {
    if (this.lost) {
      throw new GitopsError(
        'LEASE_LOST',
        `this run lost the apply lease of ${this.environment.name}: it could not renew it within ${Math.round(this.settings.durationMs / 1000)}s, and another run may be applying now`,
        {
          hint: `check gitops status --env ${this.environment.name}; re-run the job to apply the branch head (raise environments.${this.environment.name}.lease.duration if the cluster is slow to answer)`,
        },
      );
    }
  }

  /** Hands the lease on (best effort: a lease that cannot be released expires). */
  async release(): Promise<void> {
    if (!this.held) return;
    this.held = false;
    clearTimeout(this.timer);
    await this.renewal;
    if (this.lost || !this.record) return;
    const outcome = await this.write(
      'replace',
      this.body(this.record, Date.now(), true),
      this.cleanupCluster,
    ).catch((error: Error) => ({ ok: false as const, reason: 'transient' as const, message: error.message }));
    if (!outcome.ok)
      this.debug(`releasing the apply lease failed (it expires by itself): ${outcome.message}`);
  }
}
