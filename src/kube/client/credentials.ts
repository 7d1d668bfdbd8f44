/**
 * The credentials of each request to the API server, as client-go's transport builds them: a
 * static client certificate, bearer token (or token file) or basic auth; else an exec plugin
 * (plugin/pkg/client/auth/exec); an OIDC auth-provider (plugin/pkg/client/auth/oidc) when no
 * Authorization header is set by then. Every secret goes to the masker before it can be printed.
 */
import { readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { isAbsolute, resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { load } from 'js-yaml';
import type { Context } from '../../core/context.js';
import { GitopsError, isGitopsError, usageError } from '../../core/errors.js';
import type { ClusterEndpoint, ExecPluginConfig, UserAuth } from './kubeconfig.js';

export interface RequestCredentials {
  headers: Record<string, string>;
  clientCert?: Buffer;
  clientKey?: Buffer;
}

/** client-go re-reads a token file after a minute: half the kubelet's earliest rotation of a projected token. */
const TOKEN_FILE_PERIOD_MS = 60_000;
/** An id-token this close to its `exp` is renewed already (oidc.go's expiryDelta). */
const ID_TOKEN_EXPIRY_SKEW_MS = 10_000;
/** Credential plugins wait on networks, not people (they get no terminal): give up long before the run's timeout. */
const EXEC_PLUGIN_TIMEOUT_MS = 120_000;
const OIDC_REQUEST_TIMEOUT_MS = 30_000;
/** Auth providers client-go removed, and the exec plugin each was replaced with. */
const REMOVED_PROVIDERS: Record<string, string> = {
  gcp: 'gke-gcloud-auth-plugin (https://cloud.google.com/kubernetes-engine/docs/how-to/cluster-access-for-kubectl)',
  azure: 'kubelogin (https://azure.github.io/kubelogin/)',
};

type CredentialContext = Pick<Context, 'exec' | 'masker' | 'env' | 'reporter'>;

interface Fetched {
  credentials: RequestCredentials;
  /** Epoch ms after which get() builds them again; undefined: never. */
  expiresAt?: number;
}

/** What one endpoint's requests authenticate with; cached, renewed on expiry or after invalidate(). */
export class CredentialSource {
  private cached: Fetched | undefined;
  private pending: Promise<Fetched> | undefined;
  private generation = 0;
  private fileToken: { token: string; readAt: number } | undefined;
  private oidcConfig: Record<string, string> | undefined;
  private oidcStale = false;
  private readonly now: () => number;

  /** The source this one was made from (inheriting): its valid credentials are used first. */
  private readonly parent: CredentialSource | undefined;

  constructor(
    private readonly endpoint: ClusterEndpoint,
    private readonly ctx: CredentialContext,
    options: { now?: () => number; parent?: CredentialSource } = {},
  ) {
    this.now = options.now ?? Date.now;
    this.parent = options.parent;
    const { user } = endpoint;
    for (const secret of [user.token, user.password, basicCredential(user)]) ctx.masker.add(secret);
    const config = user.authProvider?.config;
    if (config) {
      this.oidcConfig = { ...config };
      for (const key of ['id-token', 'refresh-token', 'client-secret']) ctx.masker.add(config[key]);
    }
  }

  /**
   * A source for the same user under another context (a clean-up's, which an interrupt does not
   * stop): it uses what this source holds while that is valid, and fetches with its own context
   * (its own exec settings) only when it must.
   */
  inheriting(ctx: CredentialContext): CredentialSource {
    return new CredentialSource(this.endpoint, ctx, { now: this.now, parent: this });
  }

  /** The credentials held now, unless they expired (or were invalidated). */
  private valid(): RequestCredentials | undefined {
    const cached = this.cached;
    if (cached && (cached.expiresAt === undefined || this.now() < cached.expiresAt))
      return cached.credentials;
    return undefined;
  }

  async get(): Promise<RequestCredentials> {
    const held = this.valid() ?? (this.generation === 0 ? this.parent?.valid() : undefined);
    if (held) return held;
    if (!this.pending) {
      const generation = this.generation;
      this.pending = this.fetch()
        .then((fetched) => {
          if (generation === this.generation) this.cached = fetched;
          return fetched;
        })
        .finally(() => {
          this.pending = undefined;
        });
    }
    return (await this.pending).credentials;
  }

  /** After a 401: the next get() runs the exec plugin again, renews the id-token, re-reads the token file. */
  invalidate(): void {
    this.generation++;
    this.cached = undefined;
    this.fileToken = undefined;
    this.oidcStale = true;
  }

  private async fetch(): Promise<Fetched> {
    const { user } = this.endpoint;
    const headers: Record<string, string> = {};
    const expiries: number[] = [];
    let clientCert = user.clientKey ? user.clientCert : undefined;
    let clientKey = clientCert ? user.clientKey : undefined;
    const bearer = this.staticToken();
    if (bearer) {
      headers.Authorization = `Bearer ${bearer.token}`;
      if (bearer.expiresAt !== undefined) expiries.push(bearer.expiresAt);
    } else if (user.username) headers.Authorization = `Basic ${basicCredential(user)}`;
    // client-go's exec authenticator stands aside when any static credential is configured.
    if (user.exec && !headers.Authorization && !clientCert) {
      const plugin = await this.runPlugin(user.exec);
      if (plugin.token) headers.Authorization = `Bearer ${plugin.token}`;
      if (plugin.clientCert) ({ clientCert, clientKey } = plugin);
      if (plugin.expiresAt !== undefined) expiries.push(plugin.expiresAt);
    }
    if (user.authProvider && !headers.Authorization) {
      const oidc = await this.oidcToken(user.authProvider);
      headers.Authorization = `Bearer ${oidc.token}`;
      expiries.push(oidc.expiresAt);
    }
    return {
      credentials: { headers, ...(clientCert && clientKey ? { clientCert, clientKey } : {}) },
      ...(expiries.length > 0 ? { expiresAt: Math.min(...expiries) } : {}),
    };
  }

  /** `token`, or the token file re-read once a minute (a rotated service account token). */
  private staticToken(): { token: string; expiresAt?: number } | undefined {
    const { token, tokenFile } = this.endpoint.user;
    if (!tokenFile) return token ? { token } : undefined;
    const now = this.now();
    if (!this.fileToken || now >= this.fileToken.readAt + TOKEN_FILE_PERIOD_MS) {
      try {
        const read = readFileSync(tokenFile, 'utf8').trim();
        if (!read) throw new Error('the file is empty');
        this.ctx.masker.add(read);
        this.fileToken = { token: read, readAt: now };
      } catch (error) {
        const previous = this.fileToken?.token ?? token;
        if (previous === undefined)
          throw new GitopsError(
            'KUBE_CREDENTIALS_FAILED',
            `cannot read the token file ${tokenFile}: ${reason(error)}`,
            {
              hint: 'check users[].user.tokenFile of the kubeconfig (or the mounted service account token)',
            },
          );
        // As client-go: a token that cannot be rotated now is still better than none.
        this.ctx.reporter.warn(
          `cannot re-read the token file ${tokenFile} (${reason(error)}); using the token read before`,
        );
        this.fileToken = { token: previous, readAt: now };
      }
    }
    return { token: this.fileToken.token, expiresAt: this.fileToken.readAt + TOKEN_FILE_PERIOD_MS };
  }

  private async runPlugin(
    exec: ExecPluginConfig,
  ): Promise<{ token?: string; clientCert?: Buffer; clientKey?: Buffer; expiresAt?: number }> {
    const who = `the credential plugin ${exec.command} of user "${this.endpoint.userName}"`;
    if (exec.interactiveMode === 'Always')
      throw usageError(
        'KUBE_AUTH_UNSUPPORTED',
        `${who} needs a terminal (interactiveMode: Always); gitops runs it without one`,
        {
          hint: 'set interactiveMode: IfAvailable or Never in the kubeconfig, or use a kubeconfig with non-interactive credentials in CI',
        },
      );
    const { endpoint } = this;
    const cluster = {
      server: endpoint.server,
      ...(endpoint.tlsServerName ? { 'tls-server-name': endpoint.tlsServerName } : {}),
      ...(endpoint.insecureSkipTlsVerify ? { 'insecure-skip-tls-verify': true } : {}),
      ...(endpoint.ca ? { 'certificate-authority-data': endpoint.ca.toString('base64') } : {}),
      ...(endpoint.proxyUrl ? { 'proxy-url': endpoint.proxyUrl } : {}),
      ...(exec.clusterConfig !== undefined ? { config: exec.clusterConfig } : {}),
    };
    const info = {
      kind: 'ExecCredential',
      apiVersion: exec.apiVersion,
      spec: { interactive: false, ...(exec.provideClusterInfo ? { cluster } : {}) },
    };
    this.ctx.reporter.debug(`getting credentials from ${exec.command}`);
    let stdout: string;
    try {
      const result = await this.ctx.exec.run(exec.command, exec.args, {
        cwd: exec.cwd,
        env: { ...exec.env, KUBERNETES_EXEC_INFO: JSON.stringify(info) },
        read: true,
        timeoutMs: EXEC_PLUGIN_TIMEOUT_MS,
      });
      stdout = result.stdout;
    } catch (error) {
      if (isGitopsError(error) && error.code === 'COMMAND_NOT_FOUND')
        throw usageError('KUBE_EXEC_PLUGIN_MISSING', `${who} is not installed`, {
          hint: exec.installHint ?? `install ${exec.command}, or put it on PATH`,
          cause: error,
        });
      if (isGitopsError(error) && (error.code === 'EXEC_FAILED' || error.code === 'EXEC_TIMEOUT'))
        throw new GitopsError('KUBE_CREDENTIALS_FAILED', `${who} failed: ${error.message}`, { cause: error });
      throw error;
    }
    const fail = (problem: string) =>
      new GitopsError('KUBE_CREDENTIALS_FAILED', `${who} ${problem}`, {
        hint: `run ${exec.command} by hand to see what it prints`,
      });
    let credential: { apiVersion?: unknown; kind?: unknown; status?: Record<string, unknown> };
    try {
      credential = JSON.parse(stdout);
    } catch {
      throw fail('did not print an ExecCredential as JSON');
    }
    if (credential?.kind !== 'ExecCredential') throw fail('did not print an ExecCredential');
    if (credential.apiVersion !== exec.apiVersion)
      throw fail(`is configured for ${exec.apiVersion} but printed ${String(credential.apiVersion)}`);
    const status = credential.status;
    if (typeof status !== 'object' || status === null) throw fail('printed no status');
    const field = (key: string) =>
      typeof status[key] === 'string' && status[key] ? (status[key] as string) : undefined;
    const token = field('token');
    const cert = field('clientCertificateData');
    const key = field('clientKeyData');
    for (const secret of [token, key]) this.ctx.masker.add(secret);
    if (!token && !cert && !key) throw fail('returned neither a token nor a certificate and key');
    if (Boolean(cert) !== Boolean(key))
      throw fail('returned only one of clientCertificateData and clientKeyData');
    const expiration = field('expirationTimestamp');
    const expiresAt = expiration === undefined ? undefined : Date.parse(expiration);
    if (Number.isNaN(expiresAt))
      throw fail(`returned an expirationTimestamp that is not a time: ${expiration}`);
    return {
      ...(token ? { token } : {}),
      ...(cert && key ? { clientCert: Buffer.from(cert), clientKey: Buffer.from(key) } : {}),
      ...(expiresAt !== undefined ? { expiresAt } : {}),
    };
  }

  private async oidcToken(
    provider: NonNullable<UserAuth['authProvider']>,
  ): Promise<{ token: string; expiresAt: number }> {
    const who = `user "${provider.userName}"`;
    if (provider.name !== 'oidc') {
      const replacement = REMOVED_PROVIDERS[provider.name];
      throw usageError(
        'KUBE_AUTH_UNSUPPORTED',
        `${who} signs in with the auth-provider "${provider.name}", which kubectl no longer has`,
        {
          hint: replacement
            ? `use the exec plugin ${replacement} and regenerate the kubeconfig`
            : 'use an exec credential plugin (users[].user.exec) or a token',
        },
      );
    }
    const config = this.oidcConfig ?? {};
    const fail = (problem: string, hint = 'log in again to get a fresh id-token and refresh-token') =>
      new GitopsError('KUBE_CREDENTIALS_FAILED', `OIDC for ${who}: ${problem}`, { hint });
    const issuer = config['idp-issuer-url'];
    const clientId = config['client-id'];
    if (!issuer || !clientId)
      throw fail('the auth-provider config needs idp-issuer-url and client-id', 'fix the kubeconfig');
    const refreshToken = config['refresh-token'];
    const idToken = config['id-token'];
    if (idToken && !(this.oidcStale && refreshToken)) {
      const expiresAt = jwtExpiry(idToken);
      if (expiresAt === undefined) throw fail('the id-token is not a JWT', 'fix the kubeconfig');
      if (this.now() + ID_TOKEN_EXPIRY_SKEW_MS < expiresAt)
        return { token: idToken, expiresAt: expiresAt - ID_TOKEN_EXPIRY_SKEW_MS };
    }
    if (!refreshToken) throw fail('no valid id-token, and no refresh-token to renew it');

    let ca: Buffer | undefined;
    try {
      ca = idpCertificateAuthority(config, provider.cwd);
    } catch (error) {
      throw fail(`cannot read idp-certificate-authority: ${reason(error)}`, 'fix the kubeconfig');
    }
    const discoveryUrl = `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
    const discovery = await requestJson(discoveryUrl, { ca }).catch((error) => {
      throw fail(`cannot read ${discoveryUrl}: ${reason(error)}`, 'check idp-issuer-url');
    });
    const tokenEndpoint = (discovery.body as { token_endpoint?: unknown } | undefined)?.token_endpoint;
    if (discovery.status !== 200 || typeof tokenEndpoint !== 'string' || !tokenEndpoint)
      throw fail(
        `${discoveryUrl} answered ${discovery.status} without a token_endpoint: ${discovery.text.slice(0, 80)}`,
        'check idp-issuer-url',
      );
    const secret = config['client-secret'];
    // As golang.org/x/oauth2 under client-go: a confidential client's credentials go in a Basic
    // header first, and in the form when the endpoint refuses that; a public client sends its id.
    const styles = secret ? (['header', 'form'] as const) : (['form'] as const);
    let answer: Awaited<ReturnType<typeof requestJson>> | undefined;
    for (const style of styles) {
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken });
      if (style === 'form') form.set('client_id', clientId);
      if (style === 'form' && secret) form.set('client_secret', secret);
      const basic = `${encodeURIComponent(clientId)}:${encodeURIComponent(secret ?? '')}`;
      const headers: Record<string, string> =
        style === 'header' ? { authorization: `Basic ${Buffer.from(basic).toString('base64')}` } : {};
      answer = await requestJson(tokenEndpoint, { ca, form, headers }).catch((error) => {
        throw fail(
          `cannot reach the token endpoint ${tokenEndpoint}: ${reason(error)}`,
          'try again; check the network',
        );
      });
      if (answer.status === 200) break;
    }
    if (!answer) throw fail('no token request was made');
    const body = (answer.body ?? {}) as Record<string, unknown>;
    if (answer.status !== 200) {
      const description = [body.error, body.error_description]
        .filter((part) => typeof part === 'string')
        .join(': ');
      throw fail(
        `the token endpoint refused to refresh (${answer.status}${description ? ` ${description}` : ''})`,
      );
    }
    if (typeof body.id_token !== 'string' || !body.id_token)
      throw fail('the token response has no id_token (was the scope "openid" asked for at login?)');
    this.ctx.masker.add(body.id_token);
    const changes: Record<string, string> = { 'id-token': body.id_token };
    if (typeof body.refresh_token === 'string' && body.refresh_token && body.refresh_token !== refreshToken) {
      this.ctx.masker.add(body.refresh_token);
      changes['refresh-token'] = body.refresh_token;
    }
    await persistAuthProviderConfig(provider.file, provider.userName, changes).catch((error) => {
      throw fail(
        `could not write the renewed tokens into ${provider.file}: ${reason(error)}`,
        'make the kubeconfig writable',
      );
    });
    this.oidcConfig = { ...config, ...changes };
    this.oidcStale = false;
    const expiresAt = jwtExpiry(body.id_token) ?? this.now();
    return { token: body.id_token, expiresAt: expiresAt - ID_TOKEN_EXPIRY_SKEW_MS };
  }
}

function basicCredential(user: UserAuth): string | undefined {
  return user.username
    ? Buffer.from(`${user.username}:${user.password ?? ''}`).toString('base64')
    : undefined;
}

/** Epoch ms of a JWT's `exp` claim, or undefined when the token is not a JWT. */
function jwtExpiry(token: string): number | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as { exp?: unknown };
    return typeof claims.exp === 'number' ? Math.trunc(claims.exp) * 1000 : 0;
  } catch {
    return undefined;
  }
}

function idpCertificateAuthority(config: Record<string, string>, cwd: string): Buffer | undefined {
  const data = config['idp-certificate-authority-data'];
  if (data) return Buffer.from(data, 'base64');
  const file = config['idp-certificate-authority'];
  return file ? readFileSync(isAbsolute(file) ? file : resolve(cwd, file)) : undefined;
}

/** One HTTP(S) exchange with the identity provider; the body parsed as JSON when it is JSON. */
function requestJson(
  url: string,
  options: { ca?: Buffer | undefined; form?: URLSearchParams; headers?: Record<string, string> },
): Promise<{ status: number; body: unknown; text: string }> {
  const target = new URL(url);
  const client = target.protocol === 'https:' ? https : target.protocol === 'http:' ? http : undefined;
  if (!client) return Promise.reject(new Error(`${url} is not an http or https URL`));
  const payload = options.form?.toString();
  return new Promise((resolvePromise, reject) => {
    const request = client.request(
      target,
      {
        method: payload === undefined ? 'GET' : 'POST',
        headers: {
          accept: 'application/json',
          ...options.headers,
          ...(payload === undefined ? {} : { 'content-type': 'application/x-www-form-urlencoded' }),
        },
        timeout: OIDC_REQUEST_TIMEOUT_MS,
        ...(options.ca ? { ca: options.ca } : {}),
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', reject);
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown;
          try {
            body = JSON.parse(text);
          } catch {
            body = undefined;
          }
          resolvePromise({ status: response.statusCode ?? 0, body, text });
        });
      },
    );
    request.on('timeout', () =>
      request.destroy(new Error(`no answer within ${OIDC_REQUEST_TIMEOUT_MS / 1000}s`)),
    );
    request.on('error', reject);
    request.end(payload);
  });
}

/**
 * Writes renewed tokens into the user's auth-provider config in the file that defined the user, as
 * client-go's persister does, touching nothing else: each value is spliced in place of the old one
 * (a key not there yet is added through the YAML document), then the result is parsed again and
 * must differ from the original in those values alone.
 */
async function persistAuthProviderConfig(
  file: string,
  userName: string,
  changes: Record<string, string>,
): Promise<void> {
  const target = realpathSync(file);
  const original = readFileSync(target, 'utf8');
  const { isMap, isScalar, isSeq, parseDocument } = await import('yaml');
  const document = parseDocument(original);
  const users = document.get('users');
  const index = isSeq(users)
    ? users.items.findIndex((item) => isMap(item) && item.get('name') === userName)
    : -1;
  if (index < 0) throw new Error(`user "${userName}" is no longer in the file`);
  const configPath = ['users', index, 'user', 'auth-provider', 'config'];
  const scalars = Object.entries(changes).map(([key, value]) => ({
    node: document.getIn([...configPath, key], true),
    value,
  }));
  let updated: string;
  if (scalars.every(({ node }) => isScalar(node) && node.range)) {
    updated = original;
    const splices = scalars.map(({ node, value }) => ({
      range: (node as { range: [number, number] }).range,
      value,
    }));
    for (const { range, value } of splices.sort((a, b) => b.range[0] - a.range[0]))
      updated = `${updated.slice(0, range[0])}${JSON.stringify(value)}${updated.slice(range[1])}`;
  } else {
    for (const [key, value] of Object.entries(changes)) document.setIn([...configPath, key], value);
    updated = document.toString({ lineWidth: 0 });
  }
  const expected = load(original) as {
    users: Array<{ user: { 'auth-provider': { config: Record<string, string> } } }>;
  };
  Object.assign(expected.users[index]!.user['auth-provider'].config, changes);
  if (!isDeepStrictEqual(load(updated), expected))
    throw new Error('the edit would have changed more than the tokens');
  // A new file renamed into place: a parallel gitops run never reads a half-written kubeconfig.
  const temporary = `${target}.gitops-${process.pid}.tmp`;
  try {
    writeFileSync(temporary, updated, { mode: statSync(target).mode & 0o777 });
    renameSync(temporary, target);
  } finally {
    rmSync(temporary, { force: true });
  }
}

function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
