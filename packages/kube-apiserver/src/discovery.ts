// Discovery and OpenAPI documents.
// Aggregated discovery: https://kubernetes.io/docs/concepts/overview/kubernetes-api/#aggregated-discovery
// (Content-Type `application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList`).
// OpenAPI v3: https://kubernetes.io/docs/concepts/overview/kubernetes-api/#openapi-v3

import { apiVersionOf, type JsonObject, type ResourceType } from './schema.js';

export const SERVER_VERSION = {
  major: '1',
  minor: '32',
  gitVersion: 'v1.32.2',
  gitCommit: '67a30c0adcf52bd3f56ff0893ce19966be12991f',
  gitTreeState: 'clean',
  buildDate: '2025-02-12T21:19:47Z',
  goVersion: 'go1.23.6',
  compiler: 'gc',
  platform: 'linux/amd64',
};

function groupsOf(resources: ResourceType[]): Map<string, Map<string, ResourceType[]>> {
  const groups = new Map<string, Map<string, ResourceType[]>>();
  for (const r of resources) {
    const versions = groups.get(r.group) ?? new Map<string, ResourceType[]>();
    versions.set(r.version, [...(versions.get(r.version) ?? []), r]);
    groups.set(r.group, versions);
  }
  return groups;
}

function subresourceVerbs(): string[] {
  return ['get', 'patch', 'update'];
}

function discoveryResource(r: ResourceType): JsonObject {
  return {
    resource: r.plural,
    responseKind: { group: r.group, version: r.version, kind: r.kind },
    scope: r.namespaced ? 'Namespaced' : 'Cluster',
    singularResource: r.singular,
    verbs: r.verbs,
    ...(r.shortNames.length ? { shortNames: r.shortNames } : {}),
    ...(r.categories.length ? { categories: r.categories } : {}),
    ...(r.subresources.length
      ? {
          subresources: r.subresources.map((s) => ({
            subresource: s,
            responseKind:
              s === 'scale'
                ? { group: 'autoscaling', version: 'v1', kind: 'Scale' }
                : { group: r.group, version: r.version, kind: r.kind },
            verbs: subresourceVerbs(),
          })),
        }
      : {}),
  };
}

/** APIGroupDiscoveryList for `/api` (legacy = true) or `/apis`. */
export function aggregatedDiscovery(
  resources: ResourceType[],
  legacy: boolean,
  apiVersion: string,
): JsonObject {
  const items: JsonObject[] = [];
  for (const [group, versions] of groupsOf(resources)) {
    if ((group === '') !== legacy) continue;
    items.push({
      metadata: { ...(group ? { name: group } : {}), creationTimestamp: null },
      versions: [...versions.entries()].map(([version, rs]) => ({
        version,
        resources: rs.map(discoveryResource),
        freshness: 'Current',
      })),
    });
  }
  return { kind: 'APIGroupDiscoveryList', apiVersion, metadata: {}, items };
}

export function legacyApiVersions(serverAddress: string): JsonObject {
  return {
    kind: 'APIVersions',
    versions: ['v1'],
    serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
  };
}

function apiGroup(group: string, versions: string[]): JsonObject {
  const vs = versions.map((v) => ({ groupVersion: `${group}/${v}`, version: v }));
  return { name: group, versions: vs, preferredVersion: vs[0]! };
}

export function apiGroupList(resources: ResourceType[]): JsonObject {
  const groups: JsonObject[] = [];
  for (const [group, versions] of groupsOf(resources)) {
    if (group) groups.push(apiGroup(group, [...versions.keys()]));
  }
  return { kind: 'APIGroupList', apiVersion: 'v1', groups };
}

export function apiGroupDoc(resources: ResourceType[], group: string): JsonObject | undefined {
  const versions = groupsOf(resources).get(group);
  if (!versions) return undefined;
  return { kind: 'APIGroup', apiVersion: 'v1', ...apiGroup(group, [...versions.keys()]) };
}

export function apiResourceList(
  resources: ResourceType[],
  group: string,
  version: string,
): JsonObject | undefined {
  const rs = resources.filter((r) => r.group === group && r.version === version);
  if (rs.length === 0) return undefined;
  const list: JsonObject[] = [];
  for (const r of rs) {
    list.push({
      name: r.plural,
      singularName: r.singular,
      namespaced: r.namespaced,
      kind: r.kind,
      verbs: r.verbs,
      ...(r.shortNames.length ? { shortNames: r.shortNames } : {}),
      ...(r.categories.length ? { categories: r.categories } : {}),
    });
    for (const s of r.subresources) {
      list.push({
        name: `${r.plural}/${s}`,
        singularName: '',
        namespaced: r.namespaced,
        ...(s === 'scale' ? { group: 'autoscaling', version: 'v1', kind: 'Scale' } : { kind: r.kind }),
        verbs: subresourceVerbs(),
      });
    }
  }
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: apiVersionOf({ group, version }),
    resources: list,
  };
}

function gvPath(group: string, version: string): string {
  return group ? `apis/${group}/${version}` : `api/${version}`;
}

/** `/openapi/v3`: one entry per group-version, the hash changing when the resources do. */
export function openApiIndex(resources: ResourceType[], hash: string): JsonObject {
  const paths: JsonObject = {};
  for (const [group, versions] of groupsOf(resources)) {
    for (const version of versions.keys()) {
      const p = gvPath(group, version);
      paths[p] = { serverRelativeURL: `/openapi/v3/${p}?hash=${hash}` };
    }
  }
  return { paths };
}

const QUERY_PARAMS = ['dryRun', 'fieldManager', 'fieldValidation', 'force', 'pretty'];

/**
 * A per-group-version OpenAPI v3 document. It carries what kubectl reads: every kind's PATCH
 * operation with `x-kubernetes-group-version-kind` and a `fieldValidation` query parameter
 * (kubectl's QueryParamVerifierV3), and object schemas for custom resources.
 */
export function openApiGroupVersion(
  resources: ResourceType[],
  group: string,
  version: string,
): JsonObject | undefined {
  const rs = resources.filter((r) => r.group === group && r.version === version);
  if (rs.length === 0) return undefined;
  const paths: JsonObject = {};
  const schemas: JsonObject = {};
  for (const r of rs) {
    const base = `/${gvPath(group, version)}${r.namespaced ? '/namespaces/{namespace}' : ''}/${r.plural}/{name}`;
    const gvk = { group: r.group, version: r.version, kind: r.kind };
    const schemaName = `${r.group || 'core'}.${r.version}.${r.kind}`;
    const ref = { $ref: `#/components/schemas/${schemaName}` };
    const op = (action: string): JsonObject => ({
      operationId: `${action}${r.kind}`,
      'x-kubernetes-action': action,
      'x-kubernetes-group-version-kind': gvk,
      parameters:
        action === 'patch' || action === 'put'
          ? QUERY_PARAMS.map((name) => ({
              name,
              in: 'query',
              schema: { type: name === 'force' ? 'boolean' : 'string', uniqueItems: true },
            }))
          : [],
      responses: { '200': { description: 'OK', content: { 'application/json': { schema: ref } } } },
    });
    paths[base] = { get: op('get'), put: op('put'), patch: op('patch'), delete: op('delete') };
    schemas[schemaName] = {
      type: 'object',
      'x-kubernetes-group-version-kind': [gvk],
      ...(r.openAPISchema ?? { properties: { apiVersion: { type: 'string' }, kind: { type: 'string' } } }),
    };
  }
  return {
    openapi: '3.0.0',
    info: { title: 'Kubernetes', version: SERVER_VERSION.gitVersion },
    paths,
    components: { schemas },
  };
}
