// waitForRollouts against a scripted, in-memory RolloutSource: one list and one watch per kind and
// namespace serve all of its workloads; a transient failure re-lists; a deleted workload fails; the
// deadline names what each workload was still waiting for; an abort rejects. No cluster.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type KindRef,
  type RolloutSource,
  type WatchEvent,
  waitForRollouts,
} from '../src/cluster/rollout.js';
import { GitopsError } from '../src/core/errors.js';
import type { KubeObject } from '../src/kube/objects.js';

const groupId = (kind: KindRef, namespace: string | undefined) => `${kind.kind}/${namespace ?? ''}`;

/** One open watch: events pushed by the test, ended by the test, the waiter or its signal. */
class Stream implements AsyncIterable<WatchEvent> {
  private readonly queue: Array<{ event?: WatchEvent; error?: unknown; end?: true }> = [];
  private wake?: () => void;
  ended = false;

  constructor(readonly signal: AbortSignal) {
    signal.addEventListener('abort', () => this.push({ end: true }));
  }

  push(item: { event?: WatchEvent; error?: unknown; end?: true }) {
    this.queue.push(item);
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<WatchEvent> {
    try {
      for (;;) {
        const next = this.queue.shift();
        if (!next) {
          await new Promise<void>((resolve) => {
            this.wake = resolve;
          });
          continue;
        }
        if (next.end) return;
        if (next.error) throw next.error;
        yield next.event!;
      }
    } finally {
      this.ended = true;
    }
  }
}

/** An API server in memory: objects by group, a list answer from them, scripted watches. */
class FakeSource implements RolloutSource {
  readonly objects = new Map<string, Map<string, KubeObject>>();
  readonly lists: string[] = [];
  readonly streams = new Map<string, Stream[]>();
  /** Errors the next lists of a group throw, in order; `hang` never answers. */
  readonly listFailures = new Map<string, Array<unknown | 'hang'>>();
  private waiters: Array<() => void> = [];
  private version = 1;

  put(object: KubeObject) {
    const id = groupId(object, object.metadata.namespace);
    const group = this.objects.get(id) ?? new Map<string, KubeObject>();
    group.set(object.metadata.name, object);
    this.objects.set(id, group);
  }

  async list(kind: KindRef, namespace: string | undefined) {
    const id = groupId(kind, namespace);
    this.lists.push(id);
    const failure = this.listFailures.get(id)?.shift();
    if (failure === 'hang') return new Promise<never>(() => {});
    if (failure) throw failure;
    return { items: [...(this.objects.get(id)?.values() ?? [])], resourceVersion: String(this.version++) };
  }

  watch(kind: KindRef, namespace: string | undefined, _resourceVersion: string, signal: AbortSignal) {
    const id = groupId(kind, namespace);
    const stream = new Stream(signal);
    this.streams.set(id, [...(this.streams.get(id) ?? []), stream]);
    for (const wake of this.waiters.splice(0)) wake();
    return stream;
  }

  /** Resolves once the group has had `count` watches opened. */
  async watching(id: string, count = 1): Promise<Stream> {
    while ((this.streams.get(id)?.length ?? 0) < count)
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    return this.streams.get(id)![count - 1]!;
  }

  /** A change on the server: stored, and sent to the group's open watch. */
  emit(type: WatchEvent['type'], object: KubeObject) {
    const id = groupId(object, object.metadata.namespace);
    if (type === 'DELETED') this.objects.get(id)?.delete(object.metadata.name);
    else this.put(object);
    this.streams.get(id)?.at(-1)?.push({ event: { type, object } });
  }
}

function deployment(
  name: string,
  namespace: string,
  state: 'old' | 'ready' | 'stuck' | 'deadline',
): KubeObject {
  const status = {
    old: { observedGeneration: 1, replicas: 3, updatedReplicas: 3, availableReplicas: 3 },
    ready: { observedGeneration: 2, replicas: 3, updatedReplicas: 3, availableReplicas: 3 },
    stuck: { observedGeneration: 2, replicas: 3, updatedReplicas: 3, availableReplicas: 1 },
    deadline: {
      observedGeneration: 2,
      replicas: 3,
      updatedReplicas: 1,
      conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded' }],
    },
  }[state];
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace, generation: 2 },
    spec: { replicas: 3 },
    status,
  };
}

function statefulSet(name: string, namespace: string, readyReplicas: number): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name, namespace, generation: 1 },
    spec: { replicas: 2, updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 0 } } },
    status: { observedGeneration: 1, readyReplicas, updatedReplicas: 2 },
  };
}

const desired = (object: KubeObject): KubeObject => ({
  apiVersion: object.apiVersion,
  kind: object.kind,
  metadata: {
    name: object.metadata.name,
    ...(object.metadata.namespace ? { namespace: object.metadata.namespace } : {}),
  },
});

const transient = (message: string) => Object.assign(new Error(message), { transient: true });
const HOUR = 3_600_000;

test('a hundred workloads of one kind and namespace settle from one list and one watch', async () => {
  const source = new FakeSource();
  const names = Array.from({ length: 100 }, (_, index) => `web-${String(index).padStart(3, '0')}`);
  // Ten are already rolled out when listed; the rest wait for the new generation to be observed.
  for (const [index, name] of names.entries())
    source.put(deployment(name, 'staging', index < 10 ? 'ready' : 'old'));
  source.put(deployment('someone-else', 'staging', 'old'));
  const progress: Array<[number, number, number]> = [];
  const waiting = waitForRollouts(
    source,
    names.map((name) => desired(deployment(name, 'staging', 'old'))),
    HOUR,
    (...counts) => progress.push(counts),
  );
  await source.watching('Deployment/staging');
  assert.equal(progress.length, 10, 'the ten already rolled out settle from the list');
  // Events of objects nobody waits for change nothing.
  source.emit('MODIFIED', deployment('someone-else', 'staging', 'stuck'));
  for (const name of names.slice(10)) source.emit('MODIFIED', deployment(name, 'staging', 'ready'));
  const outcomes = await waiting;

  assert.deepEqual(source.lists, ['Deployment/staging'], 'one list for the group, none per workload');
  assert.equal(source.streams.get('Deployment/staging')?.length, 1, 'one watch for the group');
  assert.ok(source.streams.get('Deployment/staging')![0]!.ended, 'the watch is closed once all are settled');
  assert.equal(outcomes.length, 100);
  assert.deepEqual(
    outcomes.map((outcome) => outcome.object),
    names.map((name) => `Deployment/staging/${name}`),
  );
  for (const outcome of outcomes) {
    assert.equal(outcome.ok, true, outcome.object);
    assert.equal(outcome.message, `deployment "${outcome.object.split('/')[2]}" successfully rolled out`);
  }
  assert.deepEqual(
    progress.map(([done]) => done),
    names.map((_, index) => index + 1),
    'progress once per settled workload',
  );
  assert.ok(progress.every(([, total, failed]) => total === 100 && failed === 0));
});

test('one list and one watch per kind and namespace, all groups followed at once', async () => {
  const source = new FakeSource();
  const objects = [
    deployment('web', 'staging', 'old'),
    deployment('api', 'staging', 'old'),
    deployment('web', 'prod', 'old'),
    statefulSet('db', 'staging', 0),
    statefulSet('cache', 'staging', 0),
  ];
  for (const object of objects) source.put(object);
  const waiting = waitForRollouts(source, objects.map(desired), HOUR);
  // Every group's watch is open before any of them settles: no group waits for another.
  const [deployments, prod, sets] = await Promise.all([
    source.watching('Deployment/staging'),
    source.watching('Deployment/prod'),
    source.watching('StatefulSet/staging'),
  ]);
  assert.ok(deployments && prod && sets);
  source.emit('MODIFIED', statefulSet('db', 'staging', 2));
  source.emit('MODIFIED', deployment('web', 'prod', 'ready'));
  source.emit('MODIFIED', deployment('web', 'staging', 'ready'));
  source.emit('MODIFIED', statefulSet('cache', 'staging', 2));
  source.emit('MODIFIED', deployment('api', 'staging', 'deadline'));
  const outcomes = await waiting;

  assert.deepEqual([...source.lists].sort(), [
    'Deployment/prod',
    'Deployment/staging',
    'StatefulSet/staging',
  ]);
  assert.deepEqual(
    outcomes.map((outcome) => [outcome.object, outcome.ok, outcome.message]),
    [
      ['Deployment/prod/web', true, 'deployment "web" successfully rolled out'],
      ['Deployment/staging/api', false, 'deployment "api" exceeded its progress deadline'],
      ['Deployment/staging/web', true, 'deployment "web" successfully rolled out'],
      ['StatefulSet/staging/cache', true, 'partitioned roll out complete: 2 new pods have been updated...'],
      ['StatefulSet/staging/db', true, 'partitioned roll out complete: 2 new pods have been updated...'],
    ],
  );
});

test('a transient watch error or a watch ERROR event re-lists and watches again', async () => {
  const source = new FakeSource();
  source.put(deployment('web', 'staging', 'old'));
  source.put(deployment('api', 'staging', 'old'));
  const waiting = waitForRollouts(
    source,
    [desired(deployment('web', 'staging', 'old')), desired(deployment('api', 'staging', 'old'))],
    HOUR,
  );
  const first = await source.watching('Deployment/staging', 1);
  // While no watch is open, web finishes: only the fresh list can tell.
  first.push({ error: transient('connection reset by peer') });
  source.put(deployment('web', 'staging', 'ready'));
  const second = await source.watching('Deployment/staging', 2);
  // 410 Gone: the resourceVersion is too old, list again.
  second.push({
    event: {
      type: 'ERROR',
      object: { kind: 'Status', code: 410, reason: 'Expired' } as unknown as KubeObject,
    },
  });
  source.put(deployment('api', 'staging', 'ready'));
  const outcomes = await waiting;

  assert.deepEqual(source.lists, ['Deployment/staging', 'Deployment/staging', 'Deployment/staging']);
  assert.deepEqual(
    outcomes.map((outcome) => [outcome.object, outcome.ok]),
    [
      ['Deployment/staging/api', true],
      ['Deployment/staging/web', true],
    ],
  );
});

test('a watch the server ends normally is resumed from a fresh list', async () => {
  const source = new FakeSource();
  source.put(deployment('web', 'staging', 'old'));
  const waiting = waitForRollouts(source, [desired(deployment('web', 'staging', 'old'))], HOUR);
  const first = await source.watching('Deployment/staging', 1);
  source.emit('MODIFIED', deployment('web', 'staging', 'stuck'));
  first.push({ end: true });
  const second = await source.watching('Deployment/staging', 2);
  assert.equal(second.ended, false);
  source.emit('MODIFIED', deployment('web', 'staging', 'ready'));
  const [outcome] = await waiting;
  assert.equal(outcome?.ok, true);
  assert.equal(source.lists.length, 2);
});

test('transient failures in a row are retried a bounded number of times, then the group fails', async () => {
  const source = new FakeSource();
  source.put(deployment('web', 'staging', 'old'));
  source.put(deployment('web', 'prod', 'ready'));
  source.listFailures.set('Deployment/staging', [
    transient('the server is currently unable to handle the request'),
    transient('the server is currently unable to handle the request'),
    transient('the server is currently unable to handle the request'),
    transient('the server is currently unable to handle the request'),
  ]);
  const outcomes = await waitForRollouts(
    source,
    [desired(deployment('web', 'staging', 'old')), desired(deployment('web', 'prod', 'old'))],
    HOUR,
  );
  assert.deepEqual(
    outcomes.map((outcome) => [outcome.object, outcome.ok, outcome.message]),
    [
      ['Deployment/prod/web', true, 'deployment "web" successfully rolled out'],
      [
        'Deployment/staging/web',
        false,
        'gave up watching Deployment objects in namespace staging after 3 failed attempts: the server is currently unable to handle the request',
      ],
    ],
  );
  assert.equal(source.lists.filter((id) => id === 'Deployment/staging').length, 3);
});

test('an error that is not transient fails the pending workloads of its group with its message', async () => {
  const source = new FakeSource();
  source.put(deployment('web', 'staging', 'old'));
  source.listFailures.set('Deployment/staging', [
    new Error('deployments.apps is forbidden: User "ci" cannot list resource "deployments"'),
  ]);
  const [outcome] = await waitForRollouts(source, [desired(deployment('web', 'staging', 'old'))], HOUR);
  assert.equal(outcome?.ok, false);
  assert.equal(
    outcome?.message,
    'could not follow the rollout: deployments.apps is forbidden: User "ci" cannot list resource "deployments"',
  );
  assert.equal(source.lists.length, 1, 'not retried');
});

test('a workload deleted while waited for fails; so does one missing from a later list', async () => {
  const source = new FakeSource();
  for (const name of ['web', 'api', 'worker']) source.put(deployment(name, 'staging', 'old'));
  const progress: Array<[number, number, number]> = [];
  const waiting = waitForRollouts(
    source,
    ['web', 'api', 'worker'].map((name) => desired(deployment(name, 'staging', 'old'))),
    HOUR,
    (...counts) => progress.push(counts),
  );
  const first = await source.watching('Deployment/staging', 1);
  source.emit('DELETED', deployment('web', 'staging', 'old'));
  // api goes while no watch is open: the next list no longer has it.
  first.push({ error: transient('http2: client connection lost') });
  source.objects.get('Deployment/staging')?.delete('api');
  await source.watching('Deployment/staging', 2);
  source.emit('MODIFIED', deployment('worker', 'staging', 'ready'));
  const outcomes = await waiting;
  assert.deepEqual(
    outcomes.map((outcome) => [outcome.object, outcome.ok, outcome.message]),
    [
      ['Deployment/staging/api', false, 'deleted while waiting for its rollout'],
      ['Deployment/staging/web', false, 'deleted while waiting for its rollout'],
      ['Deployment/staging/worker', true, 'deployment "worker" successfully rolled out'],
    ],
  );
  assert.deepEqual(progress, [
    [1, 3, 1],
    [2, 3, 2],
    [3, 3, 2],
  ]);
});

test('at the deadline each unsettled workload fails, saying what it was still waiting for', async () => {
  const source = new FakeSource();
  source.put(deployment('web', 'staging', 'stuck'));
  source.put(deployment('api', 'staging', 'ready'));
  // A list that never answers must not hold the wait past its deadline either.
  source.listFailures.set('StatefulSet/staging', ['hang']);
  const outcomes = await waitForRollouts(
    source,
    [
      desired(deployment('web', 'staging', 'old')),
      desired(deployment('api', 'staging', 'old')),
      desired(deployment('ghost', 'staging', 'old')),
      desired(statefulSet('db', 'staging', 0)),
    ],
    200,
  );
  assert.deepEqual(
    outcomes.map((outcome) => [outcome.object, outcome.ok, outcome.message]),
    [
      ['Deployment/staging/api', true, 'deployment "api" successfully rolled out'],
      [
        'Deployment/staging/ghost',
        false,
        'timed out after 200ms waiting for the rollout; last status: not found in the cluster yet',
      ],
      [
        'Deployment/staging/web',
        false,
        'timed out after 200ms waiting for the rollout; last status: Waiting for deployment "web" rollout to finish: 1 of 3 updated replicas are available',
      ],
      [
        'StatefulSet/staging/db',
        false,
        'timed out after 200ms waiting for the rollout; last status: not found in the cluster yet',
      ],
    ],
  );
  assert.ok(
    source.streams.get('Deployment/staging')![0]!.signal.aborted,
    'the watch is told to stop at the deadline',
  );
});

test('an abort rejects with INTERRUPTED and closes the watches; it is not a failed rollout', async () => {
  const source = new FakeSource();
  source.put(deployment('web', 'staging', 'old'));
  const controller = new AbortController();
  const progress: unknown[] = [];
  const waiting = waitForRollouts(
    source,
    [desired(deployment('web', 'staging', 'old'))],
    HOUR,
    (...counts) => progress.push(counts),
    controller.signal,
  );
  const stream = await source.watching('Deployment/staging');
  controller.abort();
  await assert.rejects(waiting, (error: unknown) => {
    assert.ok(error instanceof GitopsError);
    assert.equal(error.code, 'INTERRUPTED');
    assert.equal(error.exitCode, 130);
    return true;
  });
  assert.ok(stream.signal.aborted, 'the watch was told to stop');
  assert.deepEqual(progress, [], 'nothing was reported as settled');

  const already = new AbortController();
  already.abort();
  await assert.rejects(
    waitForRollouts(source, [desired(deployment('web', 'staging', 'old'))], HOUR, undefined, already.signal),
    /interrupted/,
  );
});

test('nothing to wait for: no list, no watch', async () => {
  const source = new FakeSource();
  assert.deepEqual(await waitForRollouts(source, [], HOUR), []);
  assert.deepEqual(source.lists, []);
});
