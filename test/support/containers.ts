/**
 * Real podman and a real registry for tests, with every piece of config and state in a temp dir
 * (../shared/notes/containers.md has the measured setup and its traps). Nothing in /etc is read
 * or written: podman gets CONTAINERS_CONF / CONTAINERS_STORAGE_CONF / CONTAINERS_REGISTRIES_CONF.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { TestContext } from 'node:test';
import { repoRoot } from './cli.js';

/** Programs the container tests need; .ci/setup-containers.sh installs all of them. */
export const CONTAINER_TOOLS = ['podman', 'runc', 'skopeo', 'docker-registry', 'busybox'] as const;

export function which(program: string, path = process.env.PATH ?? ''): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (dir && existsSync(join(dir, program))) return join(dir, program);
  }
  return undefined;
}

function isCI(): boolean {
  const ci = process.env.CI;
  return ci !== undefined && ci !== '' && ci !== 'false' && ci !== '0';
}

/**
 * Call first in every test that needs podman. Locally, without the tools, the test is skipped
 * with a loud reason; under CI=true a missing tool fails the test: CI must run these for real.
 * Returns false when the test was skipped (return from the test then).
 */
export function requireContainerEngine(t: TestContext): boolean {
  const missing = CONTAINER_TOOLS.filter((tool) => !which(tool));
  if (missing.length === 0) return true;
  const reason = `container tests need ${missing.join(', ')}; run .ci/setup-containers.sh (as root) to install them`;
  if (isCI()) throw new Error(`CI=true and ${reason}. These tests must not be skipped in CI.`);
  process.stderr.write(`\n!!!!!!!!!! SKIPPED: ${reason} !!!!!!!!!!\n\n`);
  t.skip(`SKIPPED LOUDLY: ${reason}`);
  return false;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject()));
    });
  });
}

/** Hard limits of this process: podman must not ask for more (trap 1 of the notes). */
function hardLimits(): { nofile: string; nproc: string } {
  const out = spawnSync('sh', ['-c', 'ulimit -Hn; ulimit -Hu'], { encoding: 'utf8' })
    .stdout.trim()
    .split('\n');
  const pidMax = Number.parseInt(readFileSync('/proc/sys/kernel/pid_max', 'utf8'), 10) || 32768;
  const number = (value: string | undefined, fallback: number) =>
    value === undefined || value === 'unlimited' ? fallback : Number.parseInt(value, 10) || fallback;
  return {
    nofile: String(number(out[0], 1_048_576)),
    nproc: String(Math.min(number(out[1], pidMax), pidMax)),
  };
}

export interface ContainerLab {
  /** Temp dir holding config, storage and the registry's data. */
  dir: string;
  /** `127.0.0.1:<port>` of the registry. */
  registry: string;
  /** What podman (and gitops running podman) needs in its environment. */
  env: Record<string, string>;
  /** Runs podman with the lab's config; throws on failure. */
  podman(args: string[]): string;
  /** Removes every image from the lab's storage: the next build starts from nothing. */
  resetStorage(): void;
}

async function waitForRegistry(url: string, child: ChildProcess, log: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`docker-registry exited with ${child.exitCode}: ${readFileSync(log, 'utf8')}`);
    }
    try {
      const response = await fetch(url);
      if (response.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`docker-registry did not answer on ${url} within 15s: ${readFileSync(log, 'utf8')}`);
}

/**
 * Starts a registry on a free 127.0.0.1 port and writes podman config for it, all under a temp dir.
 * Teardown (registered on `t.after`) stops only what this started: the registry by its PID, then
 * `podman system reset -f` on the temp storage, then removes the dir.
 */
export async function startContainerLab(t: TestContext): Promise<ContainerLab> {
  const dir = mkdtempSync(join(tmpdir(), 'gitops-containers-'));
  const port = await freePort();
  const registry = `127.0.0.1:${port}`;
  const limits = hardLimits();
  for (const sub of ['storage', 'run', 'registry', 'networks', 'tmp']) mkdirSync(join(dir, sub));

  writeFileSync(
    join(dir, 'containers.conf'),
    `[containers]
default_ulimits = ["nofile=${limits.nofile}:${limits.nofile}", "nproc=${limits.nproc}:${limits.nproc}"]
[network]
network_config_dir = "${dir}/networks"
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "${dir}/events.log"
tmp_dir = "${dir}/tmp"
`,
  );
  writeFileSync(
    join(dir, 'storage.conf'),
    `[storage]
driver = "overlay"
graphroot = "${dir}/storage"
runroot = "${dir}/run"
`,
  );
  writeFileSync(
    join(dir, 'registries.conf'),
    `unqualified-search-registries = []
[[registry]]
location = "${registry}"
insecure = true
`,
  );
  writeFileSync(
    join(dir, 'registry.yml'),
    `version: 0.1
log: {level: warn}
storage:
  filesystem: {rootdirectory: ${dir}/registry}
  delete: {enabled: true}
http: {addr: ${registry}}
`,
  );
  const env = {
    CONTAINERS_CONF: join(dir, 'containers.conf'),
    CONTAINERS_STORAGE_CONF: join(dir, 'storage.conf'),
    CONTAINERS_REGISTRIES_CONF: join(dir, 'registries.conf'),
    // The user's logins are not the test's: an empty auth file of its own.
    REGISTRY_AUTH_FILE: join(dir, 'auth.json'),
  };
  writeFileSync(env.REGISTRY_AUTH_FILE, '{"auths":{}}\n');

  const logFile = join(dir, 'registry.log');
  writeFileSync(logFile, '');
  const child = spawn('docker-registry', ['serve', join(dir, 'registry.yml')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr?.on('data', (chunk: Buffer) => writeFileSync(logFile, chunk, { flag: 'a' }));

  const podman = (args: string[]) => {
    const result = spawnSync('podman', args, { env: { ...process.env, ...env }, encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`podman ${args.join(' ')} failed: ${result.stderr}`);
    return result.stdout;
  };

  t.after(async () => {
    if (child.exitCode === null && child.pid !== undefined) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      process.kill(child.pid, 'SIGTERM');
      await exited;
    }
    spawnSync('podman', ['system', 'reset', '-f'], { env: { ...process.env, ...env }, stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
  });

  await waitForRegistry(`http://${registry}/v2/`, child, logFile);
  return {
    dir,
    registry,
    env,
    podman,
    resetStorage: () => {
      podman(['rmi', '--all', '--force']);
    },
  };
}

/** Media types a registry may answer a manifest request with (docker v2 and OCI, single and list). */
export const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
].join(', ');

/** Asks the registry over HTTP for a tag's `Docker-Content-Digest` and its config's labels. */
export async function registryImage(
  registry: string,
  repository: string,
  tag: string,
): Promise<{ digest: string; labels: Record<string, string> } | undefined> {
  const base = `http://${registry}/v2/${repository}`;
  const response = await fetch(`${base}/manifests/${tag}`, { headers: { Accept: MANIFEST_ACCEPT } });
  if (response.status === 404) return undefined;
  if (!response.ok) throw new Error(`GET ${base}/manifests/${tag}: HTTP ${response.status}`);
  const digest = response.headers.get('docker-content-digest') ?? '';
  const manifest = (await response.json()) as { config?: { digest: string } };
  let labels: Record<string, string> = {};
  if (manifest.config) {
    const blob = await fetch(`${base}/blobs/${manifest.config.digest}`);
    const config = (await blob.json()) as { config?: { Labels?: Record<string, string> } };
    labels = config.config?.Labels ?? {};
  }
  return { digest, labels };
}

/**
 * A git repo with the fixture app (test/fixtures/app plus /bin/busybox from busybox-static)
 * and a gitops.yaml whose images push to `registry`. Commit dates are fixed, so the same
 * fixture always gives the same commit and, built reproducibly, the same digest.
 */
export function createAppRepo(
  dir: string,
  registry: string,
  images: Array<{ name: string; repository: string; tags?: string[]; dockerfile?: string }> = [
    { name: 'web', repository: 'demo/web' },
  ],
): string {
  const app = join(dir, 'app');
  cpSync(join(repoRoot, 'test', 'fixtures', 'app'), app, { recursive: true });
  cpSync(which('busybox') ?? '/bin/busybox', join(app, 'busybox'));
  const imageYaml = images
    .map(
      (image) => `  - name: ${image.name}
    repository: ${registry}/${image.repository}
    context: .
${image.dockerfile ? `    dockerfile: ${image.dockerfile}\n` : ''}    tags: ${JSON.stringify(image.tags ?? [])}`,
    )
    .join('\n');
  writeFileSync(
    join(app, 'gitops.yaml'),
    `version: 1
images:
${imageYaml}
envRepo:
  sameRepo: true
environments:
  staging:
    path: envs/staging
build:
  engine: podman
  concurrency: 2
`,
  );
  const env = {
    ...process.env,
    GIT_AUTHOR_NAME: 'Test',
    GIT_AUTHOR_EMAIL: 'test@example.com',
    GIT_COMMITTER_NAME: 'Test',
    GIT_COMMITTER_EMAIL: 'test@example.com',
    GIT_AUTHOR_DATE: '2024-01-02T03:04:05Z',
    GIT_COMMITTER_DATE: '2024-01-02T03:04:05Z',
  };
  const git = (args: string[]) => {
    const result = spawnSync('git', args, { cwd: app, env, encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`git ${args.join(' ')}: ${result.stderr}`);
    return result.stdout.trim();
  };
  git(['init', '-q', '-b', 'main']);
  git(['remote', 'add', 'origin', 'git@github.com:acme/demo-app.git']);
  git(['add', '-A']);
  git(['commit', '-q', '-m', 'demo app']);
  return app;
}

/** Runs git in `cwd` and returns its trimmed stdout. */
export function gitOut(cwd: string, args: string[]): string {
  const result = spawnSync('git', args, { cwd, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`git ${args.join(' ')}: ${result.stderr}`);
  return result.stdout.trim();
}
