import type { ConfigNeeds } from '../config/load.js';
import type { GitopsConfig } from '../config/types.js';
import type { CliContext } from './context.js';

/**
 * Reads gitops.yaml and looks up the named environments, for a command to call before it loads
 * its operation. Operations read the config again as their first step (a few milliseconds); doing
 * it here first means a missing or invalid config, or a mistyped --env, is reported before git,
 * kubectl and the drift engine (a few hundred modules) are loaded. Call it only where the
 * operation's first step is that read, so that the error reported is the same either way.
 */
export async function checkConfig(
  ctx: CliContext,
  environments: readonly string[] = [],
  needs: ConfigNeeds = 'all',
): Promise<GitopsConfig> {
  const { findConfigFile } = await import('../config/find.js');
  const file = findConfigFile(ctx.cwd, ctx.configPath);
  // The YAML parser is loaded only once there is a file for it.
  const { getEnvironment, readConfig } = await import('../config/load.js');
  const config = readConfig(file, ctx.env, needs);
  for (const name of environments) getEnvironment(config, name);
  return config;
}

/**
 * Loads a command's operation (and what else `load` imports) together with the renderers of the
 * views operations show (reporter.show), which the reporter does not load by itself.
 */
export async function loadOperation<M>(ctx: CliContext, load: () => Promise<M>): Promise<M> {
  const [loaded] = await Promise.all([load(), ctx.reporter.loadViews()]);
  return loaded;
}
