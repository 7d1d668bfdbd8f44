import { GitopsError } from '../core/errors.js';
import { ExitCode } from '../core/exit-codes.js';
import { sleep } from '../core/sleep.js';
import { READ_ATTEMPTS } from '../kube/client/client.js';
import { displayName, type KubeObject, WORKLOAD_KINDS } from '../kube/objects.js';
import { rolloutReadiness } from './readiness.js';

export { workloadHealth } from './readiness.js';

export interface RolloutOutcome {
  object: string;
  ok: boolean;
  durationMs: number;
  /** The last word on it: "successfully rolled out", "exceeded its progress deadline", a timeout. */
  message: string;
}

/** Which objects one list or watch covers: a kind at one API version. */
export interface KindRef {
  apiVersion: string;
  kind: string;
}

export interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  /** The object; for ERROR, the API's Status (code 410 when the resourceVersion is too old). */
  object: KubeObject;
}

/** What following rollouts needs from the cluster: LIST and WATCH of one kind in one namespace. */
export interface RolloutSource {
  /** One LIST of a kind in a namespace (undefined = cluster-scoped/all). */
  list(
    kind: KindRef,
    namespace: string | undefined,
  ): Promise<{ items: KubeObject[]; resourceVersion: string }>;
  /**
   * A watch from resourceVersion; ends when the server closes it or signal aborts. Throws on errors
   * (an error with `transient: true` property means retry with a fresh list). A 410 Gone ⇒ transient.
   * Any event, a BOOKMARK too, shows the watch alive and resets the count of failed attempts in a
   * row: a client should ask for bookmarks (allowWatchBookmarks), or quiet watches cannot show it.
   */
  watch(
    kind: KindRef,
    namespace: string | undefined,
    resourceVersion: string,
    signal: AbortSignal,
  ): AsyncIterable<WatchEvent>;
}

/** Workloads and (when asked) Jobs among the objects: what a deploy waits for. */
export function waitables(objects: readonly KubeObject[], waitForJobs: boolean): KubeObject[] {
  return objects.filter(
    (object) => WORKLOAD_KINDS.has(object.kind) || (waitForJobs && object.kind === 'Job'),
  );
}

/** One workload being waited for. */
interface Wanted {
  name: string;
  /** Whether a list or an event has shown it: absent from a later list then means deleted. */
  seen: boolean;
  /** The last readiness message, which a timeout repeats: what it was still waiting for. */
  last: string;
  outcome?: RolloutOutcome;
}

/** The workloads of one kind in one namespace, followed by one list and watch. */
interface Group {
  kind: KindRef;
  namespace: string | undefined;
  /** By `namespace/name`; the same object given twice is waited for once, reported twice. */
  wanted: Map<string, Wanted[]>;
  pending: number;
  /** Ends this group's watch once none of its workloads is pending (or the whole wait ends). */
  done: AbortController;
}

const NOT_SEEN = 'not found in the cluster yet';
const DELETED = 'deleted while waiting for its rollout';

function keyOf(object: KubeObject | undefined): string | undefined {
  const name = object?.metadata?.name;
  return typeof name === 'string' ? `${object?.metadata.namespace ?? ''}/${name}` : undefined;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function isTransientError(error: unknown): boolean {
  return (error as { transient?: unknown } | null)?.transient === true;
}

function isInterrupt(error: unknown): boolean {
  return error instanceof GitopsError && error.code === 'INTERRUPTED';
}

/** A watch's ERROR event (410 Gone above all): start again from a fresh list. */
function watchError(status: KubeObject): Error {
  const fields = status as { code?: unknown; message?: unknown; reason?: unknown };
  const text = [fields.code, fields.reason, fields.message].filter((part) => part !== undefined).join(' ');
  return Object.assign(new Error(`the watch reported an error: ${text || 'no details'}`), {
    transient: true,
  });
}

function duration(ms: number): string {
  return ms < 1000 ? `${Math.max(0, Math.round(ms))}ms` : `${Math.round(ms / 1000)}s`;
}

function interrupted(count: number): GitopsError {
  return new GitopsError('INTERRUPTED', `interrupted while waiting for the rollout of ${count} workload(s)`, {
    exitCode: ExitCode.Interrupted,
  });
}

/**
 * Follows every workload to the end of its rollout, or to the shared deadline, and never reports
 * success for one that did not finish. One LIST and one WATCH per kind and namespace serve all of
 * its workloads, however many: each outcome is settled by the first event that shows the rollout
 * done or failed (judged by rolloutReadiness, kubectl's rules), with no per-workload request.
 *
 * Following only reads, so a watch that the server ends is simply resumed from a fresh list, and
 * a transient failure (an `transient: true` error, a watch ERROR such as 410 Gone) is retried with
 * a short backoff a bounded number of times in a row; an error that is not transient fails the
 * group's pending workloads with its message. A workload deleted while waited for fails. At the
 * deadline each unsettled workload fails, saying what it was still waiting for. An abort (SIGINT)
 * rejects with INTERRUPTED: it ends the deploy (exit 130), it is not a failed rollout.
 */
export async function waitForRollouts(
  source: RolloutSource,
  objects: readonly KubeObject[],
  timeoutMs: number,
  /** Called as each workload finishes: how many are done of how many. */
  onProgress?: (done: number, total: number, failed: number) => void,
  signal?: AbortSignal,
): Promise<RolloutOutcome[]> {
  if (signal?.aborted) throw interrupted(objects.length);
  const started = performance.now();
  const entries: Wanted[] = [];
  const groups = new Map<string, Group>();
  for (const object of objects) {
    const namespace = object.metadata.namespace;
    const id = `${object.apiVersion}|${object.kind}|${namespace ?? ''}`;
    let group = groups.get(id);
    if (!group) {
      group = {
        kind: { apiVersion: object.apiVersion, kind: object.kind },
        namespace,
        wanted: new Map(),
        pending: 0,
        done: new AbortController(),
      };
      groups.set(id, group);
    }
    const entry: Wanted = { name: displayName(object), seen: false, last: NOT_SEEN };
    const key = keyOf(object)!;
    group.wanted.set(key, [...(group.wanted.get(key) ?? []), entry]);
    group.pending++;
    entries.push(entry);
  }

  let finished = false;
  let progressError: { error: unknown } | undefined;
  let settled = 0;
  let failures = 0;
  const settle = (group: Group, entry: Wanted, ok: boolean, message: string) => {
    if (entry.outcome) return;
    entry.outcome = {
      object: entry.name,
      ok,
      durationMs: Math.round(performance.now() - started),
      message,
    };
    settled++;
    if (!ok) failures++;
    group.pending--;
    if (group.pending === 0) group.done.abort();
    // A failing progress display must not pass for a failed rollout: it is rethrown at the end.
    try {
      onProgress?.(settled, entries.length, failures);
    } catch (error) {
      progressError ??= { error };
    }
  };

  const stop = new AbortController();
  const onAbort = () => stop.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  // setTimeout takes at most 2^31-1 ms and fires at once beyond that.
  const timer = setTimeout(() => stop.abort(), Math.min(Math.max(0, timeoutMs), 2 ** 31 - 1));
  // One listener ends every group's watch: one per group would trip Node's listener-leak warning.
  const stopped = new Promise<void>((resolve) =>
    stop.signal.addEventListener(
      'abort',
      () => {
        for (const group of groups.values()) group.done.abort();
        resolve();
      },
      { once: true },
    ),
  );
  try {
    // A list or watch that hangs past the deadline must not hold the deploy: the race ends the
    // wait, and whatever it still delivers afterwards is ignored (`finished`).
    const live = (group: Group, entry: Wanted, ok: boolean, message: string) => {
      if (!finished) settle(group, entry, ok, message);
    };
    const all = Promise.all([...groups.values()].map((group) => follow(source, group, live)));
    all.catch(() => {});
    await Promise.race([all, stopped]);
  } finally {
    finished = true;
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
    stop.abort();
  }
  if (signal?.aborted) throw interrupted(objects.length);

  const waited = duration(timeoutMs);
  for (const group of groups.values())
    for (const list of group.wanted.values())
      for (const entry of list)
        settle(
          group,
          entry,
          false,
          `timed out after ${waited} waiting for the rollout; last status: ${entry.last.replace(/\.+$/, '')}`,
        );
  if (progressError) throw progressError.error;
  return entries.map((entry) => entry.outcome!).sort((a, b) => a.object.localeCompare(b.object));
}

/** One group: list, watch, and list again whenever the watch ends, until none is pending. */
async function follow(
  source: RolloutSource,
  group: Group,
  settle: (group: Group, entry: Wanted, ok: boolean, message: string) => void,
): Promise<void> {
  const signal = group.done.signal;
  const observe = (object: KubeObject) => {
    const key = keyOf(object);
    const list = key === undefined ? undefined : group.wanted.get(key);
    if (!list) return;
    const readiness = rolloutReadiness(object);
    for (const entry of list) {
      entry.seen = true;
      entry.last = readiness.message;
      if (readiness.state !== 'progressing')
        settle(group, entry, readiness.state === 'ready', readiness.message);
    }
  };
  const failPending = (message: string) => {
    for (const list of group.wanted.values()) for (const entry of list) settle(group, entry, false, message);
  };
  const what = `${group.kind.kind} objects${group.namespace ? ` in namespace ${group.namespace}` : ''}`;

  /** Failed rounds in a row: a round that brought any event resets it. */
  let failedRounds = 0;
  while (group.pending > 0 && !signal.aborted) {
    let delivered = false;
    try {
      const listed = await source.list(group.kind, group.namespace);
      if (signal.aborted) return;
      const present = new Set(listed.items.map(keyOf));
      for (const item of listed.items) observe(item);
      for (const [key, list] of group.wanted)
        if (!present.has(key)) for (const entry of list) if (entry.seen) settle(group, entry, false, DELETED);
      if (group.pending === 0) return;
      for await (const event of source.watch(group.kind, group.namespace, listed.resourceVersion, signal)) {
        if (signal.aborted) return;
        if (event.type === 'ERROR') throw watchError(event.object);
        // Any event, a BOOKMARK too, shows the watch working: failures before it do not add up.
        delivered = true;
        failedRounds = 0;
        if (event.type === 'ADDED' || event.type === 'MODIFIED') observe(event.object);
        else if (event.type === 'DELETED') {
          const key = keyOf(event.object);
          for (const entry of (key && group.wanted.get(key)) || []) settle(group, entry, false, DELETED);
        }
        if (group.pending === 0) return;
      }
      // The server ended the watch (its timeout): start again from a fresh list, after a short
      // pause only if it brought nothing, so a server that ends every watch at once is not hammered.
      if (!delivered) await sleep(250, signal);
    } catch (error) {
      if (signal.aborted) return;
      if (isInterrupt(error)) throw error;
      if (!isTransientError(error)) {
        failPending(`could not follow the rollout: ${messageOf(error)}`);
        return;
      }
      failedRounds = delivered ? 1 : failedRounds + 1;
      if (failedRounds >= READ_ATTEMPTS) {
        failPending(`gave up watching ${what} after ${failedRounds} failed attempts: ${messageOf(error)}`);
        return;
      }
      await sleep(250 * failedRounds, signal);
    }
  }
}
