/** Manifests of the cluster benchmarks, written as a team would keep them in an env repo. */
export const REGISTRY = 'registry.example.com/acme';

/** gitops.yaml lines of an environment holding serviceEnvironment(): its test Secrets are plaintext. */
export const SERVICE_POLICIES = '    policies:\n      allowPlaintextSecrets: [web-token, web-db]\n';

/**
 * A small service as one environment holds it: 12 objects (Namespace, Deployment, Service,
 * ServiceAccount, three ConfigMaps, two Secrets, Role, RoleBinding, PodDisruptionBudget), every
 * namespaced one naming its namespace, so `kubectl apply -f <dir>` needs no flag.
 */
export function serviceEnvironment(
  dir: string,
  namespace: string,
  image = `${REGISTRY}/web:0.0.0`,
): Record<string, string> {
  const meta = (kind: string, apiVersion: string, name: string) =>
    `apiVersion: ${apiVersion}\nkind: ${kind}\nmetadata:\n  name: ${name}\n  namespace: ${namespace}\n  labels: {app: web}\n`;
  return {
    // First by name: `kubectl apply -f <dir>` applies files in name order.
    [`${dir}/00-namespace.yaml`]: `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${namespace}\n`,
    [`${dir}/web.yaml`]: `${meta('Deployment', 'apps/v1', 'web')}spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      serviceAccountName: web
      containers:
        - name: web
          image: ${image}
          envFrom:
            - configMapRef: {name: web-env}
          ports:
            - containerPort: 8080
`,
    [`${dir}/service.yaml`]: `${meta('Service', 'v1', 'web')}spec:
  selector: {app: web}
  ports:
    - port: 80
      targetPort: 8080
`,
    [`${dir}/rbac.yaml`]: `${meta('ServiceAccount', 'v1', 'web')}---
${meta('Role', 'rbac.authorization.k8s.io/v1', 'web')}rules:
  - apiGroups: ['']
    resources: [configmaps]
    verbs: [get, list, watch]
---
${meta('RoleBinding', 'rbac.authorization.k8s.io/v1', 'web')}roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: web
subjects:
  - kind: ServiceAccount
    name: web
    namespace: ${namespace}
`,
    [`${dir}/config.yaml`]: `${meta('ConfigMap', 'v1', 'web-env')}data:
  LOG_LEVEL: info
  LOG_FORMAT: json
---
${meta('ConfigMap', 'v1', 'web-flags')}data:
  FEATURE_FLAGS: "a,b,c"
---
${meta('ConfigMap', 'v1', 'web-routes')}data:
  routes.yaml: |
    - path: /
      backend: web
`,
    [`${dir}/secrets.yaml`]: `${meta('Secret', 'v1', 'web-token')}stringData:
  token: not-a-real-token
---
${meta('Secret', 'v1', 'web-db')}stringData:
  url: postgres://db.example.com/web
`,
    [`${dir}/pdb.yaml`]: `${meta('PodDisruptionBudget', 'policy/v1', 'web')}spec:
  maxUnavailable: 1
  selector:
    matchLabels: {app: web}
`,
  };
}
