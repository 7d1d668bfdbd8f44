import { type KubeObject, LABEL_ENVIRONMENT } from './objects.js';

/**
 * Who an object belongs to, read from the marks the tools that create objects leave on them. The
 * marks are the anchors' own: Helm's release annotations (`meta.helm.sh/release-name`, set by
 * `helm install`/`upgrade`, never by `helm template`), Flux's kustomize-controller and
 * helm-controller labels, Argo CD's instance label and tracking annotation, kapp's app label, and
 * gitops' own ownership label with another environment's id.
 */
export interface ObjectOwner {
  tool: 'gitops' | 'helm' | 'flux' | 'argocd' | 'kapp';
  /** What owns it, as people name it: `environment staging (github.com/acme/env envs/staging)`. */
  name: string;
}

/**
 * The marks by which each tool recognises its objects: removed when an environment takes an
 * object over (`--adopt`), so the previous owner no longer claims it (Helm would otherwise upgrade
 * it again, Flux and Argo CD prune or restore it).
 */
export const OWNER_MARKS: Record<ObjectOwner['tool'], { labels: string[]; annotations: string[] }> = {
  gitops: { labels: [], annotations: [] },
  helm: {
    labels: ['app.kubernetes.io/managed-by'],
    annotations: ['meta.helm.sh/release-name', 'meta.helm.sh/release-namespace'],
  },
  flux: {
    labels: [
      'kustomize.toolkit.fluxcd.io/name',
      'kustomize.toolkit.fluxcd.io/namespace',
      'helm.toolkit.fluxcd.io/name',
      'helm.toolkit.fluxcd.io/namespace',
    ],
    annotations: [],
  },
  argocd: { labels: ['argocd.argoproj.io/instance'], annotations: ['argocd.argoproj.io/tracking-id'] },
  kapp: { labels: ['kapp.k14s.io/app', 'kapp.k14s.io/association'], annotations: [] },
};

/** Who applied an object, in words, on every object gitops applies: `staging (github.com/acme/env, envs/staging)`. */
export const ANNOTATION_OWNER = 'gitops.dev/owner';

/**
 * The owner of a live object when it is not this environment (`id`), or undefined when the object
 * is this environment's or carries no owner's marks (unmanaged: an environment may adopt it).
 * `legacy` says whether the plain environment-name label of earlier releases counts as ours.
 */
export function foreignOwner(
  object: KubeObject,
  id: string,
  legacy?: (object: KubeObject) => boolean,
): ObjectOwner | undefined {
  const labels = object.metadata.labels ?? {};
  const annotations = object.metadata.annotations ?? {};
  const label = labels[LABEL_ENVIRONMENT];
  if (label === id) return undefined;
  if (label !== undefined) {
    if (legacy?.(object)) return undefined;
    return { tool: 'gitops', name: `environment ${annotations[ANNOTATION_OWNER] ?? label}` };
  }
  const release = annotations['meta.helm.sh/release-name'];
  if (release) {
    const namespace = annotations['meta.helm.sh/release-namespace'];
    return { tool: 'helm', name: `Helm release ${namespace ? `${namespace}/` : ''}${release}` };
  }
  const kustomization = labels['kustomize.toolkit.fluxcd.io/name'];
  if (kustomization)
    return {
      tool: 'flux',
      name: `Flux Kustomization ${labels['kustomize.toolkit.fluxcd.io/namespace'] ?? ''}/${kustomization}`,
    };
  const helmRelease = labels['helm.toolkit.fluxcd.io/name'];
  if (helmRelease)
    return {
      tool: 'flux',
      name: `Flux HelmRelease ${labels['helm.toolkit.fluxcd.io/namespace'] ?? ''}/${helmRelease}`,
    };
  const tracking = annotations['argocd.argoproj.io/tracking-id'];
  const argoInstance = labels['argocd.argoproj.io/instance'];
  if (tracking || argoInstance)
    return { tool: 'argocd', name: `Argo CD application ${(tracking ?? argoInstance)!.split(':')[0]}` };
  const kapp = labels['kapp.k14s.io/app'];
  if (kapp) return { tool: 'kapp', name: `kapp app ${kapp}` };
  return undefined;
}
