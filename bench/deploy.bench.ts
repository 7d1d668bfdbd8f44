import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { kubeTools } from '@gitops/kube-apiserver/kube-tools';
import { tempDir } from '../test/support/cli.js';
import { git } from '../test/support/git.js';
import { uniqueName } from '../test/support/test-cluster.js';
import {
  type BenchRow,
  type Contender,
  firstLine,
  measureSet,
  scaled,
  skippedByEnv,
  unmeasuredRow,
} from './lib.js';
import { benchCluster } from './support/cluster.js';
import { kappBinary } from './support/kapp.js';
import { REGISTRY, SERVICE_POLICIES, serviceEnvironment } from './support/manifests.js';
import { gitopsJson, runProcess, Scope, stepFigures } from './support/process.js';

/**
 * What a hand-written CI job doing the same as `gitops deploy --skip-build --image` costs: clone,
 * set the image, commit, push, then `kubectl apply --server-side` and `kubectl rollout status`
 * (APPLY=kubectl), or `kapp deploy`, which applies and waits (APPLY=kapp).
 */
const SCRIPT = `set -euo pipefail
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
git clone --quiet --depth 1 --single-branch --branch main "file://$REMOTE" "$dir"
sed -i "s#image: $REGISTRY/web:.*#image: $REGISTRY/web:$TAG#" "$dir/$ENV_PATH/web.yaml"
git -C "$dir" commit --quiet -am "deploy web $TAG"
git -C "$dir" push --quiet origin HEAD:main
if [ "$APPLY" = kapp ]; then
  "$KAPP" deploy --yes --tty=false --app "$APP" --namespace default --file "$dir/$ENV_PATH" >/dev/null
else
  "$KUBECTL" apply --server-side --field-manager=ci-script -f "$dir/$ENV_PATH" >/dev/null
  "$KUBECTL" rollout status deployment/web -n "$NAMESPACE" --timeout=120s >/dev/null
fi
`;

const OVERHEAD = 'deploy of 12 objects';
const GITOPS = 'gitops deploy --skip-build --image';
const BASH = 'bash: clone, sed, commit, push, kubectl apply --server-side, rollout status';
const KAPP = 'bash: clone, sed, commit, push, kapp deploy (peer)';

export async function run(): Promise<BenchRow[]> {
  const scope = new Scope();
  try {
    const namespaces = {
      gitops: uniqueName('bench-deploy'),
      bash: uniqueName('bench-bash'),
      kapp: uniqueName('bench-kapp'),
    };
    const parallelEnvs = Array.from({ length: scaled(20, 2) }, (_, index) => `env-${index}`);
    const envNamespaces = Object.fromEntries(parallelEnvs.map((name) => [name, uniqueName(`bench-${name}`)]));
    const files = Object.assign(
      {},
      serviceEnvironment('envs/staging', namespaces.gitops),
      serviceEnvironment('envs/bash', namespaces.bash),
      serviceEnvironment('envs/kapp', namespaces.kapp),
      ...parallelEnvs.map((name) => serviceEnvironment(`envs/${name}`, envNamespaces[name]!)),
    ) as Record<string, string>;
    const environments = Object.fromEntries(
      [['staging', namespaces.gitops], ...Object.entries(envNamespaces)].map(([name, namespace]) => [
        name,
        `    namespace: ${namespace}\n    timeout: 120s\n${SERVICE_POLICIES}`,
      ]),
    );
    const cluster = await benchCluster(
      scope,
      files,
      environments,
      `images:\n  - name: web\n    repository: ${REGISTRY}/web\n`,
    );
    scope.after(() =>
      cluster.deleteNamespaces([...Object.values(namespaces), ...Object.values(envNamespaces)]),
    );
    const script = join(tempDir(scope, 'gitops-bench-'), 'deploy.sh');
    writeFileSync(script, SCRIPT);
    const { remote } = cluster.fixture;

    let version = 0;
    const nextTag = () => `1.0.${++version}`;
    const deploy = async (env: string, tag: string) => {
      const { document } = await gitopsJson(
        ['deploy', '--env', env, '--skip-build', '--image', `web=${REGISTRY}/web:${tag}`],
        { cwd: cluster.app, env: cluster.env },
      );
      return document;
    };
    const bash = (label: string, envPath: string, extra: Record<string, string>): Contender => ({
      label,
      run: async () => {
        await runProcess('bash', [script], {
          env: {
            ...cluster.env,
            REMOTE: remote.bare,
            REGISTRY,
            TAG: nextTag(),
            ENV_PATH: envPath,
            KUBECTL: kubeTools().kubectl,
            ...extra,
          },
        });
      },
    });
    const contenders: Contender[] = [
      { label: GITOPS, run: async () => stepFigures(await deploy('staging', nextTag())) },
      bash(BASH, 'envs/bash', { APPLY: 'kubectl', NAMESPACE: namespaces.bash }),
    ];
    const kapp = await kappBinary();
    if ('path' in kapp) {
      contenders.push(bash(KAPP, 'envs/kapp', { APPLY: 'kapp', KAPP: kapp.path, APP: namespaces.kapp }));
      scope.after(() =>
        runProcess(
          kapp.path,
          ['delete', '--yes', '--tty=false', '--app', namespaces.kapp, '--namespace', 'default'],
          {
            env: cluster.env,
          },
        ),
      );
    } else process.stderr.write(`\n!!! the kapp peer row is SKIPPED: ${kapp.reason}\n\n`);
    const rows = await measureSet(
      OVERHEAD,
      contenders,
      [
        { subject: GITOPS, baseline: BASH, target: { text: '≤ 1.5×', maxRatio: 1.5 } },
        ...('path' in kapp ? [{ subject: GITOPS, baseline: KAPP }] : []),
      ],
      { runs: 7, warmup: 1 },
    );
    if ('reason' in kapp) rows.push(unmeasuredRow(OVERHEAD, GITOPS, KAPP, 'skipped', kapp.reason));

    // Every environment of one env repo deployed at once (their pushes race on one branch),
    // against the same deploys one after another.
    const count = parallelEnvs.length;
    const fleetBench = `${count} deploys, ${count} environments of one env repo`;
    const together = `${count} at once`;
    const sequential = `${count} one after another`;
    if (skippedByEnv(fleetBench)) {
      rows.push(unmeasuredRow(fleetBench, together, sequential, 'skipped', 'BENCH_SKIP'));
      return rows;
    }
    const checkAllLanded = (before: number, tag: string) => {
      const commits = remote.log().length - before;
      const stale = parallelEnvs.filter(
        (name) => !remote.show(`envs/${name}/web.yaml`).includes(`web:${tag}`),
      );
      if (commits !== count || stale.length > 0)
        throw new Error(
          `${commits} commits for ${count} deploys; not on ${tag}: ${stale.join(', ') || 'none'}`,
        );
    };
    const fleet = (label: string, together: boolean): Contender => {
      let before = 0;
      let tag = '';
      return {
        label,
        before: () => {
          before = remote.log().length;
          tag = nextTag();
        },
        run: async () => {
          if (together) await Promise.all(parallelEnvs.map((name) => deploy(name, tag)));
          else for (const name of parallelEnvs) await deploy(name, tag);
        },
        after: () => checkAllLanded(before, tag),
      };
    };
    rows.push(
      ...(await measureSet(
        fleetBench,
        [fleet(together, true), fleet(sequential, false)],
        [
          {
            subject: together,
            baseline: sequential,
            notes: `each run checks that every environment got its own commit (${count} commits) with the run's image`,
          },
        ],
        { runs: 5, warmup: 1 },
      )),
    );
    const fleetRow = rows.at(-1)!;
    try {
      git(remote.bare, ['fsck', '--no-progress']);
    } catch (error) {
      // Racing pushes must leave the env repo sound; a broken one fails the row that raced.
      Object.assign(fleetRow, { status: 'failed', error: `git fsck of the env repo: ${firstLine(error)}` });
    }
    return rows;
  } finally {
    await scope.close();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) console.log(JSON.stringify(await run(), null, 2));
