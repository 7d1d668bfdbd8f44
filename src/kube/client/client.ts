import type { IncomingMessage } from 'node:http';
import type { Context } from '../../core/context.js';
import { GitopsError } from '../../core/errors.js';
import { beforeRunning } from '../../core/exec.js';
import { ExitCode } from '../../core/exit-codes.js';
import { sleep } from '../../core/sleep.js';
import { groupOf, type KubeObject } from '../objects.js';
import { CredentialSource } from './credentials.js';
import { type ClusterEndpoint, loadKubeconfig } from './kubeconfig.js';
import { type HttpResponse, NetworkError, type RequestOptions, Transport } from './transport.js';

/** How many times a read is tried when the API server throttles, fails or the request hangs. */
export const READ_ATTEMPTS = 3;
/**
 * Throttled answers (429) a read waits out on top of its attempts, as client-go does for a
 * Retry-After: an API server shedding load says when to come back, it has not failed.
 */
const THROTTLED_RETRIES = 10;
/** A Retry-After longer than this is not waited for: the read fails instead. */
const MAX_RETRY_AFTER_MS = 10_000;
const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/** An object's identity, enough to address it on the API server. */
export interface ObjectRef {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string | undefined;
}

/** The address of an object. */
export function refOf(object: KubeObject): ObjectRef {
  return {
    apiVersion: object.apiVersion,
    kind: object.kind,
    name: object.metadata.name,
    namespace: object.metadata.namespace,
  };
}

/** What discovery says about a kind: its resource (plural) name and scope. */
export interface ResourceInfo {
  apiVersion: string;
  kind: string;
  resource: string;
  namespaced: boolean;
  verbs: readonly string[];
}

/** The `Status` body the API server sends with a failure. */
interface StatusBody {
  kind?: string;
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: { causes?: Array<{ field?: string; message?: string; reason?: string }> };
}

/** A request the API server answered with an error status (or never answered). */
export class KubeApiError extends Error {
  constructor(
    /** 0 when no HTTP answer came (refused, reset, timed out). */
    readonly status: number,
    /** `NotFound`, `Conflict`, `Invalid`, `Forbidden`, …; the network error's message when status is 0. */
    readonly reason: string,
    message: string,
    /** True for what another attempt may not see: throttling, 5xx, resets, timeouts. */
    readonly transient: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'KubeApiError';
  }
}

const REASONS: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  409: 'Conflict',
  410: 'Gone',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

/** 429 and 5xx: the server may answer differently a moment later. */
function isTransientStatus(status: number): boolean {
  return status === 429 || (status >= 500 && status !== 501);
}

/** The API server's error in kubectl's words (`Error from server (NotFound): …`), so users recognise it. */
function apiError(response: HttpResponse): KubeApiError {
  let status: StatusBody = {};
  try {
    status = JSON.parse(response.body) as StatusBody;
  } catch {
    // A proxy or load balancer in front may answer with HTML or plain text.
  }
  const reason = status.reason || REASONS[response.status] || `HTTP${response.status}`;
  const text =
    status.message ||
    response.body.trim().split('\n')[0]?.slice(0, 300) ||
    `the server answered ${response.status}`;
  return new KubeApiError(
    response.status,
    reason,
    `Error from server (${reason}): ${text}`,
    isTransientStatus(response.status),
  );
}

/** `/api/v1` or `/apis/apps/v1`. */
export function groupVersionPath(apiVersion: string): string {
  return apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
}

type ClientContext = Pick<Context, 'exec' | 'masker' | 'env' | 'reporter' | 'signal'>;

/** What discovery said, asked once per run: the server's version, group list and each group version's kinds. */
interface Discovery {
  groupVersions: Map<string, Promise<Map<string, ResourceInfo> | undefined>>;
  groups?: Promise<Map<string, string>>;
  serverVersion?: Promise<string | undefined>;
}

export interface ClientOptions {
  /** Milliseconds one request may take; GITOPS_KUBECTL_REQUEST_TIMEOUT by default. */
  requestTimeoutMs?: number;
  /** For messages: which kube context to check when the cluster cannot be reached. */
  hint?: string;
}

/** Parses the request timeout override (kubectl duration syntax: 30s, 2m, 500ms, or seconds). */
export function requestTimeoutMs(env: Record<string, string | undefined>): number {
  const value = env.GITOPS_KUBECTL_REQUEST_TIMEOUT?.trim();
  if (!value) return DEFAULT_REQUEST_TIMEOUT_MS;
  const match = /^(\d+)(ms|s|m|h)?$/.exec(value);
  if (!match) {
    throw new GitopsError(
      'INVALID_REQUEST_TIMEOUT',
      `GITOPS_KUBECTL_REQUEST_TIMEOUT=${value} is not a duration such as 30s or 2m`,
      { exitCode: ExitCode.Usage, hint: 'unset it to use the default (30s)' },
    );
  }
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(match[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  // kubectl reads 0 as "no timeout": a day is as good as forever for one request.
  return Number(match[1]) * unit || 86_400_000;
}

/**
 * The one in-process Kubernetes API client of a run: every read, server-side apply, delete,
 * dry run and watch. Reads are retried a bounded number of times on throttling, server errors,
 * resets and hung requests; writes are not (a retried write could hide what happened). Writes
 * honour `--dry-run` where every subprocess does (core/exec.ts): they are echoed as skipped.
 */
export class KubeClient {
  private readonly transport: Transport;
  private readonly credentials: CredentialSource;
  private readonly timeoutMs: number;
  private readonly discovery: Discovery;

  constructor(
    private readonly ctx: ClientContext,
    readonly endpoint: ClusterEndpoint,
    private readonly options: ClientOptions = {},
    /** What a client made by withContext shares with the one it was made from. */
    shared?: { transport: Transport; credentials: CredentialSource; discovery: Discovery },
  ) {
    this.credentials = shared?.credentials ?? new CredentialSource(endpoint, ctx);
    this.transport = shared?.transport ?? new Transport(endpoint, this.credentials, 'gitops');
    this.discovery = shared?.discovery ?? { groupVersions: new Map() };
    this.timeoutMs = options.requestTimeoutMs ?? requestTimeoutMs(ctx.env);
  }

  /**
   * The same cluster for another context (a clean-up that must outlive an interrupt: no signal of
   * the run's): it shares this client's connections and what discovery said, so it costs no
   * handshake and no discovery request of its own, and uses the credentials this client holds
   * while they are valid; it renews them, if it must, under its own context.
   */
  withContext(ctx: ClientContext): KubeClient {
    const credentials = this.credentials.inheriting(ctx);
    return new KubeClient(ctx, this.endpoint, this.options, {
      credentials,
      transport: this.transport.withCredentials(credentials),
      discovery: this.discovery,
    });
  }

  /** A client for a kubeconfig file (or KUBECONFIG/in-cluster) and context. */
  static connect(
    ctx: Pick<Context, 'exec' | 'masker' | 'env' | 'reporter' | 'signal' | 'cwd'>,
    where: { cwd: string; kubeconfig?: string | undefined; context?: string | undefined },
  ): KubeClient {
    const endpoint = loadKubeconfig({
      env: ctx.env,
      cwd: where.cwd,
      ...(where.kubeconfig ? { kubeconfig: where.kubeconfig } : {}),
      ...(where.context ? { context: where.context } : {}),
    });
    return new KubeClient(ctx, endpoint, {
      hint: where.context
        ? `check access to kube context ${where.context}`
        : 'check KUBECONFIG / environments.<name>.kubeContext and that the cluster is reachable',
    });
  }

  /** The namespace the kubeconfig context names, if any. */
  get defaultNamespace(): string | undefined {
    return this.endpoint.namespace;
  }

  close(): void {
    this.transport.close();
  }

  /** Wraps a failure as exit 3 with the server's own message and what was being done. */
  clusterError(error: unknown, what: string): unknown {
    if (error instanceof KubeApiError) {
      return new GitopsError('CLUSTER_FAILED', `${what} failed: ${error.message}`, {
        exitCode: ExitCode.OperationFailed,
        hint:
          this.options.hint ??
          'check KUBECONFIG / environments.<name>.kubeContext and that the cluster is reachable',
        cause: error,
      });
    }
    return error;
  }

  /**
   * One request, with its answer parsed. `read` requests (GET, LIST, dry runs) are retried on
   * transient failures; others are sent once and skipped under `--dry-run`.
   */
  async request<T = unknown>(
    method: string,
    path: string,
    options: Omit<RequestOptions, 'timeoutMs'> & {
      read: boolean;
      timeoutMs?: number;
      notFound?: 'undefined';
    },
  ): Promise<T | undefined> {
    const url = this.transport.url(path, options.query);
    if (beforeRunning(this.ctx.exec.settings, `${method} ${url.pathname}${url.search}`, options.read))
      return undefined;
    const attempts = options.read ? READ_ATTEMPTS : 1;
    let throttled = 0;
    for (let attempt = 1; ; ) {
      let failure: KubeApiError;
      let retryAfterMs = 250 * attempt;
      try {
        const response = await this.transport.request(method, path, {
          ...options,
          timeoutMs: options.timeoutMs ?? this.timeoutMs,
          ...(this.ctx.signal ? { signal: this.ctx.signal } : {}),
        });
        if (response.status >= 200 && response.status < 300) {
          if (!response.body) return undefined;
          try {
            return JSON.parse(response.body) as T;
          } catch {
            // Something in front of the API server (a proxy, a login page) answered instead.
            throw new KubeApiError(
              response.status,
              'InvalidResponse',
              `${method} ${url.pathname}: the answer is not JSON (${response.body.trim().slice(0, 80)}…): is ${url.host} a Kubernetes API server?`,
              false,
            );
          }
        }
        if (response.status === 404 && options.notFound === 'undefined') return undefined;
        failure = apiError(response);
        const after = Number(response.headers['retry-after']);
        if (Number.isFinite(after) && after > 0) retryAfterMs = after * 1000;
      } catch (error) {
        if (this.ctx.signal?.aborted)
          throw new GitopsError('INTERRUPTED', `interrupted during ${method} ${url.pathname}`, {
            exitCode: ExitCode.Interrupted,
          });
        if (!(error instanceof NetworkError)) throw error;
        failure = new KubeApiError(0, error.message, `${method} ${url.host}: ${error.message}`, true, {
          cause: error,
        });
      }
      if (!failure.transient || retryAfterMs > MAX_RETRY_AFTER_MS) throw failure;
      const waitOut = options.read && failure.status === 429 && throttled < THROTTLED_RETRIES;
      if (waitOut) throttled++;
      else if (attempt >= attempts) throw failure;
      else attempt++;
      this.ctx.reporter.debug(
        `${method} ${url.pathname}: ${waitOut ? 'throttled' : `transient failure (attempt ${attempt - 1}/${attempts})`}: ${failure.message}`,
      );
      await sleep(retryAfterMs, this.ctx.signal);
    }
  }

  /** The server's version (`v1.32.9`), asked once per client: renders that depend on it agree. */
  serverVersion(): Promise<string | undefined> {
    this.discovery.serverVersion ??= this.request<{ gitVersion?: string }>('GET', '/version', {
      read: true,
      timeoutMs: Math.min(this.timeoutMs, 10_000),
    }).then((version) => version?.gitVersion);
    return this.discovery.serverVersion;
  }

  /** The kinds of one group version, asked once per run; undefined when the server does not serve it. */
  private groupVersion(apiVersion: string): Promise<Map<string, ResourceInfo> | undefined> {
    let found = this.discovery.groupVersions.get(apiVersion);
    if (!found) {
      found = this.request<{
        resources?: Array<{ name: string; kind: string; namespaced: boolean; verbs?: string[] }>;
      }>('GET', groupVersionPath(apiVersion), { read: true, notFound: 'undefined' }).then((list) => {
        if (!list) return undefined;
        const kinds = new Map<string, ResourceInfo>();
        for (const resource of list.resources ?? []) {
          // Subresources (`deployments/scale`) share their parent's kind.
          if (resource.name.includes('/')) continue;
          kinds.set(resource.kind, {
            apiVersion,
            kind: resource.kind,
            resource: resource.name,
            namespaced: resource.namespaced,
            verbs: resource.verbs ?? [],
          });
        }
        return kinds;
      });
      // A failed discovery is asked again next time, not remembered.
      found.catch(() => this.discovery.groupVersions.delete(apiVersion));
      this.discovery.groupVersions.set(apiVersion, found);
    }
    return found;
  }

  /** What the server serves for a kind, or undefined (a CRD not installed yet). */
  async resource(apiVersion: string, kind: string): Promise<ResourceInfo | undefined> {
    return (await this.groupVersion(apiVersion))?.get(kind);
  }

  /** Forgets what discovery said about a group version (after its CRD was created). */
  forget(apiVersion: string): void {
    this.discovery.groupVersions.delete(apiVersion);
  }

  /** Group → its preferred group version (`apps` → `apps/v1`), from one `/apis` per run. */
  private preferredVersions(): Promise<Map<string, string>> {
    this.discovery.groups ??= this.request<{
      groups?: Array<{ name: string; preferredVersion?: { groupVersion: string } }>;
    }>('GET', '/apis', { read: true }).then(
      (list) =>
        new Map(
          (list?.groups ?? []).flatMap((group) =>
            group.preferredVersion ? [[group.name, group.preferredVersion.groupVersion] as const] : [],
          ),
        ),
    );
    // A failed list is asked again next time, not remembered.
    this.discovery.groups.catch(() => {
      this.discovery.groups = undefined;
    });
    return this.discovery.groups;
  }

  /**
   * The preferred group version of a group (`apps/v1`), or undefined when the server serves no
   * such group. A group the list lacks may be a CRD installed during this run: asked once more.
   */
  async preferredVersion(group: string): Promise<string | undefined> {
    const known = (await this.preferredVersions()).get(group);
    if (known) return known;
    this.discovery.groups = undefined;
    return (await this.preferredVersions()).get(group);
  }

  /** Forgets the group list (after CRDs were created: their groups are served now). */
  rediscover(): void {
    this.discovery.groups = undefined;
  }

  /** Every kind the server serves, each group at its preferred version. */
  async allResources(): Promise<ResourceInfo[]> {
    const [core, groups] = await Promise.all([
      this.request<{ versions?: string[] }>('GET', '/api', { read: true }),
      this.preferredVersions(),
    ]);
    const versions = [...(core?.versions ?? ['v1']).slice(0, 1), ...groups.values()];
    const lists = await Promise.all(versions.map((version) => this.groupVersion(version)));
    return lists.flatMap((list) => [...(list?.values() ?? [])]);
  }

  /** The path of a kind's collection (in a namespace when it is namespaced and one is given). */
  collectionPath(info: ResourceInfo, namespace: string | undefined): string {
    const scope = info.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
    return `${groupVersionPath(info.apiVersion)}${scope}/${info.resource}`;
  }

  private async objectPath(ref: ObjectRef): Promise<{ info: ResourceInfo; path: string } | undefined> {
    const info = await this.resource(ref.apiVersion, ref.kind);
    if (!info) return undefined;
    const namespace = info.namespaced ? (ref.namespace ?? this.defaultNamespace ?? 'default') : undefined;
    return { info, path: `${this.collectionPath(info, namespace)}/${encodeURIComponent(ref.name)}` };
  }

  private async requireObjectPath(ref: ObjectRef): Promise<{ info: ResourceInfo; path: string }> {
    const found = await this.objectPath(ref);
    if (found) return found;
    const group = groupOf(ref.apiVersion);
    throw new KubeApiError(
      404,
      'NotFound',
      `the server doesn't have a resource type "${ref.kind.toLowerCase()}${group ? `.${group}` : ''}" (${ref.apiVersion}): no matches for kind "${ref.kind}" in version "${ref.apiVersion}" — ensure CRDs are installed first`,
      false,
    );
  }

  /** One object, or undefined when it (or its kind) does not exist. */
  async get(ref: ObjectRef): Promise<KubeObject | undefined> {
    const found = await this.objectPath(ref);
    if (!found) return undefined;
    return this.request<KubeObject>('GET', found.path, { read: true, notFound: 'undefined' });
  }

  /**
   * Every object of a kind (in a namespace, or everywhere when undefined), with the list's
   * resourceVersion for a watch to start from. A kind the server does not serve lists nothing.
   */
  async list(
    kind: { apiVersion: string; kind: string },
    options: { namespace?: string | undefined; labelSelector?: string; fieldSelector?: string } = {},
  ): Promise<{ items: KubeObject[]; resourceVersion: string }> {
    const info = await this.resource(kind.apiVersion, kind.kind);
    if (!info) return { items: [], resourceVersion: '' };
    const list = await this.request<{ items?: KubeObject[]; metadata?: { resourceVersion?: string } }>(
      'GET',
      this.collectionPath(info, options.namespace),
      {
        read: true,
        query: {
          labelSelector: options.labelSelector,
          fieldSelector: options.fieldSelector,
        },
      },
    );
    // Items of a list carry no apiVersion/kind: the list's own kind says what they are.
    const items = (list?.items ?? []).map((item) => ({
      ...item,
      apiVersion: kind.apiVersion,
      kind: kind.kind,
    }));
    return { items, resourceVersion: list?.metadata?.resourceVersion ?? '' };
  }

  /**
   * Server-side apply of one object as `fieldManager` (conflicts forced when asked). `dryRun`
   * asks the server to validate and answer without persisting: a read.
   */
  async apply(
    object: KubeObject,
    options: { fieldManager: string; force: boolean; dryRun?: boolean },
  ): Promise<KubeObject | undefined> {
    const { path } = await this.requireObjectPath(refOf(object));
    return this.request<KubeObject>('PATCH', path, {
      read: Boolean(options.dryRun),
      body: JSON.stringify(object),
      contentType: 'application/apply-patch+yaml',
      query: {
        fieldManager: options.fieldManager,
        ...(options.force ? { force: 'true' } : {}),
        ...(options.dryRun ? { dryRun: 'All' } : {}),
      },
    });
  }

  /** A create (POST); `dryRun` validates without persisting. */
  async create(
    object: KubeObject,
    options: { fieldManager: string; dryRun?: boolean },
  ): Promise<KubeObject | undefined> {
    const { info } = await this.requireObjectPath(refOf(object));
    const namespace = info.namespaced
      ? (object.metadata.namespace ?? this.defaultNamespace ?? 'default')
      : undefined;
    return this.request<KubeObject>('POST', this.collectionPath(info, namespace), {
      read: Boolean(options.dryRun),
      body: JSON.stringify(object),
      query: { fieldManager: options.fieldManager, ...(options.dryRun ? { dryRun: 'All' } : {}) },
    });
  }

  /** A replace (PUT) guarded by the object's resourceVersion: a 409 Conflict when it changed since read. */
  async replace(object: KubeObject, options: { fieldManager: string }): Promise<KubeObject | undefined> {
    const { path } = await this.requireObjectPath(refOf(object));
    return this.request<KubeObject>('PUT', path, {
      read: false,
      body: JSON.stringify(object),
      query: { fieldManager: options.fieldManager },
    });
  }

  /** A merge patch (RFC 7386) or JSON patch (RFC 6902) of one object. */
  async patch(
    ref: ObjectRef,
    type: 'merge' | 'json',
    patch: unknown,
    options: { fieldManager?: string } = {},
  ): Promise<KubeObject | undefined> {
    const { path } = await this.requireObjectPath(ref);
    return this.request<KubeObject>('PATCH', path, {
      read: false,
      body: JSON.stringify(patch),
      contentType: type === 'merge' ? 'application/merge-patch+json' : 'application/json-patch+json',
      query: { fieldManager: options.fieldManager },
    });
  }

  /**
   * Deletes one object (background propagation, as kubectl does), optionally only while its uid
   * and resourceVersion are still those given. Absent objects are not an error.
   */
  async delete(
    ref: ObjectRef,
    options: { preconditions?: { uid?: string; resourceVersion?: string } } = {},
  ): Promise<void> {
    const found = await this.objectPath(ref);
    if (!found) return;
    await this.request('DELETE', found.path, {
      read: false,
      notFound: 'undefined',
      body: JSON.stringify({
        kind: 'DeleteOptions',
        apiVersion: 'v1',
        propagationPolicy: 'Background',
        ...(options.preconditions ? { preconditions: options.preconditions } : {}),
      }),
    });
  }

  /**
   * Watches a kind from a resourceVersion until the server ends the stream or `signal` aborts.
   * Errors: a `KubeApiError` (410 Gone for a resourceVersion too old is transient: list again).
   */
  async *watch(
    kind: { apiVersion: string; kind: string },
    namespace: string | undefined,
    resourceVersion: string,
    signal: AbortSignal,
  ): AsyncGenerator<{ type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR'; object: KubeObject }> {
    const info = await this.resource(kind.apiVersion, kind.kind);
    if (!info) throw new KubeApiError(404, 'NotFound', `the server does not serve ${kind.kind}`, false);
    const path = this.collectionPath(info, namespace);
    beforeRunning(this.ctx.exec.settings, `WATCH ${path}`, true);
    let message: IncomingMessage;
    try {
      message = await this.transport.open('GET', path, {
        query: {
          watch: 'true',
          resourceVersion: resourceVersion || undefined,
          allowWatchBookmarks: 'true',
          // The server ends the watch after this long; the caller watches again from where it was.
          timeoutSeconds: '300',
        },
        timeoutMs: this.timeoutMs,
        signal,
        stream: true,
      });
    } catch (error) {
      if (signal.aborted) return;
      if (error instanceof NetworkError) throw new KubeApiError(0, error.message, error.message, true);
      throw error;
    }
    if (message.statusCode !== 200) {
      const chunks: Buffer[] = [];
      for await (const chunk of message) chunks.push(chunk as Buffer);
      const failure = apiError({
        status: message.statusCode ?? 0,
        headers: message.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      throw Object.assign(failure, { transient: failure.transient || failure.status === 410 });
    }
    let buffered = '';
    try {
      for await (const chunk of message) {
        buffered += (chunk as Buffer).toString('utf8');
        let newline = buffered.indexOf('\n');
        while (newline >= 0) {
          const line = buffered.slice(0, newline).trim();
          buffered = buffered.slice(newline + 1);
          newline = buffered.indexOf('\n');
          if (!line) continue;
          const event = JSON.parse(line) as { type: string; object: KubeObject & StatusBody };
          if (event.type === 'ERROR') {
            const code = event.object.code ?? 500;
            throw new KubeApiError(
              code,
              event.object.reason ?? 'InternalError',
              `Error from server (${event.object.reason ?? 'InternalError'}): ${event.object.message ?? 'watch failed'}`,
              code === 410 || isTransientStatus(code),
            );
          }
          yield {
            type: event.type as 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK',
            object: { ...event.object, apiVersion: kind.apiVersion, kind: kind.kind },
          };
        }
      }
    } catch (error) {
      if (signal.aborted) return;
      if (error instanceof KubeApiError) throw error;
      throw new KubeApiError(0, 'reset', `the watch of ${path} broke: ${(error as Error).message}`, true);
    } finally {
      message.destroy();
    }
  }
}
