/** Manifests the lifecycle tests share: one web Deployment per environment, written the same way. */
export const REGISTRY = 'registry.example.com/acme';

/** The `images:` block of gitops.yaml for the web image. */
export const WEB_IMAGE_CONFIG = `images:\n  - name: web\n    repository: ${REGISTRY}/web\n`;

export function namespaceYaml(name: string): string {
  return `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${name}\n`;
}

export interface WebOptions {
  replicas?: number;
  comment?: string;
  /** Seconds without progress before the Deployment reports ProgressDeadlineExceeded. */
  progressDeadlineSeconds?: number;
  /** `strategy: Recreate`: old pods go before new ones start (none of them keeps serving). */
  recreate?: boolean;
}

export function webDeploymentYaml(options: WebOptions = {}): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: ${options.replicas ?? 1}
${options.progressDeadlineSeconds ? `  progressDeadlineSeconds: ${options.progressDeadlineSeconds}\n` : ''}${options.recreate ? '  strategy: {type: Recreate}\n' : ''}  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: ${REGISTRY}/web:0.9.0${options.comment ? ` # ${options.comment}` : ''}
`;
}

const WEB_SERVICE = `apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports:
    - port: 80
`;

/**
 * `envs/<env>/namespace.yaml` (the Namespace `namespace`, default the environment's name) and
 * `envs/<env>/web.yaml` (the Deployment, optionally with a Service).
 */
export function webEnvironmentFiles(
  env: string,
  options: WebOptions & { service?: boolean; namespace?: string } = {},
): Record<string, string> {
  const deployment = webDeploymentYaml(options);
  return {
    [`envs/${env}/namespace.yaml`]: namespaceYaml(options.namespace ?? env),
    [`envs/${env}/web.yaml`]: options.service ? `${deployment}---\n${WEB_SERVICE}` : deployment,
  };
}
