import { createHash } from 'node:crypto';
import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import https from 'node:https';
import { createSecureContext, connect as tlsConnect } from 'node:tls';
import type { CredentialSource, RequestCredentials } from './credentials.js';
import type { ClusterEndpoint } from './kubeconfig.js';
import { tunnelled } from './proxy.js';

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface RequestOptions {
  query?: Record<string, string | undefined>;
  body?: string;
  contentType?: string;
  timeoutMs: number;
  signal?: AbortSignal;
}

/**
 * A request that never got an HTTP answer: refused, reset, timed out, TLS failure. `timedOut`
 * tells a hung request from a refused one (both worth another try for a read).
 */
export class NetworkError extends Error {
  constructor(
    message: string,
    readonly timedOut: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'NetworkError';
  }
}

/** The server had closed the kept-alive socket a request was sent on: nothing reached it. */
class StaleSocketError extends NetworkError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, false, options);
  }
}

/**
 * Sockets kept open and shared by every request of a run: a deploy of 5,000 objects must not pay
 * a TLS handshake per object. Up to this many requests run at once to one API server.
 */
const MAX_SOCKETS = 32;

/**
 * HTTP to one API server: TLS from the kubeconfig, credentials on every request (and asked again
 * after a 401, when they can be refreshed), a request timeout that covers the whole exchange.
 */
export class Transport {
  private readonly base: URL;

  constructor(
    readonly endpoint: ClusterEndpoint,
    private readonly credentials: CredentialSource,
    private readonly userAgent: string,
    private readonly agents = new Map<string, http.Agent>(),
  ) {
    this.base = new URL(endpoint.server);
  }

  /** The same server and kept-alive connections, authenticated by another source. */
  withCredentials(credentials: CredentialSource): Transport {
    return new Transport(this.endpoint, credentials, this.userAgent, this.agents);
  }

  /** One agent per client certificate: exec plugins may hand out a new one mid-run. */
  private agent(credentials: RequestCredentials): http.Agent {
    const key = credentials.clientCert
      ? createHash('sha256')
          .update(credentials.clientCert)
          .update(credentials.clientKey ?? '')
          .digest('hex')
      : '';
    let agent = this.agents.get(key);
    if (!agent) {
      const { proxy } = this.endpoint;
      const Https = proxy
        ? tunnelled(https.Agent, proxy, (socket, options) => tlsConnect({ ...options, socket }))
        : https.Agent;
      const Http = proxy ? tunnelled(http.Agent, proxy, (socket) => socket) : http.Agent;
      agent =
        this.base.protocol === 'https:'
          ? new Https({
              keepAlive: true,
              maxSockets: MAX_SOCKETS,
              // One context for every connection: given the CA and key instead, each new socket
              // parses them again.
              secureContext: createSecureContext({
                ...(this.endpoint.ca ? { ca: this.endpoint.ca } : {}),
                ...(credentials.clientCert ? { cert: credentials.clientCert } : {}),
                ...(credentials.clientKey ? { key: credentials.clientKey } : {}),
              }),
              rejectUnauthorized: !this.endpoint.insecureSkipTlsVerify,
              ...(this.endpoint.tlsServerName ? { servername: this.endpoint.tlsServerName } : {}),
            })
          : new Http({ keepAlive: true, maxSockets: MAX_SOCKETS });
      this.agents.set(key, agent);
    }
    return agent;
  }

  url(path: string, query: Record<string, string | undefined> = {}): URL {
    const url = new URL(this.base.href.replace(/\/$/, '') + path);
    for (const [name, value] of Object.entries(query))
      if (value !== undefined) url.searchParams.set(name, value);
    return url;
  }

  /** One exchange; a 401 with refreshable credentials is asked once more with fresh ones. */
  async request(method: string, path: string, options: RequestOptions): Promise<HttpResponse> {
    const response = await this.once(method, path, options);
    if (response.status !== 401) return response;
    this.credentials.invalidate();
    return this.once(method, path, options);
  }

  private async once(method: string, path: string, options: RequestOptions): Promise<HttpResponse> {
    const message = await this.open(method, path, options);
    return new Promise<HttpResponse>((resolve, reject) => {
      const chunks: Buffer[] = [];
      message.on('data', (chunk: Buffer) => chunks.push(chunk));
      message.on('end', () =>
        resolve({
          status: message.statusCode ?? 0,
          headers: message.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        }),
      );
      message.on('error', (error) => reject(asNetworkError(error, false)));
    });
  }

  /**
   * Opens a request and resolves with the response head; the body streams (a watch). The timeout
   * covers connecting and the whole body unless `stream` is set, when it covers the head only.
   */
  async open(
    method: string,
    path: string,
    options: RequestOptions & { stream?: boolean },
  ): Promise<IncomingMessage> {
    try {
      return await this.openOnce(method, path, options);
    } catch (error) {
      // A kept-alive socket the server closed while idle fails the next request at once, before
      // the server saw it: sent again on a new connection, a write too. Every write gitops sends
      // is safe to repeat anyway: an apply is declarative, a create answers AlreadyExists, a
      // replace carries its resourceVersion, a JSON patch its tests, a delete ignores NotFound.
      if (!(error instanceof StaleSocketError)) throw error;
      return this.openOnce(method, path, options);
    }
  }

  private async openOnce(
    method: string,
    path: string,
    options: RequestOptions & { stream?: boolean },
  ): Promise<IncomingMessage> {
    const credentials = await this.credentials.get();
    const url = this.url(path, options.query);
    const headers: Record<string, string> = {
      Accept: 'application/json',
      'User-Agent': this.userAgent,
      ...credentials.headers,
    };
    if (options.body !== undefined) {
      headers['Content-Type'] = options.contentType ?? 'application/json';
      headers['Content-Length'] = String(Buffer.byteLength(options.body));
    }
    const send = url.protocol === 'https:' ? https.request : http.request;
    return new Promise<IncomingMessage>((resolve, reject) => {
      let settled = false;
      const request = send(url, { method, headers, agent: this.agent(credentials) });
      const timer = setTimeout(() => {
        request.destroy(new NetworkError(`no answer within ${options.timeoutMs / 1000}s`, true));
      }, options.timeoutMs);
      const onAbort = () => request.destroy(Object.assign(new Error('aborted'), { name: 'AbortError' }));
      options.signal?.addEventListener('abort', onAbort, { once: true });
      const done = () => {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
      };
      request.on('response', (message) => {
        settled = true;
        if (options.stream) {
          clearTimeout(timer);
          message.on('close', done);
        } else message.on('close', done);
        resolve(message);
      });
      request.on('error', (error) => {
        done();
        if (settled) return;
        const code = (error as NodeJS.ErrnoException).code;
        if (request.reusedSocket && (code === 'ECONNRESET' || code === 'EPIPE'))
          reject(new StaleSocketError(error.message, { cause: error }));
        else reject(asNetworkError(error, false));
      });
      if (options.body !== undefined) request.write(options.body);
      request.end();
    });
  }

  close(): void {
    for (const agent of this.agents.values()) agent.destroy();
    this.agents.clear();
  }
}

function asNetworkError(error: unknown, timedOut: boolean): Error {
  if (error instanceof NetworkError || (error instanceof Error && error.name === 'AbortError')) return error;
  const code = (error as NodeJS.ErrnoException).code;
  const text = error instanceof Error ? error.message : String(error);
  return new NetworkError(code && !text.includes(code) ? `${code}: ${text}` : text, timedOut, {
    cause: error,
  });
}
