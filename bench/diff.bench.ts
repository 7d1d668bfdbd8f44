import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../test/support/cli.js';
import { git } from '../test/support/git.js';
import { manyObjects } from '../test/support/objects.js';
import { uniqueName } from '../test/support/test-cluster.js';
import { type BenchRow, type Contender, measureSet, scaled } from './lib.js';
import { benchCluster } from './support/cluster.js';
import { gitops, runProcess, Scope } from './support/process.js';

const FLOOR = fileURLToPath(new URL('./floors/diff.mjs', import.meta.url));

/** manyObjects' files for environment `env` (it writes envs/staging/…). */
function objectsOf(env: string, perKind: number, namespace: string): Record<string, string> {
  return Object.fromEntries(
    Object.entries(manyObjects(perKind, namespace)).map(([path, text]) => [
      path.replace(/^envs\/staging\//, `envs/${env}/`),
      text,
    ]),
  );
}

/**
 * `gitops diff` of an environment gitops applied (in sync), in turn with `kubectl diff
 * --server-side` of the same manifests and with the in-process floor (floors/diff.mjs). All three
 * read the same checkout of the env repo, made before: the clone is the env-checkout bench's.
 */
export async function run(): Promise<BenchRow[]> {
  const scope = new Scope();
  try {
    const sizes = [
      { env: 'large', perKind: scaled(200, 2), target: true },
      { env: 'small', perKind: scaled(20, 1), target: false },
    ].map((size) => ({ ...size, namespace: uniqueName(`bench-diff-${size.env}`) }));
    const files = Object.assign(
      {},
      ...sizes.map((size) => objectsOf(size.env, size.perKind, size.namespace)),
    ) as Record<string, string>;
    const cluster = await benchCluster(
      scope,
      files,
      Object.fromEntries(sizes.map((size) => [size.env, `    namespace: ${size.namespace}\n`])),
    );
    scope.after(() => cluster.deleteNamespaces(sizes.map((size) => size.namespace)));
    const checkout = join(tempDir(scope, 'gitops-bench-diff-'), 'env');
    git(cluster.app, ['clone', '--quiet', cluster.fixture.remote.bare, checkout]);

    const rows: BenchRow[] = [];
    for (const size of sizes) {
      const dir = join(checkout, 'envs', size.env);
      const count = (size.perKind * 5).toLocaleString('en-US');
      const labels = {
        gitops: 'gitops diff --env-repo-dir',
        kubectl: 'kubectl diff --server-side -f <env dir>',
        floor: 'in-process floor (node:https LIST per kind, js-yaml, naive compare)',
      };
      const contenders: Contender[] = [
        {
          label: labels.gitops,
          // Exit 0: in sync, as applied. Differences (exit 1) would mean it compared something else.
          run: async () => {
            await gitops(['diff', '--env', size.env, '--env-repo-dir', checkout], {
              cwd: cluster.app,
              env: cluster.env,
            });
          },
        },
        {
          label: labels.kubectl,
          // As gitops' field manager, forcing conflicts: what gitops' next apply would change.
          // Another manager conflicts on every Secret (their stringData is gitops').
          run: async () => {
            await cluster.kubectl(
              [
                'diff',
                '--server-side',
                '--field-manager=gitops',
                '--force-conflicts',
                '-n',
                size.namespace,
                '-f',
                dir,
              ],
              { okCodes: [0, 1] },
            );
          },
        },
        {
          label: labels.floor,
          run: async () => {
            const { stdout } = await runProcess(process.execPath, [FLOOR, dir, size.namespace], {
              env: cluster.env,
            });
            const seen = JSON.parse(stdout) as { objects: number; missing: number };
            if (seen.objects !== size.perKind * 5 + 1 || seen.missing !== 0)
              throw new Error(
                `the floor read ${stdout.trim()}, expected ${size.perKind * 5 + 1} objects, none missing`,
              );
          },
        },
      ];
      rows.push(
        ...(await measureSet(
          `diff of ${count} objects`,
          contenders,
          [
            {
              subject: labels.gitops,
              baseline: labels.floor,
              ...(size.target ? { target: { text: '≤ 2×', maxRatio: 2 } } : {}),
            },
            {
              subject: labels.gitops,
              baseline: labels.kubectl,
              target: { text: '< 1× (faster)', belowRatio: 1 },
              notes: `5 kinds × ${size.perKind} and their Namespace; gitops and the floor read the live objects, kubectl diff --server-side sends a dry-run apply of each`,
            },
          ],
          // Applied as a deploy applies it: gitops' labels, so the diff finds it in sync.
          { runs: 5, warmup: 1, setup: () => cluster.fixture.apply(size.env) },
        )),
      );
    }
    return rows;
  } finally {
    await scope.close();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) console.log(JSON.stringify(await run(), null, 2));
