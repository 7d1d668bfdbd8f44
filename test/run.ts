// Runs every test file with Node's built-in test runner (TypeScript through tsx), against one
// Kubernetes control plane started here for the whole suite (see test/control-plane/shared.ts
// for what runs when there is none). Usage: node --import tsx test/run.ts [filter-substring ...]

import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findControlPlaneBinaries } from './control-plane/binaries.js';
import { type ControlPlane, startControlPlane } from './control-plane/control-plane.js';
import {
  type ClusterHandoff,
  proxyCertificate,
  upstreamFromKubeconfig,
  writeHandoff,
} from './control-plane/shared.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const filters = process.argv.slice(2);

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory())
      return entry.name === 'fixtures' || entry.name === 'node_modules' ? [] : walk(path);
    return entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

const files = [join(root, 'test'), join(root, 'packages')]
  .filter((dir) => existsSync(dir))
  .flatMap(walk)
  .map((file) => relative(root, file))
  .filter((file) => filters.length === 0 || filters.some((filter) => file.includes(filter)))
  .sort();
if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ')}`);
  process.exit(2);
}

const say = (line: string) => process.stderr.write(`test/run: ${line}\n`);

async function clusterHandoff(): Promise<{ handoff?: ClusterHandoff; plane?: ControlPlane }> {
  if (process.env.GITOPS_TEST_KUBECONFIG) {
    const upstream = upstreamFromKubeconfig(process.env.GITOPS_TEST_KUBECONFIG);
    say(`cluster tests run against the existing cluster at ${upstream.url} (GITOPS_TEST_KUBECONFIG)`);
    // Each test process resolves the version itself; the handoff would need a token to ask.
    return {};
  }
  const binaries = findControlPlaneBinaries();
  if (typeof binaries === 'string') {
    if (process.env.CI === 'true') throw new Error(`CI=true needs the real control plane: ${binaries}`);
    say(`NO REAL CONTROL PLANE: ${binaries}`);
    say('cluster tests fall back to the embedded Node API server; under CI=true this fails');
    return {};
  }
  const plane = await startControlPlane({ binaries, log: (line) => say(line) });
  say(
    `control plane ${plane.version} (etcd ${binaries.versions.etcd}, kwok ${binaries.versions.kwok}) ready in ${(plane.startupMs / 1000).toFixed(1)} s; logs in ${plane.dir}`,
  );
  return {
    plane,
    handoff: {
      kind: 'control-plane',
      version: plane.version,
      upstream: { url: plane.url, caPem: plane.caPem, token: plane.token },
      proxyTls: proxyCertificate(),
    },
  };
}

const { handoff, plane } = await clusterHandoff();
const written = handoff ? writeHandoff(handoff) : undefined;
let exitCode = 1;
const stopAll = async () => {
  written?.remove();
  if (plane && exitCode !== 0) {
    await plane.stopKeepingLogs();
    say(`tests failed: the control plane's logs are kept in ${plane.dir}`);
  } else await plane?.stop();
};
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void stopAll().then(() => process.exit(130));
  });
}
process.once('exit', () => plane?.killNow());

try {
  // Tests wait on git, kubectl and podman far more than on CPU: run a few files at once.
  const concurrency = process.env.TEST_CONCURRENCY ?? '4';
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, ...files],
    {
      cwd: root,
      stdio: 'inherit',
      env: { ...process.env, ...(written ? { GITOPS_TEST_CLUSTER_FILE: written.file } : {}) },
    },
  );
  exitCode = await new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? 1)));
} finally {
  await stopAll();
}
process.exitCode = exitCode;
