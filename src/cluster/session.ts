import type { Context } from '../cli/context.js';
import { derivedEnvironmentId, normaliseRepoUrl } from '../config/identity.js';
import { findConfigFile, getEnvironment, readConfig } from '../config/load.js';
import type { EnvironmentConfig, GitopsConfig } from '../config/types.js';
import { type EnvCheckout, openEnvRepo } from '../git/checkout.js';
import { materializeRevision, resolveRevision } from '../git/revision.js';
import { Kubectl } from './kubectl.js';
import type { DesiredObject } from './objects.js';
import { renderEnvironment } from './render.js';

/** Everything a cluster-facing command needs for one environment. */
export interface EnvironmentSession {
  config: GitopsConfig;
  environment: EnvironmentConfig;
  kubectl: Kubectl;
  /** Namespace for objects that name none: the environment's, else the kube context's, else `default`. */
  namespace: string;
}

export async function openSession(ctx: Context, envName: string): Promise<EnvironmentSession> {
  const config = readConfig(findConfigFile(ctx.cwd, ctx.configPath), ctx.env);
  const environment = getEnvironment(config, envName);
  await resolveSameRepoIdentities(ctx, config);
  const kubectl = new Kubectl(ctx, config, environment);
  let namespace = environment.namespace;
  if (!namespace) {
    // Reads the kubeconfig only; no request reaches the cluster.
    const result = await kubectl.run(['config', 'view', '--minify', '-o', 'jsonpath={..namespace}'], {
      allowFailure: true,
    });
    namespace = result.exitCode === 0 && result.stdout.trim() ? result.stdout.trim() : 'default';
  }
  return { config, environment, kubectl, namespace };
}

/**
 * With `envRepo.sameRepo` the env repo is the app repo, known by its origin URL: environments
 * without an explicit id get theirs from it (a read of the local git config, no network).
 */
async function resolveSameRepoIdentities(ctx: Context, config: GitopsConfig): Promise<void> {
  const pending = Object.values(config.environments).filter((environment) => !environment.id);
  if (pending.length === 0) return;
  const origin = await ctx.exec.run('git', ['remote', 'get-url', 'origin'], {
    cwd: config.dir,
    allowFailure: true,
  });
  const repo = normaliseRepoUrl(
    origin.exitCode === 0 && origin.stdout.trim() ? origin.stdout.trim() : config.dir,
    config.dir,
  );
  for (const environment of pending) environment.id = derivedEnvironmentId(repo, environment);
}

export interface DesiredState {
  /** Env-repo commit the objects were rendered from. */
  revision: string;
  objects: DesiredObject[];
  checkout: EnvCheckout;
}

/**
 * The desired objects of an environment: at `revision` when given, else at the checkout's HEAD
 * (the env branch head of a fresh clone, or the working copy of --env-repo-dir).
 */
export async function desiredState(
  ctx: Context,
  session: EnvironmentSession,
  options: { envRepoDir?: string; revision?: string; checkout?: EnvCheckout },
): Promise<DesiredState> {
  const checkout =
    options.checkout ??
    (await openEnvRepo(
      ctx,
      session.config,
      session.environment,
      options.envRepoDir ? { envRepoDir: options.envRepoDir } : {},
    ));
  if (options.revision) {
    const sha = await resolveRevision(ctx, checkout, options.revision);
    const tree = await materializeRevision(ctx, checkout, sha);
    const objects = await renderEnvironment(
      ctx,
      session.environment,
      tree,
      session.kubectl,
      session.namespace,
    );
    return { revision: sha, objects, checkout };
  }
  const revision = await checkout.git.output(['rev-parse', 'HEAD']);
  const objects = await renderEnvironment(
    ctx,
    session.environment,
    checkout,
    session.kubectl,
    session.namespace,
  );
  return { revision, objects, checkout };
}
