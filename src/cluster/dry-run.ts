import type { EnvironmentConfig } from '../config/types.js';
import { crdScopes, FIELD_MANAGER, groupKind, groupOf, type KubeObject } from '../kube/objects.js';
import { decorate } from './apply.js';
import type { Kubectl } from './kubectl.js';

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
const PARALLEL = 4;

/** `kubectl -o name` of an object: `deployment.apps/web`, `configmap/ok`. */
function printedName(object: KubeObject): string {
  const group = groupOf(object.apiVersion);
  return `${object.kind.toLowerCase()}${group ? `.${group}` : ''}/${object.metadata.name}`;
}

/** One line of everything kubectl said on stderr (server messages can span lines). */
function oneLine(stderr: string): string {
  return stderr
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .join(' ');
}

async function inParallel<T, R>(items: readonly T[], run: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      out[index] = await run(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, items.length) }, worker));
  return out;
}

/**
 * A server-side dry run (`dryRun=All`) of a set of objects, one kubectl call for the whole set;
 * only when the server refuses something is each object not confirmed asked again on its own,
 * for its own message. `args` is the kubectl verb and its flags.
 */
async function dryRunSet(
  kubectl: Kubectl,
  objects: readonly KubeObject[],
  args: readonly string[],
): Promise<Array<{ ok: true } | { ok: false; message: string }>> {
  const run = (items: readonly KubeObject[]) =>
    kubectl.run([...args, '--dry-run=server', '-o', 'name', '-f', '-'], {
      input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items }),
      // Nothing is written: a dry run is a read, and runs under gitops --dry-run too.
      read: true,
      allowFailure: true,
      timeoutMs: 120_000,
    });
  if (objects.length === 0) return [];
  const batch = await run(objects);
  if (batch.exitCode === 0) return objects.map(() => ({ ok: true }));
  const printed = new Map<string, number>();
  for (const line of batch.stdout.split('\n').filter(Boolean)) {
    const name = line.trim().split(/\s+/)[0]!;
    printed.set(name, (printed.get(name) ?? 0) + 1);
  }
  const named = new Map<string, number>();
  for (const object of objects) named.set(printedName(object), (named.get(printedName(object)) ?? 0) + 1);
  // Printed as many times as the set names it: every object of that name passed.
  const confirmed = (object: KubeObject) =>
    (printed.get(printedName(object)) ?? 0) === named.get(printedName(object));
  return inParallel(objects, async (object) => {
    if (confirmed(object)) return { ok: true } as const;
    const alone = await run([object]);
    return alone.exitCode === 0
      ? ({ ok: true } as const)
      : ({ ok: false, message: oneLine(alone.stderr) || `kubectl exited with ${alone.exitCode}` } as const);
  });
}

const UNKNOWN_KIND =
  /no matches for kind|the server doesn't have a resource type|could not find the requested resource|ensure CRDs are installed first/i;
const MISSING_NAMESPACE = /namespaces? "([^"]+)" not found/;
/** What only the object itself can cause (schema, validation): trusted from a stand-in run. */
const INVALID_OBJECT =
  /\(Invalid\)|\(BadRequest\)| is invalid|cannot be handled as|field not declared in schema|unknown field|strict decoding/i;

/**
 * Asks the API server whether it would accept an environment's objects, without changing
 * anything: a server-side apply with `--dry-run=server` (the request's `dryRun=All`), as gitops'
 * field manager with conflicts forced, the same objects (labels and annotations included) the
 * apply will send. Objects whose namespace the set itself creates are checked in a stand-in
 * namespace with a dry-run create (only the object's own validity is taken from that: an object
 * of that name may exist there); custom resources whose CRD the set creates are left to the
 * apply, which installs the CRD first. Everything else the server refuses is refused here.
 */
export async function serverDryRun(
  kubectl: Kubectl,
  environment: EnvironmentConfig,
  objects: readonly KubeObject[],
  revision: string,
): Promise<DryRunResult> {
  const decorated = objects.map((object) => decorate(object, environment, revision));
  const createdNamespaces = new Set(
    decorated.filter((object) => object.kind === 'Namespace').map((object) => object.metadata.name),
  );
  const createdKinds = crdScopes(decorated);
  const applied = await dryRunSet(kubectl, decorated, [
    'apply',
    '--server-side',
    `--field-manager=${FIELD_MANAGER}`,
    '--force-conflicts',
  ]);
  const verdicts: DryRunVerdict[] = applied.map((outcome, index) => {
    if (outcome.ok) return { status: 'accepted' };
    const object = decorated[index]!;
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
    kubectl,
    standIns.map((index) => {
      const copy = structuredClone(decorated[index]!);
      copy.metadata.namespace = STAND_IN_NAMESPACE;
      return copy;
    }),
    ['create', `--field-manager=${FIELD_MANAGER}`],
  );
  for (const [position, outcome] of created.entries()) {
    if (outcome.ok || !INVALID_OBJECT.test(outcome.message)) continue;
    verdicts[standIns[position]!] = { status: 'refused', message: outcome.message };
  }
  return { verdicts };
}
