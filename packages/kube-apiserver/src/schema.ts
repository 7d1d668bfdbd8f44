// The resource table and the merge schema the server uses for server-side apply, strategic merge
// patch and defaulting. Built-in kinds are hand-written here; custom resources come from CRDs.

/** One REST resource, as discovery and the URL router see it. */
export interface ResourceType {
  group: string;
  version: string;
  kind: string;
  listKind: string;
  plural: string;
  singular: string;
  namespaced: boolean;
  shortNames: string[];
  categories: string[];
  verbs: string[];
  subresources: string[];
  /** Set for custom resources: the CRD name that installed it. */
  crd?: string;
  /** Custom resources: the openAPIV3Schema of the served version, for list-map keys. */
  openAPISchema?: JsonObject;
  /** Custom resources: additionalPrinterColumns of the served version. */
  printerColumns?: { name: string; jsonPath: string }[];
}

export type JsonValue = string | number | boolean | null | JsonObject | JsonValue[];
export interface JsonObject {
  [key: string]: JsonValue;
}

const ALL_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

function builtin(
  group: string,
  version: string,
  kind: string,
  plural: string,
  namespaced: boolean,
  shortNames: string[] = [],
  subresources: string[] = [],
  categories: string[] = [],
): ResourceType {
  return {
    group,
    version,
    kind,
    listKind: `${kind}List`,
    plural,
    singular: kind.toLowerCase(),
    namespaced,
    shortNames,
    categories,
    verbs: kind === 'Namespace' ? ALL_VERBS.filter((v) => v !== 'deletecollection') : ALL_VERBS,
    subresources,
  };
}

/** The built-in kinds the embedded server serves. Versions are the ones a 1.32 server prefers. */
export const BUILTIN_RESOURCES: ResourceType[] = [
  builtin('', 'v1', 'Namespace', 'namespaces', false, ['ns'], ['status']),
  builtin('', 'v1', 'ConfigMap', 'configmaps', true, ['cm']),
  builtin('', 'v1', 'Secret', 'secrets', true),
  builtin('', 'v1', 'Service', 'services', true, ['svc'], ['status'], ['all']),
  builtin('', 'v1', 'ServiceAccount', 'serviceaccounts', true, ['sa']),
  // Listable so `kubectl get pods|events` works; no controller creates any (README, differences).
  builtin('', 'v1', 'Pod', 'pods', true, ['po'], ['status'], ['all']),
  builtin('', 'v1', 'Event', 'events', true, ['ev']),
  builtin('apps', 'v1', 'Deployment', 'deployments', true, ['deploy'], ['status', 'scale'], ['all']),
  builtin('apps', 'v1', 'StatefulSet', 'statefulsets', true, ['sts'], ['status', 'scale'], ['all']),
  builtin('apps', 'v1', 'DaemonSet', 'daemonsets', true, ['ds'], ['status'], ['all']),
  builtin('batch', 'v1', 'Job', 'jobs', true, [], ['status'], ['all']),
  builtin('batch', 'v1', 'CronJob', 'cronjobs', true, ['cj'], ['status'], ['all']),
  builtin('networking.k8s.io', 'v1', 'Ingress', 'ingresses', true, ['ing'], ['status']),
  builtin('rbac.authorization.k8s.io', 'v1', 'Role', 'roles', true),
  // gitops' apply lease, as leader election uses it.
  builtin('coordination.k8s.io', 'v1', 'Lease', 'leases', true),
  builtin('rbac.authorization.k8s.io', 'v1', 'RoleBinding', 'rolebindings', true),
  builtin(
    'autoscaling',
    'v2',
    'HorizontalPodAutoscaler',
    'horizontalpodautoscalers',
    true,
    ['hpa'],
    ['status'],
    ['all'],
  ),
  builtin(
    'apiextensions.k8s.io',
    'v1',
    'CustomResourceDefinition',
    'customresourcedefinitions',
    false,
    ['crd', 'crds'],
    ['status'],
  ),
];

export function apiVersionOf(r: { group: string; version: string }): string {
  return r.group ? `${r.group}/${r.version}` : r.version;
}

/** `deployments.apps`, `configmaps`: the qualified resource used in error messages. */
export function qualifiedResource(r: ResourceType): string {
  return r.group ? `${r.plural}.${r.group}` : r.plural;
}

/** `Deployment.apps`: the qualified kind used in Invalid messages. */
export function qualifiedKind(r: ResourceType): string {
  return r.group ? `${r.kind}.${r.group}` : r.kind;
}

// ---------------------------------------------------------------------------------------------
// Merge schema. Paths are dot-joined field names with `[]` for "any list item" and `*` for "any
// map key", matched against the path of a node from the object root.
//
// Source of truth: the +listType/+listMapKey/+mapType/+structType markers in k8s.io/api
// (https://kubernetes.io/docs/reference/using-api/server-side-apply/#merge-strategy), which the
// apiserver turns into the structured-merge-diff schema.
// ---------------------------------------------------------------------------------------------

export type ListSchema = { type: 'map'; keys: string[] } | { type: 'set' } | { type: 'atomic' };

/** Where each kind keeps its pod spec. */
export const POD_SPEC_PATHS: Record<string, string> = {
  Pod: 'spec',
  Deployment: 'spec.template.spec',
  StatefulSet: 'spec.template.spec',
  DaemonSet: 'spec.template.spec',
  Job: 'spec.template.spec',
  CronJob: 'spec.jobTemplate.spec.template.spec',
};

const POD_SPEC_LISTS: Record<string, ListSchema> = {
  // PodSpec: +listType=map +listMapKey=name
  containers: { type: 'map', keys: ['name'] },
  initContainers: { type: 'map', keys: ['name'] },
  ephemeralContainers: { type: 'map', keys: ['name'] },
  volumes: { type: 'map', keys: ['name'] },
  imagePullSecrets: { type: 'map', keys: ['name'] },
  // Container: ports +listMapKey=containerPort +listMapKey=protocol; env/volumeMounts/volumeDevices keyed
  'containers[].ports': { type: 'map', keys: ['containerPort', 'protocol'] },
  'containers[].env': { type: 'map', keys: ['name'] },
  'containers[].volumeMounts': { type: 'map', keys: ['mountPath'] },
  'containers[].volumeDevices': { type: 'map', keys: ['devicePath'] },
  'containers[].resizePolicy': { type: 'atomic' },
  'initContainers[].ports': { type: 'map', keys: ['containerPort', 'protocol'] },
  'initContainers[].env': { type: 'map', keys: ['name'] },
  'initContainers[].volumeMounts': { type: 'map', keys: ['mountPath'] },
  topologySpreadConstraints: { type: 'map', keys: ['topologyKey', 'whenUnsatisfiable'] },
  hostAliases: { type: 'map', keys: ['ip'] },
  resourceClaims: { type: 'map', keys: ['name'] },
  schedulingGates: { type: 'map', keys: ['name'] },
};

/** Lists that are not atomic, by kind ('*' = every kind). Everything else is atomic. */
function listTable(kind: string): Record<string, ListSchema> {
  const table: Record<string, ListSchema> = {
    'metadata.finalizers': { type: 'set' },
    'metadata.ownerReferences': { type: 'map', keys: ['uid'] },
    'status.conditions': { type: 'map', keys: ['type'] },
  };
  const podSpec = POD_SPEC_PATHS[kind];
  if (podSpec) {
    for (const [rel, schema] of Object.entries(POD_SPEC_LISTS)) table[`${podSpec}.${rel}`] = schema;
  }
  if (kind === 'Service') {
    // ServiceSpec.ports: +listMapKey=port +listMapKey=protocol
    table['spec.ports'] = { type: 'map', keys: ['port', 'protocol'] };
    table['spec.clusterIPs'] = { type: 'atomic' };
  }
  if (kind === 'StatefulSet') table['spec.volumeClaimTemplates'] = { type: 'atomic' };
  if (kind === 'CustomResourceDefinition') table['spec.versions'] = { type: 'atomic' };
  return table;
}

/** Maps whose keys are separately owned (map[string]string and friends). Struct fields are not. */
const GRANULAR_MAPS = [
  /(^|\.)metadata\.labels$/,
  /(^|\.)metadata\.annotations$/,
  /^data$/,
  /^binaryData$/,
  /^stringData$/,
  /\.nodeSelector$/,
  /\.resources\.(limits|requests)$/,
  /\.matchLabels$/,
];

/** Atomic maps/structs: replaced as a whole by an applier (and owned as one field). */
function atomicMaps(kind: string): RegExp[] {
  const list: RegExp[] = [];
  // LabelSelector is +structType=atomic; Service.spec.selector is +mapType=atomic.
  if (['Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'ReplicaSet'].includes(kind))
    list.push(/^spec\.selector$/);
  if (kind === 'Service') list.push(/^spec\.selector$/);
  // ObjectReference-like structs and RoleBinding.roleRef are atomic too.
  if (kind === 'RoleBinding') list.push(/^roleRef$/);
  if (kind === 'CustomResourceDefinition') list.push(/^spec\.names$/);
  return list;
}

/** The schema of the node at `path` (field names only, with `[]` for list items). */
export interface NodeSchema {
  list?: ListSchema;
  /** map[string]X: each key is a member of the field set. */
  granularMap: boolean;
  atomic: boolean;
}

/** A custom resource's structural schema node for `path` (list items as `[]`), if any. */
function crdNode(root: JsonObject | undefined, path: string): JsonObject | undefined {
  let node: JsonObject | undefined = root;
  if (!node || !path) return node;
  for (const part of path.split('.')) {
    if (!node) return undefined;
    const items = part.endsWith('[]');
    const name = items ? part.slice(0, -2) : part;
    const props = node.properties as JsonObject | undefined;
    node = (props?.[name] as JsonObject | undefined) ?? (node.additionalProperties as JsonObject | undefined);
    if (items && node) node = node.items as JsonObject | undefined;
  }
  return node;
}

export function schemaFor(resource: ResourceType, path: string): NodeSchema {
  if (resource.crd && !path.startsWith('metadata')) {
    const node = crdNode(resource.openAPISchema, path);
    const listType = node?.['x-kubernetes-list-type'];
    const keys = node?.['x-kubernetes-list-map-keys'];
    let list: ListSchema = { type: 'atomic' };
    if (listType === 'map' && Array.isArray(keys)) list = { type: 'map', keys: keys as string[] };
    if (listType === 'set') list = { type: 'set' };
    return {
      list,
      granularMap: node?.additionalProperties !== undefined && node.properties === undefined,
      atomic: node?.['x-kubernetes-map-type'] === 'atomic',
    };
  }
  const list = listTable(resource.kind)[path] ?? { type: 'atomic' };
  return {
    list,
    granularMap: GRANULAR_MAPS.some((re) => re.test(path)),
    atomic: atomicMaps(resource.kind).some((re) => re.test(path)),
  };
}

/** Key fields of an associative list item; defaulted key fields filled in as upstream does. */
export function itemKey(schema: ListSchema, item: JsonValue): JsonObject | undefined {
  if (schema.type !== 'map' || !item || typeof item !== 'object' || Array.isArray(item)) return undefined;
  const key: JsonObject = {};
  for (const k of [...schema.keys].sort()) {
    let v = item[k];
    // Applied configurations get key fields defaulted (protocol: TCP) so that `k:` entries match
    // the stored object: https://github.com/kubernetes/kubernetes/pull/103011 (SSA defaults keys).
    if (v === undefined && k === 'protocol') v = 'TCP';
    if (v !== undefined) key[k] = v;
  }
  return key;
}

/**
 * Known fields per object path, for `fieldValidation=Strict`. Only the kinds and levels listed
 * here are checked; anything else passes (see README, "Deliberate differences").
 */
const META_FIELDS = [
  'name',
  'generateName',
  'namespace',
  'labels',
  'annotations',
  'finalizers',
  'ownerReferences',
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'managedFields',
  'selfLink',
];
const CONTAINER_FIELDS = [
  'name',
  'image',
  'command',
  'args',
  'workingDir',
  'ports',
  'envFrom',
  'env',
  'resources',
  'resizePolicy',
  'restartPolicy',
  'volumeMounts',
  'volumeDevices',
  'livenessProbe',
  'readinessProbe',
  'startupProbe',
  'lifecycle',
  'terminationMessagePath',
  'terminationMessagePolicy',
  'imagePullPolicy',
  'securityContext',
  'stdin',
  'stdinOnce',
  'tty',
];
const POD_SPEC_FIELDS = [
  'volumes',
  'initContainers',
  'containers',
  'ephemeralContainers',
  'restartPolicy',
  'terminationGracePeriodSeconds',
  'activeDeadlineSeconds',
  'dnsPolicy',
  'nodeSelector',
  'serviceAccountName',
  'serviceAccount',
  'automountServiceAccountToken',
  'nodeName',
  'hostNetwork',
  'hostPID',
  'hostIPC',
  'shareProcessNamespace',
  'securityContext',
  'imagePullSecrets',
  'hostname',
  'subdomain',
  'affinity',
  'schedulerName',
  'tolerations',
  'hostAliases',
  'priorityClassName',
  'priority',
  'dnsConfig',
  'readinessGates',
  'runtimeClassName',
  'enableServiceLinks',
  'preemptionPolicy',
  'overhead',
  'topologySpreadConstraints',
  'setHostnameAsFQDN',
  'os',
  'hostUsers',
  'schedulingGates',
  'resourceClaims',
  'resources',
];

export function knownFields(kind: string, path: string): string[] | undefined {
  if (path === 'metadata' || path.endsWith('template.metadata')) return META_FIELDS;
  const podSpec = POD_SPEC_PATHS[kind];
  if (podSpec) {
    if (path === podSpec) return POD_SPEC_FIELDS;
    if (path === `${podSpec}.containers[]` || path === `${podSpec}.initContainers[]`) return CONTAINER_FIELDS;
  }
  const table: Record<string, Record<string, string[]>> = {
    Deployment: {
      '': ['apiVersion', 'kind', 'metadata', 'spec', 'status'],
      spec: [
        'replicas',
        'selector',
        'template',
        'strategy',
        'minReadySeconds',
        'revisionHistoryLimit',
        'paused',
        'progressDeadlineSeconds',
      ],
      'spec.template': ['metadata', 'spec'],
      'spec.strategy': ['type', 'rollingUpdate'],
      'spec.strategy.rollingUpdate': ['maxUnavailable', 'maxSurge'],
    },
    Service: {
      '': ['apiVersion', 'kind', 'metadata', 'spec', 'status'],
      'spec.ports[]': ['name', 'protocol', 'appProtocol', 'port', 'targetPort', 'nodePort'],
    },
    ConfigMap: { '': ['apiVersion', 'kind', 'metadata', 'data', 'binaryData', 'immutable'] },
    Secret: { '': ['apiVersion', 'kind', 'metadata', 'data', 'stringData', 'type', 'immutable'] },
    Namespace: { '': ['apiVersion', 'kind', 'metadata', 'spec', 'status'] },
  };
  return table[kind]?.[path];
}
