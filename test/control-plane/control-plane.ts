// A real Kubernetes control plane on loopback for the test suite: etcd, kube-apiserver,
// kube-controller-manager and kube-scheduler built from Kubernetes' Go modules, plus kwok, which
// plays the kubelets of fake nodes so that pods become Running/Ready (see kwok-stages.yaml).
// The flags follow what controller-runtime's envtest passes (secure port on loopback, generated
// serving certs, service-account keys and issuer), plus the controllers envtest leaves out.

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ControlPlaneBinaries } from './binaries.js';

export interface ApiAccess {
  /** `https://127.0.0.1:PORT` */
  url: string;
  /** PEM of the CA that signed the server's certificate. */
  caPem: string;
  /** Bearer token, or a client certificate and key. */
  token?: string;
  clientCertPem?: string;
  clientKeyPem?: string;
}

export interface ControlPlane extends ApiAccess {
  /** Bearer token of a member of system:masters. */
  token: string;
  /** Admin kubeconfig straight to the API server. */
  kubeconfigPath: string;
  /** Server version as the API reports it, e.g. v1.32.9. */
  version: string;
  /** Temp dir with certs, configs and one log file per component. */
  dir: string;
  /** Milliseconds from spawn of etcd to a schedulable node. */
  startupMs: number;
  stop(): Promise<void>;
  /** Kills every component at once, synchronously (for process 'exit' handlers). */
  killNow(): void;
  /** Stops the components but keeps `dir` (the logs) for a post-mortem. */
  stopKeepingLogs(): Promise<void>;
}

export interface StartOptions {
  binaries: ControlPlaneBinaries;
  /** Number of fake nodes (default 2). */
  nodes?: number;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
  /** Do not keep the Node process alive for the components (a test process that owns them). */
  unref?: boolean;
  /** Start kwok and the fake nodes (default true). */
  kwok?: boolean;
}

const STAGES = fileURLToPath(new URL('./kwok-stages.yaml', import.meta.url));
const FAKE_NODE_ANNOTATION = 'kwok.x-k8s.io/node';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A CA and a serving certificate for 127.0.0.1/localhost signed by it (openssl, EC P-256). */
export function issueCertificates(dir: string, name: string, ca?: { cert: string; key: string }) {
  const caCert = ca?.cert ?? join(dir, 'ca.crt');
  const caKey = ca?.key ?? join(dir, 'ca.key');
  const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  if (!ca) {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        ...ecKey,
        '-keyout',
        caKey,
        '-out',
        caCert,
        '-days',
        '7',
        '-subj',
        '/CN=gitops-test-ca',
      ],
      {
        stdio: 'ignore',
      },
    );
  }
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.crt`);
  const extensions = join(dir, `${name}.ext`);
  writeFileSync(
    extensions,
    'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n',
  );
  execFileSync('openssl', ['req', ...ecKey, '-keyout', key, '-out', csr, '-subj', `/CN=${name}`], {
    stdio: 'ignore',
  });
  execFileSync(
    'openssl',
    [
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      caCert,
      '-CAkey',
      caKey,
      '-CAcreateserial',
      '-out',
      cert,
      '-days',
      '7',
      '-extfile',
      extensions,
    ],
    { stdio: 'ignore' },
  );
  return { caCert, caKey, cert, key };
}

export function kubeconfigYaml(
  access: { url: string; caPem: string; token: string },
  namespace = 'default',
): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: test',
    '  cluster:',
    `    server: ${access.url}`,
    `    certificate-authority-data: ${Buffer.from(access.caPem).toString('base64')}`,
    'users:',
    '- name: test',
    '  user:',
    `    token: ${access.token}`,
    'contexts:',
    '- name: test',
    '  context:',
    '    cluster: test',
    '    user: test',
    `    namespace: ${namespace}`,
    'current-context: test',
    '',
  ].join('\n');
}

export interface ApiResponse {
  status: number;
  body: string;
  json<T = unknown>(): T;
}

/** One HTTPS request to the API server with the admin token. */
export function apiRequest(
  access: ApiAccess,
  method: string,
  path: string,
  body?: unknown,
  contentType = 'application/json',
): Promise<ApiResponse> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const request = httpsRequest(
      new URL(path, access.url),
      {
        method,
        ca: access.caPem,
        ...(access.clientCertPem ? { cert: access.clientCertPem, key: access.clientKeyPem } : {}),
        headers: {
          ...(access.token ? { Authorization: `Bearer ${access.token}` } : {}),
          Accept: 'application/json',
          ...(payload !== undefined ? { 'Content-Type': contentType } : {}),
        },
        timeout: 30_000,
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: response.statusCode ?? 0, body: text, json: () => JSON.parse(text) });
        });
        response.on('error', reject);
      },
    );
    request.on('timeout', () => request.destroy(new Error(`${method} ${path} timed out`)));
    request.on('error', reject);
    request.end(payload);
  });
}

async function waitFor(
  what: string,
  timeoutMs: number,
  check: () => Promise<boolean>,
  logs: string[],
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (error) {
      lastError = error;
    }
    await sleep(200);
  }
  const tails = logs
    .filter((file) => existsSync(file))
    .map((file) => `--- ${file}\n${readFileSync(file, 'utf8').split('\n').slice(-15).join('\n')}`)
    .join('\n');
  throw new Error(
    `control plane: ${what} not ready after ${timeoutMs} ms${lastError ? ` (${String(lastError)})` : ''}\n${tails}`,
  );
}

/** A Node that kwok manages: large enough for every pod the suite creates, no taints. */
function fakeNode(name: string): unknown {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      annotations: { [FAKE_NODE_ANNOTATION]: 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
      labels: {
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        type: 'kwok',
      },
    },
    status: {
      allocatable: { cpu: '1000', memory: '4Ti', pods: '5000' },
      capacity: { cpu: '1000', memory: '4Ti', pods: '5000' },
      nodeInfo: {
        architecture: 'amd64',
        kubeletVersion: 'fake',
        kubeProxyVersion: 'fake',
        operatingSystem: 'linux',
      },
      phase: 'Running',
    },
  };
}

/** Child processes that live and die together, each logging to a file in one directory. */
class ProcessGroup {
  private readonly children: Array<{ name: string; child: ChildProcess }> = [];
  readonly logs: string[] = [];
  private stopping = false;
  private keepLogs = false;

  constructor(
    readonly dir: string,
    private readonly options: { unref?: boolean; log: (line: string) => void },
    /** Removed with the group (etcd's data in RAM). */
    private readonly scratch: string[] = [],
  ) {}

  launch(name: string, binary: string, args: string[]): void {
    const file = join(this.dir, `${name}.log`);
    this.logs.push(file);
    const out = openSync(file, 'a');
    const child = spawn(binary, args, {
      stdio: ['ignore', out, out],
      env: { ...process.env, HOME: this.dir },
    });
    closeSync(out);
    if (this.options.unref) child.unref();
    this.children.push({ name, child });
    child.on('exit', (code, signal) => {
      if (!this.stopping) this.options.log(`${name} exited (${signal ?? code}); see ${file}`);
    });
  }

  /** SIGTERM in reverse start order, SIGKILL after 5 s; then the files go (unless kept). */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const { child } of [...this.children].reverse()) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(killer);
    }
    this.removeFiles();
  }

  async stopKeepingLogs(): Promise<void> {
    this.keepLogs = true;
    await this.stop();
  }

  killNow(): void {
    this.stopping = true;
    for (const { child } of this.children)
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    this.removeFiles();
  }

  private removeFiles(): void {
    for (const path of this.scratch) rmSync(path, { recursive: true, force: true });
    if (!this.keepLogs) rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface FakeNodes {
  dir: string;
  stop(): Promise<void>;
  stopKeepingLogs(): Promise<void>;
  killNow(): void;
}

function launchKwok(group: ProcessGroup, kwok: string, kubeconfigPath: string): void {
  group.launch('kwok', kwok, [
    `--kubeconfig=${kubeconfigPath}`,
    `--config=${STAGES}`,
    '--manage-all-nodes=false',
    `--manage-nodes-with-annotation-selector=${FAKE_NODE_ANNOTATION}=fake`,
    '--cidr=10.64.0.0/10',
    '--node-ip=10.32.0.1',
  ]);
}

async function createFakeNodes(access: ApiAccess, count: number, logs: string[]): Promise<void> {
  for (const name of Array.from({ length: count }, (_, index) => `kwok-node-${index}`)) {
    const created = await apiRequest(access, 'POST', '/api/v1/nodes', fakeNode(name));
    if (created.status !== 201 && created.status !== 409)
      throw new Error(`control plane: creating node ${name}: ${created.status} ${created.body}`);
  }
  await waitFor(
    'a Ready fake node and the default ServiceAccount',
    90_000,
    async () => {
      const nodes = (await apiRequest(access, 'GET', '/api/v1/nodes')).json<{
        items: Array<{ status?: { conditions?: Array<{ type: string; status: string }> } }>;
      }>();
      const ready = nodes.items.some((node) =>
        node.status?.conditions?.some(
          (condition) => condition.type === 'Ready' && condition.status === 'True',
        ),
      );
      const account = await apiRequest(access, 'GET', '/api/v1/namespaces/default/serviceaccounts/default');
      return ready && account.status === 200;
    },
    logs,
  );
}

/**
 * kwok and its fake nodes for an existing cluster (GITOPS_TEST_KUBECONFIG): the suite's pods are
 * played by the same stages as on the built control plane. Real nodes must not take the suite's
 * pods (taint them, as the GitHub workflow does for kind).
 */
export async function startFakeNodes(options: {
  kwok: string;
  kubeconfigPath: string;
  access: ApiAccess;
  nodes?: number;
  log?: (line: string) => void;
}): Promise<FakeNodes> {
  const group = new ProcessGroup(mkdtempSync(join(tmpdir(), 'gitops-kwok-')), {
    log: options.log ?? (() => {}),
  });
  try {
    launchKwok(group, options.kwok, options.kubeconfigPath);
    await createFakeNodes(options.access, options.nodes ?? 2, group.logs);
    return {
      dir: group.dir,
      stop: () => group.stop(),
      stopKeepingLogs: () => group.stopKeepingLogs(),
      killNow: () => group.killNow(),
    };
  } catch (error) {
    await group.stop();
    throw error;
  }
}

/**
 * Starts the control plane on free loopback ports and returns once a fake node is Ready and
 * the controllers have created the default ServiceAccount (pods can be created and scheduled).
 */
export async function startControlPlane(options: StartOptions): Promise<ControlPlane> {
  const started = Date.now();
  const log = options.log ?? (() => {});
  const { paths } = options.binaries;
  const dir = mkdtempSync(join(tmpdir(), 'gitops-control-plane-'));
  // etcd fsyncs on every write; in RAM (and with --unsafe-no-fsync) the suite is not disk-bound.
  const dataRoot = existsSync('/dev/shm') ? mkdtempSync('/dev/shm/gitops-etcd-') : join(dir, 'etcd-data');
  const group = new ProcessGroup(dir, { log, ...(options.unref ? { unref: true } : {}) }, [dataRoot]);
  const { logs } = group;
  const launch = group.launch.bind(group);

  try {
    const [etcdClient, etcdPeer, apiPort] = [await freePort(), await freePort(), await freePort()];
    const certs = issueCertificates(dir, 'apiserver');
    const serviceAccount = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const saKey = join(dir, 'sa.key');
    const saPub = join(dir, 'sa.pub');
    writeFileSync(saKey, serviceAccount.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    writeFileSync(saPub, serviceAccount.publicKey.export({ type: 'spki', format: 'pem' }));
    const token = randomBytes(24).toString('hex');
    writeFileSync(join(dir, 'tokens.csv'), `${token},gitops-test-admin,gitops-test-admin,system:masters\n`);
    const access = { url: `https://127.0.0.1:${apiPort}`, caPem: readFileSync(certs.caCert, 'utf8'), token };
    const kubeconfigPath = join(dir, 'admin.kubeconfig');
    writeFileSync(kubeconfigPath, kubeconfigYaml(access));

    log(`etcd on 127.0.0.1:${etcdClient}`);
    mkdirSync(join(dataRoot, 'etcd'), { recursive: true });
    launch('etcd', paths.etcd, [
      `--data-dir=${join(dataRoot, 'etcd')}`,
      `--listen-client-urls=http://127.0.0.1:${etcdClient}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdClient}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=default=http://127.0.0.1:${etcdPeer}`,
      '--unsafe-no-fsync',
      '--quota-backend-bytes=4294967296',
      '--log-level=warn',
    ]);
    await waitFor(
      'etcd',
      30_000,
      async () => {
        const response = await fetch(`http://127.0.0.1:${etcdClient}/health`);
        return response.ok && ((await response.json()) as { health?: string }).health === 'true';
      },
      logs,
    );

    log(`kube-apiserver on ${access.url}`);
    launch('kube-apiserver', paths['kube-apiserver'], [
      `--etcd-servers=http://127.0.0.1:${etcdClient}`,
      `--secure-port=${apiPort}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--cert-dir=${join(dir, 'apiserver-certs')}`,
      `--tls-cert-file=${certs.cert}`,
      `--tls-private-key-file=${certs.key}`,
      `--client-ca-file=${certs.caCert}`,
      `--token-auth-file=${join(dir, 'tokens.csv')}`,
      '--authorization-mode=RBAC',
      '--service-cluster-ip-range=10.96.0.0/16',
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${saPub}`,
      `--service-account-signing-key-file=${saKey}`,
      '--allow-privileged=true',
      '--profiling=false',
      // The only apiserver, on loopback: the "kubernetes" Service's endpoints cannot point there.
      '--endpoint-reconciler-type=none',
      '--v=0',
    ]);
    await waitFor(
      'kube-apiserver',
      90_000,
      async () => (await apiRequest(access, 'GET', '/readyz')).status === 200,
      logs,
    );

    // Client-side rate limits (20 QPS by default) would queue the controllers' work behind each
    // other while several test files deploy at once; kwokctl lifts them the same way.
    const common = [
      `--kubeconfig=${kubeconfigPath}`,
      '--leader-elect=false',
      '--kube-api-qps=5000',
      '--kube-api-burst=10000',
      '--v=0',
    ];
    log('kube-controller-manager, kube-scheduler, kwok');
    launch('kube-controller-manager', paths['kube-controller-manager'], [
      ...common,
      '--secure-port=0',
      '--controllers=*',
      `--service-account-private-key-file=${saKey}`,
      `--root-ca-file=${certs.caCert}`,
      `--cluster-signing-cert-file=${certs.caCert}`,
      `--cluster-signing-key-file=${certs.caKey}`,
      '--use-service-account-credentials=false',
      // Namespaces and garbage collection are part of what the suite tests; keep them prompt.
      '--concurrent-namespace-syncs=5',
      // A fake node counts as down after 2 minutes without a heartbeat (default 40 s): on a loaded
      // machine kwok's heartbeats run late, and a "down" node marks its pods NotReady.
      '--node-monitor-grace-period=2m',
      '--concurrent-gc-syncs=20',
    ]);
    launch('kube-scheduler', paths['kube-scheduler'], [...common, '--secure-port=0']);
    if (options.kwok !== false) {
      launchKwok(group, paths.kwok, kubeconfigPath);
      await createFakeNodes(access, options.nodes ?? 2, logs);
    }
    const version = (await apiRequest(access, 'GET', '/version')).json<{ gitVersion: string }>().gitVersion;
    return {
      ...access,
      kubeconfigPath,
      version,
      dir,
      startupMs: Date.now() - started,
      stop: () => group.stop(),
      killNow: () => group.killNow(),
      stopKeepingLogs: () => group.stopKeepingLogs(),
    };
  } catch (error) {
    await group.stop();
    throw error;
  }
}
