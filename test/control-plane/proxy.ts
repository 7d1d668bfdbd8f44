// A small TLS proxy in front of a real API server: it records every request and injects faults
// (throttling, server errors, resets, hung requests) into matching ones, so that fault tests run
// against the real kube-apiserver rather than a special server. Each test fixture starts its own
// proxy, so its request log and faults are private even when the control plane is shared.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { Agent, createServer, request as httpsRequest, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { FaultRule, RequestLogEntry } from '@gitops/kube-apiserver';
import type { ApiAccess } from './control-plane.js';

/** How the proxy reaches the API server: its URL, CA, and the credentials it presents upstream. */
export type UpstreamAccess = ApiAccess;

// The request log and the faults speak the embedded server's language: a test runs unchanged
// against either.
export type { FaultRule, RequestLogEntry };

export interface ApiProxy {
  url: string;
  requests: RequestLogEntry[];
  faults: { add(rule: FaultRule): void; clear(): void };
  stop(): Promise<void>;
}

const REASONS: Record<number, string> = {
  429: 'TooManyRequests',
  500: 'InternalError',
  502: 'BadGateway',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

function matches(rule: FaultRule, method: string, path: string, dryRun: boolean, watch: boolean): boolean {
  if (rule.method && rule.method.toUpperCase() !== method) return false;
  if (rule.dryRun !== undefined && rule.dryRun !== dryRun) return false;
  if (rule.watch !== undefined && rule.watch !== watch) return false;
  return typeof rule.pathPattern === 'string' ? path.includes(rule.pathPattern) : rule.pathPattern.test(path);
}

function statusBody(status: number): string {
  const reason = REASONS[status] ?? 'InternalError';
  return JSON.stringify({
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message:
      status === 429
        ? 'the server has received too many requests and has asked us to try again later'
        : `injected fault: ${reason}`,
    reason,
    ...(status === 429 ? { details: { retryAfterSeconds: 1 } } : {}),
    code: status,
  });
}

/** Starts a proxy on a free loopback port, serving TLS with `tls` (a cert for 127.0.0.1). */
export async function startApiProxy(
  upstream: UpstreamAccess,
  tls: { cert: string; key: string },
): Promise<ApiProxy> {
  const requests: RequestLogEntry[] = [];
  const rules: Array<FaultRule & { remaining: number }> = [];
  const sockets = new Set<Socket>();
  const target = new URL(upstream.url);
  const agent = new Agent({
    keepAlive: true,
    maxSockets: 64,
    ca: upstream.caPem,
    ...(upstream.clientCertPem ? { cert: upstream.clientCertPem, key: upstream.clientKeyPem } : {}),
  });

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const started = Date.now();
    const url = new URL(req.url ?? '/', 'https://proxy');
    const method = req.method ?? 'GET';
    const query = Object.fromEntries(url.searchParams);
    const entry: RequestLogEntry = {
      time: new Date().toISOString(),
      method,
      path: url.pathname,
      query,
      status: 0,
      userAgent: String(req.headers['user-agent'] ?? ''),
      contentType: String(req.headers['content-type'] ?? ''),
      ...(query.fieldManager ? { fieldManager: query.fieldManager } : {}),
      verb: query.watch === 'true' || query.watch === '1' ? 'watch' : method.toLowerCase(),
      durationMs: 0,
    };
    requests.push(entry);
    const finish = (status: number) => {
      entry.status = status;
      entry.durationMs = Date.now() - started;
    };
    const rule = rules.find(
      (candidate) =>
        candidate.remaining !== 0 &&
        matches(candidate, method, url.pathname, Boolean(query.dryRun), entry.verb === 'watch'),
    );
    if (rule && rule.remaining > 0) rule.remaining--;

    const forward = () => {
      if (req.destroyed || res.destroyed) return finish(0);
      if (rule?.reset) {
        finish(0);
        req.socket.destroy();
        return;
      }
      if (rule?.status) {
        const body = statusBody(rule.status);
        res.writeHead(rule.status, {
          'Content-Type': 'application/json',
          'Content-Length': Buffer.byteLength(body),
          ...(rule.status === 429 ? { 'Retry-After': '1' } : {}),
        });
        res.end(body);
        req.resume();
        return finish(rule.status);
      }
      const headers = { ...req.headers };
      delete headers.host;
      delete headers.authorization;
      if (upstream.token) headers.authorization = `Bearer ${upstream.token}`;
      const outgoing = httpsRequest(
        {
          protocol: target.protocol,
          hostname: target.hostname,
          port: target.port,
          path: req.url,
          method,
          headers,
          agent,
        },
        (incoming) => {
          finish(incoming.statusCode ?? 0);
          res.writeHead(incoming.statusCode ?? 502, incoming.headers);
          // Watches stream: send the headers now, or kubectl's --timeout never starts counting.
          res.flushHeaders();
          incoming.pipe(res);
          incoming.on('error', () => res.destroy());
        },
      );
      outgoing.on('error', (error) => {
        if (!res.headersSent) {
          const body = JSON.stringify({
            kind: 'Status',
            apiVersion: 'v1',
            status: 'Failure',
            message: `proxy: ${error.message}`,
            reason: 'BadGateway',
            code: 502,
          });
          res.writeHead(502, { 'Content-Type': 'application/json' });
          res.end(body);
          finish(502);
        } else res.destroy();
      });
      // The client leaving ends the upstream request too (a watch must not outlive its client).
      res.on('close', () => outgoing.destroy());
      req.pipe(outgoing);
    };
    const delayed = () => {
      if (rule?.latencyMs) {
        const timer = setTimeout(forward, rule.latencyMs);
        res.on('close', () => clearTimeout(timer));
      } else forward();
    };
    if (rule?.hold) rule.hold.then(delayed, delayed);
    else delayed();
  };

  const server: Server = createServer({ cert: tls.cert, key: tls.key }, handle);
  server.on('secureConnection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `https://127.0.0.1:${port}`,
    requests,
    faults: {
      add(rule) {
        rules.push({ ...rule, remaining: rule.times ?? -1 });
      },
      clear() {
        rules.length = 0;
      },
    },
    async stop() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}
