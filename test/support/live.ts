import type { ClusterFixture } from './cluster.js';
import { REGISTRY } from './manifests.js';

/** The image of the live Deployment `web` in a namespace ('' when there is none). */
export async function liveWebImage(cluster: ClusterFixture, namespace: string): Promise<string> {
  const live = (await cluster.server.getObject({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    namespace,
    name: 'web',
  })) as { spec: { template: { spec: { containers: Array<{ image: string }> } } } } | undefined;
  return live?.spec.template.spec.containers[0]?.image ?? '';
}

/**
 * The data of an environment's inventory ConfigMap in `namespace` ({} when there is none). Its
 * name carries the environment's id: `gitops-inventory-<env>-<digest>`.
 */
export async function inventoryData(
  cluster: ClusterFixture,
  environment: string,
  namespace: string,
): Promise<Record<string, string>> {
  const configMaps = await cluster.server.listObjects('v1', 'ConfigMap', namespace);
  const pattern = new RegExp(`^gitops-inventory-${environment}-[0-9a-f]+$`);
  const found = configMaps.find((object) => pattern.test(String(object.metadata.name)));
  return (found?.data as Record<string, string> | undefined) ?? {};
}

/** `gitops deploy` of the web image at `tag`, without a build. */
export function deployWeb(env: string, tag: string): string[] {
  return ['deploy', '--env', env, '--skip-build', '--image', `web=${REGISTRY}/web:${tag}`];
}
