/** `count` objects of each of 5 kinds in one multi-document file per kind, and the Namespace. */
export function manyObjects(count: number, namespace = 'scale'): Record<string, string> {
  const files: Record<string, string> = {
    'envs/staging/namespace.yaml': `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${namespace}\n`,
  };
  const docs = (make: (index: number) => string) =>
    Array.from({ length: count }, (_, index) => make(index)).join('---\n');
  files['envs/staging/configmaps.yaml'] = docs(
    (i) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-${i}\ndata:\n  key: value-${i}\n`,
  );
  files['envs/staging/secrets.yaml'] = docs(
    (i) => `apiVersion: v1\nkind: Secret\nmetadata:\n  name: secret-${i}\nstringData:\n  token: t-${i}\n`,
  );
  files['envs/staging/serviceaccounts.yaml'] = docs(
    (i) => `apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: sa-${i}\n`,
  );
  files['envs/staging/services.yaml'] = docs(
    (i) =>
      `apiVersion: v1\nkind: Service\nmetadata:\n  name: svc-${i}\nspec:\n  selector: {app: app-${i}}\n  ports:\n    - port: 80\n`,
  );
  files['envs/staging/deployments.yaml'] = docs(
    (i) =>
      `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app-${i}\nspec:\n  replicas: 1\n  selector:\n    matchLabels: {app: app-${i}}\n  template:\n    metadata:\n      labels: {app: app-${i}}\n    spec:\n      containers:\n        - name: app\n          image: registry.example.com/acme/app:${i}\n`,
  );
  return files;
}
