// What an environment's session asks of the cluster ahead of the steps that need it.
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { createContext } from '../src/cli/context.js';
import { Cluster } from '../src/cluster/cluster.js';
import type { Inventory } from '../src/cluster/inventory.js';
import type { EnvironmentConfig, GitopsConfig } from '../src/config/types.js';
import { EnvironmentSession } from '../src/operations/session.js';
import { baseEnv, tempDir } from './support/cli.js';

function session(t: { after(fn: () => void): void }, asked: string[], options: { dryRun?: boolean } = {}) {
  const ctx = createContext(
    {
      cwd: tempDir(t, 'gitops-session-'),
      env: baseEnv(),
      stdout: new PassThrough(),
      stderr: new PassThrough(),
      isTTY: false,
    },
    options,
  );
  const cluster = {
    async resolve(kind: string) {
      asked.push(kind);
      if (kind.startsWith('Widget.')) throw new Error('discovery failed');
      return undefined;
    },
    prepare: Cluster.prototype.prepare,
  } as unknown as Cluster;
  const environment = {
    name: 'staging',
    id: 'staging-0123456789',
    namespace: 'staging',
  } as EnvironmentConfig;
  return new EnvironmentSession(ctx, {} as GitopsConfig, environment, cluster, 'staging');
}

test('discovery ahead: the kinds the inventory names, the HPAs beside workloads, the lease unless nothing is written; never a failure', async (t) => {
  const inventory = {
    kinds: ['ConfigMap', 'Deployment.apps', 'Widget.example.com'],
    namespaces: ['staging'],
  } as Inventory;
  const asked: string[] = [];
  await session(t, asked).discoverAhead(inventory);
  assert.deepEqual(asked.sort(), [
    'ConfigMap',
    'Deployment.apps',
    'HorizontalPodAutoscaler.autoscaling',
    'Lease.coordination.k8s.io',
    'Widget.example.com',
  ]);

  const dry: string[] = [];
  await session(t, dry, { dryRun: true }).discoverAhead({
    kinds: ['ConfigMap'],
    namespaces: [],
  } as Inventory);
  assert.deepEqual(dry, ['ConfigMap'], 'a dry run takes no lease');
  const first: string[] = [];
  await session(t, first).discoverAhead(undefined);
  assert.deepEqual(first, ['Lease.coordination.k8s.io'], 'a first deploy: nothing listed yet');
});
