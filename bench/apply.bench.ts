import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../test/support/cli.js';
import { uniqueName } from '../test/support/test-cluster.js';
import { type BenchRow, type Contender, measureSet, runCounts, scaled } from './lib.js';
import { benchCluster } from './support/cluster.js';
import { gitopsJson, runProcess, Scope, stepFigures } from './support/process.js';

const FLOOR = fileURLToPath(new URL('./floors/apply.mjs', import.meta.url));

/**
 * An environment of `total` objects that nothing waits for — ConfigMaps, ServiceAccounts,
 * Services (5:3:2) — and its Namespace.
 */
function bulk(dir: string, namespace: string, total: number): Record<string, string> {
  const configMaps = Math.round(total / 2);
  const accounts = Math.round((total * 3) / 10);
  const services = total - configMaps - accounts;
  const docs = (count: number, make: (index: number) => string) =>
    Array.from({ length: count }, (_, index) => make(index)).join('---\n');
  const meta = (kind: string, name: string) =>
    `apiVersion: v1\nkind: ${kind}\nmetadata:\n  name: ${name}\n  namespace: ${namespace}\n`;
  return {
    [`${dir}/namespace.yaml`]: `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${namespace}\n`,
    [`${dir}/configmaps.yaml`]: docs(
      configMaps,
      (i) =>
        `${meta('ConfigMap', `cm-${i}`)}data:\n  key: value-${i}\n  settings.json: '{"replicas": ${i % 7}, "region": "eu"}'\n`,
    ),
    [`${dir}/serviceaccounts.yaml`]: docs(accounts, (i) => meta('ServiceAccount', `sa-${i}`)),
    [`${dir}/services.yaml`]: docs(
      services,
      (i) =>
        `${meta('Service', `svc-${i}`)}spec:\n  selector: {app: app-${i}}\n  ports:\n    - port: 80\n      targetPort: 8080\n`,
    ),
  };
}

/**
 * The first apply of 5,000 objects: `gitops deploy` of a fresh environment each run, in turn
 * with the floor (floors/apply.mjs) applying the same manifests to a fresh namespace of its own.
 */
export async function run(): Promise<BenchRow[]> {
  const scope = new Scope();
  try {
    const options = { runs: 5, warmup: 1 };
    const { runs, warmup } = runCounts(options);
    const total = scaled(5000, 50);
    const fresh = (prefix: string) =>
      Array.from({ length: runs + warmup }, (_, index) => ({
        env: `${prefix}-${index}`,
        namespace: uniqueName(`bench-${prefix}-${index}`),
      }));
    const gitopsEnvs = fresh('apply');
    const floorRuns = fresh('floor');
    const files = Object.assign(
      {},
      ...gitopsEnvs.map(({ env, namespace }) => bulk(`envs/${env}`, namespace, total)),
    ) as Record<string, string>;
    const cluster = await benchCluster(
      scope,
      files,
      Object.fromEntries(
        gitopsEnvs.map(({ env, namespace }) => [env, `    namespace: ${namespace}\n    timeout: 600s\n`]),
      ),
    );
    scope.after(() =>
      cluster.deleteNamespaces([...gitopsEnvs, ...floorRuns].map((entry) => entry.namespace)),
    );
    const scratch = tempDir(scope, 'gitops-bench-apply-');

    const labels = {
      gitops: `gitops deploy (first, ${total.toLocaleString('en-US')} objects)`,
      floor: 'floor: the same server-side-apply PATCHes, 16 at a time (node:https)',
    };
    const contenders: Contender[] = [
      {
        label: labels.gitops,
        run: async (iteration) =>
          stepFigures(
            (
              await gitopsJson(['deploy', '--env', gitopsEnvs[iteration]!.env, '--skip-build'], {
                cwd: cluster.app,
                env: cluster.env,
              })
            ).document,
          ),
        after: (iteration) => cluster.deleteNamespaces([gitopsEnvs[iteration]!.namespace]),
      },
      {
        label: labels.floor,
        before: async (iteration) => {
          const dir = join(scratch, String(iteration));
          mkdirSync(dir, { recursive: true });
          for (const [path, text] of Object.entries(bulk(dir, floorRuns[iteration]!.namespace, total)))
            writeFileSync(path, text);
        },
        run: async (iteration) => {
          const { stdout } = await runProcess(process.execPath, [FLOOR, join(scratch, String(iteration))], {
            env: cluster.env,
          });
          if (JSON.parse(stdout).applied !== total + 1)
            throw new Error(`the floor applied ${stdout.trim()}, expected ${total + 1}`);
        },
        after: async (iteration) => {
          rmSync(join(scratch, String(iteration)), { recursive: true, force: true });
          await cluster.deleteNamespaces([floorRuns[iteration]!.namespace]);
        },
      },
    ];
    return await measureSet(
      `apply of ${total.toLocaleString('en-US')} objects`,
      contenders,
      [
        {
          subject: labels.gitops,
          baseline: labels.floor,
          target: { text: '≤ 1.2×', maxRatio: 1.2 },
          notes:
            'the whole deploy: clone, render, gates, server dry run, push, apply, record; each run a fresh environment and namespace (deleted untimed after); the floor creates its Namespace first too',
        },
        {
          subject: {
            contender: labels.gitops,
            figure: 'step: apply and prune',
            label: "gitops' apply and prune step alone",
          },
          baseline: labels.floor,
        },
      ],
      options,
    );
  } finally {
    await scope.close();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) console.log(JSON.stringify(await run(), null, 2));
