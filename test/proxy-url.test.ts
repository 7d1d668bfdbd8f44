// Proxies as kubectl uses them: a kubeconfig's proxy-url, else HTTPS_PROXY/HTTP_PROXY with
// NO_PROXY (never for loopback). Every connection to the API server is then a CONNECT tunnel
// through that HTTP proxy (credentials in its URL as Proxy-Authorization). A proxy that refuses
// is named in the error, without its credentials; a socks5 proxy-url is refused, not ignored.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { dump, load } from 'js-yaml';
import { proxyFor } from '../src/kube/client/proxy.js';
import { runCli, tempDir } from './support/cli.js';
import { type ClusterFixture, clusterFixture } from './support/cluster.js';
import { deployWeb } from './support/live.js';
import { WEB_IMAGE_CONFIG, webEnvironmentFiles } from './support/manifests.js';
import { uniqueName } from './support/test-cluster.js';

type Test = { after(fn: () => void | Promise<void>): void };

/**
 * An HTTP proxy that tunnels CONNECT requests (or answers `refuse` to each), recording them;
 * `route` sends every tunnel to that port of 127.0.0.1, whatever host it names.
 */
async function connectProxy(t: Test, options: { refuse?: string; route?: number } = {}) {
  const { refuse, route } = options;
  const tunnels: Array<{ target: string; authorization: string | undefined }> = [];
  const sockets = new Set<Socket>();
  const server = createServer((_request, response) => response.writeHead(405).end());
  server.on('connect', (request, client: Socket, head: Buffer) => {
    sockets.add(client);
    tunnels.push({ target: request.url ?? '', authorization: request.headers['proxy-authorization'] });
    if (refuse) {
      client.end(`HTTP/1.1 ${refuse}\r\n\r\n`);
      return;
    }
    const [host, port] = (request.url ?? '').split(':');
    const upstream = connect(route ?? Number(port), route ? '127.0.0.1' : host!, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  return { port: (server.address() as AddressInfo).port, tunnels };
}

type Kubeconfig = { clusters: Array<{ name: string; cluster: Record<string, unknown> }> };

/**
 * The fixture's kubeconfig with `edit` applied to every cluster entry, written to a file of its
 * own; returns the env that uses it and the API server's host:port as the kubeconfig had it.
 */
function editedKubeconfig(t: Test, cluster: ClusterFixture, edit: (entry: Record<string, unknown>) => void) {
  const config = load(readFileSync(cluster.env.KUBECONFIG!, 'utf8')) as Kubeconfig;
  const server = new URL(String(config.clusters[0]!.cluster.server));
  for (const entry of config.clusters) edit(entry.cluster);
  const file = join(tempDir(t, 'gitops-proxied-'), 'kubeconfig');
  writeFileSync(file, dump(config));
  return {
    env: { ...cluster.env, KUBECONFIG: file },
    apiServer: `${server.hostname}:${server.port}`,
    port: server.port,
  };
}

/** The fixture's kubeconfig with `proxy-url` on every cluster. */
function throughProxy(t: Test, cluster: ClusterFixture, proxyUrl: string) {
  return editedKubeconfig(t, cluster, (entry) => {
    entry['proxy-url'] = proxyUrl;
  });
}

async function fixture(t: Test) {
  const ns = uniqueName('proxied');
  return clusterFixture(
    t,
    webEnvironmentFiles('staging', { namespace: ns }),
    { staging: `    namespace: ${ns}\n    timeout: 3m\n` },
    WEB_IMAGE_CONFIG,
  );
}

test('proxy-url: a deploy reaches the API server only through CONNECT tunnels of that proxy, with its credentials', async (t) => {
  const cluster = await fixture(t);
  const proxy = await connectProxy(t);
  const { env, apiServer } = throughProxy(t, cluster, `http://ci-bot:s3cr%40t@127.0.0.1:${proxy.port}`);
  const deployed = await runCli(deployWeb('staging', '1.0.0'), { cwd: cluster.app, env });
  assert.equal(deployed.code, 0, deployed.stderr);
  assert.ok(proxy.tunnels.length > 0, 'the API server was reached through the proxy');
  assert.deepEqual([...new Set(proxy.tunnels.map((tunnel) => tunnel.target))], [apiServer]);
  const basic = `Basic ${Buffer.from('ci-bot:s3cr@t').toString('base64')}`;
  assert.ok(proxy.tunnels.every((tunnel) => tunnel.authorization === basic));
  const diff = await runCli(['diff', '--env', 'staging'], { cwd: cluster.app, env });
  assert.equal(diff.code, 0, diff.stderr);
});

test('proxy-url: a proxy that refuses is named in the error (exit 3) without its credentials; socks5 is refused (exit 2)', async (t) => {
  const cluster = await fixture(t);
  const proxy = await connectProxy(t, { refuse: '407 Proxy Authentication Required' });
  const refused = throughProxy(t, cluster, `http://ci-bot:hunter22@127.0.0.1:${proxy.port}`);
  const diff = await runCli(['diff', '--env', 'staging'], { cwd: cluster.app, env: refused.env });
  assert.equal(diff.code, 3, diff.stderr);
  assert.match(
    diff.stderr,
    new RegExp(
      `the proxy http://127\\.0\\.0\\.1:${proxy.port} \\(the proxy-url of the kubeconfig\\) answered 407 Proxy Authentication Required to CONNECT ${refused.apiServer.replaceAll('.', '\\.')}`,
    ),
  );
  assert.doesNotMatch(diff.stderr + diff.stdout, /hunter22/);

  const socks = throughProxy(t, cluster, 'socks5://127.0.0.1:1080');
  const status = await runCli(['--json', 'diff', '--env', 'staging'], { cwd: cluster.app, env: socks.env });
  assert.equal(status.code, 2, status.stderr);
  const { error } = JSON.parse(status.stdout) as { error: { code: string; message: string } };
  assert.equal(error.code, 'KUBECONFIG_INVALID');
  assert.match(error.message, /is a socks5 proxy, which gitops does not speak/);
});

test('HTTPS_PROXY and NO_PROXY are read as Go reads them, after proxy-url and never for loopback', () => {
  const https = 'https://api.corp.example:6443';
  const from = (server: string, env: Record<string, string>, proxyUrl?: string) => {
    const choice = proxyFor(server, proxyUrl, env);
    return choice ? `${choice.url.href} (${choice.from})` : 'direct';
  };
  const proxied = { HTTPS_PROXY: 'http://proxy.corp.example:3128' };
  assert.equal(from(https, proxied), 'http://proxy.corp.example:3128/ (HTTPS_PROXY)');
  assert.equal(
    from(https, proxied, 'http://other:8080'),
    'http://other:8080/ (the proxy-url of the kubeconfig)',
  );
  assert.equal(
    from(https, { https_proxy: 'proxy.corp.example:3128' }),
    'http://proxy.corp.example:3128/ (https_proxy)',
  );
  assert.equal(from(https, { HTTP_PROXY: 'http://plain:80' }), 'direct', 'HTTP_PROXY is for http servers');
  assert.equal(
    from('http://api.corp.example:8080', { HTTP_PROXY: 'http://plain:80' }),
    'http://plain/ (HTTP_PROXY)',
  );
  for (const server of [
    'https://127.0.0.1:6443',
    'https://127.3.2.1',
    'https://localhost:6443',
    'https://[::1]:6443',
  ])
    assert.equal(from(server, proxied), 'direct', server);
  const bypass = (noProxy: string, server = https) =>
    from(server, { ...proxied, NO_PROXY: noProxy }) === 'direct';
  assert.ok(bypass('*'));
  assert.ok(bypass('corp.example'), 'a domain matches its subdomains');
  assert.ok(bypass('api.corp.example'), 'and itself');
  assert.ok(!bypass('orp.example'), 'not a suffix of a label');
  assert.ok(bypass(' other.example , .corp.example'), 'a leading dot: subdomains');
  assert.ok(!bypass('.corp.example', 'https://corp.example'), 'a leading dot: not the domain itself');
  assert.ok(bypass('*.CORP.example'));
  assert.ok(bypass('api.corp.example:6443') && !bypass('api.corp.example:443'), 'a port must match');
  assert.ok(bypass('10.0.0.0/8', 'https://10.1.2.3:6443') && !bypass('10.0.0.0/8', 'https://11.1.2.3'));
  assert.ok(bypass('10.1.2.3', 'https://10.1.2.3:6443'));
  assert.ok(bypass('[fd00::1]:6443', 'https://[fd00::1]:6443'));
  assert.ok(!bypass('', https));
  assert.equal(from(https, { ...proxied, no_proxy: 'corp.example' }), 'direct', 'no_proxy too');
});

test('HTTPS_PROXY: a deploy goes through the proxy; NO_PROXY naming the server connects directly', async (t) => {
  const cluster = await fixture(t);
  // A name only the proxy can reach (it routes every tunnel to the API server's port on 127.0.0.1);
  // the certificate is checked against localhost, a name it holds.
  const kubeconfig = editedKubeconfig(t, cluster, (entry) => {
    entry.server = `https://kube.gitops.test:${new URL(String(entry.server)).port}`;
    entry['tls-server-name'] = 'localhost';
  });
  const { port } = kubeconfig;
  const proxy = await connectProxy(t, { route: Number(port) });
  const env = { ...kubeconfig.env, HTTPS_PROXY: `http://127.0.0.1:${proxy.port}` };
  const deployed = await runCli(deployWeb('staging', '1.0.0'), { cwd: cluster.app, env });
  assert.equal(deployed.code, 0, deployed.stderr);
  assert.deepEqual([...new Set(proxy.tunnels.map((tunnel) => tunnel.target))], [`kube.gitops.test:${port}`]);
  const tunnels = proxy.tunnels.length;
  const direct = await runCli(['diff', '--env', 'staging'], {
    cwd: cluster.app,
    env: { ...env, NO_PROXY: 'gitops.test' },
  });
  assert.equal(direct.code, 3, direct.stderr);
  assert.match(direct.stderr, /kube\.gitops\.test/);
  assert.equal(proxy.tunnels.length, tunnels, 'no tunnel: NO_PROXY names the server');
});
