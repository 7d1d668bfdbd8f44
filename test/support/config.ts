import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readConfig } from '../../src/config/load.js';
import type { EnvironmentConfig, GitopsConfig } from '../../src/config/types.js';

/**
 * A validated config built through the real loader (so every default comes from the schema),
 * with `dir` set to `dir`. `envRepo` is YAML for the envRepo map; `environments` maps names to
 * YAML lines of each environment (path first).
 */
export function testConfig(
  dir: string,
  envRepoUrl: string,
  environments: Record<string, string> = {},
  envRepoExtra = '',
): GitopsConfig {
  const scratch = mkdtempSync(join(tmpdir(), 'gitops-config-'));
  try {
    const envs = Object.entries(environments)
      .map(([name, body]) => `  ${name}:\n${body.replace(/^/gm, '    ')}\n`)
      .join('');
    const file = join(scratch, 'gitops.yaml');
    writeFileSync(
      file,
      `version: 1\nenvRepo:\n  url: ${JSON.stringify(envRepoUrl)}\n  branch: main\n${envRepoExtra.replace(/^/gm, '  ')}\nenvironments:\n${envs || '  placeholder:\n    path: envs/placeholder\n'}`,
    );
    const config = readConfig(file, {});
    return { ...config, file: join(dir, 'gitops.yaml'), dir };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** One environment with every default, at `path`. */
export function testEnvironment(path: string, name = 'staging'): EnvironmentConfig {
  const config = testConfig('/', 'unused', { [name]: `path: ${path}` });
  return config.environments[name]!;
}
