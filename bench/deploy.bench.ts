import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { kubeTools } from '@gitops/kube-apiserver/kube-tools';
import { runBin, tempDir } from '../test/support/cli.js';
import { clusterFixture } from '../test/support/cluster.js';
import { git } from '../test/support/git.js';
import { type BenchRow, measure, row } from './lib.js';

const REGISTRY = 'registry.example.com/acme';

function environment(name: string): Record<string, string> {
  return {
    [`envs/${name}/web.yaml`]: `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: ${name}
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: ${REGISTRY}/web:0.0.0
`,
    [`envs/${name}/namespace.yaml`]: `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${name}\n`,
  };
}

/** The floor: what a hand-written CI script doing the same git and kubectl steps costs. */
const BASELINE = `set -euo pipefail
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
git clone --quiet --depth 1 --single-branch --branch main "file://$REMOTE" "$dir"
sed -i "s#image: $REGISTRY/web:.*#image: $REGISTRY/web:$TAG#" "$dir/envs/baseline/web.yaml"
git -C "$dir" commit --quiet -am "deploy web $TAG"
git -C "$dir" push --quiet origin HEAD:main
"$KUBECTL" apply --server-side --field-manager=ci-script -f "$dir/envs/baseline"
"$KUBECTL" rollout status deployment/web -n baseline --timeout=60s
`;

export async function run(): Promise<BenchRow[]> {
  const cleanups: Array<() => unknown> = [];
  const owner = { after: (fn: () => unknown) => cleanups.push(fn) };
  try {
    const names = Array.from({ length: 20 }, (_, index) => `env-${index}`);
    const files = Object.assign(
      {},
      environment('staging'),
      environment('baseline'),
      ...names.map(environment),
    ) as Record<string, string>;
    const environments = Object.fromEntries(
      ['staging', ...names].map((name) => [name, `    namespace: ${name}\n    timeout: 60s\n`]),
    );
    const cluster = await clusterFixture(
      owner,
      files,
      environments,
      `images:\n  - name: web\n    repository: ${REGISTRY}/web\n`,
    );
    const script = join(tempDir(owner as never, 'gitops-bench-'), 'baseline.sh');
    writeFileSync(script, BASELINE);
    const namespace = await cluster.kubectl(
      ['apply', '--server-side', '--field-manager=ci-script', '-f', '-'],
      'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: baseline\n',
    );
    if (namespace.code !== 0) throw new Error(namespace.stderr);

    let version = 0;
    const deploy = async (env: string) => {
      version += 1;
      const result = await runBin(
        ['deploy', '--env', env, '--skip-build', '--image', `web=${REGISTRY}/web:1.0.${version}`],
        { cwd: cluster.app, env: cluster.env },
      );
      if (result.code !== 0) throw new Error(`gitops deploy exited ${result.code}: ${result.stderr}`);
    };
    const options = { runs: 7, warmup: 2 };
    const gitops = await measure(() => deploy('staging'), options);
    // Async: the API server runs in this process, and a blocked event loop would stall kubectl.
    const bash = await measure(
      () =>
        new Promise<void>((resolve, reject) => {
          version += 1;
          const child = spawn('bash', [script], {
            env: {
              ...cluster.env,
              REMOTE: cluster.remote.bare,
              REGISTRY,
              TAG: `1.0.${version}`,
              KUBECTL: kubeTools().kubectl,
            } as NodeJS.ProcessEnv,
            stdio: ['ignore', 'ignore', 'pipe'],
          });
          let stderr = '';
          child.stderr.on('data', (chunk) => {
            stderr += chunk;
          });
          child.on('error', reject);
          child.on('close', (code) =>
            code === 0 ? resolve() : reject(new Error(`baseline script failed: ${stderr}`)),
          );
        }),
      options,
    );

    // 20 environments of one env repo: all at once against one after another.
    const before = cluster.remote.log().length;
    const parallel = await measure(() => Promise.all(names.map((name) => deploy(name))), {
      runs: 1,
      warmup: 0,
    });
    const sequential = await measure(
      async () => {
        for (const name of names) await deploy(name);
      },
      { runs: 1, warmup: 0 },
    );
    const commits = cluster.remote.log().length - before;
    const lost = 40 - commits;
    const everyEnvOnItsImage = names.every((name) =>
      cluster.remote.show(`envs/${name}/web.yaml`).includes(`${REGISTRY}/web:1.0.`),
    );
    git(cluster.remote.bare, ['fsck', '--no-progress']);
    return [
      row(
        'deploy overhead',
        { label: 'gitops deploy --skip-build --image', ...gitops },
        { label: 'bash: clone, sed, commit, push, kubectl apply, rollout status', ...bash },
        { text: '≤ 1.5×', maxRatio: 1.5 },
      ),
      row(
        '20 deploys, 20 environments',
        { label: '20 at once', ...parallel },
        { label: '20 one after another', ...sequential },
        undefined,
        `${commits} commits for 40 deploys (${lost} lost); every environment holds a new image: ${everyEnvOnItsImage}`,
      ),
    ];
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const r of await run())
    console.log(r.bench, r.subject.medianMs, r.baseline.medianMs, r.ratio, r.notes ?? '');
}
