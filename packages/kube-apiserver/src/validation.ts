// Validation the real apiserver performs and diffs/deploys depend on. Messages follow
// k8s.io/apimachinery/pkg/util/validation and pkg/apis/apps/validation.
// https://kubernetes.io/docs/concepts/overview/working-with-objects/names/

import type { Cause } from './errors.js';
import { deepEqual, isObject } from './fieldset.js';
import { type JsonObject, type JsonValue, knownFields, POD_SPEC_PATHS, type ResourceType } from './schema.js';
import { matchesLabels } from './selectors.js';

const DNS1123_LABEL = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const DNS1123_SUBDOMAIN = `${DNS1123_LABEL}(\\.${DNS1123_LABEL})*`;
const DNS1035_LABEL = '[a-z]([-a-z0-9]*[a-z0-9])?';

function nameCause(name: string, rule: 'subdomain' | 'label' | '1035'): Cause | undefined {
  const invalid = (detail: string): Cause => ({
    reason: 'FieldValueInvalid',
    field: 'metadata.name',
    message: `Invalid value: ${JSON.stringify(name)}: ${detail}`,
  });
  if (rule === 'subdomain') {
    if (name.length > 253) return invalid('must be no more than 253 characters');
    if (!new RegExp(`^${DNS1123_SUBDOMAIN}$`).test(name)) {
      return invalid(
        `a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '${DNS1123_SUBDOMAIN}')`,
      );
    }
  } else if (rule === 'label') {
    if (name.length > 63) return invalid('must be no more than 63 characters');
    if (!new RegExp(`^${DNS1123_LABEL}$`).test(name)) {
      return invalid(
        `a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '${DNS1123_LABEL}')`,
      );
    }
  } else {
    if (name.length > 63) return invalid('must be no more than 63 characters');
    if (!new RegExp(`^${DNS1035_LABEL}$`).test(name)) {
      return invalid(
        `a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '${DNS1035_LABEL}')`,
      );
    }
  }
  return undefined;
}

/** Renders a LabelSelector the way Go's %#v does in "field is immutable" messages. */
function goSelector(sel: JsonValue | undefined): string {
  const s = isObject(sel) ? sel : {};
  const ml = isObject(s.matchLabels)
    ? `map[string]string{${Object.entries(s.matchLabels)
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`)
        .join(', ')}}`
    : 'map[string]string(nil)';
  const me = Array.isArray(s.matchExpressions)
    ? '[]v1.LabelSelectorRequirement{...}'
    : '[]v1.LabelSelectorRequirement(nil)';
  return `v1.LabelSelector{MatchLabels:${ml}, MatchExpressions:${me}}`;
}

function goMap(m: JsonValue | undefined): string {
  if (!isObject(m)) return 'map[string]string(nil)';
  return `map[string]string{${Object.entries(m)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`)
    .join(', ')}}`;
}

function get(obj: JsonValue | undefined, path: string): JsonValue | undefined {
  let node = obj;
  for (const part of path.split('.')) {
    if (!isObject(node)) return undefined;
    node = node[part];
  }
  return node;
}

/** Validates a (defaulted) object; `old` is the stored object on update. */
export function validate(resource: ResourceType, obj: JsonObject, old: JsonObject | undefined): Cause[] {
  const causes: Cause[] = [];
  const meta = isObject(obj.metadata) ? obj.metadata : {};
  const name = typeof meta.name === 'string' ? meta.name : '';
  if (!name)
    causes.push({
      reason: 'FieldValueRequired',
      field: 'metadata.name',
      message: 'Required value: name or generateName is required',
    });
  else {
    const rule = resource.kind === 'Namespace' ? 'label' : resource.kind === 'Service' ? '1035' : 'subdomain';
    const c = nameCause(name, rule);
    if (c) causes.push(c);
  }
  const podSpec = POD_SPEC_PATHS[resource.kind];
  if (podSpec) {
    const containers = get(obj, `${podSpec}.containers`);
    if (!Array.isArray(containers) || containers.length === 0) {
      causes.push({
        reason: 'FieldValueRequired',
        field: `${podSpec}.containers`,
        message: 'Required value',
      });
    } else {
      containers.forEach((c, i) => {
        if (!isObject(c) || typeof c.name !== 'string' || !c.name) {
          causes.push({
            reason: 'FieldValueRequired',
            field: `${podSpec}.containers[${i}].name`,
            message: 'Required value',
          });
        }
        if (!isObject(c) || typeof c.image !== 'string' || !c.image) {
          causes.push({
            reason: 'FieldValueRequired',
            field: `${podSpec}.containers[${i}].image`,
            message: 'Required value',
          });
        }
      });
    }
  }
  if (['Deployment', 'StatefulSet', 'DaemonSet'].includes(resource.kind)) {
    const selector = get(obj, 'spec.selector');
    const labels = get(obj, 'spec.template.metadata.labels');
    if (
      !isObject(selector) ||
      (!isObject(selector.matchLabels) && !Array.isArray(selector.matchExpressions))
    ) {
      causes.push({ reason: 'FieldValueRequired', field: 'spec.selector', message: 'Required value' });
    } else if (!matchesLabels(selector, isObject(labels) ? (labels as Record<string, string>) : {})) {
      // apps validation: "`selector` does not match template `labels`"
      causes.push({
        reason: 'FieldValueInvalid',
        field: 'spec.template.metadata.labels',
        message: `Invalid value: ${goMap(labels)}: \`selector\` does not match template \`labels\``,
      });
    }
    // apps/v1 selectors are immutable after creation.
    if (old && !deepEqual(get(old, 'spec.selector'), selector)) {
      causes.push({
        reason: 'FieldValueInvalid',
        field: 'spec.selector',
        message: `Invalid value: ${goSelector(selector)}: field is immutable`,
      });
    }
  }
  if (resource.kind === 'Service') {
    const ports = get(obj, 'spec.ports');
    if (Array.isArray(ports)) {
      ports.forEach((p, i) => {
        if (!isObject(p) || typeof p.port !== 'number') {
          causes.push({
            reason: 'FieldValueRequired',
            field: `spec.ports[${i}].port`,
            message: 'Required value',
          });
        }
      });
    }
  }
  return causes;
}

/**
 * Fields the schema does not declare, as `.spec.foo` paths. Used for fieldValidation
 * (https://kubernetes.io/docs/reference/using-api/api-concepts/#field-validation).
 */
export function unknownFields(resource: ResourceType, obj: JsonValue, path = '', spath = ''): string[] {
  const out: string[] = [];
  if (Array.isArray(obj)) {
    obj.forEach((item, i) => {
      out.push(...unknownFields(resource, item, `${path}[${i}]`, `${spath}[]`));
    });
    return out;
  }
  if (!isObject(obj)) return out;
  const known = resource.crd ? undefined : knownFields(resource.kind, spath);
  for (const [k, v] of Object.entries(obj)) {
    if (known && !known.includes(k)) {
      out.push(`${path}.${k}`);
      continue;
    }
    out.push(...unknownFields(resource, v, `${path}.${k}`, spath ? `${spath}.${k}` : k));
  }
  return out;
}
