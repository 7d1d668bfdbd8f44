import type { EnvironmentConfig } from '../config/types.js';
import { KubeApiError } from '../kube/client/client.js';
import { crdScopes, displayName, FIELD_MANAGER, groupKind, type KubeObject } from '../kube/objects.js';
import { decorate } from './apply.js';
import { type Cluster, inParallel } from './cluster.js';

/** What the API server said about one object of the set. */
export type DryRunVerdict =
  | { status: 'accepted' }
  /** The server cannot judge it yet: its CRD or its namespace is created by the same apply. */
  | { status: 'deferred'; why: 'crd' | 'namespace' }
  | { status: 'refused'; message: string };

export interface DryRunResult {
  /** One verdict per object, in the order given. */
  verdicts: DryRunVerdict[];
}

/**
 * The namespace a dry run borrows for objects whose namespace the same apply creates: it exists
 * in every cluster, and only the server's validation of the object is trusted from that run.
 */
const STAND_IN_NAMESPACE = 'default';
/** Dry runs at once: like an apply, they are one request per object. */
const PARALLEL = 16;

/**
 * A server-side dry run (`dryRun=All`) of each object of a set, at once: the API server's verdict
 * for every object, in order. `write` is the request: an apply or a create.
 */
async function dryRunSet(
  cluster: Cluster,
  objects: readonly KubeObject[],
  write: 'apply' | 'create',
): Promise<Array<{ ok: true } | { ok: false; message: string }>> {
  return inParallel(objects, PARALLEL, async (object) => {
    try {
      if (write === 'apply')
        await cluster.client.apply(object, { fieldManager: FIELD_MANAGER, force: true, dryRun: true });
      else await cluster.client.create(object, { fieldManager: FIELD_MANAGER, dryRun: true });
      return { ok: true } as const;
    } catch (error) {
      if (!(error instanceof KubeApiError)) throw error;
      // A dry run the server could not answer (throttled, down) is not a verdict on the object.
      if (error.transient) throw cluster.clusterError(error, `the server dry run of ${displayName(object)}`);
      return { ok: false, message: error.message } as const;
    }
  });
}

const UNKNOWN_KIND =
  /no matches for kind|the server doesn't have a resource type|could not find the requested resource|ensure CRDs are installed first/i;
const MISSING_NAMESPACE = /namespaces? "([^"]+)" not found/;
/** What only the object itself can cause (schema, validation): trusted from a stand-in run. */
const INVALID_OBJECT =
  /\(Invalid\)|\(BadRequest\)| is invalid|cannot be handled as|field not declared in schema|unknown field|strict decoding/i;

/** Which of the namespaces the set creates the cluster does not have yet. */
async function absentNamespaces(cluster: Cluster, names: ReadonlySet<string>): Promise<Set<string>> {
  const found = await inParallel([...names], PARALLEL, (name) =>
    cluster.call(`reading Namespace/${name}`, (client) =>
      client.get({ apiVersion: 'v1', kind: 'Namespace', name }),
    ),
  );
  return new Set([...names].filter((_, index) => found[index] === undefined));
}

/**
 * Asks the API server whether it would accept an environment's objects, without changing
 * anything: a server-side apply with `dryRun=All`, as gitops'
 * field manager with conflicts forced, the same objects (labels and annotations included) the
 * apply will send. Objects whose namespace the set itself creates are checked in a stand-in
 * namespace with a dry-run create (only the object's own validity is taken from that: an object
 * of that name may exist there); custom resources whose CRD the set creates are left to the
 * apply, which installs the CRD first. Everything else the server refuses is refused here.
 */
export async function serverDryRun(
  cluster: Cluster,
  environment: EnvironmentConfig,
  objects: readonly KubeObject[],
  revision: string,
): Promise<DryRunResult> {
  const decorated = objects.map((object) => decorate(object, environment, revision));
  const createdNamespaces = new Set(
    decorated.filter((object) => object.kind === 'Namespace').map((object) => object.metadata.name),
  );
  const createdKinds = crdScopes(decorated);
  const absent = await absentNamespaces(cluster, createdNamespaces);
  // An object in a namespace that does not exist yet can only be refused with "namespace not
  // found": it goes straight to the stand-in, one request instead of two (a first deploy).
  // (A custom resource of a CRD the set installs is asked as before: the answer says which wait.)
  const awaitingNamespace = (object: KubeObject) =>
    object.metadata.namespace !== undefined &&
    absent.has(object.metadata.namespace) &&
    !createdKinds.has(groupKind(object));
  const toApply = decorated.filter((object) => !awaitingNamespace(object));
  const appliedOutcomes = await dryRunSet(cluster, toApply, 'apply');
  let nextApplied = 0;
  const verdicts: DryRunVerdict[] = decorated.map((object) => {
    if (awaitingNamespace(object)) return { status: 'deferred', why: 'namespace' };
    const outcome = appliedOutcomes[nextApplied++]!;
    if (outcome.ok) return { status: 'accepted' };
    if (UNKNOWN_KIND.test(outcome.message) && createdKinds.has(groupKind(object)))
      return { status: 'deferred', why: 'crd' };
    const namespace = MISSING_NAMESPACE.exec(outcome.message)?.[1];
    if (namespace !== undefined && namespace === object.metadata.namespace) {
      if (createdNamespaces.has(namespace)) return { status: 'deferred', why: 'namespace' };
      return {
        status: 'refused',
        message: `namespace ${namespace} does not exist, and the environment does not declare it: ${outcome.message}`,
      };
    }
    return { status: 'refused', message: outcome.message };
  });

  const standIns = verdicts.flatMap((verdict, index) =>
    verdict.status === 'deferred' && verdict.why === 'namespace' ? [index] : [],
  );
  const created = await dryRunSet(
    cluster,
    standIns.map((index) => {
      const copy = structuredClone(decorated[index]!);
      copy.metadata.namespace = STAND_IN_NAMESPACE;
      return copy;
    }),
    'create',
  );
  for (const [position, outcome] of created.entries()) {
    if (outcome.ok || !INVALID_OBJECT.test(outcome.message)) continue;
    verdicts[standIns[position]!] = { status: 'refused', message: outcome.message };
  }
  return { verdicts };
}
