import type { ClusterFixture } from './cluster.js';
import { REGISTRY } from './manifests.js';

/** The image of the live Deployment `web` in a namespace ('' when there is none). */
export function liveWebImage(cluster: ClusterFixture, namespace: string): string {
  const live = cluster.server.getObject({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    namespace,
    name: 'web',
  }) as { spec: { template: { spec: { containers: Array<{ image: string }> } } } } | undefined;
  return live?.spec.template.spec.containers[0]?.image ?? '';
}

/** The data of an environment's inventory ConfigMap ({} when there is none). */
export function inventoryData(cluster: ClusterFixture, environment: string, namespace = environment) {
  const object = cluster.server.getObject({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    namespace,
    name: `gitops-inventory-${environment}`,
  }) as { data?: Record<string, string> } | undefined;
  return object?.data ?? {};
}

/** `gitops deploy` of the web image at `tag`, without a build. */
export function deployWeb(env: string, tag: string): string[] {
  return ['deploy', '--env', env, '--skip-build', '--image', `web=${REGISTRY}/web:${tag}`];
}
