import { fileURLToPath } from 'node:url';
import { kubeTools } from '@gitops/kube-apiserver/kube-tools';
import { runBin } from '../test/support/cli.js';
import { clusterFixture } from '../test/support/cluster.js';
import { runKubectl } from '../test/support/kubectl.js';
import { manyObjects } from '../test/support/objects.js';
import { type BenchRow, measure, row } from './lib.js';

/** `gitops diff` of 1,000 objects (5 kinds) against one plain `kubectl get` of the same objects. */
export async function run(): Promise<BenchRow[]> {
  const cleanups: Array<() => void | Promise<void>> = [];
  try {
    const cluster = await clusterFixture({ after: (fn) => cleanups.push(fn) }, manyObjects(200), {
      staging: '    namespace: scale\n',
    });
    await cluster.apply('staging');
    const options = { runs: 5, warmup: 1 };
    const gitops = await measure(async () => {
      const result = await runBin(['diff', '--env', 'staging'], { cwd: cluster.app, env: cluster.env });
      if (result.code !== 0) throw new Error(`gitops diff exited ${result.code}: ${result.stderr}`);
    }, options);
    const kinds = 'namespaces,configmaps,secrets,serviceaccounts,services,deployments.apps';
    const kubectl = await measure(async () => {
      const result = await runKubectl(cluster.server.kubectlEnv(), [
        'get',
        kinds,
        '-n',
        'scale',
        '-o',
        'json',
      ]);
      if (result.code !== 0) throw new Error(result.stderr);
    }, options);
    return [
      row(
        'diff of 1,000 objects',
        { label: 'gitops diff (clone, render, read, compare)', ...gitops },
        { label: `${kubeTools().kubectl.split('/').at(-1)} get (same kinds, -o json)`, ...kubectl },
        undefined,
        'gitops also clones the env repo and parses 1,001 manifests; the baseline only reads the cluster',
      ),
    ];
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) console.table(await run());
