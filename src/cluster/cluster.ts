import type { EnvironmentConfig, GitopsConfig } from '../config/types.js';
import type { Context } from '../core/context.js';
import { KubeClient, type ResourceInfo } from '../kube/client/client.js';
import { groupKind, groupOf, type KubeObject } from '../kube/objects.js';

/** Up to this many objects are read one GET each; more, by listing their kinds. */
const BY_NAME_LIMIT = 20;
/** Requests one read sends at once: enough to hide latency, few enough not to be throttled. */
export const READ_PARALLELISM = 16;

/** Runs `run` over items with at most `limit` at once; results in the items' order. */
export async function inParallel<T, R>(
  items: readonly T[],
  limit: number,
  run: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      out[index] = await run(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/**
 * The cluster of one environment: the in-process API client for its kubeconfig and context,
 * and the reads every operation shares (lists by kind, objects by name), each failure said as
 * what was being done and the server's own words.
 */
export class Cluster {
  private connected?: KubeClient;

  constructor(
    private readonly ctx: Context,
    private readonly config: GitopsConfig,
    private readonly environment: EnvironmentConfig,
    /** The cluster this one was made from by withContext. */
    private readonly from?: Cluster,
  ) {}

  /** The API client, connected on first use: commands that never reach the cluster read no kubeconfig. */
  get client(): KubeClient {
    this.connected ??= this.from
      ? this.from.client.withContext(this.ctx)
      : KubeClient.connect(this.ctx, {
          cwd: this.config.dir,
          kubeconfig: this.environment.kubeconfig,
          context: this.environment.kubeContext,
        });
    return this.connected;
  }

  /**
   * The same cluster through a context of its own (a clean-up that must outlive an interrupt):
   * its client shares this one's connections and discovery (KubeClient.withContext).
   */
  withContext(ctx: Context): Cluster {
    return new Cluster(ctx, this.config, this.environment, this);
  }

  /** The namespace the kubeconfig context names; undefined when it names none or cannot be read. */
  contextNamespace(): string | undefined {
    try {
      return this.client.defaultNamespace;
    } catch {
      // No kubeconfig yet: the first request says so, with the hint to fix it.
      return undefined;
    }
  }

  clusterError(error: unknown, what: string): unknown {
    return this.client.clusterError(error, what);
  }

  /** Runs a request, its failure said as `<what> failed: <server's words>` (exit 3). */
  async call<T>(what: string, request: (client: KubeClient) => Promise<T>): Promise<T> {
    try {
      return await request(this.client);
    } catch (error) {
      throw this.clusterError(error, what);
    }
  }

  /** The server's version (`v1.32.9`), asked once per run; proves the cluster is reachable. */
  serverVersion(): Promise<string | undefined> {
    return this.call('reaching the cluster', (client) => client.serverVersion());
  }

  /**
   * What the server serves for `Kind.group` (each group at its preferred version, as kubectl
   * resolves `deployments.apps`), or undefined when it serves no such kind (a CRD not installed).
   */
  async resolve(kindName: string): Promise<ResourceInfo | undefined> {
    const dot = kindName.indexOf('.');
    const kind = dot === -1 ? kindName : kindName.slice(0, dot);
    const group = dot === -1 ? '' : kindName.slice(dot + 1);
    if (!group) return this.client.resource('v1', kind);
    const groupVersion = await this.client.preferredVersion(group);
    return groupVersion ? this.client.resource(groupVersion, kind) : undefined;
  }

  /**
   * Starts resolving these kinds (`Kind.group`) without waiting, so that reads of them sent later
   * find discovery done. A failure is not reported here: the read that needs the kind asks again
   * and says why.
   */
  prepare(kindNames: readonly string[]): void {
    for (const kindName of new Set(kindNames)) this.resolve(kindName).catch(() => undefined);
  }

  /** Lists and watches for following rollouts (rollout.ts), failures said as the server said them. */
  rolloutSource(): {
    list(
      kind: { apiVersion: string; kind: string },
      namespace: string | undefined,
    ): Promise<{ items: KubeObject[]; resourceVersion: string }>;
    watch: KubeClient['watch'];
  } {
    return {
      list: (kind, namespace) => this.client.list(kind, { namespace }),
      watch: (kind, namespace, resourceVersion, signal) =>
        this.client.watch(kind, namespace, resourceVersion, signal),
    };
  }

  /**
   * Every object of these kinds (`Kind.group`), in a namespace or everywhere when undefined: one
   * LIST per kind, at once. Kinds the server does not serve (a CRD not installed yet) have none.
   */
  async list(
    kinds: readonly string[],
    options: { namespace?: string; labelSelector?: string },
  ): Promise<KubeObject[]> {
    const lists = await inParallel(kinds, READ_PARALLELISM, async (kindName) => {
      const info = await this.call('discovering the kinds the cluster serves', () => this.resolve(kindName));
      if (!info) {
        this.ctx.reporter.debug(
          `the cluster has no resource type ${kindName} (yet): none of its objects exist`,
        );
        return [];
      }
      const { items } = await this.call(`reading ${kindName} from the cluster`, (client) =>
        client.list(info, {
          namespace: options.namespace,
          ...(options.labelSelector ? { labelSelector: options.labelSelector } : {}),
        }),
      );
      return items;
    });
    return lists.flat();
  }

  /**
   * The live versions of these objects, whatever their labels: by name for a few objects (one GET
   * each, at once), else a LIST of their kinds filtered by name (a first deploy of a thousand
   * objects must not cost a thousand requests). Absent objects, and objects of kinds the server
   * does not serve yet, are left out.
   */
  async getByName(objects: readonly KubeObject[]): Promise<KubeObject[]> {
    if (objects.length <= BY_NAME_LIMIT) {
      const found = await inParallel(objects, READ_PARALLELISM, async (object) => {
        const info = await this.call('discovering the kinds the cluster serves', () =>
          this.resolve(groupKind(object)),
        );
        if (!info) return undefined;
        return this.call(`reading ${groupKind(object)}/${object.metadata.name}`, (client) =>
          client.get({
            apiVersion: info.apiVersion,
            kind: info.kind,
            name: object.metadata.name,
            namespace: object.metadata.namespace,
          }),
        );
      });
      return found.filter((object): object is KubeObject => object !== undefined);
    }
    const byScope = new Map<
      string,
      { kindName: string; namespace: string | undefined; names: Set<string> }
    >();
    for (const object of objects) {
      const kindName = groupKind(object);
      const key = `${kindName} ${object.metadata.namespace ?? ''}`;
      let entry = byScope.get(key);
      if (!entry) {
        entry = { kindName, namespace: object.metadata.namespace, names: new Set() };
        byScope.set(key, entry);
      }
      entry.names.add(object.metadata.name);
    }
    const lists = await inParallel([...byScope.values()], READ_PARALLELISM, async (entry) => {
      const listed = await this.list([entry.kindName], entry.namespace ? { namespace: entry.namespace } : {});
      return listed.filter(
        (object) =>
          entry.names.has(object.metadata.name) &&
          (entry.namespace === undefined || object.metadata.namespace === entry.namespace),
      );
    });
    return lists.flat();
  }
}

/** `deployment.apps/web`: how kubectl names an object in its output. */
export function printedName(object: Pick<KubeObject, 'apiVersion' | 'kind' | 'metadata'>): string {
  const group = groupOf(object.apiVersion);
  return `${object.kind.toLowerCase()}${group ? `.${group}` : ''}/${object.metadata.name}`;
}
