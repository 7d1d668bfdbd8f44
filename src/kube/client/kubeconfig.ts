/**
 * Where the cluster is and who we are, found the way kubectl finds them (client-go's clientcmd:
 * loader.go, client_config.go, validation.go; rest.InClusterConfig). Read synchronously and once
 * per run; credentials that change while gitops runs are credentials.ts' business.
 */
import { readFileSync, statSync } from 'node:fs';
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path';
import { load } from 'js-yaml';
import { closest } from '../../config/suggest.js';
import { usageError } from '../../core/errors.js';
import { type ProxyChoice, proxyFor } from './proxy.js';

export const DEFAULT_SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
const EXEC_API_VERSIONS = ['client.authentication.k8s.io/v1', 'client.authentication.k8s.io/v1beta1'];
/** The cluster extension client-go hands to exec plugins as `spec.cluster.config`. */
const EXEC_CLUSTER_EXTENSION = 'client.authentication.k8s.io/exec';

export interface ClusterEndpoint {
  /** e.g. https://127.0.0.1:6443 — no trailing slash, path prefix kept. */
  server: string;
  ca?: Buffer;
  insecureSkipTlsVerify: boolean;
  tlsServerName?: string;
  /** The cluster's proxy-url as written (exec plugins are told it). */
  proxyUrl?: string;
  /** The proxy connections go through: that proxy-url, or one from the environment (proxyFor). */
  proxy?: ProxyChoice;
  namespace?: string;
  /** 'in-cluster' for the pod's service account. */
  contextName: string;
  /** The kubeconfig user's name, for messages ('in-cluster' for the service account). */
  userName: string;
  /** Files read, for messages. */
  sources: string[];
  user: UserAuth;
}

export interface ExecPluginConfig {
  command: string;
  args: string[];
  env: Record<string, string>;
  apiVersion: string;
  interactiveMode: 'Never' | 'IfAvailable' | 'Always';
  provideClusterInfo: boolean;
  installHint?: string;
  /** client-go never sets the plugin's working directory: it runs where the caller runs. */
  cwd: string;
  /** The cluster's `client.authentication.k8s.io/exec` extension, passed on as `spec.cluster.config`. */
  clusterConfig?: unknown;
}

export interface UserAuth {
  clientCert?: Buffer;
  clientKey?: Buffer;
  token?: string;
  /** Re-read when it changes (service account token rotation). */
  tokenFile?: string;
  username?: string;
  password?: string;
  exec?: ExecPluginConfig;
  /**
   * `file` is where the user was defined: refreshed tokens are written back there. `cwd` is what
   * a relative idp-certificate-authority is read against (client-go does not resolve it).
   */
  authProvider?: {
    name: string;
    config: Record<string, string>;
    file: string;
    userName: string;
    cwd: string;
  };
}

export interface LoadKubeconfigOptions {
  /** KUBECONFIG, HOME, KUBERNETES_SERVICE_HOST/PORT, POD_NAMESPACE. */
  env: Record<string, string | undefined>;
  /** A relative explicit kubeconfig path (and KUBECONFIG entries) is resolved here. */
  cwd: string;
  /** environments.<name>.kubeconfig: only this file is read. */
  kubeconfig?: string;
  /** environments.<name>.kubeContext; the current-context otherwise. */
  context?: string;
  serviceAccountDir?: string;
}

type Fields = Record<string, unknown>;
interface Entry {
  body: Fields;
  file: string;
}
interface Kubeconfig {
  clusters: Map<string, Entry>;
  users: Map<string, Entry>;
  contexts: Map<string, Entry>;
  currentContext?: string;
}

/**
 * Finds the cluster and the credentials as kubectl would: the explicit file alone; else every
 * file of KUBECONFIG merged (the first file naming a cluster, user or context wins it whole, the
 * first current-context wins); else ~/.kube/config; with none of them, the pod's service account.
 */
export function loadKubeconfig(options: LoadKubeconfigOptions): ClusterEndpoint {
  const { env, cwd } = options;
  const explicit = options.kubeconfig ? resolve(cwd, options.kubeconfig) : undefined;
  const candidates = explicit
    ? [explicit]
    : env.KUBECONFIG
      ? [...new Set(env.KUBECONFIG.split(delimiter).filter(Boolean))].map((file) => resolve(cwd, file))
      : env.HOME
        ? [join(env.HOME, '.kube', 'config')]
        : [];
  const files: Array<Kubeconfig & { file: string }> = [];
  for (const file of candidates) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      if (errorCode(error) === 'ENOENT' && !explicit) continue;
      if (errorCode(error) === 'ENOENT')
        throw usageError('KUBECONFIG_NOT_FOUND', `the kubeconfig ${file} does not exist`, {
          hint: 'fix environments.<env>.kubeconfig',
        });
      throw invalid(file, `cannot be read (${errorCode(error) ?? String(error)})`);
    }
    files.push({ file, ...parseKubeconfig(file, text) });
  }
  const sources = files.map((entry) => entry.file);
  const merged: Kubeconfig = { clusters: new Map(), users: new Map(), contexts: new Map() };
  for (const file of files) {
    for (const kind of ['clusters', 'users', 'contexts'] as const)
      for (const [name, entry] of file[kind]) if (!merged[kind].has(name)) merged[kind].set(name, entry);
    merged.currentContext ??= file.currentContext;
  }
  const empty =
    merged.contexts.size + merged.clusters.size + merged.users.size === 0 && !merged.currentContext;
  // A context named in gitops.yaml means a particular cluster: never stand in the pod's own for it.
  if (empty && !explicit && options.context === undefined) {
    const inCluster = inClusterEndpoint(env, options.serviceAccountDir ?? DEFAULT_SERVICE_ACCOUNT_DIR);
    if (inCluster) return withProxy(inCluster, env);
  }
  if (files.length === 0) {
    const looked = candidates.length > 0 ? candidates.join(', ') : 'KUBECONFIG and HOME are unset';
    const tokenFile = join(options.serviceAccountDir ?? DEFAULT_SERVICE_ACCOUNT_DIR, 'token');
    const inPod = env.KUBERNETES_SERVICE_HOST && env.KUBERNETES_SERVICE_PORT && options.context === undefined;
    throw usageError(
      'KUBECONFIG_NOT_FOUND',
      `no kubeconfig was found (looked at: ${looked})${inPod ? `, and the service account token ${tokenFile} does not exist` : ''}`,
      { hint: 'set KUBECONFIG or environments.<env>.kubeconfig to the cluster’s kubeconfig' },
    );
  }
  return withProxy(endpointOf(merged, options, sources), env);
}

function withProxy(endpoint: ClusterEndpoint, env: Record<string, string | undefined>): ClusterEndpoint {
  const proxy = proxyFor(endpoint.server, endpoint.proxyUrl, env);
  return proxy ? { ...endpoint, proxy } : endpoint;
}

function endpointOf(config: Kubeconfig, options: LoadKubeconfigOptions, sources: string[]): ClusterEndpoint {
  const read = sources.join(', ');
  const names = (map: Map<string, Entry>) => [...map.keys()].join(', ') || 'none';
  const contextName = options.context || config.currentContext;
  const contextHint = `set environments.<env>.kubeContext to one of the contexts of ${read}: ${names(config.contexts)}`;
  if (!contextName)
    throw usageError(
      'KUBE_CONTEXT_NOT_FOUND',
      `no Kubernetes context is chosen: ${read} sets no current-context`,
      {
        hint: contextHint,
      },
    );
  const context = config.contexts.get(contextName);
  if (!context) {
    const guess = closest(contextName, config.contexts.keys());
    throw usageError(
      'KUBE_CONTEXT_NOT_FOUND',
      `context "${contextName}" is not in ${read}${guess ? ` (did you mean "${guess}"?)` : ''}`,
      { hint: contextHint },
    );
  }
  const ref = (kind: 'cluster' | 'user', map: Map<string, Entry>): [string, Entry] => {
    const name = text(context.body, kind, context.file);
    if (!name) throw invalid(context.file, `context "${contextName}" names no ${kind}`);
    const entry = map.get(name);
    if (!entry)
      throw usageError(
        'KUBECONFIG_INVALID',
        `context "${contextName}" names ${kind} "${name}", which is not in ${read} (${kind}s there: ${names(map)})`,
        {
          hint: `add the ${kind} or fix contexts[].context.${kind} of "${contextName}"`,
          location: { file: context.file },
        },
      );
    return [name, entry];
  };
  const [clusterName, cluster] = ref('cluster', config.clusters);
  const [userName, user] = ref('user', config.users);
  const namespace = text(context.body, 'namespace', context.file);
  if (namespace && !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(namespace))
    throw invalid(
      context.file,
      `the namespace "${namespace}" of context "${contextName}" is not a DNS-1123 label`,
    );

  const where = `cluster "${clusterName}"`;
  const body = cluster.body;
  const ca = dataOrFile(body, 'certificate-authority', where, cluster.file);
  const insecureSkipTlsVerify = flag(body, 'insecure-skip-tls-verify', cluster.file);
  if (insecureSkipTlsVerify && ca)
    throw invalid(
      cluster.file,
      `${where} sets insecure-skip-tls-verify and a certificate authority; kubectl refuses both`,
    );
  const proxyUrl = text(body, 'proxy-url', cluster.file);
  if (proxyUrl && !/^(https?|socks5):\/\/[^/]/.test(proxyUrl))
    throw invalid(cluster.file, `the proxy-url of ${where} is not an http, https or socks5 URL`);
  // Refused rather than ignored: connecting past the proxy would fail later, and less clearly.
  if (proxyUrl?.startsWith('socks5:'))
    throw invalid(
      cluster.file,
      `the proxy-url of ${where} is a socks5 proxy, which gitops does not speak (only http and https proxies)`,
    );
  const auth = userAuth(userName, user, options.cwd);
  const extensions = body.extensions;
  const clusterConfig = Array.isArray(extensions)
    ? extensions.find((item) => isFields(item) && item.name === EXEC_CLUSTER_EXTENSION)?.extension
    : undefined;
  if (auth.exec && clusterConfig !== undefined) auth.exec.clusterConfig = clusterConfig;
  const tls = Boolean(ca || insecureSkipTlsVerify || auth.clientCert);
  const server = serverUrl(text(body, 'server', cluster.file), tls, where, cluster.file);
  const tlsServerName = text(body, 'tls-server-name', cluster.file);
  return {
    server,
    ...(ca ? { ca } : {}),
    insecureSkipTlsVerify,
    ...(tlsServerName ? { tlsServerName } : {}),
    ...(proxyUrl ? { proxyUrl } : {}),
    ...(namespace ? { namespace } : {}),
    contextName,
    userName,
    sources,
    // client-go sends credentials over TLS only (rest.IsConfigTransportTLS); neither do we.
    user: server.startsWith('https:') ? auth : {},
  };
}

function userAuth(name: string, entry: Entry, cwd: string): UserAuth {
  const { body, file } = entry;
  const base = dirname(file);
  const where = `user "${name}"`;
  const auth: UserAuth = {};
  const token = text(body, 'token', file);
  const tokenFile = path(body, 'tokenFile', base, file);
  if (token) auth.token = token;
  if (tokenFile) {
    if (!token) readReferenced(tokenFile, 'tokenFile', where, file);
    auth.tokenFile = tokenFile;
  }
  const username = text(body, 'username', file);
  const password = text(body, 'password', file);
  if (username) auth.username = username;
  if (password) auth.password = password;
  if (token && (username || password))
    throw invalid(file, `${where} has both a token and a username/password; kubectl allows only one of them`);
  const clientCert = dataOrFile(body, 'client-certificate', where, file, base);
  const clientKey = dataOrFile(body, 'client-key', where, file, base);
  if (clientCert && !clientKey)
    throw invalid(file, `${where} has a client certificate and no client-key or client-key-data`);
  if (clientCert && clientKey) Object.assign(auth, { clientCert, clientKey });
  if (body.as !== undefined || body['as-groups'] !== undefined || body['as-uid'] !== undefined)
    throw usageError(
      'KUBE_AUTH_UNSUPPORTED',
      `${where} impersonates another user (as:), which gitops does not do`,
      {
        hint: 'give the user its own credentials instead of impersonation',
        location: { file },
      },
    );

  const exec = body.exec;
  const provider = body['auth-provider'];
  if (exec !== undefined && provider !== undefined)
    throw invalid(file, `${where} has both an exec plugin and an auth-provider; kubectl allows only one`);
  if (exec !== undefined) auth.exec = execPlugin(exec, where, file, base, cwd);
  if (provider !== undefined) {
    if (!isFields(provider) || typeof provider.name !== 'string')
      throw invalid(file, `the auth-provider of ${where} has no name`);
    const config: Record<string, string> = {};
    for (const [key, value] of Object.entries(provider.config ?? {})) {
      if (typeof value !== 'string')
        throw invalid(file, `auth-provider.config.${key} of ${where} is not a string`);
      config[key] = value;
    }
    auth.authProvider = { name: provider.name, config, file, userName: name, cwd };
  }
  return auth;
}

function execPlugin(exec: unknown, where: string, file: string, base: string, cwd: string): ExecPluginConfig {
  if (!isFields(exec)) throw invalid(file, `the exec plugin of ${where} is not a mapping`);
  const command = text(exec, 'command', file);
  if (!command) throw invalid(file, `the exec plugin of ${where} has no command`);
  const apiVersion = text(exec, 'apiVersion', file);
  if (!apiVersion || !EXEC_API_VERSIONS.includes(apiVersion))
    throw invalid(
      file,
      `the exec plugin of ${where} has apiVersion "${apiVersion ?? ''}", not one of ${EXEC_API_VERSIONS.join(', ')}`,
    );
  // client-go defaults the mode for v1beta1 only; v1 plugins must say whether they want a terminal.
  const mode =
    text(exec, 'interactiveMode', file) ?? (apiVersion.endsWith('/v1beta1') ? 'IfAvailable' : undefined);
  if (mode !== 'Never' && mode !== 'IfAvailable' && mode !== 'Always')
    throw invalid(
      file,
      `the exec plugin of ${where} needs interactiveMode Never, IfAvailable or Always (it has ${mode ?? 'none'})`,
    );
  const args = exec.args ?? [];
  if (!Array.isArray(args) || !args.every((arg) => typeof arg === 'string'))
    throw invalid(file, `the exec args of ${where} are not a list of strings`);
  const env: Record<string, string> = {};
  for (const item of Array.isArray(exec.env) ? exec.env : []) {
    if (!isFields(item) || typeof item.name !== 'string' || !item.name || typeof item.value !== 'string')
      throw invalid(file, `an exec env entry of ${where} is not a name and a string value`);
    env[item.name] = item.value;
  }
  // client-go escapes control characters too: a hint must not be able to drive the terminal.
  const installHint = text(exec, 'installHint', file)?.replace(
    /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g,
    '',
  );
  return {
    // Only a command with a slash is a path (relative to the kubeconfig); a bare name is found on PATH.
    command: command.includes('/') && !isAbsolute(command) ? join(base, command) : command,
    args,
    env,
    apiVersion,
    interactiveMode: mode,
    provideClusterInfo: flag(exec, 'provideClusterInfo', file),
    ...(installHint ? { installHint } : {}),
    cwd,
  };
}

/** The pod's service account, when gitops runs in one (client-go's inClusterClientConfig.Possible). */
function inClusterEndpoint(
  env: Record<string, string | undefined>,
  dir: string,
): ClusterEndpoint | undefined {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  const tokenFile = join(dir, 'token');
  if (!host || !port || !isFile(tokenFile)) return undefined;
  const optional = (name: string) => {
    try {
      return readFileSync(join(dir, name));
    } catch {
      return undefined; // client-go goes on without the CA (system roots) and with no namespace file
    }
  };
  const ca = optional('ca.crt');
  const namespace = env.POD_NAMESPACE || optional('namespace')?.toString('utf8').trim();
  return {
    server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    ...(ca ? { ca } : {}),
    insecureSkipTlsVerify: false,
    ...(namespace ? { namespace } : {}),
    contextName: 'in-cluster',
    userName: 'in-cluster',
    sources: [tokenFile],
    user: { tokenFile },
  };
}

function parseKubeconfig(file: string, source: string): Kubeconfig {
  let doc: unknown;
  try {
    doc = load(source);
  } catch (error) {
    throw invalid(file, `is not valid YAML: ${(error as Error).message.split('\n')[0]}`);
  }
  if (doc === undefined || doc === null)
    return { clusters: new Map(), users: new Map(), contexts: new Map() };
  if (!isFields(doc)) throw invalid(file, 'is not a kubeconfig (a mapping of clusters, users and contexts)');
  const list = (key: string, item: string): Map<string, Entry> => {
    const entries = new Map<string, Entry>();
    const value = doc[key] ?? [];
    if (!Array.isArray(value)) throw invalid(file, `${key} is not a list`);
    for (const [index, named] of value.entries()) {
      if (!isFields(named) || typeof named.name !== 'string' || !named.name)
        throw invalid(file, `${key}[${index}] has no name`);
      const body = named[item] ?? {};
      if (!isFields(body)) throw invalid(file, `${key}[${index}].${item} is not a mapping`);
      if (entries.has(named.name)) throw invalid(file, `${key} has "${named.name}" twice`);
      entries.set(named.name, { body, file });
    }
    return entries;
  };
  const currentContext = text(doc, 'current-context', file);
  return {
    clusters: list('clusters', 'cluster'),
    users: list('users', 'user'),
    contexts: list('contexts', 'context'),
    ...(currentContext ? { currentContext } : {}),
  };
}

/** `<key>-data` (base64) or the file `<key>` names; client-go refuses both at once. */
function dataOrFile(
  body: Fields,
  key: string,
  where: string,
  file: string,
  base = dirname(file),
): Buffer | undefined {
  const encoded = text(body, `${key}-data`, file);
  const named = path(body, key, base, file);
  if (encoded && named)
    throw invalid(
      file,
      `${where} has both ${key}-data and ${key}; kubectl refuses that (the data would win)`,
    );
  if (encoded) {
    const compact = encoded.replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact)) throw invalid(file, `${key}-data of ${where} is not base64`);
    return Buffer.from(compact, 'base64');
  }
  return named ? readReferenced(named, key, where, file) : undefined;
}

function readReferenced(path: string, key: string, where: string, file: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw invalid(file, `cannot read the ${key} ${path} of ${where} (${errorCode(error) ?? String(error)})`);
  }
}

function serverUrl(server: string | undefined, tls: boolean, where: string, file: string): string {
  if (!server) throw invalid(file, `${where} has no server`);
  // Like rest.DefaultServerURL: a bare host:port is https when there is TLS material to use.
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(server)
    ? server
    : `${tls ? 'https' : 'http'}://${server}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw invalid(file, `the server "${server}" of ${where} is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw invalid(file, `the server "${server}" of ${where} is not an http or https URL`);
  return `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}`;
}

function text(body: Fields, key: string, file: string): string | undefined {
  const value = body[key];
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw invalid(file, `${key} is not a string`);
  return value;
}

function flag(body: Fields, key: string, file: string): boolean {
  const value = body[key] ?? false;
  if (typeof value !== 'boolean') throw invalid(file, `${key} is not true or false`);
  return value;
}

function path(body: Fields, key: string, base: string, file: string): string | undefined {
  const value = text(body, key, file);
  return value === undefined ? undefined : resolve(base, value);
}

function isFields(value: unknown): value is Fields {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isFile(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

function invalid(file: string, problem: string) {
  return usageError('KUBECONFIG_INVALID', `kubeconfig ${file}: ${problem}`, {
    hint: 'fix the kubeconfig (kubectl config view shows what kubectl makes of it)',
    location: { file },
  });
}
