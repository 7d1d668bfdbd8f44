import http from 'node:http';
import https from 'node:https';
import { BlockList, isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ConnectionOptions } from 'node:tls';

/** The HTTP(S) proxy connections to the API server go through, and where it was configured. */
export interface ProxyChoice {
  url: URL;
  /** For messages: `the proxy-url of the kubeconfig`, `HTTPS_PROXY`, … */
  from: string;
}

/**
 * The proxy a client-go program (kubectl) uses for this server: the cluster's proxy-url, else the
 * environment's as Go's net/http ProxyFromEnvironment reads it — HTTPS_PROXY for an https server,
 * HTTP_PROXY for an http one (upper case first, then lower), a value without a scheme taken as
 * http://, and none for a host NO_PROXY names, for localhost or for a loopback address.
 */
export function proxyFor(
  server: string,
  proxyUrl: string | undefined,
  env: Record<string, string | undefined>,
): ProxyChoice | undefined {
  if (proxyUrl) return { url: new URL(proxyUrl), from: 'the proxy-url of the kubeconfig' };
  const target = new URL(server);
  const names = target.protocol === 'https:' ? ['HTTPS_PROXY', 'https_proxy'] : ['HTTP_PROXY', 'http_proxy'];
  const name = names.find((key) => env[key]);
  if (!name) return undefined;
  const host = target.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const port = target.port || (target.protocol === 'https:' ? '443' : '80');
  if (host === 'localhost' || isLoopback(host)) return undefined;
  if (bypassed(host, port, env.NO_PROXY ?? env.no_proxy ?? '')) return undefined;
  const value = env[name]!;
  return { url: new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`), from: name };
}

function isLoopback(host: string): boolean {
  if (isIP(host) === 4) return host.startsWith('127.');
  return isIP(host) === 6 && /^(0*:)*:?0*1$/.test(host);
}

/**
 * Whether NO_PROXY names the host: `*`; an IP address or a CIDR range; a domain, which matches
 * itself and its subdomains (`.example.com` and `*.example.com` only the subdomains); each with an
 * optional `:port` that must match too.
 */
function bypassed(host: string, port: string, noProxy: string): boolean {
  for (const raw of noProxy.split(',')) {
    const entry = raw.trim().toLowerCase();
    if (entry === '') continue;
    if (entry === '*') return true;
    if (entry.includes('/')) {
      const [network, bits] = entry.split('/');
      const family = isIP(network!);
      if (family && isIP(host) === family) {
        const list = new BlockList();
        list.addSubnet(network!, Number(bits), family === 4 ? 'ipv4' : 'ipv6');
        if (list.check(host, family === 4 ? 'ipv4' : 'ipv6')) return true;
      }
      continue;
    }
    const withPort = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(entry);
    const name = (withPort ? withPort[1]! : entry).replace(/^\[|\]$/g, '');
    if (withPort && withPort[2] !== port) continue;
    if (isIP(name)) {
      if (name === host) return true;
      continue;
    }
    const domain = name.startsWith('*.') ? name.slice(1) : name;
    if (domain.startsWith('.') ? host.endsWith(domain) : host === domain || host.endsWith(`.${domain}`))
      return true;
  }
  return false;
}

type AgentClass = typeof http.Agent | typeof https.Agent;

/**
 * An agent class whose connections go through an HTTP(S) proxy: a CONNECT tunnel to the API
 * server, then (`wrap`) TLS inside it when the server is https. Credentials in the proxy's URL go
 * as Proxy-Authorization; an error names the proxy without them.
 */
export function tunnelled<A extends AgentClass>(
  Base: A,
  proxy: ProxyChoice,
  wrap: (socket: Duplex, options: ConnectionOptions) => Duplex,
): A {
  const { url } = proxy;
  const shown = `the proxy ${url.protocol}//${url.host} (${proxy.from})`;
  const authorization = url.username
    ? `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`
    : undefined;
  const Tunnelled = class extends (Base as typeof http.Agent) {
    override createConnection(
      options: ConnectionOptions & { host?: string; port?: number | string },
      callback: (error: Error | null, socket?: Duplex) => void,
    ): undefined {
      const target = `${options.host}:${options.port}`;
      const ask = (url.protocol === 'https:' ? https : http).request({
        host: url.hostname,
        port: url.port || (url.protocol === 'https:' ? 443 : 80),
        method: 'CONNECT',
        path: target,
        agent: false,
        headers: { Host: target, ...(authorization ? { 'Proxy-Authorization': authorization } : {}) },
      });
      ask.once('connect', (response, socket) => {
        if (response.statusCode === 200) {
          callback(null, wrap(socket, options));
          return;
        }
        socket.destroy();
        callback(
          new Error(
            `${shown} answered ${response.statusCode} ${response.statusMessage ?? ''} to CONNECT ${target}`.trimEnd(),
          ),
        );
      });
      ask.once('error', (error) => callback(new Error(`${shown}: ${error.message}`, { cause: error })));
      ask.end();
      return undefined;
    }
  };
  return Tunnelled as unknown as A;
}
