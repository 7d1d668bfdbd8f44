import { fileURLToPath } from 'node:url';
import { uniqueName } from '../test/support/test-cluster.js';
import {
  type BenchRow,
  type Contender,
  measureSet,
  runCounts,
  scaled,
  skippedByEnv,
  unmeasuredRow,
} from './lib.js';
import { benchCluster } from './support/cluster.js';
import { REGISTRY } from './support/manifests.js';
import { gitopsJson, Scope, stepFigures } from './support/process.js';
import { type RolloutWatch, watchRollouts } from './support/rollouts.js';

/** Deployments of one replica; every SLOW_EVERY-th one's pod is Ready only after 4 s (kwok, tag "slow"). */
const SLOW_EVERY = 20;

function workloads(
  dir: string,
  namespace: string,
  count: number,
  image: (index: number) => string,
): Record<string, string> {
  const docs = Array.from(
    { length: count },
    (_, index) => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-${index}
spec:
  replicas: 1
  selector:
    matchLabels: {app: app-${index}}
  template:
    metadata:
      labels: {app: app-${index}}
    spec:
      containers:
        - name: app
          image: ${image(index)}
`,
  );
  return {
    [`${dir}/namespace.yaml`]: `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${namespace}\n`,
    [`${dir}/workloads.yaml`]: docs.join('---\n'),
  };
}

const WAIT_STEP = 'step: wait for the rollout';
/** A deploy's wall time less its wait for the rollouts: what gitops itself spends. */
const OUTSIDE_WAIT = 'outside the rollout wait';
/** From a Deployment's new spec to its rollout, the slowest of a run (a watch beside gitops). */
const CLUSTER_SLOWEST = 'cluster: slowest rollout';
/** From the first new spec to the last rollout of a run, as the watch saw them. */
const CLUSTER_ALL = 'cluster: all rollouts';

/**
 * Waiting for rollouts: the first deploy of 200 workloads (a fresh environment each run), its
 * wait against the slowest single rollout a watch saw; and one deploy that sets 20 images
 * against one that sets one, with what of the difference is gitops' and what the cluster's.
 */
export async function run(): Promise<BenchRow[]> {
  const scope = new Scope();
  try {
    const firstOptions = { runs: 5, warmup: 1 };
    const { runs, warmup } = runCounts(firstOptions);
    const count = scaled(200, 10);
    const firsts = Array.from({ length: runs + warmup }, (_, index) => ({
      env: `first-${index}`,
      namespace: uniqueName(`bench-first-${index}`),
    }));
    const imageCount = scaled(20, 2);
    const imagesNamespace = uniqueName('bench-images');
    const files = Object.assign(
      {},
      ...firsts.map(({ env, namespace }) =>
        workloads(`envs/${env}`, namespace, count, (index) =>
          index % SLOW_EVERY === 0 ? `${REGISTRY}/app:1.0.0-slow` : `${REGISTRY}/app:1.0.0`,
        ),
      ),
      workloads('envs/images', imagesNamespace, imageCount, (index) => `${REGISTRY}/app-${index}:1.0.0`),
    ) as Record<string, string>;
    const environments = Object.fromEntries([
      ...firsts.map(({ env, namespace }) => [env, `    namespace: ${namespace}\n    timeout: 600s\n`]),
      ['images', `    namespace: ${imagesNamespace}\n    timeout: 600s\n`],
    ]);
    const images = Array.from(
      { length: imageCount },
      (_, index) => `  - name: app-${index}\n    repository: ${REGISTRY}/app-${index}\n`,
    ).join('');
    const cluster = await benchCluster(scope, files, environments, `images:\n${images}`);
    scope.after(() => cluster.deleteNamespaces([imagesNamespace, ...firsts.map((first) => first.namespace)]));
    const deploy = async (env: string, imageArgs: string[] = []) =>
      (
        await gitopsJson(['deploy', '--env', env, '--skip-build', ...imageArgs], {
          cwd: cluster.app,
          env: cluster.env,
        })
      ).document;

    const rows: BenchRow[] = [];
    let watch: RolloutWatch | undefined;
    let reportedMax = 0;
    const first: Contender = {
      label: `gitops deploy, first, ${count} workloads`,
      before: async (iteration) => {
        watch = await watchRollouts(cluster.access, firsts[iteration]!.namespace);
      },
      run: async (iteration) => {
        const document = await deploy(firsts[iteration]!.env);
        await watch!.allDone(count, 30_000);
        const durations = [...watch!.durations().values()];
        const rollouts = (document.rollouts ?? []) as Array<{ durationMs: number }>;
        reportedMax = Math.max(...rollouts.map((rollout) => rollout.durationMs));
        return { ...stepFigures(document), 'slowest rollout': Math.max(...durations) };
      },
      after: async (iteration) => {
        watch?.stop();
        // Untimed: the next run's cluster should not be busy deleting this one's workloads.
        await cluster.deleteNamespaces([firsts[iteration]!.namespace]);
      },
    };
    const firstBench = `first deploy of ${count} workloads`;
    if (skippedByEnv(firstBench))
      rows.push(
        unmeasuredRow(firstBench, first.label, 'the slowest single rollout', 'skipped', 'BENCH_SKIP'),
      );
    else
      rows.push(
        ...(await measureSet(
          firstBench,
          [first],
          [
            {
              subject: { contender: first.label, figure: WAIT_STEP, label: "gitops' wait for the rollouts" },
              baseline: {
                contender: first.label,
                figure: 'slowest rollout',
                label: 'the slowest single rollout (creation to rolled out, seen by a watch)',
              },
              target: { text: '≤ slowest + 2 s', maxExtraMs: 2000 },
              notes: `1 replica each, every ${SLOW_EVERY}th pod Ready after 4 s; the wait starts once everything is applied, the slowest rollout at its Deployment's creation`,
            },
          ],
          firstOptions,
        )),
      );
    if (rows[0] && rows[0].status !== 'failed' && rows[0].status !== 'skipped') {
      rows[0].notes += `; the longest rollout wait gitops --json reported in the last run: ${reportedMax} ms`;
    }

    // One environment, first deployed untimed (setup); then each run sets new tags.
    let version = 0;
    const imageArgs = (n: number) => {
      version += 1;
      return Array.from({ length: n }, (_, index) => [
        '--image',
        `app-${index}=${REGISTRY}/app-${index}:2.0.${version}`,
      ]).flat();
    };
    const many = `gitops deploy setting ${imageCount} images`;
    const one = 'gitops deploy setting 1 image';
    // Beside each run, a watch of the environment's Deployments: when each got its new spec and
    // when the controllers had it rolled out. What is gitops' own and what is the cluster's
    // rolling out more Deployments (kube-controller-manager syncs 5 Deployments at a time by
    // default) are told apart by these figures; the control plane's settings are as they are.
    const setting = (label: string, images: number): Contender => {
      let rollouts: RolloutWatch | undefined;
      return {
        label,
        before: async () => {
          rollouts = await watchRollouts(cluster.access, imagesNamespace);
          await rollouts.allSeen(imageCount, 30_000);
        },
        run: async () => {
          const started = performance.now();
          const figures = stepFigures(await deploy('images', imageArgs(images)));
          const wallMs = performance.now() - started;
          await rollouts!.allUpdated(images, 30_000);
          const updates = [...rollouts!.updates().values()];
          return {
            ...figures,
            [OUTSIDE_WAIT]: wallMs - (figures[WAIT_STEP] ?? 0),
            [CLUSTER_SLOWEST]: Math.max(...updates.map((update) => update.doneAt - update.changedAt)),
            [CLUSTER_ALL]:
              Math.max(...updates.map((update) => update.doneAt)) -
              Math.min(...updates.map((update) => update.changedAt)),
          };
        },
        after: () => rollouts?.stop(),
      };
    };
    const notes = `${imageCount} Deployments in one environment: ${imageCount} rollouts against one`;
    rows.push(
      ...(await measureSet(
        `${imageCount} images in one deploy`,
        [setting(many, imageCount), setting(one, 1)],
        [
          { subject: many, baseline: one, target: { text: '≤ 1.1×', maxRatio: 1.1 }, notes },
          {
            subject: { contender: many, figure: OUTSIDE_WAIT, label: `${many}, outside the rollout wait` },
            baseline: { contender: one, figure: OUTSIDE_WAIT, label: `${one}, outside the rollout wait` },
            notes: "gitops' own work: the deploy's wall time less its wait for the rollouts",
          },
          {
            subject: {
              contender: many,
              figure: WAIT_STEP,
              label: `gitops' wait for the ${imageCount} rollouts`,
            },
            baseline: {
              contender: many,
              figure: CLUSTER_ALL,
              label: `the cluster rolling out ${imageCount} Deployments (first new spec to last rolled out, seen by a watch)`,
            },
            notes: `the slowest single rollout the watch saw: see "${CLUSTER_SLOWEST}" in the figures; the wait starts once everything is applied`,
          },
          {
            subject: {
              contender: many,
              figure: CLUSTER_ALL,
              label: `the cluster rolling out ${imageCount} Deployments`,
            },
            baseline: { contender: one, figure: CLUSTER_ALL, label: 'the cluster rolling out 1 Deployment' },
            notes:
              'first new spec to last rolled out, as the watch saw them: the control plane as it is set up',
          },
        ],
        { runs: 5, warmup: 1, setup: () => deploy('images') },
      )),
    );
    return rows;
  } finally {
    await scope.close();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) console.log(JSON.stringify(await run(), null, 2));
