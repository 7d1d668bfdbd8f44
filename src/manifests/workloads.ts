import { isMap, isSeq } from 'yaml';
import type { ImageReference } from '../images/reference.js';
import { type Finder, planWholeReference, referenceIn, updateFor } from './finder.js';
import {
  mapGet,
  type ParsedDocument,
  resolve,
  type ScalarHit,
  scalarHit,
  scalarText,
  walkMaps,
} from './yaml-file.js';

/**
 * Lists of containers in a pod spec. Looked for at any depth, so the pod templates of Deployment,
 * StatefulSet, DaemonSet, ReplicaSet, Job, CronJob (`jobTemplate`) and custom resources that embed
 * a pod spec (Argo Rollouts, Knative Services, …) are all covered by one rule.
 */
const CONTAINER_LISTS = new Set(['containers', 'initContainers', 'ephemeralContainers']);

/** Kinds that hold data, never pod specs: an `image:` inside them is text, not an image field. */
const DATA_KINDS = new Set(['ConfigMap', 'Secret', 'Kustomization', 'Component', 'CustomResourceDefinition']);

export interface ContainerImage {
  hit: ScalarHit;
  reference: ImageReference;
}

/** Every `image` of a container in one document (any kind that is not a data kind). */
export function containerImages(parsed: ParsedDocument): ContainerImage[] {
  const root = parsed.doc.contents;
  if (!isMap(root)) return [];
  const kind = scalarText(mapGet(root, 'kind'));
  if (kind !== undefined && DATA_KINDS.has(kind)) return [];
  const found: ContainerImage[] = [];
  walkMaps(root, (map, path) => {
    for (const pair of map.items) {
      const key = scalarText(pair.key);
      if (key === undefined || !CONTAINER_LISTS.has(key)) continue;
      const list = resolve(parsed, pair.value);
      if (!isSeq(list)) continue;
      list.items.forEach((item, index) => {
        const container = resolve(parsed, item);
        if (!isMap(container)) return;
        const hit = scalarHit(parsed, mapGet(container, 'image'), [...path, key, index, 'image']);
        const reference = referenceIn(hit);
        if (hit && reference) found.push({ hit, reference });
      });
    }
  });
  return found;
}

/** Workload manifests: the `image` of every container, matched by normalised repository. */
export const workloadFinder: Finder = {
  format: 'workload',
  accepts: () => true,
  plan(file, plan, context) {
    for (const parsed of file.documentsContaining(context.needles)) {
      for (const { hit, reference } of containerImages(parsed)) {
        const update = updateFor(reference, context.updates);
        if (!update || plan.markerClaims.has(hit.start)) continue;
        const kustomization = context.coveredBy(file.file, update);
        if (kustomization) {
          plan.see(hit, update.name, hit.value, `set by the images entry in ${kustomization}`);
          continue;
        }
        planWholeReference(plan, hit, reference, update, `the container image at ${hit.path.join('.')}`);
      }
    }
  },
};
