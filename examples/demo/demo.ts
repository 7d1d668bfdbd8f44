/**
 * `npm run demo`: the whole story on one machine, no cluster of your own needed.
 *
 * Sets up a local bare env repo (from examples/env-plain), an app repo (examples/app), and the
 * project's test Kubernetes API server, then: deploy v1 → deploy v2 → diff (in sync) → a change
 * by hand (kubectl scale) → diff shows it and who did it → rollback to v1 → history.
 * Images are built for real when podman and docker-registry are installed
 * (.ci/setup-containers.sh); otherwise preset image references are used, and it says so.
 * Every step checks its own outcome: the demo exits non-zero when the story does not hold.
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { kubectlBinary, startKubeApiServer } from '@gitops/kube-apiserver';
import { runKubectl } from '@gitops/kube-apiserver/kubectl';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(root, 'bin', 'gitops.cjs');
const started = Date.now();
const cleanups: Array<() => unknown> = [];
const tty = Boolean(process.stderr.isTTY);
const bold = (text: string) => (tty ? `\u001b[1m${text}\u001b[22m` : text);

function say(step: string, text: string): void {
  process.stderr.write(`\n${bold(`━━ ${step} ━━`)} ${text}\n`);
}

function git(cwd: string, args: string[]): string {
  const result = spawnSync('git', args, { cwd, encoding: 'utf8', env: gitEnv });
  if (result.status !== 0) throw new Error(`git ${args.join(' ')}: ${result.stderr}`);
  return result.stdout.trim();
}

const gitEnv = {
  ...process.env,
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_AUTHOR_NAME: 'Demo Developer',
  GIT_AUTHOR_EMAIL: 'dev@example.com',
  GIT_COMMITTER_NAME: 'Demo Developer',
  GIT_COMMITTER_EMAIL: 'dev@example.com',
};

/** Runs gitops with the output on this terminal; with --json, returns the parsed document. */
function gitops(
  args: string[],
  env: NodeJS.ProcessEnv,
  cwd: string,
): Promise<{ code: number; json?: Record<string, unknown> }> {
  process.stderr.write(`${bold('$')} gitops ${args.join(' ')}\n`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const json =
        args.includes('--json') && stdout.trim()
          ? (JSON.parse(stdout) as Record<string, unknown>)
          : undefined;
      if (!json && stdout) process.stdout.write(stdout);
      // Human output went to stderr (above); the --json document is on stdout, read by this script.
      if (json) {
        const shown = Object.fromEntries(
          ['environment', 'revision', 'changed', 'verified', 'durationMs']
            .filter((key) => key in json)
            .map((key) => [key, key === 'revision' ? String(json[key]).slice(0, 12) : json[key]]),
        );
        process.stderr.write(`  ${bold('stdout (--json):')} ${JSON.stringify(shown)} …\n`);
      }
      resolve({ code: code ?? 1, ...(json ? { json } : {}) });
    });
  });
}

function expect(condition: boolean, what: string): void {
  if (!condition) throw new Error(`the demo expected ${what}`);
}

function which(program: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${program}`], { stdio: 'ignore' }).status === 0;
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'gitops-demo-'));
  cleanups.push(() => rmSync(work, { recursive: true, force: true }));

  say('setup', 'a local env repo, an app repo and a Kubernetes API server on 127.0.0.1');
  const server = await startKubeApiServer();
  cleanups.push(() => server.stop());
  const bare = join(work, 'env.git');
  const seed = join(work, 'env-seed');
  git(work, ['init', '--quiet', '--bare', '--initial-branch=main', bare]);
  cpSync(join(root, 'examples', 'env-plain', 'envs'), join(seed, 'envs'), { recursive: true });
  git(seed, ['init', '--quiet', '--initial-branch=main']);
  git(seed, ['add', '-A']);
  git(seed, ['commit', '--quiet', '-m', 'environments: staging and production']);
  git(seed, ['push', '--quiet', bare, 'main']);

  const app = join(work, 'app');
  cpSync(join(root, 'examples', 'app'), app, { recursive: true });
  const canBuild = which('podman') && which('docker-registry') && existsSync('/bin/busybox');
  let registry = 'ghcr.io';
  let engineEnv: Record<string, string> = {};
  if (canBuild) {
    const { startContainerLab } = await import('../../test/support/containers.js');
    const lab = await startContainerLab({ after: (fn: () => unknown) => cleanups.push(fn) } as never);
    registry = lab.registry;
    engineEnv = lab.env;
    cpSync('/bin/busybox', join(app, 'busybox'));
    process.stderr.write(`  images are built with podman and pushed to the registry at ${registry}\n`);
  } else {
    process.stderr.write(
      '  no podman + docker-registry here: using preset image references (run .ci/setup-containers.sh to build for real)\n',
    );
  }
  writeFileSync(
    join(app, 'gitops.yaml'),
    `version: 1
images:
  - name: web
    repository: ${registry}/demo/web
    context: .
envRepo:
  url: ${bare}
  branch: main
kubectl:
  path: ${kubectlBinary()}
environments:
  staging:
    path: envs/staging
    namespace: demo
    timeout: 30s
`,
  );
  // The example manifests name 127.0.0.1:5000/demo/web; point them at this run's registry.
  if (registry !== '127.0.0.1:5000') {
    const { readFileSync } = await import('node:fs');
    const manifest = join(seed, 'envs', 'staging', 'web.yaml');
    writeFileSync(
      manifest,
      readFileSync(manifest, 'utf8').replaceAll('127.0.0.1:5000/demo/web', `${registry}/demo/web`),
    );
    git(seed, ['commit', '--quiet', '-am', 'point staging at the demo registry']);
    git(seed, ['push', '--quiet', bare, 'main']);
  }
  git(app, ['init', '--quiet', '--initial-branch=main']);
  git(app, ['add', '-A']);
  git(app, ['commit', '--quiet', '-m', 'web v1']);

  const env: NodeJS.ProcessEnv = {
    ...gitEnv,
    ...server.kubectlEnv(),
    ...engineEnv,
    CI: process.env.CI ?? 'false',
  };
  const preset = (version: string, digest: string) => [
    '--skip-build',
    '--image',
    `web=ghcr.io/demo/web:${version}@sha256:${digest.repeat(64 / digest.length)}`,
  ];

  say('1/7 deploy v1', 'build and push the image, bump the env repo, apply, wait, verify');
  const v1 = await gitops(
    ['--json', 'deploy', '--env', 'staging', ...(canBuild ? [] : preset('1.0.0', 'a1'))],
    env,
    app,
  );
  expect(v1.code === 0, 'deploy v1 to succeed');
  const v1Revision = String(v1.json?.revision);
  process.stderr.write(`  → staging runs env-repo commit ${v1Revision.slice(0, 12)}\n`);

  say('2/7 deploy v2', 'a new commit in the app repo, deployed the same way');
  writeFileSync(join(app, 'www', 'index.html'), '<h1>web v2</h1>\n');
  git(app, ['commit', '--quiet', '-am', 'web v2']);
  const v2 = await gitops(
    ['--json', 'deploy', '--env', 'staging', ...(canBuild ? [] : preset('2.0.0', 'b2'))],
    env,
    app,
  );
  expect(v2.code === 0, 'deploy v2 to succeed');

  say('3/7 diff', 'git and the cluster agree: exit 0');
  const inSync = await gitops(['diff', '--env', 'staging'], env, app);
  expect(inSync.code === 0, 'diff to find nothing after the deploy');

  say('4/7 a change by hand', 'someone runs kubectl scale in the cluster');
  process.stderr.write(`${bold('$')} kubectl scale deployment/web -n demo --replicas=5\n`);
  const scaled = await runKubectl(server, ['scale', 'deployment/web', '-n', 'demo', '--replicas=5']);
  expect(scaled.code === 0, `kubectl scale to work: ${scaled.stderr}`);
  process.stderr.write(scaled.stdout);

  say('5/7 diff', 'the drift, the field and who made it: exit 1');
  const drifted = await gitops(['diff', '--env', 'staging'], env, app);
  expect(drifted.code === 1, 'diff to report the drift with exit 1');

  say(
    '6/7 rollback to v1',
    `a new commit restoring ${v1Revision.slice(0, 12)}, applied and verified (it also puts the replicas back)`,
  );
  const rollback = await gitops(['rollback', v1Revision.slice(0, 12), '--env', 'staging'], env, app);
  expect(rollback.code === 0, 'the rollback to succeed');
  const after = await gitops(['diff', '--env', 'staging'], env, app);
  expect(after.code === 0, 'diff to be clean after the rollback');

  say('7/7 history', 'every change is a commit; the live one is marked');
  const history = await gitops(['history', '--env', 'staging'], env, app);
  expect(history.code === 0, 'history to work');

  process.stderr.write(
    `\n${bold('demo finished')} in ${((Date.now() - started) / 1000).toFixed(1)}s${canBuild ? '' : ' (preset images)'}; cleaning up.\n`,
  );
}

try {
  await main();
} catch (error) {
  process.stderr.write(`\ndemo failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
} finally {
  for (const cleanup of cleanups.reverse()) {
    try {
      await cleanup();
    } catch {
      // best effort
    }
  }
}
