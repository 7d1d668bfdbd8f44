import type { EnvironmentConfig, GitopsConfig } from '../config/types.js';
import type { Context } from '../core/context.js';
import { GitopsError } from '../core/errors.js';
import { ExecError, type ExecResult } from '../core/exec.js';
import { ExitCode } from '../core/exit-codes.js';
import { groupKind, type KubeObject } from '../kube/objects.js';

/** Transient API failures worth another try for reads: throttling, server errors, timeouts, resets. */
const TRANSIENT =
  /(TooManyRequests|429|InternalError|the server has received too many requests|500 Internal|503|ServiceUnavailable|connection reset|connection refused|i\/o timeout|EOF|timed out|Client\.Timeout|context deadline exceeded|request canceled|unexpected error when reading response body|TLS handshake timeout|http2: client connection lost)/i;
/** Not transient although they say "timed out": a wait that used up its own deadline. */
const DEADLINE = /timed out waiting for the condition|exceeded its progress deadline/i;
export const READ_ATTEMPTS = 3;
/** Up to this many objects are read one GET each; more, by listing their kinds. */
const BY_NAME_LIMIT = 20;
/** kubectl's refusal to list a kind the API server does not serve. */
const UNKNOWN_RESOURCE_TYPE = /the server doesn't have a resource type "([^"]+)"/;

/**
 * kubectl's own default request timeout is 0 (wait forever): one hung API request would stall
 * a deploy until the exec timeout, minutes later. Every API call gets this bound instead, so a
 * hung read fails fast and is retried, and a hung write fails clearly (issue 10).
 * GITOPS_KUBECTL_REQUEST_TIMEOUT (kubectl duration: 30s, 2m) overrides it.
 */
const DEFAULT_REQUEST_TIMEOUT = '30s';

/** Commands that never reach the API server, or follow a watch with their own --timeout. */
const NO_REQUEST_TIMEOUT = new Set(['config', 'kustomize', 'rollout', 'wait']);

/** True for a failure that another attempt may not see: throttling, 5xx, resets, request timeouts. */
export function isTransient(error: unknown): boolean {
  if (!(error instanceof ExecError)) return false;
  if (DEADLINE.test(error.stderrTail)) return false;
  return error.timedOut || TRANSIENT.test(error.stderrTail);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The `Error from server (Reason): message` line kubectl prints, or the last stderr line. */
export function kubectlMessage(stderr: string): string {
  const lines = stderr.trim().split('\n').filter(Boolean);
  return (
    lines.find((line) => line.startsWith('Error from server') || line.startsWith('error:')) ??
    lines.at(-1) ??
    ''
  );
}

/**
 * kubectl for one environment: binary from `kubectl.path` (or PATH), the environment's context,
 * kubeconfig and namespace. Reads are retried a bounded number of times on transient failures;
 * writes are not (a retried write could hide what happened).
 */
export class Kubectl {
  readonly namespace: string | undefined;

  constructor(
    private readonly ctx: Context,
    private readonly config: GitopsConfig,
    private readonly environment: EnvironmentConfig,
  ) {
    this.namespace = environment.namespace;
  }

  private requestTimeout(): string {
    const value = this.ctx.env.GITOPS_KUBECTL_REQUEST_TIMEOUT?.trim();
    if (!value) return DEFAULT_REQUEST_TIMEOUT;
    if (!/^\d+(ms|s|m|h)?$/.test(value)) {
      throw new GitopsError(
        'INVALID_REQUEST_TIMEOUT',
        `GITOPS_KUBECTL_REQUEST_TIMEOUT=${value} is not a duration such as 30s or 2m`,
        { exitCode: ExitCode.Usage, hint: 'unset it to use the default (30s)' },
      );
    }
    return value;
  }

  private globalArgs(args: readonly string[]): string[] {
    const global: string[] = [];
    if (this.environment.kubeconfig) global.push(`--kubeconfig=${this.environment.kubeconfig}`);
    if (this.environment.kubeContext) global.push(`--context=${this.environment.kubeContext}`);
    if (!NO_REQUEST_TIMEOUT.has(args[0] ?? '') && !args.some((arg) => arg.startsWith('--request-timeout')))
      global.push(`--request-timeout=${this.requestTimeout()}`);
    return global;
  }

  run(
    args: readonly string[],
    options: { input?: string; read?: boolean; allowFailure?: boolean; timeoutMs?: number } = {},
  ): Promise<ExecResult> {
    return this.ctx.exec.run(this.config.kubectl.path, [...this.globalArgs(args), ...args], {
      cwd: this.config.dir,
      ...options,
    });
  }

  /** A read, retried on transient API errors with a short backoff. */
  async read(args: readonly string[], what: string): Promise<string> {
    let last: ExecError | undefined;
    for (let attempt = 1; attempt <= READ_ATTEMPTS; attempt++) {
      try {
        return (await this.run(args, { timeoutMs: 120_000, read: true })).stdout;
      } catch (error) {
        if (!isTransient(error) || attempt === READ_ATTEMPTS) throw this.clusterError(error, what);
        last = error as ExecError;
        this.ctx.reporter.debug(
          `${what}: transient failure (attempt ${attempt}/${READ_ATTEMPTS}): ${kubectlMessage(last.stderrTail)}`,
        );
        await sleep(250 * attempt);
      }
    }
    throw this.clusterError(last, what);
  }

  /** Wraps a kubectl failure as exit 3 with kubectl's own message; a missing kubectl stays exit 2. */
  clusterError(error: unknown, what: string): unknown {
    if (error instanceof ExecError) {
      const message = kubectlMessage(error.stderrTail);
      return new GitopsError('CLUSTER_FAILED', `${what} failed: ${message}`, {
        exitCode: ExitCode.OperationFailed,
        hint: this.environment.kubeContext
          ? `check access to kube context ${this.environment.kubeContext}`
          : 'check KUBECONFIG / environments.<name>.kubeContext and that the cluster is reachable',
        cause: error,
      });
    }
    return error;
  }

  /** `kubectl version` of client and server; proves the cluster is reachable. */
  async version(): Promise<{ client?: string; server?: string }> {
    const text = await this.read(['version', '-o', 'json', '--request-timeout=10s'], 'reaching the cluster');
    const parsed = JSON.parse(text) as {
      clientVersion?: { gitVersion?: string };
      serverVersion?: { gitVersion?: string };
    };
    return {
      ...(parsed.clientVersion?.gitVersion ? { client: parsed.clientVersion.gitVersion } : {}),
      ...(parsed.serverVersion?.gitVersion ? { server: parsed.serverVersion.gitVersion } : {}),
    };
  }

  private serverVersionOnce?: Promise<string | undefined>;

  /** The server's version (`v1.32.9`), asked once per kubectl: renders that depend on it agree. */
  serverVersion(): Promise<string | undefined> {
    this.serverVersionOnce ??= this.version().then((versions) => versions.server);
    return this.serverVersionOnce;
  }

  /**
   * Lists many kinds in one kubectl call (kubectl makes one list request per kind).
   * `namespace` undefined means all namespaces (cluster-scoped kinds ignore it either way).
   */
  async list(
    kinds: readonly string[],
    options: { namespace?: string; labelSelector?: string },
  ): Promise<KubeObject[]> {
    let remaining = [...kinds];
    for (;;) {
      if (remaining.length === 0) return [];
      // kubectl hides managedFields unless asked; attribution needs them.
      const args = ['get', remaining.join(','), '-o', 'json', '--show-managed-fields'];
      args.push(...(options.namespace ? ['-n', options.namespace] : ['--all-namespaces']));
      if (options.labelSelector) args.push('-l', options.labelSelector);
      try {
        const text = await this.read(args, `reading ${remaining.join(', ')} from the cluster`);
        const list = JSON.parse(text) as { items?: KubeObject[] };
        return list.items ?? [];
      } catch (error) {
        // A kind the server does not serve (a CRD not installed yet) has no objects: list the rest.
        const unknown = UNKNOWN_RESOURCE_TYPE.exec(error instanceof Error ? error.message : '')?.[1];
        const rest = unknown
          ? remaining.filter((kind) => kind.split('.')[0]!.toLowerCase() !== unknown.toLowerCase())
          : remaining;
        if (rest.length === remaining.length) throw error;
        this.ctx.reporter.debug(
          `the cluster has no resource type ${unknown} (yet): none of its objects exist`,
        );
        remaining = rest;
      }
    }
  }

  /**
   * The live versions of these objects, whatever their labels: one kubectl call per namespace —
   * by name for a few objects (one GET each), else a list of their kinds filtered by name (one
   * LIST per kind; a first deploy of a thousand objects must not cost a thousand requests).
   * Absent objects, and objects of kinds the server does not serve yet (a CRD not installed), are
   * left out.
   */
  async getByName(objects: readonly KubeObject[]): Promise<KubeObject[]> {
    const byNamespace = new Map<string, KubeObject[]>();
    for (const object of objects) {
      const namespace = object.metadata.namespace ?? '';
      byNamespace.set(namespace, [...(byNamespace.get(namespace) ?? []), object]);
    }
    const found: KubeObject[] = [];
    const get = async (targets: readonly string[], namespace: string, what: string) => {
      const args = ['get', ...targets, '-o', 'json', '--ignore-not-found', '--show-managed-fields'];
      if (namespace) args.push('-n', namespace);
      const text = await this.read(args, what);
      if (!text.trim()) return [];
      const parsed = JSON.parse(text) as KubeObject & { items?: KubeObject[] };
      return parsed.kind === 'List' ? (parsed.items ?? []) : [parsed];
    };
    // `the server doesn't have a resource type "widgets"`: nothing of that kind exists yet.
    const unknownKind = (error: unknown) =>
      error instanceof GitopsError && /doesn't have a resource type/.test(error.message);
    for (const [namespace, wanted] of byNamespace) {
      const byKind = new Map<string, KubeObject[]>();
      for (const object of wanted)
        byKind.set(groupKind(object), [...(byKind.get(groupKind(object)) ?? []), object]);
      const lookup = async (kinds: readonly string[]) => {
        if (wanted.length <= BY_NAME_LIMIT) {
          const names = kinds.flatMap((kind) =>
            byKind.get(kind)!.map((object) => `${kind}/${object.metadata.name}`),
          );
          return get(names, namespace, `reading ${names.length} object(s) by name`);
        }
        const names = new Set(wanted.map((object) => `${groupKind(object)}/${object.metadata.name}`));
        const listed = await get(
          [kinds.join(',')],
          namespace,
          `reading ${kinds.join(', ')} from the cluster`,
        );
        return listed.filter((object) => names.has(`${groupKind(object)}/${object.metadata.name}`));
      };
      try {
        found.push(...(await lookup([...byKind.keys()])));
      } catch (error) {
        if (!unknownKind(error)) throw error;
        // One call per kind tells which kinds the server lacks.
        for (const kind of byKind.keys()) {
          try {
            found.push(...(await lookup([kind])));
          } catch (kindError) {
            if (!unknownKind(kindError)) throw kindError;
          }
        }
      }
    }
    return found;
  }
}
