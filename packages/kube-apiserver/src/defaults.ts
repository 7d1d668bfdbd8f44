// Defaulting as the 1.32 apiserver does it, so that `kubectl get -o yaml` and diffs see the fields
// a real cluster returns. Sources: pkg/apis/{core,apps,batch}/v1/defaults.go
// (https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/deployment-v1/ and
// pod-v1/ list each default next to its field).

import { isObject } from './fieldset.js';
import type { JsonObject, JsonValue } from './schema.js';

function at(obj: JsonObject, path: string): JsonObject | undefined {
  let node: JsonValue | undefined = obj;
  for (const part of path.split('.')) {
    if (!isObject(node)) return undefined;
    node = node[part];
  }
  return isObject(node) ? node : undefined;
}

function ensure(obj: JsonObject, key: string): JsonObject {
  const v = obj[key];
  if (isObject(v)) return v;
  const created: JsonObject = {};
  obj[key] = created;
  return created;
}

function def(obj: JsonObject, key: string, value: JsonValue): void {
  if (obj[key] === undefined || obj[key] === null) obj[key] = value;
}

/** imagePullPolicy: Always for `:latest` or no tag, IfNotPresent otherwise (core/v1 SetDefaults_Container). */
export function pullPolicyFor(image: string): string {
  if (image.includes('@')) return 'IfNotPresent';
  const last = image.split('/').pop() ?? image;
  const tag = last.includes(':') ? last.slice(last.indexOf(':') + 1) : '';
  return tag === '' || tag === 'latest' ? 'Always' : 'IfNotPresent';
}

function defaultProbe(probe: JsonValue | undefined): void {
  if (!isObject(probe)) return;
  def(probe, 'timeoutSeconds', 1);
  def(probe, 'periodSeconds', 10);
  def(probe, 'successThreshold', 1);
  def(probe, 'failureThreshold', 3);
  if (isObject(probe.httpGet)) def(probe.httpGet, 'scheme', 'HTTP');
}

function defaultContainer(c: JsonValue): void {
  if (!isObject(c)) return;
  def(c, 'terminationMessagePath', '/dev/termination-log');
  def(c, 'terminationMessagePolicy', 'File');
  if (typeof c.image === 'string') def(c, 'imagePullPolicy', pullPolicyFor(c.image));
  def(c, 'resources', {});
  if (Array.isArray(c.ports)) for (const p of c.ports) if (isObject(p)) def(p, 'protocol', 'TCP');
  if (Array.isArray(c.env)) {
    for (const e of c.env) {
      const ref = isObject(e) && isObject(e.valueFrom) ? e.valueFrom.fieldRef : undefined;
      if (isObject(ref)) def(ref, 'apiVersion', 'v1');
    }
  }
  defaultProbe(c.livenessProbe);
  defaultProbe(c.readinessProbe);
  defaultProbe(c.startupProbe);
}

/** PodTemplateSpec defaults (core/v1 SetDefaults_PodSpec and friends). */
function defaultPodTemplate(template: JsonObject | undefined, restartPolicy = 'Always'): void {
  if (!template) return;
  const meta = ensure(template, 'metadata');
  // A 1.32 server serialises the unset template timestamp as null; diffs see it.
  if (!('creationTimestamp' in meta)) meta.creationTimestamp = null;
  defaultPodSpec(ensure(template, 'spec'), restartPolicy);
}

function defaultPodSpec(spec: JsonObject, restartPolicy: string): void {
  def(spec, 'restartPolicy', restartPolicy);
  def(spec, 'terminationGracePeriodSeconds', 30);
  def(spec, 'dnsPolicy', 'ClusterFirst');
  def(spec, 'securityContext', {});
  def(spec, 'schedulerName', 'default-scheduler');
  for (const list of ['containers', 'initContainers']) {
    const cs = spec[list];
    if (Array.isArray(cs)) for (const c of cs) defaultContainer(c);
  }
  if (Array.isArray(spec.volumes)) {
    for (const v of spec.volumes) {
      if (!isObject(v)) continue;
      if (isObject(v.configMap)) def(v.configMap, 'defaultMode', 420);
      if (isObject(v.secret)) def(v.secret, 'defaultMode', 420);
    }
  }
}

/**
 * The Job registry generates the selector and pod labels from the Job's uid unless
 * `manualSelector` is set (https://kubernetes.io/docs/concepts/workloads/controllers/job/#specifying-your-own-pod-selector).
 */
function generateJobSelector(job: JsonObject, spec: JsonObject): void {
  const meta = isObject(job.metadata) ? job.metadata : {};
  if (spec.manualSelector === true || spec.selector !== undefined || typeof meta.uid !== 'string') return;
  const uid = meta.uid;
  const name = String(meta.name ?? '');
  spec.selector = { matchLabels: { 'batch.kubernetes.io/controller-uid': uid } };
  const template = ensure(spec, 'template');
  const tmeta = ensure(template, 'metadata');
  tmeta.labels = {
    ...(isObject(tmeta.labels) ? tmeta.labels : {}),
    'batch.kubernetes.io/controller-uid': uid,
    'batch.kubernetes.io/job-name': name,
    'controller-uid': uid,
    'job-name': name,
  };
}

let nextClusterIp = 1;

/** Applies the server's defaults in place. */
export function applyDefaults(kind: string, obj: JsonObject): void {
  switch (kind) {
    case 'Deployment': {
      const s = ensure(obj, 'spec');
      def(s, 'replicas', 1);
      const strategy = ensure(s, 'strategy');
      def(strategy, 'type', 'RollingUpdate');
      if (strategy.type === 'RollingUpdate') {
        const ru = ensure(strategy, 'rollingUpdate');
        def(ru, 'maxUnavailable', '25%');
        def(ru, 'maxSurge', '25%');
      }
      def(s, 'revisionHistoryLimit', 10);
      def(s, 'progressDeadlineSeconds', 600);
      defaultPodTemplate(at(obj, 'spec.template'));
      break;
    }
    case 'StatefulSet': {
      const s = ensure(obj, 'spec');
      def(s, 'replicas', 1);
      def(s, 'podManagementPolicy', 'OrderedReady');
      const us = ensure(s, 'updateStrategy');
      def(us, 'type', 'RollingUpdate');
      if (us.type === 'RollingUpdate') def(ensure(us, 'rollingUpdate'), 'partition', 0);
      def(s, 'revisionHistoryLimit', 10);
      def(s, 'persistentVolumeClaimRetentionPolicy', { whenDeleted: 'Retain', whenScaled: 'Retain' });
      defaultPodTemplate(at(obj, 'spec.template'));
      break;
    }
    case 'DaemonSet': {
      const s = ensure(obj, 'spec');
      const us = ensure(s, 'updateStrategy');
      def(us, 'type', 'RollingUpdate');
      if (us.type === 'RollingUpdate') {
        const ru = ensure(us, 'rollingUpdate');
        def(ru, 'maxUnavailable', 1);
        def(ru, 'maxSurge', 0);
      }
      def(s, 'revisionHistoryLimit', 10);
      defaultPodTemplate(at(obj, 'spec.template'));
      break;
    }
    case 'Job': {
      const s = ensure(obj, 'spec');
      def(s, 'parallelism', 1);
      def(s, 'completions', 1);
      def(s, 'backoffLimit', 6);
      def(s, 'completionMode', 'NonIndexed');
      def(s, 'suspend', false);
      def(s, 'podReplacementPolicy', 'TerminatingOrFailed');
      generateJobSelector(obj, s);
      defaultPodTemplate(at(obj, 'spec.template'), 'Never');
      break;
    }
    case 'CronJob': {
      const s = ensure(obj, 'spec');
      def(s, 'concurrencyPolicy', 'Allow');
      def(s, 'suspend', false);
      def(s, 'successfulJobsHistoryLimit', 3);
      def(s, 'failedJobsHistoryLimit', 1);
      const jobTemplate = ensure(s, 'jobTemplate');
      if (!('creationTimestamp' in ensure(jobTemplate, 'metadata')))
        ensure(jobTemplate, 'metadata').creationTimestamp = null;
      defaultPodTemplate(at(obj, 'spec.jobTemplate.spec.template'), 'Never');
      break;
    }
    case 'Service': {
      const s = ensure(obj, 'spec');
      def(s, 'type', 'ClusterIP');
      def(s, 'sessionAffinity', 'None');
      if (s.type !== 'ExternalName') {
        if (s.clusterIP === undefined) {
          const n = nextClusterIp++;
          s.clusterIP = `10.96.${Math.floor(n / 250)}.${(n % 250) + 1}`;
        }
        def(s, 'clusterIPs', [s.clusterIP as string]);
        def(s, 'ipFamilies', ['IPv4']);
        def(s, 'ipFamilyPolicy', 'SingleStack');
        def(s, 'internalTrafficPolicy', 'Cluster');
      }
      if (Array.isArray(s.ports)) {
        for (const p of s.ports) {
          if (!isObject(p)) continue;
          def(p, 'protocol', 'TCP');
          def(p, 'targetPort', p.port ?? null);
        }
      }
      def(obj, 'status', { loadBalancer: {} });
      break;
    }
    case 'Namespace': {
      const meta = ensure(obj, 'metadata');
      // The NamespaceDefaultLabelName feature: every namespace carries its own name as a label.
      const labels = ensure(meta, 'labels');
      labels['kubernetes.io/metadata.name'] = meta.name ?? null;
      def(ensure(obj, 'spec'), 'finalizers', ['kubernetes']);
      def(ensure(obj, 'status'), 'phase', 'Active');
      break;
    }
    case 'Secret': {
      if (!obj.type) obj.type = 'Opaque';
      // stringData is write-only: merged into data, base64-encoded (core/v1 Secret docs).
      if (isObject(obj.stringData)) {
        const data = ensure(obj, 'data');
        for (const [k, v] of Object.entries(obj.stringData))
          data[k] = Buffer.from(String(v)).toString('base64');
        delete obj.stringData;
      }
      break;
    }
    case 'Pod':
      defaultPodSpec(ensure(obj, 'spec'), 'Always');
      break;
    case 'Ingress':
      def(obj, 'status', { loadBalancer: {} });
      break;
    default:
      break;
  }
}
