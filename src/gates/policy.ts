import type { EnvironmentConfig } from '../config/types.js';
import { blockedError, type GitopsError } from '../core/errors.js';
import { tryParseImageReference } from '../images/reference.js';
import { crdScopes, type DesiredObject, groupKind, isNamespaced, podContainers } from '../kube/objects.js';

export interface PolicyViolation {
  rule:
    | 'image-pinned'
    | 'allowed-registry'
    | 'plaintext-secret'
    | 'resource-limits'
    | 'namespace-scope'
    | 'cluster-scoped-kind';
  object: string;
  message: string;
  file?: string;
  line?: number;
}

/**
 * Where an environment may put objects: the namespaces it may write to (environments.<env>.namespaces;
 * default its own and the Namespaces it declares) and the cluster-scoped kinds it may declare
 * (policies.clusterScopedKinds; default Namespace and CustomResourceDefinition). An environment that
 * names another's namespace, or a ClusterRole nobody allowed, is refused before anything is pushed.
 */
function scopeViolations(
  environment: EnvironmentConfig,
  objects: readonly DesiredObject[],
  defaultNamespace: string,
): PolicyViolation[] {
  const scopes = crdScopes(objects.map((item) => item.object));
  const declared = objects
    .filter((item) => item.object.kind === 'Namespace')
    .map((item) => item.object.metadata.name);
  const allowed = new Set(environment.namespaces ?? [environment.namespace ?? defaultNamespace, ...declared]);
  const kinds = new Set(environment.policies.clusterScopedKinds);
  const violations: PolicyViolation[] = [];
  for (const { object, source } of objects) {
    const where = {
      object: `${object.kind}/${object.metadata.name}`,
      ...(source ? { file: source.file, line: source.line } : {}),
    };
    const kind = groupKind(object);
    if (!isNamespaced(kind, scopes)) {
      if (!kinds.has(object.kind) && !kinds.has(kind))
        violations.push({
          rule: 'cluster-scoped-kind',
          ...where,
          message: `${object.kind} is cluster-scoped and not in environments.${environment.name}.policies.clusterScopedKinds (${[...kinds].join(', ') || 'none'})`,
        });
    } else {
      const namespace = object.metadata.namespace ?? defaultNamespace;
      if (!allowed.has(namespace))
        violations.push({
          rule: 'namespace-scope',
          ...where,
          message: `namespace ${namespace} is not one of ${environment.name}'s (${[...allowed].join(', ')}; environments.${environment.name}.namespaces)`,
        });
    }
  }
  return violations;
}

/**
 * The deploy gate (before anything is committed): objects inside the environment's namespaces
 * and allowed cluster-scoped kinds, images pinned (no `:latest`, no tag-less references),
 * registries allowed, no plaintext Secret data in git (SOPS-encrypted files and SealedSecrets
 * pass), resource limits when required.
 */
export function checkPolicies(
  environment: EnvironmentConfig,
  objects: readonly DesiredObject[],
  options: { defaultNamespace: string },
): PolicyViolation[] {
  const { policies } = environment;
  const violations: PolicyViolation[] = scopeViolations(environment, objects, options.defaultNamespace);
  for (const { object, source } of objects) {
    const where = {
      object: `${object.kind}/${object.metadata.name}`,
      ...(source ? { file: source.file, line: source.line } : {}),
    };
    if (object.kind === 'Secret' && object.apiVersion === 'v1') {
      const data = { ...(object.data as object | undefined), ...(object.stringData as object | undefined) };
      // SOPS keeps its metadata in a top-level `sops` key of the encrypted file.
      const encrypted = 'sops' in object;
      if (
        Object.keys(data).length > 0 &&
        !encrypted &&
        !policies.allowPlaintextSecrets.includes(object.metadata.name)
      ) {
        violations.push({
          rule: 'plaintext-secret',
          ...where,
          message: `Secret ${object.metadata.name} carries plaintext data in git (keys: ${Object.keys(data).sort().join(', ')})`,
        });
      }
      continue;
    }
    for (const container of podContainers(object)) {
      const text = typeof container.image === 'string' ? container.image : '';
      const reference = tryParseImageReference(text);
      if (!reference || (!reference.digest && (!reference.tag || reference.tag === 'latest'))) {
        violations.push({
          rule: 'image-pinned',
          ...where,
          message: `container ${container.name ?? '?'} uses "${text}": pin a tag other than latest, or a digest`,
        });
      } else if (
        policies.allowedRegistries.length > 0 &&
        !policies.allowedRegistries.includes(reference.domain)
      ) {
        violations.push({
          rule: 'allowed-registry',
          ...where,
          message: `container ${container.name ?? '?'} pulls from ${reference.domain}, which is not in policies.allowedRegistries`,
        });
      }
      if (policies.requireResourceLimits) {
        const limits = container.resources?.limits ?? {};
        const missing = ['cpu', 'memory'].filter((name) => limits[name] === undefined);
        if (missing.length > 0) {
          violations.push({
            rule: 'resource-limits',
            ...where,
            message: `container ${container.name ?? '?'} sets no ${missing.join(' or ')} limit (policies.requireResourceLimits)`,
          });
        }
      }
    }
  }
  return violations;
}

/** What changes the outcome of each rule: the manifest, and the setting if one controls the rule. */
const RULE_HINTS: Record<PolicyViolation['rule'], string> = {
  'image-pinned': 'pin every image to a tag other than latest, or to a digest (no setting turns this off)',
  'allowed-registry': 'use an allowed registry, or add it to environments.<env>.policies.allowedRegistries',
  'plaintext-secret':
    'encrypt the Secret (SOPS, SealedSecrets), or name it in environments.<env>.policies.allowPlaintextSecrets',
  'resource-limits':
    'set CPU and memory limits, or turn off environments.<env>.policies.requireResourceLimits',
  'namespace-scope':
    "keep objects in the environment's namespaces, or list more in environments.<env>.namespaces",
  'cluster-scoped-kind':
    'remove the object, or allow its kind in environments.<env>.policies.clusterScopedKinds',
};

export function policyError(violations: readonly PolicyViolation[]): GitopsError {
  const lines = violations.map(
    (violation) =>
      `${violation.file ? `${violation.file}:${violation.line ?? 1}: ` : ''}${violation.object}: ${violation.message}`,
  );
  const first = violations[0]!;
  return blockedError(
    'POLICY_VIOLATION',
    `the policy gate refused the deploy (nothing was committed):\n${lines.join('\n')}`,
    {
      ...(first.file ? { location: { file: first.file, ...(first.line ? { line: first.line } : {}) } } : {}),
      hint: [...new Set(violations.map((violation) => RULE_HINTS[violation.rule]))].join('; '),
      details: { violations },
    },
  );
}
