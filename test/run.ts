// Runs every test file with Node's built-in test runner against one Kubernetes control plane
// started here for the whole suite (see test/control-plane/shared.ts for what runs when there is
// none). Usage: node --import tsx test/run.ts [filter-substring ...]
//
// Each test file is bundled with its TypeScript imports into one ES module first (esbuild, the
// compiler tsx runs on): a test process then loads one file instead of routing a few hundred
// modules through tsx's loader thread, which cost about a second of CPU per file — a tenth of
// the suite on 2 cores. GITOPS_TEST_TSX=1 runs the sources through tsx instead.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { findControlPlaneBinaries } from './control-plane/binaries.js';
import {
  apiRequest,
  type FakeNodes,
  startControlPlane,
  startFakeNodes,
} from './control-plane/control-plane.js';
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

/**
 * The files that take longest (each a minute or more of a full run on 2 cores), longest first.
 * The runner starts files in the order given, as slots free up: started last, one of these would
 * run on alone at the end while the other slots sit idle. The rest follow alphabetically.
 */
const LONGEST = [
  'test/concurrency.test.ts',
  'test/deploy.test.ts',
  'test/demo.test.ts',
  'test/bump-write.test.ts',
  'test/faults.test.ts',
  'test/hostile-render.test.ts',
  'test/ordering.test.ts',
  'test/ownership.test.ts',
  'test/manifests-write-back.test.ts',
  'test/revision-closure.test.ts',
  'test/build.test.ts',
  'test/hostile-input.test.ts',
];

function longestFirst(a: string, b: string): number {
  const rank = (file: string) => {
    const index = LONGEST.indexOf(file);
    return index < 0 ? LONGEST.length : index;
  };
  return rank(a) - rank(b) || a.localeCompare(b);
}

const files = [join(root, 'test'), join(root, 'packages')]
  .filter((dir) => existsSync(dir))
  .flatMap(walk)
  .map((file) => relative(root, file))
  .filter((file) => filters.length === 0 || filters.some((filter) => file.includes(filter)))
  .sort(longestFirst);
if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ')}`);
  process.exit(2);
}

const say = (line: string) => process.stderr.write(`test/run: ${line}\n`);

/**
 * Bundles each test file (repo-relative) into .tmp/test-bundles/<same path>.js, with source maps;
 * returns the bundles' paths. Packages stay imports, except the workspace's own (TypeScript
 * sources). Every bundled module keeps its own import.meta.url, so paths a module finds relative
 * to itself (fixtures, the repo root, bin/) are the ones it finds when run through tsx.
 */
async function bundled(testFiles: string[]): Promise<string[]> {
  const outdir = join(root, '.tmp', 'test-bundles');
  rmSync(outdir, { recursive: true, force: true });
  await build({
    entryPoints: testFiles.map((file) => join(root, file)),
    outdir,
    outbase: root,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: 'linked',
    logLevel: 'warning',
    plugins: [
      {
        name: 'packages-external-and-own-module-urls',
        setup(builder) {
          builder.onResolve({ filter: /^[^./]/ }, (args) =>
            args.path.startsWith('@gitops/') ? undefined : { path: args.path, external: true },
          );
          builder.onLoad({ filter: /\.ts$/ }, (args) => ({
            contents: readFileSync(args.path, 'utf8').replaceAll(
              'import.meta.url',
              JSON.stringify(pathToFileURL(args.path).href),
            ),
            loader: 'ts',
          }));
        },
      },
    ],
  });
  return testFiles.map((file) => join(outdir, file.replace(/\.ts$/, '.js')));
}

function hasGo(): boolean {
  return spawnSync('go', ['version'], { stdio: 'ignore' }).status === 0;
}

async function clusterHandoff(): Promise<{ handoff?: ClusterHandoff; plane?: FakeNodes }> {
  const external = process.env.GITOPS_TEST_KUBECONFIG;
  if (external) {
    const upstream = upstreamFromKubeconfig(external);
    const version = (await apiRequest(upstream, 'GET', '/version')).json<{ gitVersion: string }>().gitVersion;
    say(
      `cluster tests run against the existing cluster at ${upstream.url} (${version}, GITOPS_TEST_KUBECONFIG)`,
    );
    const binaries = findControlPlaneBinaries();
    let nodes: FakeNodes | undefined;
    if (typeof binaries === 'string') {
      say(`no kwok to play the suite's pods (${binaries}): its rollouts need nodes that run them`);
    } else {
      nodes = await startFakeNodes({
        kwok: binaries.paths.kwok,
        kubeconfigPath: external,
        access: upstream,
        log: say,
      });
      say(`kwok plays the suite's pods on fake nodes; logs in ${nodes.dir}`);
    }
    return {
      handoff: { kind: 'external', version, upstream, proxyTls: proxyCertificate() },
      ...(nodes ? { plane: nodes } : {}),
    };
  }
  let binaries = findControlPlaneBinaries();
  if (typeof binaries === 'string' && process.env.GITOPS_TEST_BUILD_CONTROL_PLANE !== '0' && hasGo()) {
    say(`${binaries}; building it now (first time about 8 minutes on 2 cores; cached afterwards)`);
    const built = spawnSync('bash', [join(root, '.ci', 'setup-control-plane.sh')], { stdio: 'inherit' });
    if (built.status !== 0) say('the control plane build failed (see above)');
    binaries = findControlPlaneBinaries();
  }
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
  const viaTsx = process.env.GITOPS_TEST_TSX === '1';
  const testArgs = viaTsx
    ? ['--import', 'tsx', ...files]
    : ['--enable-source-maps', ...(await bundled(files))];
  const child = spawn(process.execPath, ['--test', `--test-concurrency=${concurrency}`, ...testArgs], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, ...(written ? { GITOPS_TEST_CLUSTER_FILE: written.file } : {}) },
  });
  exitCode = await new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? 1)));
} finally {
  await stopAll();
}
process.exitCode = exitCode;
