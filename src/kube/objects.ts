/** A Kubernetes object as JSON. */
export type KubeObject = {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    managedFields?: ManagedFieldsEntry[];
    [key: string]: unknown;
  };
  [key: string]: unknown;
};

export interface ManagedFieldsEntry {
  manager: string;
  operation: 'Apply' | 'Update';
  apiVersion?: string;
  time?: string;
  fieldsType?: string;
  fieldsV1?: Record<string, unknown>;
  subresource?: string;
}

/** Where a desired object was declared (plain YAML only; rendered kustomize/Helm output has none). */
export interface SourceRef {
  file: string;
  line: number;
}

export interface DesiredObject {
  object: KubeObject;
  source?: SourceRef;
}

/** Labels and annotations gitops puts on every object it applies. */
/** Ownership label: its value is the environment's id (`environments.<env>.id` or derived). */
export const LABEL_ENVIRONMENT = 'gitops.dev/environment';

/** The environment's id, which every owned object carries in LABEL_ENVIRONMENT. */
export function ownerId(environment: { id: string; name: string }): string {
  if (!environment.id) throw new Error(`environment ${environment.name} has no resolved id`);
  return environment.id;
}
export const ANNOTATION_REVISION = 'gitops.dev/revision';

/**
 * Kinds that are not namespaced (built-in). Custom resources are looked up in the CRDs of the
 * desired set; anything unknown is taken as namespaced, which is what most CRDs are.
 */
const CLUSTER_SCOPED = new Set([
  'Namespace',
  'Node',
  'PersistentVolume',
  'CustomResourceDefinition',
  'ClusterRole',
  'ClusterRoleBinding',
  'StorageClass',
  'PriorityClass',
  'IngressClass',
  'RuntimeClass',
  'CSIDriver',
  'CSINode',
  'VolumeAttachment',
  'APIService',
  'MutatingWebhookConfiguration',
  'ValidatingWebhookConfiguration',
  'ValidatingAdmissionPolicy',
  'ValidatingAdmissionPolicyBinding',
  'CertificateSigningRequest',
  'FlowSchema',
  'PriorityLevelConfiguration',
]);

export function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash === -1 ? '' : apiVersion.slice(0, slash);
}

/** `Kind.group` (core: `Kind`): how kinds are told apart regardless of version. */
export function groupKind(object: Pick<KubeObject, 'apiVersion' | 'kind'>): string {
  const group = groupOf(object.apiVersion);
  return group ? `${object.kind}.${group}` : object.kind;
}

/** Whether objects of this group-kind live in a namespace. `crdScopes` maps `Kind.group` of CRDs to their scope. */
export function isNamespaced(
  groupKindName: string,
  crdScopes: ReadonlyMap<string, boolean> = new Map(),
): boolean {
  const known = crdScopes.get(groupKindName);
  if (known !== undefined) return known;
  const kind = groupKindName.split('.')[0]!;
  return !CLUSTER_SCOPED.has(kind);
}

/** Identity of an object across git and cluster: `Kind.group/namespace/name`. */
export function objectKey(object: KubeObject): string {
  return `${groupKind(object)}/${object.metadata.namespace ?? ''}/${object.metadata.name}`;
}

/** Human name: `Deployment/web` or `Deployment/staging/web`. */
export function displayName(object: KubeObject): string {
  const namespace = object.metadata.namespace;
  return `${object.kind}/${namespace ? `${namespace}/` : ''}${object.metadata.name}`;
}

/** Scopes of the CRDs in a set of objects, for isNamespaced(). */
export function crdScopes(objects: readonly KubeObject[]): Map<string, boolean> {
  const scopes = new Map<string, boolean>();
  for (const object of objects) {
    if (object.kind !== 'CustomResourceDefinition') continue;
    const spec = object.spec as { group?: string; names?: { kind?: string }; scope?: string } | undefined;
    if (spec?.group && spec.names?.kind)
      scopes.set(`${spec.names.kind}.${spec.group}`, spec.scope !== 'Cluster');
  }
  return scopes;
}

export const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet']);

/** The field manager of every server-side apply gitops makes (objects and the inventory). */
export const FIELD_MANAGER = 'gitops';

/**
 * The field manager of the patches that remove fields git does not declare. Such a patch only
 * removes, so whatever the server attributes to it is a default the server filled in again
 * (`spec.suspend: false` after `suspend: true` was removed): bookkeeping, never drift.
 */
export const REMOVAL_FIELD_MANAGER = 'gitops-remove';

/**
 * Fields that hold lists of containers in a pod spec. Looked for at any depth, so the pod
 * templates of Deployment, StatefulSet, DaemonSet, Job, CronJob (`jobTemplate`) and custom
 * resources embedding a pod spec (Argo Rollouts, Knative Services, …) are covered by one rule.
 */
export const CONTAINER_LIST_FIELDS: ReadonlySet<string> = new Set([
  'containers',
  'initContainers',
  'ephemeralContainers',
]);

/** A container as found in a pod spec: only what gitops reads. */
export interface Container {
  name?: string;
  image?: unknown;
  resources?: { limits?: Record<string, unknown> };
}

/** Every container of an object (parsed JSON/YAML), at any depth, in document order. */
export function podContainers(value: unknown, out: Container[] = []): Container[] {
  if (Array.isArray(value)) {
    for (const item of value) podContainers(item, out);
  } else if (value && typeof value === 'object') {
    for (const [key, child] of Object.entries(value)) {
      if (CONTAINER_LIST_FIELDS.has(key) && Array.isArray(child)) {
        out.push(...child.filter((item): item is Container => Boolean(item) && typeof item === 'object'));
      } else {
        podContainers(child, out);
      }
    }
  }
  return out;
}
