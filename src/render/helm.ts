import { existsSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import type { Kubectl } from '../cluster/kubectl.js';
import type { EnvironmentConfig } from '../config/types.js';
import type { Context } from '../core/context.js';
import { GitopsError, usageError } from '../core/errors.js';
import { ExecError } from '../core/exec.js';
import { parse } from '../core/yaml.js';
import type { DesiredObject } from '../kube/objects.js';
import { parseDocuments } from './parse.js';

/** The annotation that makes an object a Helm hook (https://helm.sh/docs/topics/charts_hooks/). */
export const HELM_HOOK_ANNOTATION = 'helm.sh/hook';

/** Hooks already reported in this run (renders happen several times per command). */
const reported = new WeakMap<Context, Set<string>>();

/**
 * The release name: `environments.<env>.releaseName`, else the chart's name (what
 * `helm install web ./charts/web` users name their releases: Chart.yaml's `name`, or the last
 * segment of a chart URL), else the environment's name.
 */
export function releaseName(
  environment: Pick<EnvironmentConfig, 'name' | 'chart' | 'releaseName'>,
  chartDir: string,
): string {
  if (environment.releaseName) return environment.releaseName;
  // `oci://ghcr.io/stefanprodan/charts/podinfo`: the chart is the last segment.
  if (environment.chart && /^[a-z][a-z0-9+.-]*:\/\//i.test(environment.chart))
    return (
      environment.chart
        .replace(/\/+$/, '')
        .split('/')
        .at(-1)!
        .replace(/[:@].*$/, '') || environment.name
    );
  const file = join(chartDir, 'Chart.yaml');
  if (existsSync(file)) {
    try {
      const chart = parse(readFileSync(file, 'utf8')) as { name?: unknown } | null;
      if (typeof chart?.name === 'string' && chart.name) return chart.name;
    } catch {
      // helm template reports a broken Chart.yaml itself.
    }
  }
  return environment.name;
}

/**
 * `helm template` as `helm install` would render against this cluster: `--kube-version` from the
 * server (so `.Capabilities.KubeVersion` is the cluster's), the chart's `crds/` included
 * (applied first, like `helm install` does), test hooks skipped (`--skip-tests`: their random
 * names made every render differ), values files in their order. Other hooks are rendered and then
 * left out: gitops applies the release's objects, it does not run Helm's hook lifecycle (a hook
 * Job applied as a plain object would run once and then refuse every change), and says so.
 */
export async function renderHelm(
  ctx: Context,
  environment: EnvironmentConfig,
  checkout: { dir: string; envDir: string },
  envPath: string,
  kubectl: Kubectl,
  namespace: string,
  helm: string,
): Promise<DesiredObject[]> {
  const chart = join(checkout.envDir, environment.chart!);
  const chartPath = posix.normalize(posix.join(envPath, environment.chart!));
  const values = environment.helmValues.flatMap((file) => ['--values', join(checkout.envDir, file)]);
  const kubeVersion = await kubectl.serverVersion();
  const args = [
    'template',
    releaseName(environment, chart),
    chart,
    '--namespace',
    namespace,
    '--skip-tests',
    '--include-crds',
    ...(kubeVersion ? ['--kube-version', kubeVersion] : []),
    ...values,
  ];
  let stdout: string;
  try {
    stdout = (await ctx.exec.run(helm, args, { cwd: checkout.dir, timeoutMs: 120_000, read: true })).stdout;
  } catch (error) {
    if (error instanceof GitopsError && error.code === 'COMMAND_NOT_FOUND') {
      throw usageError(
        'HELM_MISSING',
        `environment ${environment.name} is a Helm chart, but helm is not installed`,
        {
          hint: 'install helm 3 (https://helm.sh/docs/intro/install/) and put it on PATH, or set helm.path',
        },
      );
    }
    if (error instanceof ExecError) {
      throw usageError(
        'HELM_FAILED',
        `helm template failed for ${environment.path}: ${error.stderrTail.split('\n').at(-1)}`,
        { cause: error },
      );
    }
    throw error;
  }
  const objects: DesiredObject[] = [];
  const hooks: string[] = [];
  for (const { object, comment } of parseDocuments(stdout, '(helm template output)')) {
    const hook = object.metadata.annotations?.[HELM_HOOK_ANNOTATION];
    if (hook !== undefined) {
      hooks.push(`${object.kind}/${object.metadata.name} (${hook})`);
      continue;
    }
    // `# Source: <chart>/templates/x.yaml`: the chart's own directory name comes first.
    const source = comment && /Source:\s*(\S+)/.exec(comment)?.[1];
    const file = source ? posix.join(chartPath, source.split('/').slice(1).join('/')) : undefined;
    objects.push({ object, ...(file ? { source: { file, line: 1 } } : {}) });
  }
  if (hooks.length > 0) {
    const seen = reported.get(ctx) ?? new Set<string>();
    reported.set(ctx, seen);
    if (!seen.has(environment.name)) {
      seen.add(environment.name);
      ctx.reporter.warn(
        `${environment.name}: the chart's Helm hooks are not applied (gitops applies the release's objects, not hooks): ${hooks.join(', ')}`,
      );
    }
  }
  return objects;
}
