// The HTTP front: routing, the object store, watches, writes and their bookkeeping.
// Request semantics follow https://kubernetes.io/docs/reference/using-api/api-concepts/.

import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import yaml from 'js-yaml';
import {
  behaviourOfImages,
  DEFAULT_BEHAVIOUR,
  type Phase,
  plan,
  type RolloutBehaviour,
  WORKLOAD_KINDS,
  workloadStatus,
} from './controllers.js';
import { applyDefaults } from './defaults.js';
import {
  aggregatedDiscovery,
  apiGroupDoc,
  apiGroupList,
  apiResourceList,
  legacyApiVersions,
  openApiGroupVersion,
  openApiIndex,
  SERVER_VERSION,
} from './discovery.js';
import {
  ApiError,
  alreadyExists,
  badRequest,
  conflict,
  gone,
  invalid,
  methodNotAllowed,
  namespaceNotFound,
  notFound,
  pathNotFound,
  unsupportedMediaType,
} from './errors.js';
import { deepEqual, isObject } from './fieldset.js';
import { applyConfig, type ManagedEntry, nowRfc3339, recordUpdate, suppliedEntries } from './managed.js';
import { jsonPatch, mergePatch, strategicMergePatch } from './patch.js';
import { decodeProtobuf } from './protobuf.js';
import {
  apiVersionOf,
  BUILTIN_RESOURCES,
  type JsonObject,
  type JsonValue,
  type ResourceType,
} from './schema.js';
import { matchRequirements, parseFieldSelector, parseLabelSelector } from './selectors.js';
import { unknownFields, validate } from './validation.js';

/** One request as the server saw it. */
export interface RequestLogEntry {
  time: string;
  method: string;
  path: string;
  query: Record<string, string>;
  status: number;
  userAgent: string;
  contentType: string;
  /** Set for PATCH/PUT/POST: the field manager the write was recorded under. */
  fieldManager?: string;
  /** `watch` for watch requests (their status is 200 when the stream opened). */
  verb: string;
  durationMs: number;
}

/** A fault injected into matching requests. `times` defaults to unlimited. */
export interface FaultRule {
  method?: string;
  /** A RegExp tested against the path, or a string the path must contain. */
  pathPattern: RegExp | string;
  /** Answer with this status (a Kubernetes Status body) instead of going on. */
  status?: number;
  /** Delay before answering; a hung request when longer than the client waits. */
  latencyMs?: number;
  /** Destroy the connection without an answer. */
  reset?: boolean;
  /** Hold the request until this settles, then go on with the other effects. */
  hold?: Promise<unknown>;
  /** Match only dry-run requests (`true`) or only real ones (`false`); unset matches both. */
  dryRun?: boolean;
  /** Match only watch requests (`true`) or only others (`false`); unset matches both. */
  watch?: boolean;
  times?: number;
}

interface WatchEvent {
  rv: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  rid: string;
  object: JsonObject;
}

interface Watcher {
  rid: string;
  namespace?: string;
  filter: (obj: JsonObject) => boolean;
  send: (type: string, obj: JsonObject) => void;
}

const EVENT_WINDOW = 5000;
const GENERATION_KINDS = new Set([
  'Deployment',
  'StatefulSet',
  'DaemonSet',
  'Job',
  'CronJob',
  'Ingress',
  'HorizontalPodAutoscaler',
  'CustomResourceDefinition',
]);

function rid(r: { group: string; plural: string }): string {
  return `${r.group}/${r.plural}`;
}

function meta(obj: JsonObject): JsonObject {
  if (!isObject(obj.metadata)) obj.metadata = {};
  return obj.metadata as JsonObject;
}

function labelsOf(obj: JsonObject): Record<string, string> {
  const l = meta(obj).labels;
  return isObject(l) ? (l as Record<string, string>) : {};
}

/** Drops empty label/annotation maps the way Go's omitempty does. */
function normalize(obj: JsonObject): void {
  const m = meta(obj);
  for (const k of ['labels', 'annotations']) {
    if (isObject(m[k]) && Object.keys(m[k] as JsonObject).length === 0) delete m[k];
  }
  if (Array.isArray(m.finalizers) && m.finalizers.length === 0) delete m.finalizers;
}

/** The parts of an object that count for `metadata.generation`: everything but metadata and status. */
function specOf(r: ResourceType, obj: JsonObject): JsonObject {
  const { metadata: _m, ...rest } = obj;
  // Without a status subresource, status is part of the desired state like anything else.
  if (r.subresources.includes('status')) delete rest.status;
  return rest;
}

export interface StoreOptions {
  rollout?: RolloutBehaviour;
  /** How long a deleted namespace stays Terminating before its objects go (default 20 ms). */
  namespaceTerminationMs?: number;
}

export class ApiServer {
  readonly resources: ResourceType[] = [...BUILTIN_RESOURCES];
  readonly requests: RequestLogEntry[] = [];
  readonly faultRules: (FaultRule & { remaining: number })[] = [];
  private readonly objects = new Map<string, Map<string, JsonObject>>();
  private readonly events: WatchEvent[] = [];
  private readonly watchers = new Set<Watcher>();
  private readonly timers = new Map<string, NodeJS.Timeout[]>();
  private readonly otherTimers = new Set<NodeJS.Timeout>();
  private readonly behaviours = new Map<string, RolloutBehaviour>();
  private readonly sockets = new Set<Socket>();
  private defaultBehaviour: RolloutBehaviour;
  private rv = 1000;
  private openApiHash = 1;
  private server: Server | undefined;
  private address = '';

  constructor(private readonly options: StoreOptions = {}) {
    this.defaultBehaviour = options.rollout ?? DEFAULT_BEHAVIOUR;
    for (const ns of ['default', 'kube-system', 'kube-public', 'kube-node-lease']) {
      this.createInternal(this.resource('', 'namespaces')!, {
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name: ns },
      });
    }
  }

  // ----- lifecycle ------------------------------------------------------------------------------

  listen(port: number, host: string): Promise<number> {
    const server = createServer((req, res) => {
      void this.handle(req, res);
    });
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        const p = (server.address() as AddressInfo).port;
        this.address = `${host}:${p}`;
        resolve(p);
      });
    });
  }

  async close(): Promise<void> {
    for (const ts of this.timers.values()) for (const t of ts) clearTimeout(t);
    for (const t of this.otherTimers) clearTimeout(t);
    this.timers.clear();
    for (const w of this.watchers) w.send('__close__', {});
    this.watchers.clear();
    const server = this.server;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const s of this.sockets) s.destroy();
    });
  }

  setBehaviour(kind: string, namespace: string, name: string, behaviour: RolloutBehaviour): void {
    this.behaviours.set(`${kind}/${namespace}/${name}`, behaviour);
    const r = this.resources.find((x) => x.kind === kind && !x.crd);
    const obj = r ? this.objects.get(rid(r))?.get(`${namespace}/${name}`) : undefined;
    if (r && obj) this.startRollout(r, obj);
  }

  setDefaultBehaviour(behaviour: RolloutBehaviour): void {
    this.defaultBehaviour = behaviour;
  }

  /**
   * Replaces an object's status as a controller would (an Update on the status subresource by
   * `manager`): bumps the resourceVersion and notifies watchers. Returns the stored object.
   */
  writeStatusAs(
    r: ResourceType,
    namespace: string | undefined,
    name: string,
    status: JsonObject,
    manager: string,
  ): JsonObject {
    const cur = this.bucket(r).get(this.key(r, namespace, name));
    if (!cur) throw notFound(r, name);
    const next = structuredClone(cur);
    next.status = structuredClone(status);
    if (deepEqual(next.status, cur.status)) return structuredClone(cur);
    meta(next).managedFields = recordUpdate(r, cur, next, manager, 'status') as unknown as JsonValue;
    return this.persist(r, next, 'MODIFIED');
  }

  // ----- store ----------------------------------------------------------------------------------

  resource(group: string, plural: string, version?: string): ResourceType | undefined {
    return this.resources.find(
      (r) => r.group === group && r.plural === plural && (!version || r.version === version),
    );
  }

  resourceForKind(apiVersion: string, kind: string): ResourceType | undefined {
    return this.resources.find((r) => apiVersionOf(r) === apiVersion && r.kind === kind);
  }

  getObject(r: ResourceType, namespace: string | undefined, name: string): JsonObject | undefined {
    const o = this.objects.get(rid(r))?.get(`${r.namespaced ? (namespace ?? '') : ''}/${name}`);
    return o ? structuredClone(o) : undefined;
  }

  listObjects(r: ResourceType, namespace?: string): JsonObject[] {
    const all = [...(this.objects.get(rid(r))?.values() ?? [])];
    return all.filter((o) => !namespace || meta(o).namespace === namespace).map((o) => structuredClone(o));
  }

  private bucket(r: ResourceType): Map<string, JsonObject> {
    let b = this.objects.get(rid(r));
    if (!b) {
      b = new Map();
      this.objects.set(rid(r), b);
    }
    return b;
  }

  private key(r: ResourceType, namespace: string | undefined, name: string): string {
    return `${r.namespaced ? (namespace ?? '') : ''}/${name}`;
  }

  private emit(r: ResourceType, type: WatchEvent['type'], obj: JsonObject): void {
    const ev: WatchEvent = {
      rv: Number(meta(obj).resourceVersion),
      type,
      rid: rid(r),
      object: structuredClone(obj),
    };
    this.events.push(ev);
    if (this.events.length > EVENT_WINDOW) this.events.splice(0, this.events.length - EVENT_WINDOW);
    for (const w of this.watchers) {
      if (w.rid !== ev.rid) continue;
      if (w.namespace && meta(obj).namespace !== w.namespace) continue;
      if (!w.filter(obj)) continue;
      w.send(type, ev.object);
    }
  }

  /** Stores a new version with a fresh resourceVersion and notifies watchers. */
  private persist(r: ResourceType, obj: JsonObject, type: 'ADDED' | 'MODIFIED'): JsonObject {
    this.rv += 1;
    meta(obj).resourceVersion = String(this.rv);
    this.bucket(r).set(this.key(r, meta(obj).namespace as string, String(meta(obj).name)), obj);
    this.emit(r, type, obj);
    this.afterWrite(r, obj, type);
    return structuredClone(obj);
  }

  private remove(r: ResourceType, obj: JsonObject): JsonObject {
    this.rv += 1;
    const gone = structuredClone(obj);
    meta(gone).resourceVersion = String(this.rv);
    this.bucket(r).delete(this.key(r, meta(obj).namespace as string, String(meta(obj).name)));
    const k = `${r.kind}/${meta(obj).namespace ?? ''}/${meta(obj).name}`;
    for (const t of this.timers.get(k) ?? []) clearTimeout(t);
    this.timers.delete(k);
    this.emit(r, 'DELETED', gone);
    if (r.kind === 'CustomResourceDefinition') this.uninstallCrd(obj);
    return gone;
  }

  /** Server-internal create used for bootstrap objects and namespace contents. */
  private createInternal(r: ResourceType, obj: JsonObject): JsonObject {
    const m = meta(obj);
    m.uid = randomUUID();
    m.creationTimestamp = nowRfc3339();
    if (GENERATION_KINDS.has(r.kind) || r.crd) m.generation = 1;
    applyDefaults(r.kind, obj);
    m.managedFields = recordUpdate(
      r,
      undefined,
      obj,
      r.kind === 'Namespace' ? 'kube-apiserver' : 'kube-controller-manager',
    ) as unknown as JsonValue;
    return this.persist(r, obj, 'ADDED');
  }

  // ----- controllers ----------------------------------------------------------------------------

  private afterWrite(r: ResourceType, obj: JsonObject, type: 'ADDED' | 'MODIFIED'): void {
    if (r.kind === 'Namespace' && type === 'ADDED') {
      const ns = String(meta(obj).name);
      this.later(0, () => this.seedNamespace(ns));
    }
    if (r.kind === 'CustomResourceDefinition') this.installCrd(obj);
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.otherTimers.delete(t);
      fn();
    }, ms);
    this.otherTimers.add(t);
  }

  /** What the namespace controllers create in every namespace: the `default` ServiceAccount and the root CA ConfigMap. */
  private seedNamespace(ns: string): void {
    const nsObj = this.bucket(this.resource('', 'namespaces')!).get(`/${ns}`);
    if (!nsObj || meta(nsObj).deletionTimestamp) return;
    const sa = this.resource('', 'serviceaccounts')!;
    if (!this.bucket(sa).has(`${ns}/default`)) {
      this.createInternal(sa, {
        apiVersion: 'v1',
        kind: 'ServiceAccount',
        metadata: { name: 'default', namespace: ns },
      });
    }
    const cm = this.resource('', 'configmaps')!;
    if (!this.bucket(cm).has(`${ns}/kube-root-ca.crt`)) {
      this.createInternal(cm, {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: {
          name: 'kube-root-ca.crt',
          namespace: ns,
          annotations: {
            'kubernetes.io/description':
              'Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clients.',
          },
        },
        data: { 'ca.crt': '-----BEGIN CERTIFICATE-----\nTEST\n-----END CERTIFICATE-----\n' },
      });
    }
  }

  /** Starts (or restarts) the scripted rollout of a workload after a spec change. */
  private startRollout(r: ResourceType, obj: JsonObject): void {
    if (!WORKLOAD_KINDS.includes(r.kind) || r.crd) return;
    const m = meta(obj);
    const k = `${r.kind}/${m.namespace ?? ''}/${m.name}`;
    for (const t of this.timers.get(k) ?? []) clearTimeout(t);
    const behaviour = this.behaviours.get(k) ?? behaviourOfImages(obj) ?? this.defaultBehaviour;
    const generation = Number(m.generation ?? 1);
    const steps = plan(behaviour).map(({ phase, atMs }) =>
      setTimeout(() => this.writeStatus(r, String(m.namespace), String(m.name), generation, phase), atMs),
    );
    this.timers.set(k, steps);
  }

  private writeStatus(r: ResourceType, ns: string, name: string, generation: number, phase: Phase): void {
    const cur = this.bucket(r).get(`${ns}/${name}`);
    if (!cur || Number(meta(cur).generation ?? 1) !== generation || meta(cur).deletionTimestamp) return;
    const next = structuredClone(cur);
    next.status = workloadStatus(r.kind, cur, phase, nowRfc3339());
    if (deepEqual(next.status, cur.status)) return;
    meta(next).managedFields = recordUpdate(
      r,
      cur,
      next,
      'kube-controller-manager',
      'status',
    ) as unknown as JsonValue;
    this.persist(r, next, 'MODIFIED');
  }

  // ----- CRDs -----------------------------------------------------------------------------------

  private installCrd(crd: JsonObject): void {
    const spec = isObject(crd.spec) ? crd.spec : {};
    const names = isObject(spec.names) ? spec.names : {};
    const group = String(spec.group ?? '');
    const crdName = String(meta(crd).name);
    const versions = Array.isArray(spec.versions) ? spec.versions.filter(isObject) : [];
    const served = versions.filter((v) => v.served !== false);
    // Keep the existing definition of versions still served; add new ones.
    for (let i = this.resources.length - 1; i >= 0; i--) {
      const x = this.resources[i]!;
      if (x.crd === crdName && !served.some((v) => v.name === x.version)) this.resources.splice(i, 1);
    }
    for (const v of served) {
      const version = String(v.name);
      const schema =
        isObject(v.schema) && isObject(v.schema.openAPIV3Schema) ? v.schema.openAPIV3Schema : undefined;
      const subresources = isObject(v.subresources) ? Object.keys(v.subresources) : [];
      const existing = this.resources.find((x) => x.crd === crdName && x.version === version);
      const rt: ResourceType = {
        group,
        version,
        kind: String(names.kind),
        listKind: String(names.listKind ?? `${names.kind}List`),
        plural: String(names.plural),
        singular: String(names.singular ?? String(names.kind).toLowerCase()),
        namespaced: spec.scope !== 'Cluster',
        shortNames: Array.isArray(names.shortNames) ? names.shortNames.map(String) : [],
        categories: Array.isArray(names.categories) ? names.categories.map(String) : [],
        verbs: ['delete', 'deletecollection', 'get', 'list', 'patch', 'create', 'update', 'watch'],
        subresources,
        crd: crdName,
        ...(schema ? { openAPISchema: schema } : {}),
        ...(Array.isArray(v.additionalPrinterColumns)
          ? {
              printerColumns: v.additionalPrinterColumns.filter(isObject).map((c) => ({
                name: String(c.name),
                jsonPath: String(c.jsonPath ?? ''),
              })),
            }
          : {}),
      };
      if (existing) Object.assign(existing, rt);
      else this.resources.push(rt);
    }
    this.openApiHash += 1;
    // The CRD controllers accept the names and mark the CRD Established.
    const status = isObject(crd.status) ? crd.status : {};
    const conds = Array.isArray(status.conditions) ? status.conditions : [];
    if (!conds.some((c) => isObject(c) && c.type === 'Established' && c.status === 'True')) {
      this.later(0, () => this.establish(crdName));
    }
  }

  private establish(crdName: string): void {
    const r = this.resource('apiextensions.k8s.io', 'customresourcedefinitions')!;
    const cur = this.bucket(r).get(`/${crdName}`);
    if (!cur) return;
    const next = structuredClone(cur);
    const spec = next.spec as JsonObject;
    const now = nowRfc3339();
    const versions = Array.isArray(spec.versions) ? spec.versions.filter(isObject) : [];
    next.status = {
      acceptedNames: structuredClone(spec.names ?? {}),
      conditions: [
        {
          type: 'NamesAccepted',
          status: 'True',
          lastTransitionTime: now,
          reason: 'NoConflicts',
          message: 'no conflicts found',
        },
        {
          type: 'Established',
          status: 'True',
          lastTransitionTime: now,
          reason: 'InitialNamesAccepted',
          message: 'the initial names have been accepted',
        },
      ],
      storedVersions: versions.filter((v) => v.storage === true).map((v) => String(v.name)),
    };
    meta(next).managedFields = recordUpdate(r, cur, next, 'kube-apiserver', 'status') as unknown as JsonValue;
    this.persist(r, next, 'MODIFIED');
  }

  private uninstallCrd(crd: JsonObject): void {
    const crdName = String(meta(crd).name);
    for (let i = this.resources.length - 1; i >= 0; i--) {
      const r = this.resources[i]!;
      if (r.crd !== crdName) continue;
      for (const o of [...this.bucket(r).values()]) this.remove(r, o);
      this.resources.splice(i, 1);
    }
    this.openApiHash += 1;
  }

  // ----- HTTP -----------------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = Date.now();
    const url = new URL(req.url ?? '/', 'http://localhost');
    const query = Object.fromEntries(url.searchParams.entries());
    const entry: RequestLogEntry = {
      time: new Date().toISOString(),
      method: req.method ?? 'GET',
      path: url.pathname,
      query,
      status: 0,
      userAgent: String(req.headers['user-agent'] ?? ''),
      contentType: String(req.headers['content-type'] ?? ''),
      verb: query.watch === 'true' || query.watch === '1' ? 'watch' : (req.method ?? 'GET').toLowerCase(),
      durationMs: 0,
    };
    this.requests.push(entry);
    const finish = (status: number) => {
      entry.status = status;
      entry.durationMs = Date.now() - started;
    };
    try {
      const fault = this.faultRules.find(
        (f) =>
          f.remaining !== 0 &&
          (!f.method || f.method.toUpperCase() === entry.method) &&
          (f.dryRun === undefined || f.dryRun === url.searchParams.has('dryRun')) &&
          (f.watch === undefined || f.watch === (entry.verb === 'watch')) &&
          (typeof f.pathPattern === 'string'
            ? url.pathname.includes(f.pathPattern)
            : f.pathPattern.test(url.pathname)),
      );
      if (fault) {
        if (fault.remaining > 0) fault.remaining -= 1;
        if (fault.hold) await fault.hold.catch(() => undefined);
        if (fault.latencyMs) await new Promise((r) => setTimeout(r, fault.latencyMs));
        if (fault.reset) {
          finish(0);
          req.socket.destroy();
          return;
        }
        if (fault.status) {
          const reason =
            fault.status === 429
              ? 'TooManyRequests'
              : fault.status === 503
                ? 'ServiceUnavailable'
                : 'InternalError';
          const message =
            fault.status === 429
              ? 'too many requests'
              : 'an error on the server ("injected fault") has prevented the request from succeeding';
          if (fault.status === 429) res.setHeader('Retry-After', '1');
          finish(fault.status);
          this.send(res, fault.status, new ApiError(fault.status, reason, message).toStatus());
          return;
        }
      }
      const body = await readBody(req);
      const result = await this.route(req, res, url, body, entry);
      if (result === 'streaming') {
        finish(200);
        return;
      }
      finish(result.status);
      if (result.headers) for (const [k, v] of Object.entries(result.headers)) res.setHeader(k, v);
      this.send(res, result.status, result.body, result.contentType);
    } catch (err) {
      const e =
        err instanceof ApiError
          ? err
          : new ApiError(500, 'InternalError', `Internal error occurred: ${(err as Error).message}`);
      if (!(err instanceof ApiError)) console.error(err);
      finish(e.code);
      if (!res.headersSent) this.send(res, e.code, e.toStatus());
      else res.end();
    }
  }

  private send(
    res: ServerResponse,
    status: number,
    body: JsonValue | Buffer,
    contentType = 'application/json',
  ): void {
    const payload = Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
    res.writeHead(status, {
      'Content-Type': contentType,
      'Content-Length': payload.length,
      'Cache-Control': 'no-cache, private',
    });
    res.end(payload);
  }

  private async route(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    body: Buffer,
    entry: RequestLogEntry,
  ): Promise<Result | 'streaming'> {
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const method = req.method ?? 'GET';
    const accept = String(req.headers.accept ?? '');
    const q = url.searchParams;

    if (path === '/version') return ok(SERVER_VERSION as unknown as JsonObject);
    if (path === '/healthz' || path === '/livez' || path === '/readyz')
      return { status: 200, body: Buffer.from('ok'), contentType: 'text/plain' };
    if (path === '/api' || path === '/apis') {
      const legacy = path === '/api';
      // Aggregated discovery when asked for it, with the exact negotiated Content-Type.
      for (const v of ['v2', 'v2beta1']) {
        if (accept.includes(`g=apidiscovery.k8s.io;v=${v};as=APIGroupDiscoveryList`)) {
          return {
            status: 200,
            body: aggregatedDiscovery(this.resources, legacy, `apidiscovery.k8s.io/${v}`),
            contentType: `application/json;g=apidiscovery.k8s.io;v=${v};as=APIGroupDiscoveryList`,
          };
        }
      }
      return ok(legacy ? legacyApiVersions(this.address) : apiGroupList(this.resources));
    }
    if (path === '/openapi/v3') return ok(openApiIndex(this.resources, String(this.openApiHash)));
    if (path.startsWith('/openapi/v3/')) {
      const parts = path.slice('/openapi/v3/'.length).split('/');
      const doc =
        parts[0] === 'api'
          ? openApiGroupVersion(this.resources, '', parts[1] ?? '')
          : openApiGroupVersion(this.resources, parts[1] ?? '', parts[2] ?? '');
      if (!doc) throw pathNotFound();
      return ok(doc);
    }
    if (path === '/openapi/v2') {
      // Deliberately empty: kubectl only falls back to v2 when v3 fails.
      if (accept.includes('protobuf'))
        return {
          status: 200,
          body: Buffer.alloc(0),
          contentType: 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf',
        };
      return ok({
        swagger: '2.0',
        info: { title: 'Kubernetes', version: SERVER_VERSION.gitVersion },
        paths: {},
        definitions: {},
      });
    }

    const parts = path.split('/').filter(Boolean);
    let group: string;
    let version: string;
    let rest: string[];
    if (parts[0] === 'api') {
      group = '';
      version = parts[1] ?? '';
      rest = parts.slice(2);
      if (!version) throw pathNotFound();
    } else if (parts[0] === 'apis') {
      group = parts[1] ?? '';
      version = parts[2] ?? '';
      rest = parts.slice(3);
      if (!version) {
        const doc = apiGroupDoc(this.resources, group);
        if (!doc) throw pathNotFound();
        return ok(doc);
      }
    } else throw pathNotFound();
    if (rest.length === 0) {
      const doc = apiResourceList(this.resources, group, version);
      if (!doc) throw pathNotFound();
      return ok(doc);
    }

    let namespace: string | undefined;
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      const candidate = this.resource(group, rest[2]!, version);
      if (candidate?.namespaced) {
        namespace = rest[1];
        rest = rest.slice(2);
      }
    }
    const r = this.resource(group, rest[0]!, version);
    if (!r) throw pathNotFound();
    const name = rest[1] ? decodeURIComponent(rest[1]) : undefined;
    const subresource = rest[2];
    if (rest.length > 3 || (subresource && !r.subresources.includes(subresource))) throw pathNotFound();
    if (r.namespaced && !namespace && name) throw pathNotFound();

    const ctx: WriteContext = {
      dryRun: q.getAll('dryRun').includes('All'),
      // api-concepts#field-validation: Warn is the server's default; kubectl sends Strict.
      fieldValidation: q.get('fieldValidation') ?? 'Warn',
      manager: managerOrUserAgent(q.get('fieldManager'), String(req.headers['user-agent'] ?? '')),
      warnings: [],
    };
    const withWarnings = (result: Result): Result => {
      if (ctx.warnings.length)
        result.headers = {
          ...result.headers,
          Warning: ctx.warnings.map((w) => `299 - ${JSON.stringify(w)}`).join(', '),
        };
      return result;
    };

    if (!name) {
      if (method === 'GET') {
        if (q.get('watch') === 'true' || q.get('watch') === '1') {
          this.watch(r, namespace, q, res);
          return 'streaming';
        }
        return this.list(r, namespace, q, accept);
      }
      if (method === 'POST') {
        entry.fieldManager = ctx.manager;
        return withWarnings(this.create(r, namespace, decodeBody(req, body), ctx));
      }
      if (method === 'DELETE') return this.deleteCollection(r, namespace, q, ctx);
      throw methodNotAllowed();
    }

    if (method === 'GET') {
      if (q.get('watch') === 'true') {
        this.watch(
          r,
          namespace,
          new URLSearchParams({ ...Object.fromEntries(q), fieldSelector: `metadata.name=${name}` }),
          res,
        );
        return 'streaming';
      }
      const obj = this.bucket(r).get(this.key(r, namespace, name));
      if (!obj) throw notFound(r, name);
      if (subresource === 'scale') return ok(scaleOf(obj));
      return this.maybeTable(r, [obj], accept, q) ?? ok(obj);
    }
    if (method === 'PUT') {
      entry.fieldManager = ctx.manager;
      return withWarnings(this.update(r, namespace, name, decodeBody(req, body), subresource, ctx));
    }
    if (method === 'PATCH') {
      const type = String(req.headers['content-type'] ?? '')
        .split(';')[0]!
        .trim();
      if (type === 'application/apply-patch+yaml' || type === 'application/apply-patch+cbor') {
        const force = q.get('force') === 'true';
        entry.fieldManager = q.get('fieldManager') ?? '';
        if (!q.get('fieldManager'))
          throw badRequest('PATCH, application/apply-patch+yaml requests must set fieldManager');
        return withWarnings(this.apply(r, namespace, name, parseYaml(body), subresource, force, ctx));
      }
      entry.fieldManager = ctx.manager;
      return withWarnings(this.patch(r, namespace, name, type, body, subresource, ctx));
    }
    if (method === 'DELETE') {
      const opts = body.length && !isProtobuf(req) ? parseJson(body) : {};
      return this.delete(r, namespace, name, opts, ctx, q);
    }
    throw methodNotAllowed();
  }

  // ----- reads ----------------------------------------------------------------------------------

  private selectorFilter(q: URLSearchParams): (obj: JsonObject) => boolean {
    const labels = q.get('labelSelector');
    const fields = q.get('fieldSelector');
    const reqs = labels ? parseLabelSelector(labels) : [];
    const fieldFilter = fields ? parseFieldSelector(fields) : () => true;
    return (obj) => matchRequirements(reqs, labelsOf(obj)) && fieldFilter(obj);
  }

  private list(r: ResourceType, namespace: string | undefined, q: URLSearchParams, accept: string): Result {
    const filter = this.selectorFilter(q);
    let items = [...this.bucket(r).values()]
      .filter((o) => !namespace || meta(o).namespace === namespace)
      .filter(filter)
      .sort((a, b) => {
        const ka = `${meta(a).namespace ?? ''}/${meta(a).name}`;
        const kb = `${meta(b).namespace ?? ''}/${meta(b).name}`;
        return ka < kb ? -1 : ka > kb ? 1 : 0;
      });
    // limit/continue: the continue token is the last key returned, base64 (api-concepts "Retrieving large results sets in chunks").
    const cont = q.get('continue');
    if (cont) {
      let after: string;
      try {
        after = Buffer.from(cont, 'base64').toString('utf8');
      } catch {
        throw badRequest('continue key is not valid');
      }
      items = items.filter((o) => `${meta(o).namespace ?? ''}/${meta(o).name}` > after);
    }
    const limit = Number(q.get('limit') ?? 0);
    const listMeta: JsonObject = { resourceVersion: String(this.rv) };
    if (limit > 0 && items.length > limit) {
      const last = items[limit - 1]!;
      listMeta.continue = Buffer.from(`${meta(last).namespace ?? ''}/${meta(last).name}`).toString('base64');
      listMeta.remainingItemCount = items.length - limit;
      items = items.slice(0, limit);
    }
    const table = this.maybeTable(r, items, accept, q, listMeta);
    if (table) return table;
    return ok({
      kind: r.listKind,
      apiVersion: apiVersionOf(r),
      metadata: listMeta,
      items: items.map((o) => structuredClone(o)),
    });
  }

  /** `kubectl get` without -o asks for meta.k8s.io Tables (api-concepts "Receiving resources as Tables"). */
  private maybeTable(
    r: ResourceType,
    items: JsonObject[],
    accept: string,
    q: URLSearchParams,
    listMeta: JsonObject = { resourceVersion: String(this.rv) },
  ): Result | undefined {
    if (!/as=Table;v=v1(beta1)?;g=meta\.k8s\.io/.test(accept)) return undefined;
    const v = accept.includes('as=Table;v=v1;') ? 'v1' : 'v1beta1';
    const columns: JsonObject[] = [
      {
        name: 'Name',
        type: 'string',
        format: 'name',
        description: 'Name must be unique within a namespace.',
        priority: 0,
      },
    ];
    const extra = r.printerColumns ? crdColumns(r.printerColumns) : tableColumns(r.kind);
    for (const c of extra)
      columns.push({ name: c.name, type: 'string', format: '', description: c.name, priority: 0 });
    columns.push({ name: 'Age', type: 'string', format: '', description: 'CreationTimestamp', priority: 0 });
    const includeObject = q.get('includeObject') ?? 'PartialObjectMetadata';
    const rows = items.map((o) => ({
      cells: [
        meta(o).name ?? '',
        ...extra.map((c) => c.value(o)),
        age(String(meta(o).creationTimestamp ?? '')),
      ],
      object:
        includeObject === 'Object'
          ? structuredClone(o)
          : includeObject === 'None'
            ? null
            : {
                kind: 'PartialObjectMetadata',
                apiVersion: 'meta.k8s.io/v1',
                metadata: structuredClone(meta(o)),
              },
    }));
    return {
      status: 200,
      body: {
        kind: 'Table',
        apiVersion: `meta.k8s.io/${v}`,
        metadata: listMeta,
        columnDefinitions: columns,
        rows,
      },
      contentType: 'application/json',
    };
  }

  /**
   * Watch (api-concepts "Efficient detection of changes"): resume after a resourceVersion, or
   * start with synthetic ADDED events; headers flushed at once so clients' timeouts work.
   */
  private watch(
    r: ResourceType,
    namespace: string | undefined,
    q: URLSearchParams,
    res: ServerResponse,
  ): void {
    const filter = this.selectorFilter(q);
    const rvParam = q.get('resourceVersion');
    const since = rvParam && rvParam !== '0' ? Number(rvParam) : undefined;
    if (since !== undefined) {
      const oldest = this.events[0]?.rv ?? this.rv;
      if (Number.isNaN(since) || since < oldest - 1) {
        throw gone(`too old resource version: ${rvParam} (${oldest - 1})`);
      }
    }
    res.writeHead(200, {
      'Content-Type': 'application/json',
      'Transfer-Encoding': 'chunked',
      'Cache-Control': 'no-cache, private',
    });
    res.flushHeaders();
    let closed = false;
    const write = (type: string, object: JsonObject) => {
      if (closed) return;
      if (type === '__close__') {
        stop();
        return;
      }
      res.write(`${JSON.stringify({ type, object })}\n`);
    };
    const timers: NodeJS.Timeout[] = [];
    const watcher: Watcher = { rid: rid(r), ...(namespace ? { namespace } : {}), filter, send: write };
    const stop = () => {
      if (closed) return;
      closed = true;
      this.watchers.delete(watcher);
      for (const t of timers) clearTimeout(t);
      res.end();
    };
    // The response (not the request) tells when the client leaves: see kubectl-wire.md.
    res.on('close', stop);
    if (since === undefined) {
      for (const o of this.bucket(r).values()) {
        if (namespace && meta(o).namespace !== namespace) continue;
        if (filter(o)) write('ADDED', structuredClone(o));
      }
    } else {
      for (const ev of this.events) {
        if (ev.rv <= since || ev.rid !== rid(r)) continue;
        if (namespace && meta(ev.object).namespace !== namespace) continue;
        if (filter(ev.object)) write(ev.type, ev.object);
      }
    }
    this.watchers.add(watcher);
    const timeout = Number(q.get('timeoutSeconds') ?? 1800);
    timers.push(setTimeout(stop, timeout * 1000));
    if (q.get('allowWatchBookmarks') === 'true') {
      const bookmark = () => {
        write('BOOKMARK', {
          kind: r.kind,
          apiVersion: apiVersionOf(r),
          metadata: { resourceVersion: String(this.rv) },
        });
        timers.push(setTimeout(bookmark, 1000));
      };
      timers.push(setTimeout(bookmark, 1000));
    }
  }

  // ----- writes ---------------------------------------------------------------------------------

  private requireNamespace(r: ResourceType, namespace: string | undefined): void {
    if (!r.namespaced) return;
    const ns = this.bucket(this.resource('', 'namespaces')!).get(`/${namespace}`);
    if (!ns) throw namespaceNotFound(String(namespace));
    if (meta(ns).deletionTimestamp) {
      throw new ApiError(
        403,
        'Forbidden',
        `unable to create new content in namespace ${namespace} because it is being terminated`,
        {
          name: String(namespace),
          kind: 'namespaces',
          causes: [
            {
              reason: 'NamespaceTerminating',
              message: `namespace ${namespace} is being terminated`,
              field: 'metadata.namespace',
            },
          ],
        },
      );
    }
  }

  private checkKind(r: ResourceType, obj: JsonObject): void {
    if (obj.kind !== undefined && obj.kind !== r.kind) {
      throw badRequest(
        `the API version in the data (${String(obj.apiVersion)}) does not match the expected API version (${apiVersionOf(r)})`,
      );
    }
    if (obj.apiVersion !== undefined && obj.apiVersion !== apiVersionOf(r)) {
      throw badRequest(
        `the API version in the data (${String(obj.apiVersion)}) does not match the expected API version (${apiVersionOf(r)})`,
      );
    }
    obj.kind = r.kind;
    obj.apiVersion = apiVersionOf(r);
  }

  /** fieldValidation (api-concepts "Field validation"): Strict rejects, Warn warns, Ignore drops. */
  private checkUnknown(
    r: ResourceType,
    obj: JsonObject,
    ctx: WriteContext,
    apply: boolean,
    name: string,
  ): void {
    const unknown = unknownFields(r, obj);
    if (unknown.length === 0) return;
    if (ctx.fieldValidation === 'Strict') {
      if (apply) {
        const ns = meta(obj).namespace;
        throw badRequest(
          `failed to create typed patch object (${ns ? `${ns}/` : ''}${name}; ${apiVersionOf(r)}, Kind=${r.kind}): ${unknown.map((u) => `${u}: field not declared in schema`).join('\n')}`,
        );
      }
      throw badRequest(
        `strict decoding error: ${unknown.map((u) => `unknown field "${u.slice(1)}"`).join(', ')}`,
      );
    }
    if (ctx.fieldValidation === 'Warn')
      ctx.warnings.push(...unknown.map((u) => `unknown field "${u.slice(1)}"`));
    for (const u of unknown) deletePath(obj, u);
  }

  /** Common tail of every write: defaults, validation, generation, no-op detection, persistence. */
  private commit(
    r: ResourceType,
    old: JsonObject | undefined,
    next: JsonObject,
    ctx: WriteContext,
    managedFields: ManagedEntry[] | ((obj: JsonObject) => ManagedEntry[]),
    subresource?: string,
  ): { object: JsonObject; created: boolean } {
    const m = meta(next);
    if (old) {
      const om = meta(old);
      for (const k of [
        'uid',
        'creationTimestamp',
        'generation',
        'resourceVersion',
        'deletionTimestamp',
        'namespace',
        'name',
      ]) {
        if (om[k] !== undefined) m[k] = om[k]!;
        else delete m[k];
      }
    } else {
      m.uid = randomUUID();
      m.creationTimestamp = nowRfc3339();
      delete m.resourceVersion;
      delete m.deletionTimestamp;
      if (GENERATION_KINDS.has(r.kind) || r.crd) m.generation = 1;
      else delete m.generation;
    }
    if (r.subresources.includes('status') && subresource !== 'status') {
      // The status of a resource with a status subresource only changes through /status.
      if (old && old.status !== undefined) next.status = structuredClone(old.status);
      else delete next.status;
    }
    applyDefaults(r.kind, next);
    normalize(next);
    const causes = validate(r, next, old);
    if (causes.length) throw invalid(r, String(m.name), causes);
    if (old && (GENERATION_KINDS.has(r.kind) || r.crd) && !deepEqual(specOf(r, old), specOf(r, next))) {
      m.generation = Number(meta(old).generation ?? 1) + 1;
    }
    const entries = typeof managedFields === 'function' ? managedFields(next) : managedFields;
    if (entries.length > 0) m.managedFields = entries as unknown as JsonValue;
    else delete m.managedFields;
    if (old && deepEqual(old, next)) return { object: structuredClone(old), created: false };
    if (ctx.dryRun) return { object: next, created: !old };
    if (old && m.deletionTimestamp && !(Array.isArray(m.finalizers) && m.finalizers.length)) {
      return { object: this.remove(r, next), created: false };
    }
    const stored = this.persist(r, next, old ? 'MODIFIED' : 'ADDED');
    if (!old || meta(old).generation !== m.generation) this.startRollout(r, stored);
    return { object: stored, created: !old };
  }

  private create(
    r: ResourceType,
    namespace: string | undefined,
    body: JsonObject,
    ctx: WriteContext,
  ): Result {
    this.checkKind(r, body);
    const m = meta(body);
    if (!m.name && typeof m.generateName === 'string')
      m.name = `${m.generateName}${randomUUID().slice(0, 5)}`;
    if (namespace && m.namespace && m.namespace !== namespace) {
      throw badRequest(
        'the namespace of the provided object does not match the namespace sent on the request',
      );
    }
    if (r.namespaced) m.namespace = namespace ?? 'default';
    else delete m.namespace;
    const name = String(m.name ?? '');
    this.checkUnknown(r, body, ctx, false, name);
    if (name && this.bucket(r).has(this.key(r, namespace, name))) throw alreadyExists(r, name);
    this.requireNamespace(r, namespace);
    delete m.managedFields;
    const { object } = this.commit(r, undefined, body, ctx, (obj) =>
      recordUpdate(r, undefined, obj, ctx.manager),
    );
    return { status: 201, body: object };
  }

  private update(
    r: ResourceType,
    namespace: string | undefined,
    name: string,
    body: JsonObject,
    subresource: string | undefined,
    ctx: WriteContext,
  ): Result {
    const old = this.bucket(r).get(this.key(r, namespace, name));
    if (subresource === 'scale') {
      if (!old) throw notFound(r, name);
      return this.writeScale(r, old, body, ctx);
    }
    this.checkKind(r, body);
    const m = meta(body);
    if (m.name !== undefined && m.name !== name) {
      throw badRequest(
        `the name of the object (${String(m.name)}) does not match the name on the URL (${name})`,
      );
    }
    m.name = name;
    if (r.namespaced) m.namespace = namespace ?? '';
    this.checkUnknown(r, body, ctx, false, name);
    if (!old) {
      if (subresource) throw notFound(r, name);
      // PUT creates when the object is missing (AllowCreateOnUpdate) only for a few kinds; be strict.
      throw notFound(r, name);
    }
    if (m.resourceVersion !== undefined && m.resourceVersion !== meta(old).resourceVersion)
      throw conflict(r, name);
    let next = body;
    if (subresource === 'status') {
      next = structuredClone(old);
      next.status = structuredClone(body.status ?? {});
    }
    const base = subresource ? undefined : suppliedEntries(meta(body).managedFields, meta(old).managedFields);
    meta(next).managedFields = meta(old).managedFields ?? [];
    const { object } = this.commit(
      r,
      old,
      next,
      ctx,
      (obj) => recordUpdate(r, old, obj, ctx.manager, subresource, base),
      subresource,
    );
    return ok(object);
  }

  private patch(
    r: ResourceType,
    namespace: string | undefined,
    name: string,
    type: string,
    body: Buffer,
    subresource: string | undefined,
    ctx: WriteContext,
  ): Result {
    const old = this.bucket(r).get(this.key(r, namespace, name));
    if (!old) throw notFound(r, name);
    const patchBody = parseJson(body) as JsonValue;
    const base = subresource === 'scale' ? scaleOf(old) : structuredClone(old);
    let next: JsonObject;
    switch (type) {
      case 'application/merge-patch+json':
        next = mergePatch(base, patchBody) as JsonObject;
        break;
      case 'application/json-patch+json':
        next = jsonPatch(base, patchBody);
        break;
      case 'application/strategic-merge-patch+json':
        // Strategic merge needs Go struct tags: custom resources answer 415 (api-concepts "Patch").
        if (r.crd) throw unsupportedMediaType(type, false);
        next = strategicMergePatch(subresource === 'scale' ? 'Scale' : r.kind, base, patchBody);
        break;
      default:
        throw unsupportedMediaType(type, !r.crd);
    }
    if (!isObject(next)) throw badRequest('patch produced a non-object');
    if (subresource === 'scale') return this.writeScale(r, old, next, ctx);
    if (
      isObject(patchBody) &&
      isObject(patchBody.metadata) &&
      patchBody.metadata.resourceVersion !== undefined
    ) {
      if (patchBody.metadata.resourceVersion !== meta(old).resourceVersion) throw conflict(r, name);
    }
    this.checkUnknown(r, next, ctx, false, name);
    if (subresource === 'status') {
      const s = next.status;
      next = structuredClone(old);
      if (s === undefined) delete next.status;
      else next.status = s;
    }
    const supplied = subresource
      ? undefined
      : suppliedEntries(meta(next).managedFields, meta(old).managedFields);
    meta(next).managedFields = meta(old).managedFields ?? [];
    const { object } = this.commit(
      r,
      old,
      next,
      ctx,
      (obj) => recordUpdate(r, old, obj, ctx.manager, subresource, supplied),
      subresource,
    );
    return ok(object);
  }

  /** The scale subresource writes spec.replicas of the parent, recorded with subresource "scale". */
  private writeScale(r: ResourceType, old: JsonObject, scale: JsonObject, ctx: WriteContext): Result {
    const spec = isObject(scale.spec) ? scale.spec : {};
    const next = structuredClone(old);
    const nextSpec = isObject(next.spec) ? next.spec : {};
    if (typeof spec.replicas === 'number') nextSpec.replicas = spec.replicas;
    next.spec = nextSpec;
    const { object } = this.commit(
      r,
      old,
      next,
      ctx,
      (obj) => recordUpdate(r, old, obj, ctx.manager, 'scale'),
      'scale',
    );
    return ok(scaleOf(object));
  }

  /** Server-side apply (https://kubernetes.io/docs/reference/using-api/server-side-apply/). */
  private apply(
    r: ResourceType,
    namespace: string | undefined,
    name: string,
    config: JsonObject,
    subresource: string | undefined,
    force: boolean,
    ctx: WriteContext,
  ): Result {
    if (!isObject(config)) throw badRequest('apply patch must be an object');
    if (config.apiVersion === undefined || config.kind === undefined) {
      throw badRequest(
        `invalid object type: ${config.apiVersion === undefined ? 'apiVersion' : 'kind'} not set`,
      );
    }
    this.checkKind(r, config);
    const m = meta(config);
    if (m.name !== undefined && m.name !== name) {
      throw badRequest(
        `the name of the object (${String(m.name)}) does not match the name on the URL (${name})`,
      );
    }
    if (r.namespaced && m.namespace !== undefined && m.namespace !== namespace) {
      throw badRequest(
        'the namespace of the provided object does not match the namespace sent on the request',
      );
    }
    // Server-owned metadata in an applied configuration is ignored (ApplySet parents send creationTimestamp: null).
    for (const k of [
      'creationTimestamp',
      'uid',
      'generation',
      'managedFields',
      'selfLink',
      'deletionTimestamp',
      'resourceVersion',
    ])
      delete m[k];
    m.name = name;
    if (r.namespaced) m.namespace = namespace ?? '';
    if (subresource === 'status') {
      for (const k of Object.keys(config))
        if (!['apiVersion', 'kind', 'metadata', 'status'].includes(k)) delete config[k];
    } else if (r.subresources.includes('status')) delete config.status;
    this.checkUnknown(r, config, ctx, true, name);
    const old = this.bucket(r).get(this.key(r, namespace, name));
    if (!old) {
      if (subresource) throw notFound(r, name);
      this.requireNamespace(r, namespace);
    }
    const live: JsonObject = old
      ? structuredClone(old)
      : {
          apiVersion: apiVersionOf(r),
          kind: r.kind,
          metadata: { name, ...(r.namespaced ? { namespace } : {}) },
        };
    const result = applyConfig(r, live, config, ctx.manager, force, subresource);
    const next = result.object;
    if (!isObject(next.metadata)) next.metadata = {};
    const { object, created } = this.commit(r, old, next, ctx, result.managedFields, subresource);
    return { status: created ? 201 : 200, body: object };
  }

  private delete(
    r: ResourceType,
    namespace: string | undefined,
    name: string,
    opts: JsonObject,
    ctx: WriteContext,
    q: URLSearchParams,
  ): Result {
    const old = this.bucket(r).get(this.key(r, namespace, name));
    if (!old) throw notFound(r, name);
    const dryRun = ctx.dryRun || (Array.isArray(opts.dryRun) && opts.dryRun.includes('All'));
    const pre = isObject(opts.preconditions) ? opts.preconditions : {};
    if (pre.uid !== undefined && pre.uid !== meta(old).uid) throw conflict(r, name);
    if (pre.resourceVersion !== undefined && pre.resourceVersion !== meta(old).resourceVersion)
      throw conflict(r, name);
    const policy = String(opts.propagationPolicy ?? q.get('propagationPolicy') ?? 'Background');
    if (dryRun) return ok(structuredClone(old));
    if (r.kind === 'Namespace') return ok(this.terminateNamespace(r, old));
    const finalizers = Array.isArray(meta(old).finalizers) ? (meta(old).finalizers as JsonValue[]) : [];
    if (finalizers.length > 0 || policy === 'Foreground') {
      // Graceful deletion: the object stays with deletionTimestamp until its finalizers are gone.
      // There are no dependents here, so foregroundDeletion completes at once.
      if (finalizers.length === 0) return ok(this.remove(r, old));
      if (meta(old).deletionTimestamp) return ok(structuredClone(old));
      const next = structuredClone(old);
      meta(next).deletionTimestamp = nowRfc3339();
      meta(next).deletionGracePeriodSeconds = 0;
      return { status: 202, body: this.persist(r, next, 'MODIFIED') };
    }
    return ok(this.remove(r, old));
  }

  private deleteCollection(
    r: ResourceType,
    namespace: string | undefined,
    q: URLSearchParams,
    ctx: WriteContext,
  ): Result {
    const filter = this.selectorFilter(q);
    const victims = [...this.bucket(r).values()].filter(
      (o) => (!namespace || meta(o).namespace === namespace) && filter(o),
    );
    const items = ctx.dryRun ? victims.map((o) => structuredClone(o)) : victims.map((o) => this.remove(r, o));
    return ok({
      kind: r.listKind,
      apiVersion: apiVersionOf(r),
      metadata: { resourceVersion: String(this.rv) },
      items,
    });
  }

  /** Namespace deletion: Terminating, then every namespaced object in it goes, then the namespace. */
  private terminateNamespace(r: ResourceType, old: JsonObject): JsonObject {
    if (meta(old).deletionTimestamp) return structuredClone(old);
    const next = structuredClone(old);
    meta(next).deletionTimestamp = nowRfc3339();
    next.status = {
      phase: 'Terminating',
    };
    const stored = this.persist(r, next, 'MODIFIED');
    const ns = String(meta(old).name);
    this.later(this.options.namespaceTerminationMs ?? 20, () => {
      for (const res of this.resources) {
        if (!res.namespaced) continue;
        for (const o of [...this.bucket(res).values()]) if (meta(o).namespace === ns) this.remove(res, o);
      }
      const cur = this.bucket(r).get(`/${ns}`);
      if (cur) this.remove(r, cur);
    });
    return stored;
  }
}

interface WriteContext {
  dryRun: boolean;
  fieldValidation: string;
  manager: string;
  warnings: string[];
}

interface Result {
  status: number;
  body: JsonValue | Buffer;
  contentType?: string;
  headers?: Record<string, string>;
}

function ok(body: JsonValue): Result {
  return { status: 200, body };
}

/**
 * The field manager of a non-apply write: the fieldManager parameter, else the User-Agent up to
 * its first `/` (apiserver handlers/rest.go managerOrUserAgent, prefixFromUserAgent).
 */
export function managerOrUserAgent(manager: string | null, userAgent: string): string {
  if (manager) return manager;
  return [...(userAgent.split('/')[0] ?? '')]
    .filter((ch) => ch >= ' ' && ch !== '\x7f')
    .join('')
    .slice(0, 128);
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function isProtobuf(req: IncomingMessage): boolean {
  return String(req.headers['content-type'] ?? '').startsWith('application/vnd.kubernetes.protobuf');
}

/** POST/PUT bodies: JSON, YAML, or the protobuf kubectl's typed clients send for core kinds. */
function decodeBody(req: IncomingMessage, body: Buffer): JsonObject {
  if (isProtobuf(req)) return decodeProtobuf(body);
  if (String(req.headers['content-type'] ?? '').includes('yaml')) return parseYaml(body);
  return parseJson(body);
}

function parseJson(body: Buffer): JsonObject {
  if (body.length === 0) throw badRequest('the body of the request was empty');
  try {
    return JSON.parse(body.toString('utf8')) as JsonObject;
  } catch (err) {
    throw badRequest(`the body of the request could not be decoded: ${(err as Error).message}`);
  }
}

function parseYaml(body: Buffer): JsonObject {
  try {
    return yaml.load(body.toString('utf8'), { schema: yaml.JSON_SCHEMA }) as JsonObject;
  } catch (err) {
    throw badRequest(`error decoding YAML: ${(err as Error).message}`);
  }
}

function deletePath(obj: JsonObject, path: string): void {
  const parts = path.slice(1).split('.');
  let node: JsonValue | undefined = obj;
  for (const part of parts.slice(0, -1)) {
    const m = /^(.*)\[(\d+)\]$/.exec(part);
    if (m) {
      node = isObject(node) ? node[m[1]!] : undefined;
      node = Array.isArray(node) ? node[Number(m[2])] : undefined;
    } else node = isObject(node) ? node[part] : undefined;
  }
  if (isObject(node)) delete node[parts[parts.length - 1]!];
}

function scaleOf(obj: JsonObject): JsonObject {
  const m = meta(obj);
  const spec = isObject(obj.spec) ? obj.spec : {};
  const status = isObject(obj.status) ? obj.status : {};
  const sel = isObject(spec.selector) && isObject(spec.selector.matchLabels) ? spec.selector.matchLabels : {};
  return {
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    metadata: {
      name: m.name ?? '',
      namespace: m.namespace ?? '',
      uid: m.uid ?? '',
      resourceVersion: m.resourceVersion ?? '',
      creationTimestamp: m.creationTimestamp ?? null,
    },
    spec: { replicas: typeof spec.replicas === 'number' ? spec.replicas : 1 },
    status: {
      replicas: typeof status.replicas === 'number' ? status.replicas : 0,
      selector: Object.entries(sel)
        .map(([k, v]) => `${k}=${String(v)}`)
        .join(','),
    },
  };
}

function age(ts: string): string {
  const s = Math.max(0, Math.floor((Date.now() - Date.parse(ts)) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  return `${Math.floor(s / 3600)}h`;
}

/**
 * CRD additionalPrinterColumns with simple `.a.b` JSONPaths
 * (https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#additional-printer-columns).
 */
function crdColumns(
  cols: { name: string; jsonPath: string }[],
): { name: string; value: (o: JsonObject) => JsonValue }[] {
  return cols
    .filter((c) => c.jsonPath !== '.metadata.creationTimestamp')
    .map((c) => ({
      name: c.name,
      value: (o: JsonObject) => {
        let node: JsonValue | undefined = o;
        for (const p of c.jsonPath.replace(/^\./, '').split('.')) node = isObject(node) ? node[p] : undefined;
        return node === undefined
          ? null
          : typeof node === 'object' && node !== null
            ? JSON.stringify(node)
            : node;
      },
    }));
}

function tableColumns(kind: string): { name: string; value: (o: JsonObject) => JsonValue }[] {
  const num = (o: JsonObject, path: string): number => {
    let node: JsonValue | undefined = o;
    for (const p of path.split('.')) node = isObject(node) ? node[p] : undefined;
    return typeof node === 'number' ? node : 0;
  };
  switch (kind) {
    case 'Deployment':
      return [
        { name: 'Ready', value: (o) => `${num(o, 'status.readyReplicas')}/${num(o, 'spec.replicas')}` },
        { name: 'Up-to-date', value: (o) => num(o, 'status.updatedReplicas') },
        { name: 'Available', value: (o) => num(o, 'status.availableReplicas') },
      ];
    case 'ConfigMap':
      return [{ name: 'Data', value: (o) => (isObject(o.data) ? Object.keys(o.data).length : 0) }];
    case 'Namespace':
      return [{ name: 'Status', value: (o) => (isObject(o.status) ? String(o.status.phase ?? '') : '') }];
    case 'Service':
      return [
        { name: 'Type', value: (o) => String((o.spec as JsonObject)?.type ?? '') },
        { name: 'Cluster-IP', value: (o) => String((o.spec as JsonObject)?.clusterIP ?? '') },
      ];
    default:
      return [];
  }
}
