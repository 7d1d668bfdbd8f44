// How gitops finds the cluster and who it is, without kubectl: kubeconfig precedence and merging
// as client-go's clientcmd does it, the pod's service account, and the credentials of each
// request — static, from an exec plugin (a real script), and OIDC renewed against a local issuer.
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { dump, load } from 'js-yaml';
import { Exec } from '../src/core/exec.js';
import { Masker } from '../src/core/mask.js';
import type { Reporter } from '../src/core/reporter.js';
import { CredentialSource } from '../src/kube/client/credentials.js';
import { type ClusterEndpoint, loadKubeconfig } from '../src/kube/client/kubeconfig.js';
import { proxyCertificate } from './control-plane/shared.js';
import { baseEnv, tempDir } from './support/cli.js';

interface Named {
  name: string;
  [key: string]: unknown;
}

function kubeconfig(parts: {
  clusters?: Named[];
  users?: Named[];
  contexts?: Named[];
  current?: string;
}): string {
  return dump(
    {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: parts.clusters ?? [],
      users: parts.users ?? [],
      contexts: parts.contexts ?? [],
      ...(parts.current ? { 'current-context': parts.current } : {}),
    },
    { skipInvalid: true },
  );
}

/** A file with one cluster, user and context, all named `name`. */
function single(name: string, cluster: object = {}, user: object = { token: `token-of-${name}` }): string {
  return kubeconfig({
    clusters: [{ name, cluster: { server: `https://${name}.example:6443`, ...cluster } }],
    users: [{ name, user }],
    contexts: [{ name, context: { cluster: name, user: name } }],
    current: name,
  });
}

function write(dir: string, name: string, text: string): string {
  const file = join(dir, name);
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, text);
  return file;
}

function refusal(code: string, pattern?: RegExp) {
  return (error: unknown) => {
    const failure = error as { code?: string; message?: string };
    assert.equal(failure.code, code, failure.message);
    if (pattern) assert.match(failure.message ?? '', pattern);
    return true;
  };
}

function credentialContext(env: Record<string, string | undefined> = baseEnv()) {
  const masker = new Masker();
  const warnings: string[] = [];
  const reporter: Reporter = {
    step: (_title, run) => run({ detail() {}, skip() {}, log() {} }),
    info() {},
    success() {},
    warn: (message) => warnings.push(message),
    debug() {},
    show() {},
  };
  const exec = new Exec({ env, masker, dryRun: true, defaultTimeoutMs: 30_000 });
  return { ctx: { exec, masker, env, reporter }, masker, warnings };
}

test('precedence: the explicit file alone, else KUBECONFIG, else ~/.kube/config', (t) => {
  const dir = tempDir(t, 'gitops-kubeconfig-');
  const home = join(dir, 'home');
  write(home, '.kube/config', single('home'));
  const listed = write(dir, 'listed.yaml', single('listed'));
  write(dir, 'work/explicit.yaml', single('explicit'));
  const env = { HOME: home, KUBECONFIG: listed };

  const explicit = loadKubeconfig({ env, cwd: join(dir, 'work'), kubeconfig: 'explicit.yaml' });
  assert.equal(explicit.contextName, 'explicit');
  assert.deepEqual(explicit.sources, [join(dir, 'work', 'explicit.yaml')]);
  assert.equal(explicit.server, 'https://explicit.example:6443');
  assert.equal(explicit.user.token, 'token-of-explicit');

  assert.equal(loadKubeconfig({ env, cwd: dir }).contextName, 'listed');
  assert.equal(loadKubeconfig({ env: { HOME: home }, cwd: dir }).contextName, 'home');
  // KUBECONFIG set: ~/.kube/config is not a fallback, even when every listed file is missing.
  assert.throws(
    () => loadKubeconfig({ env: { HOME: home, KUBECONFIG: join(dir, 'gone.yaml') }, cwd: dir }),
    refusal('KUBECONFIG_NOT_FOUND', /gone\.yaml/),
  );
  assert.throws(
    () => loadKubeconfig({ env, cwd: dir, kubeconfig: 'missing.yaml' }),
    (error: { code?: string; exitCode?: number; hint?: string; message: string }) =>
      error.code === 'KUBECONFIG_NOT_FOUND' &&
      error.exitCode === 2 &&
      error.message.includes(join(dir, 'missing.yaml')) &&
      /environments\.<env>\.kubeconfig/.test(error.hint ?? ''),
  );
});

test('KUBECONFIG list: missing files skipped, the first file naming an entry wins it whole, the first current-context wins', (t) => {
  const dir = tempDir(t, 'gitops-kubeconfig-');
  const first = write(
    dir,
    'first.yaml',
    kubeconfig({
      clusters: [
        { name: 'shared', cluster: { server: 'https://first.example/prefix/', 'tls-server-name': 'api' } },
      ],
      users: [{ name: 'ci', user: { token: 'first-token' } }],
    }),
  );
  const second = write(
    dir,
    'second.yaml',
    kubeconfig({
      clusters: [
        { name: 'shared', cluster: { server: 'https://second.example', 'proxy-url': 'http://proxy:3128' } },
      ],
      users: [{ name: 'ci', user: { username: 'admin', password: 'secret' } }],
      contexts: [{ name: 'prod', context: { cluster: 'shared', user: 'ci', namespace: 'web' } }],
      current: 'prod',
    }),
  );
  const third = write(dir, 'third.yaml', single('other'));
  const KUBECONFIG = [join(dir, 'absent.yaml'), '', first, second, first, third].join(':');

  const endpoint = loadKubeconfig({ env: { KUBECONFIG }, cwd: dir });
  assert.equal(endpoint.contextName, 'prod');
  assert.equal(endpoint.server, 'https://first.example/prefix');
  assert.equal(endpoint.tlsServerName, 'api');
  assert.equal(endpoint.proxyUrl, undefined, 'no field of the second file’s "shared" is merged in');
  assert.equal(endpoint.namespace, 'web');
  assert.deepEqual(endpoint.user, { token: 'first-token' });
  assert.deepEqual(endpoint.sources, [first, second, third]);
  assert.equal(
    loadKubeconfig({ env: { KUBECONFIG }, cwd: dir, context: 'other' }).user.token,
    'token-of-other',
  );
});

test('relative paths in a file are read from its directory; an exec command only when it has a slash', (t) => {
  const dir = tempDir(t, 'gitops-kubeconfig-');
  write(dir, 'conf/pki/ca.crt', 'CA BYTES');
  write(dir, 'conf/pki/client.crt', 'CERT BYTES');
  write(dir, 'conf/pki/client.key', 'KEY BYTES');
  write(dir, 'conf/token', 'file-token\n');
  const file = write(
    dir,
    'conf/kubeconfig',
    kubeconfig({
      clusters: [
        { name: 'c', cluster: { server: 'https://c.example', 'certificate-authority': 'pki/ca.crt' } },
      ],
      users: [
        {
          name: 'certs',
          user: {
            'client-certificate': 'pki/client.crt',
            'client-key': './pki/client.key',
            tokenFile: 'token',
          },
        },
        {
          name: 'plugin',
          user: { exec: { apiVersion: 'client.authentication.k8s.io/v1beta1', command: 'bin/login' } },
        },
        {
          name: 'onpath',
          user: { exec: { apiVersion: 'client.authentication.k8s.io/v1beta1', command: 'login' } },
        },
      ],
      contexts: ['certs', 'plugin', 'onpath'].map((name) => ({
        name,
        context: { cluster: 'c', user: name },
      })),
    }),
  );
  const env = { KUBECONFIG: file };
  const certs = loadKubeconfig({ env, cwd: '/', context: 'certs' });
  assert.equal(certs.ca?.toString(), 'CA BYTES');
  assert.equal(certs.user.clientCert?.toString(), 'CERT BYTES');
  assert.equal(certs.user.clientKey?.toString(), 'KEY BYTES');
  assert.equal(certs.user.tokenFile, join(dir, 'conf', 'token'));
  const plugin = loadKubeconfig({ env, cwd: '/work', context: 'plugin' }).user.exec;
  assert.equal(plugin?.command, join(dir, 'conf', 'bin', 'login'));
  assert.equal(plugin?.cwd, '/work', 'the plugin runs where gitops runs, as under kubectl');
  assert.equal(plugin?.interactiveMode, 'IfAvailable', 'the v1beta1 default');
  assert.equal(loadKubeconfig({ env, cwd: '/', context: 'onpath' }).user.exec?.command, 'login');
});

test('*-data is decoded; data and file both set is refused as kubectl refuses it; unreadable files are named', (t) => {
  const dir = tempDir(t, 'gitops-kubeconfig-');
  write(dir, 'ca.crt', 'FROM FILE');
  const b64 = (text: string) => Buffer.from(text).toString('base64');
  const endpointWith = (cluster: object, user: object = { token: 'abcd' }) =>
    loadKubeconfig({ env: { KUBECONFIG: write(dir, 'config', single('c', cluster, user)) }, cwd: dir });

  const endpoint = endpointWith(
    { 'certificate-authority-data': b64('FROM DATA') },
    { 'client-certificate-data': b64('CERT'), 'client-key-data': b64('KEY') },
  );
  assert.equal(endpoint.ca?.toString(), 'FROM DATA');
  assert.equal(endpoint.user.clientCert?.toString(), 'CERT');
  assert.equal(endpoint.user.clientKey?.toString(), 'KEY');
  assert.throws(
    () => endpointWith({ 'certificate-authority-data': b64('FROM DATA'), 'certificate-authority': 'ca.crt' }),
    refusal(
      'KUBECONFIG_INVALID',
      /cluster "c" has both certificate-authority-data and certificate-authority/,
    ),
  );
  assert.throws(
    () =>
      endpointWith(
        {},
        { 'client-key-data': b64('KEY'), 'client-key': 'key.pem', 'client-certificate-data': b64('C') },
      ),
    refusal('KUBECONFIG_INVALID', /user "c" has both client-key-data and client-key/),
  );
  assert.throws(
    () => endpointWith({ 'certificate-authority': 'nope.crt' }),
    refusal(
      'KUBECONFIG_INVALID',
      /cannot read the certificate-authority .*nope\.crt of cluster "c" \(ENOENT\)/,
    ),
  );
  assert.throws(
    () => endpointWith({}, { token: 'abcd', username: 'u' }),
    refusal('KUBECONFIG_INVALID', /only one/),
  );
  assert.throws(
    () => endpointWith({ 'insecure-skip-tls-verify': true, 'certificate-authority-data': b64('CA') }),
    refusal('KUBECONFIG_INVALID', /insecure-skip-tls-verify/),
  );
});

test('context errors name the context and the files, and list the contexts there', (t) => {
  const dir = tempDir(t, 'gitops-kubeconfig-');
  const file = write(
    dir,
    'config',
    kubeconfig({
      clusters: [{ name: 'c', cluster: { server: 'https://c.example' } }],
      users: [{ name: 'u', user: { token: 'abcd' } }],
      contexts: [
        { name: 'staging', context: { cluster: 'c', user: 'u' } },
        { name: 'no-cluster', context: { cluster: 'gone', user: 'u' } },
        { name: 'no-user', context: { cluster: 'c', user: 'nobody' } },
      ],
    }),
  );
  const env = { KUBECONFIG: file };
  assert.throws(
    () => loadKubeconfig({ env, cwd: dir }),
    (error: { code: string; exitCode: number; message: string; hint: string }) => {
      assert.equal(error.code, 'KUBE_CONTEXT_NOT_FOUND');
      assert.equal(error.exitCode, 2);
      assert.equal(error.message, `no Kubernetes context is chosen: ${file} sets no current-context`);
      assert.match(error.hint, /environments\.<env>\.kubeContext .*: staging, no-cluster, no-user$/);
      return true;
    },
  );
  assert.throws(
    () => loadKubeconfig({ env, cwd: dir, context: 'stagign' }),
    refusal('KUBE_CONTEXT_NOT_FOUND', /^context "stagign" is not in .*config \(did you mean "staging"\?\)$/),
  );
  assert.throws(
    () => loadKubeconfig({ env, cwd: dir, context: 'no-cluster' }),
    refusal(
      'KUBECONFIG_INVALID',
      /context "no-cluster" names cluster "gone", which is not in .* \(clusters there: c\)/,
    ),
  );
  assert.throws(
    () => loadKubeconfig({ env, cwd: dir, context: 'no-user' }),
    refusal('KUBECONFIG_INVALID', /context "no-user" names user "nobody"/),
  );
  write(dir, 'broken', 'clusters: [\n');
  assert.throws(
    () => loadKubeconfig({ env: { KUBECONFIG: join(dir, 'broken') }, cwd: dir }),
    refusal('KUBECONFIG_INVALID', /broken: is not valid YAML/),
  );
});

test('in-cluster: with no kubeconfig, the service account files and KUBERNETES_SERVICE_HOST/PORT', (t) => {
  const dir = tempDir(t, 'gitops-kubeconfig-');
  const serviceAccountDir = join(dir, 'sa');
  write(serviceAccountDir, 'token', 'sa-token\n');
  write(serviceAccountDir, 'ca.crt', 'SA CA');
  write(serviceAccountDir, 'namespace', 'ci-runners\n');
  const env = { HOME: join(dir, 'home'), KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' };

  const endpoint = loadKubeconfig({ env, cwd: dir, serviceAccountDir });
  assert.deepEqual(
    { ...endpoint, ca: endpoint.ca?.toString() },
    {
      server: 'https://[fd00::1]:443',
      ca: 'SA CA',
      insecureSkipTlsVerify: false,
      namespace: 'ci-runners',
      contextName: 'in-cluster',
      userName: 'in-cluster',
      sources: [join(serviceAccountDir, 'token')],
      user: { tokenFile: join(serviceAccountDir, 'token') },
    },
  );
  const v4 = { ...env, KUBERNETES_SERVICE_HOST: '10.0.0.1', POD_NAMESPACE: 'from-downward-api' };
  const pod = loadKubeconfig({ env: v4, cwd: dir, serviceAccountDir });
  assert.equal(pod.server, 'https://10.0.0.1:443');
  assert.equal(pod.namespace, 'from-downward-api');
  // A context named in gitops.yaml is a particular cluster: the pod's own never stands in for it.
  assert.throws(
    () => loadKubeconfig({ env, cwd: dir, serviceAccountDir, context: 'prod' }),
    refusal('KUBECONFIG_NOT_FOUND'),
  );
  assert.throws(
    () => loadKubeconfig({ env, cwd: dir, serviceAccountDir: join(dir, 'none') }),
    refusal('KUBECONFIG_NOT_FOUND', /service account token .*none\/token does not exist/),
  );
  assert.throws(
    () => loadKubeconfig({ env: { HOME: env.HOME }, cwd: dir, serviceAccountDir }),
    refusal('KUBECONFIG_NOT_FOUND'),
  );
});

test('static credentials: bearer token, basic auth, client certificates; all masked; none over plain http', async (t) => {
  const dir = tempDir(t, 'gitops-kubeconfig-');
  const endpoint = (user: object, server = 'https://c.example') =>
    loadKubeconfig({ env: { KUBECONFIG: write(dir, 'config', single('c', { server }, user)) }, cwd: dir });

  const { ctx, masker } = credentialContext();
  const bearer = await new CredentialSource(endpoint({ token: 'static-token-1' }), ctx).get();
  assert.deepEqual(bearer, { headers: { Authorization: 'Bearer static-token-1' } });
  const basic = await new CredentialSource(endpoint({ username: 'admin', password: 'hunter22' }), ctx).get();
  const encoded = Buffer.from('admin:hunter22').toString('base64');
  assert.deepEqual(basic.headers, { Authorization: `Basic ${encoded}` });
  assert.equal(masker.mask(`static-token-1 hunter22 ${encoded}`), '*** *** ***');
  const b64 = (text: string) => Buffer.from(text).toString('base64');
  const certs = await new CredentialSource(
    endpoint({ 'client-certificate-data': b64('CERT'), 'client-key-data': b64('KEY') }),
    ctx,
  ).get();
  assert.deepEqual(certs, { headers: {}, clientCert: Buffer.from('CERT'), clientKey: Buffer.from('KEY') });
  // client-go never sends credentials without TLS.
  assert.deepEqual(endpoint({ token: 'static-token-1' }, 'http://127.0.0.1:8001').user, {});
});

test('a token file is read again once a minute (a rotated service account token), the old one kept if it vanishes', async (t) => {
  const dir = tempDir(t, 'gitops-kubeconfig-');
  const tokenFile = write(dir, 'token', 'first-token\n');
  const endpoint = loadKubeconfig({
    env: { KUBECONFIG: write(dir, 'config', single('c', {}, { tokenFile: 'token' })) },
    cwd: dir,
  });
  let now = 1_000_000;
  const { ctx, masker, warnings } = credentialContext();
  const source = new CredentialSource(endpoint, ctx, { now: () => now });
  assert.equal((await source.get()).headers.Authorization, 'Bearer first-token');
  writeFileSync(tokenFile, 'second-token');
  now += 59_000;
  assert.equal((await source.get()).headers.Authorization, 'Bearer first-token');
  now += 2_000;
  assert.equal((await source.get()).headers.Authorization, 'Bearer second-token');
  writeFileSync(tokenFile, 'third-token');
  source.invalidate();
  assert.equal((await source.get()).headers.Authorization, 'Bearer third-token', 'a 401 re-reads at once');
  assert.equal(masker.mask('first-token second-token third-token'), '*** *** ***');
  writeFileSync(tokenFile, '');
  now += 61_000;
  assert.equal((await source.get()).headers.Authorization, 'Bearer third-token');
  assert.match(warnings.join('\n'), /cannot re-read the token file .*the file is empty/);
});

/** A credential plugin: counts its runs, records KUBERNETES_EXEC_INFO, prints `token-<run>`. */
function plugin(dir: string, apiVersion = 'client.authentication.k8s.io/v1'): string {
  const file = write(
    dir,
    'bin/plugin.mjs',
    `#!/usr/bin/env node
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
const count = existsSync(process.env.COUNT_FILE) ? Number(readFileSync(process.env.COUNT_FILE, 'utf8')) + 1 : 1;
writeFileSync(process.env.COUNT_FILE, String(count));
writeFileSync(process.env.INFO_FILE, process.env.KUBERNETES_EXEC_INFO);
const status = { token: 'plugin-token-' + count + '-' + process.argv[2] };
if (process.env.EXPIRES) status.expirationTimestamp = process.env.EXPIRES;
console.log(JSON.stringify({ apiVersion: ${JSON.stringify(apiVersion)}, kind: 'ExecCredential', status }));
`,
  );
  chmodSync(file, 0o755);
  return file;
}

function execEndpoint(dir: string, exec: Record<string, unknown>, expires?: string): ClusterEndpoint {
  const user = {
    exec: {
      apiVersion: 'client.authentication.k8s.io/v1',
      command: './bin/plugin.mjs',
      args: ['arg'],
      interactiveMode: 'Never',
      provideClusterInfo: true,
      env: [
        { name: 'COUNT_FILE', value: join(dir, 'count') },
        { name: 'INFO_FILE', value: join(dir, 'info.json') },
        ...(expires ? [{ name: 'EXPIRES', value: expires }] : []),
      ],
      ...exec,
    },
  };
  const cluster = {
    'certificate-authority-data': Buffer.from('CA').toString('base64'),
    extensions: [{ name: 'client.authentication.k8s.io/exec', extension: { audience: 'ci' } }],
  };
  return loadKubeconfig({ env: { KUBECONFIG: write(dir, 'config', single('c', cluster, user)) }, cwd: dir });
}

test('exec plugin: run once and cached, run again after invalidate(), KUBERNETES_EXEC_INFO as client-go sends it', async (t) => {
  const dir = tempDir(t, 'gitops-kubeconfig-');
  plugin(dir);
  const { ctx, masker } = credentialContext();
  const source = new CredentialSource(execEndpoint(dir, {}, '2999-01-01T00:00:00Z'), ctx);
  const [first, concurrent] = await Promise.all([source.get(), source.get()]);
  assert.deepEqual(first, { headers: { Authorization: 'Bearer plugin-token-1-arg' } });
  assert.deepEqual(concurrent, first, 'concurrent requests share one run');
  assert.deepEqual(await source.get(), first);
  assert.equal(readFileSync(join(dir, 'count'), 'utf8'), '1');
  assert.deepEqual(JSON.parse(readFileSync(join(dir, 'info.json'), 'utf8')), {
    kind: 'ExecCredential',
    apiVersion: 'client.authentication.k8s.io/v1',
    spec: {
      interactive: false,
      cluster: {
        server: 'https://c.example:6443',
        'certificate-authority-data': Buffer.from('CA').toString('base64'),
        config: { audience: 'ci' },
      },
    },
  });
  source.invalidate();
  assert.equal((await source.get()).headers.Authorization, 'Bearer plugin-token-2-arg');
  assert.equal(masker.mask('plugin-token-1-arg plugin-token-2-arg'), '*** ***');
});

test('exec plugin: an expired credential runs the plugin again; a bad answer or setup is a clear error', async (t) => {
  const dir = tempDir(t, 'gitops-kubeconfig-');
  plugin(dir);
  const { ctx } = credentialContext();
  const expired = new CredentialSource(
    execEndpoint(dir, { provideClusterInfo: false }, '2000-01-01T00:00:00Z'),
    ctx,
  );
  assert.equal((await expired.get()).headers.Authorization, 'Bearer plugin-token-1-arg');
  assert.equal((await expired.get()).headers.Authorization, 'Bearer plugin-token-2-arg');
  assert.deepEqual(JSON.parse(readFileSync(join(dir, 'info.json'), 'utf8')).spec, { interactive: false });

  await assert.rejects(
    new CredentialSource(execEndpoint(dir, { interactiveMode: 'Always' }), ctx).get(),
    refusal('KUBE_AUTH_UNSUPPORTED', /needs a terminal \(interactiveMode: Always\)/),
  );
  await assert.rejects(
    new CredentialSource(
      execEndpoint(dir, { command: 'gitops-no-such-plugin', installHint: 'brew install it' }),
      ctx,
    ).get(),
    (error: { code: string; exitCode: number; hint: string; message: string }) =>
      error.code === 'KUBE_EXEC_PLUGIN_MISSING' &&
      error.exitCode === 2 &&
      error.hint === 'brew install it' &&
      error.message.includes('gitops-no-such-plugin of user "c" is not installed'),
  );
  plugin(dir, 'client.authentication.k8s.io/v1beta1');
  await assert.rejects(
    new CredentialSource(execEndpoint(dir, {}), ctx).get(),
    refusal(
      'KUBE_CREDENTIALS_FAILED',
      /is configured for client\.authentication\.k8s\.io\/v1 but printed .*v1beta1/,
    ),
  );
  assert.throws(
    () => execEndpoint(dir, { interactiveMode: undefined }),
    refusal('KUBECONFIG_INVALID', /interactiveMode/),
  );
  assert.throws(
    () => execEndpoint(dir, { apiVersion: 'client.authentication.k8s.io/v1alpha1' }),
    refusal('KUBECONFIG_INVALID', /apiVersion/),
  );
});

function jwt(expiresInSeconds: number, tag: string): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none' })}.${part({ exp: Math.floor(Date.now() / 1000) + expiresInSeconds, tag })}.sig`;
}

/** An OIDC issuer on 127.0.0.1: discovery and a token endpoint that renews `old-refresh`. */
async function issuer(t: { after(fn: () => void): void }, tls?: { cert: string; key: string }) {
  const requests: Array<{ path: string; form?: URLSearchParams; authorization?: string }> = [];
  const newIdToken = jwt(3600, 'renewed');
  let base = '';
  const handle = (request: IncomingMessage, response: ServerResponse) => {
    let body = '';
    request.on('data', (chunk) => {
      body += chunk;
    });
    request.on('end', () => {
      const form = request.method === 'POST' ? new URLSearchParams(body) : undefined;
      const { authorization } = request.headers;
      requests.push({
        path: request.url ?? '',
        ...(form ? { form } : {}),
        ...(authorization ? { authorization } : {}),
      });
      response.setHeader('content-type', 'application/json');
      if (request.url === '/realm/.well-known/openid-configuration')
        return response.end(JSON.stringify({ issuer: `${base}/realm`, token_endpoint: `${base}/token` }));
      // Like many providers, this one takes client credentials in the form only (client_secret_post).
      if (request.url === '/token' && authorization) {
        response.statusCode = 401;
        return response.end(JSON.stringify({ error: 'invalid_client' }));
      }
      if (request.url === '/token' && form?.get('refresh_token') === 'old-refresh')
        return response.end(
          JSON.stringify({ id_token: newIdToken, refresh_token: 'new-refresh', token_type: 'Bearer' }),
        );
      response.statusCode = 400;
      response.end(JSON.stringify({ error: 'invalid_grant', error_description: 'refresh token expired' }));
    });
  };
  const server = tls ? createHttpsServer(tls, handle) : createHttpServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  base = `${tls ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url: `${base}/realm`, requests, newIdToken };
}

function oidcKubeconfig(
  dir: string,
  config: Record<string, string>,
): { KUBECONFIG: string; usersFile: string } {
  const clusters = write(
    dir,
    'clusters.yaml',
    kubeconfig({
      clusters: [{ name: 'c', cluster: { server: 'https://c.example' } }],
      contexts: [{ name: 'c', context: { cluster: 'c', user: 'dev' } }],
      current: 'c',
    }),
  );
  const usersFile = write(
    dir,
    'users.yaml',
    `# users, kept by hand
users:
- name: other
  user: {token: other-token}
- name: dev
  user:
    auth-provider:
      name: oidc
      config:
${Object.entries(config)
  .map(([key, value]) => `        ${key}: ${value}  # ${key}`)
  .join('\n')}
`,
  );
  return { KUBECONFIG: `${clusters}:${usersFile}`, usersFile };
}

test('OIDC: a valid id-token is used as it is; an expired one is renewed at the issuer and written back into the file that defined the user', async (t) => {
  const dir = tempDir(t, 'gitops-kubeconfig-');
  const idp = await issuer(t);
  const oldIdToken = jwt(-60, 'old');
  const { KUBECONFIG, usersFile } = oidcKubeconfig(dir, {
    'idp-issuer-url': idp.url,
    'client-id': 'gitops',
    'client-secret': 'client-secret-value',
    'id-token': oldIdToken,
    'refresh-token': 'old-refresh',
  });
  const before = readFileSync(usersFile, 'utf8');
  const { ctx, masker } = credentialContext();
  const source = new CredentialSource(loadKubeconfig({ env: { KUBECONFIG }, cwd: dir }), ctx);
  assert.deepEqual(await source.get(), { headers: { Authorization: `Bearer ${idp.newIdToken}` } });
  // As golang.org/x/oauth2: the client secret in a Basic header first, then in the form.
  assert.deepEqual(
    idp.requests.map((request) => request.path),
    ['/realm/.well-known/openid-configuration', '/token', '/token'],
  );
  assert.equal(
    idp.requests[1]!.authorization,
    `Basic ${Buffer.from('gitops:client-secret-value').toString('base64')}`,
  );
  assert.deepEqual(Object.fromEntries(idp.requests[1]!.form!), {
    grant_type: 'refresh_token',
    refresh_token: 'old-refresh',
  });
  assert.deepEqual(Object.fromEntries(idp.requests[2]!.form!), {
    grant_type: 'refresh_token',
    refresh_token: 'old-refresh',
    client_id: 'gitops',
    client_secret: 'client-secret-value',
  });
  const after = readFileSync(usersFile, 'utf8');
  assert.equal(
    after,
    before.replace(oldIdToken, JSON.stringify(idp.newIdToken)).replace('old-refresh', '"new-refresh"'),
    'only the two token values changed; comments and the other user are untouched',
  );
  assert.equal(
    masker.mask(`${oldIdToken} ${idp.newIdToken} old-refresh new-refresh client-secret-value`),
    '*** *** *** *** ***',
  );
  await source.get();
  assert.equal(idp.requests.length, 3, 'the renewed token is cached');

  // A fresh run reads the renewed id-token from the file and asks the issuer nothing.
  const next = new CredentialSource(
    loadKubeconfig({ env: { KUBECONFIG }, cwd: dir }),
    credentialContext().ctx,
  );
  assert.equal((await next.get()).headers.Authorization, `Bearer ${idp.newIdToken}`);
  assert.equal(idp.requests.length, 3);
  // After a 401 it renews even a token that looks valid; the issuer refuses the spent refresh-token.
  next.invalidate();
  await assert.rejects(
    next.get(),
    refusal('KUBE_CREDENTIALS_FAILED', /refused to refresh \(400 invalid_grant: refresh token expired\)/),
  );
});

test('OIDC over https honours idp-certificate-authority-data, and adds an id-token the file did not have', async (t) => {
  const dir = tempDir(t, 'gitops-kubeconfig-');
  const tls = proxyCertificate();
  const idp = await issuer(t, tls);
  const { KUBECONFIG, usersFile } = oidcKubeconfig(dir, {
    'idp-issuer-url': idp.url,
    'client-id': 'gitops',
    'idp-certificate-authority-data': Buffer.from(tls.caPem).toString('base64'),
    'refresh-token': 'old-refresh',
  });
  const source = new CredentialSource(
    loadKubeconfig({ env: { KUBECONFIG }, cwd: dir }),
    credentialContext().ctx,
  );
  assert.equal((await source.get()).headers.Authorization, `Bearer ${idp.newIdToken}`);
  assert.deepEqual(Object.fromEntries(idp.requests[1]!.form!), {
    grant_type: 'refresh_token',
    refresh_token: 'old-refresh',
    client_id: 'gitops',
  });
  assert.equal(idp.requests[1]!.authorization, undefined, 'a public client sends no secret');
  type Users = { users: Array<{ user: { 'auth-provider': { config: Record<string, string> } } }> };
  const users = (load(readFileSync(usersFile, 'utf8')) as Users).users;
  assert.equal(users[1]!.user['auth-provider'].config['id-token'], idp.newIdToken);
  assert.equal(users[1]!.user['auth-provider'].config['refresh-token'], 'new-refresh');
  assert.deepEqual(users[0], { name: 'other', user: { token: 'other-token' } });
  assert.match(readFileSync(usersFile, 'utf8'), /^# users, kept by hand\n/);
});

test('auth-providers client-go removed name the exec plugin that replaced them', async (t) => {
  const dir = tempDir(t, 'gitops-kubeconfig-');
  for (const [name, replacement] of [
    ['gcp', /gke-gcloud-auth-plugin/],
    ['azure', /kubelogin/],
  ] as const) {
    const user = { 'auth-provider': { name, config: { 'access-token': 'abcd' } } };
    const endpoint = loadKubeconfig({
      env: { KUBECONFIG: write(dir, 'config', single('c', {}, user)) },
      cwd: dir,
    });
    await assert.rejects(
      new CredentialSource(endpoint, credentialContext().ctx).get(),
      (error: { code: string; hint: string }) => {
        assert.equal(error.code, 'KUBE_AUTH_UNSUPPORTED');
        assert.match(error.hint, replacement);
        return true;
      },
    );
  }
});
