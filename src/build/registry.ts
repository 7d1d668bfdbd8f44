import { copyFile, mkdir, symlink } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Context } from '../core/context.js';
import { GitopsError, isGitopsError } from '../core/errors.js';
import { ExecError } from '../core/exec.js';
import { ExitCode } from '../core/exit-codes.js';
import type { Engine } from './engine.js';
import { isLoopbackRegistry } from './reference.js';

/** What the registry holds under a tag. */
export interface RemoteImage {
  digest: string;
  labels: Record<string, string>;
}

export type RemoteLookup =
  | { kind: 'found'; image: RemoteImage }
  | { kind: 'absent' }
  /** The registry could not be asked (no skopeo, network, auth); `reason` says why. */
  | { kind: 'unknown'; reason: string };

/** Where the engine's credentials live for this run: the engine defaults, or a private copy with a login added. */
export interface RegistryAuth {
  /** containers-auth.json(5) file for podman, buildah and skopeo. */
  authFile?: string;
  /** DOCKER_CONFIG directory for docker. */
  dockerConfig?: string;
}

function skopeoAuth(auth: RegistryAuth): string[] {
  if (auth.authFile) return ['--authfile', auth.authFile];
  if (auth.dockerConfig) return ['--authfile', join(auth.dockerConfig, 'config.json')];
  return [];
}

/**
 * Asks the registry what `reference` (repo:tag) is: its manifest digest and config labels.
 *
 * Uses `skopeo inspect`, not the registry HTTP API directly: skopeo already speaks every
 * registry's auth dance (anonymous tokens, basic, bearer realms), reads the same credential files
 * as podman and buildah (REGISTRY_AUTH_FILE, ${XDG_RUNTIME_DIR}/containers/auth.json,
 * ~/.docker/config.json), and resolves the config blob where the labels live, with no extra
 * config. skopeo 1.9 ignores registries.conf's `insecure`, so loopback registries get
 * `--tls-verify=false` explicitly (see isLoopbackRegistry).
 */
export async function inspectRemote(
  ctx: Context,
  reference: string,
  options: { host: string; auth: RegistryAuth; cwd: string },
): Promise<RemoteLookup> {
  const args = ['inspect', '--no-tags', ...skopeoAuth(options.auth)];
  if (isLoopbackRegistry(options.host)) args.push('--tls-verify=false');
  args.push(`docker://${reference}`);
  let result: Awaited<ReturnType<Context['exec']['run']>>;
  try {
    result = await ctx.exec.run('skopeo', args, {
      cwd: options.cwd,
      allowFailure: true,
      timeoutMs: 120_000,
      read: true,
    });
  } catch (error) {
    if (isGitopsError(error) && error.code === 'COMMAND_NOT_FOUND') {
      return { kind: 'unknown', reason: 'skopeo is not installed (it is how gitops asks the registry)' };
    }
    if (isGitopsError(error) && error.code === 'EXEC_TIMEOUT') {
      return { kind: 'unknown', reason: 'the registry did not answer in time' };
    }
    throw error;
  }
  if (result.exitCode !== 0) {
    // "manifest unknown": no such tag; "name unknown": no such repository yet.
    if (/manifest unknown|name unknown|not found/i.test(result.stderr)) return { kind: 'absent' };
    return { kind: 'unknown', reason: skopeoReason(result.stderr) };
  }
  try {
    const parsed = JSON.parse(result.stdout) as { Digest?: string; Labels?: Record<string, string> | null };
    if (!parsed.Digest) return { kind: 'unknown', reason: 'skopeo printed no digest' };
    return { kind: 'found', image: { digest: parsed.Digest, labels: parsed.Labels ?? {} } };
  } catch {
    return { kind: 'unknown', reason: 'skopeo printed something that is not JSON' };
  }
}

/** skopeo's fatal line is `time=… level=fatal msg="…"`: keep the message. */
function skopeoReason(stderr: string): string {
  const message = /msg="((?:[^"\\]|\\.)*)"/.exec(stderr)?.[1];
  return (message ?? stderr.trim().split('\n').at(-1) ?? 'skopeo failed').replace(/\\"/g, '"');
}

/**
 * Points `to` (repo:tag) at the manifest `from` (repo@sha256:…) already in the registry, without
 * pulling or rebuilding: used for the extra tags of a reused image. `--preserve-digests` makes a
 * format conversion an error instead of a silently different digest.
 */
export async function retag(
  ctx: Context,
  from: string,
  to: string,
  options: { host: string; auth: RegistryAuth; cwd: string },
): Promise<void> {
  const args = ['copy', '--all', '--preserve-digests', ...skopeoAuth(options.auth)];
  if (isLoopbackRegistry(options.host)) args.push('--src-tls-verify=false', '--dest-tls-verify=false');
  args.push(`docker://${from}`, `docker://${to}`);
  await ctx.exec.run('skopeo', args, { cwd: options.cwd, timeoutMs: 10 * 60_000 });
}

/**
 * Logs into `hosts` with the given credentials, in a private copy of the engine's credential
 * store under `workDir` (so the user's own login state is neither changed nor lost). The
 * password goes over stdin only and is registered with the masker before anything runs.
 */
export async function loginRegistries(
  ctx: Context,
  engine: Engine,
  hosts: string[],
  credentials: { username: string; password: string },
  workDir: string,
): Promise<RegistryAuth> {
  ctx.masker.add(credentials.password);
  const auth: RegistryAuth = {};
  const env: Record<string, string> = {};
  if (engine.name === 'docker') {
    const source = ctx.env.DOCKER_CONFIG || join(ctx.env.HOME || homedir(), '.docker');
    const target = join(workDir, 'docker-config');
    await mkdir(target, { recursive: true, mode: 0o700 });
    await copyFile(join(source, 'config.json'), join(target, 'config.json')).catch(() => undefined);
    // Plugins (buildx) and builder instances are found through DOCKER_CONFIG too.
    for (const entry of ['cli-plugins', 'buildx']) {
      await symlink(join(source, entry), join(target, entry)).catch(() => undefined);
    }
    auth.dockerConfig = target;
    env.DOCKER_CONFIG = target;
  } else {
    const file = join(workDir, 'auth.json');
    const existing =
      ctx.env.REGISTRY_AUTH_FILE ||
      (ctx.env.XDG_RUNTIME_DIR ? join(ctx.env.XDG_RUNTIME_DIR, 'containers', 'auth.json') : undefined);
    if (existing) await copyFile(existing, file).catch(() => undefined);
    auth.authFile = file;
  }
  for (const host of hosts) {
    const args = ['login', '--username', credentials.username, '--password-stdin'];
    if (auth.authFile) args.push('--authfile', auth.authFile);
    if (engine.name !== 'docker' && isLoopbackRegistry(host)) args.push('--tls-verify=false');
    args.push(host);
    try {
      await ctx.exec.run(engine.name, args, {
        cwd: workDir,
        env,
        input: credentials.password,
        timeoutMs: 60_000,
        // The credentials go to gitops' own auth file in its temp dir: a dry run may ask the registry.
        read: true,
      });
    } catch (error) {
      const why = error instanceof ExecError ? error.stderrTail : error instanceof Error ? error.message : '';
      throw new GitopsError(
        'REGISTRY_LOGIN_FAILED',
        `logging into ${host} as ${credentials.username} failed: ${why}`,
        {
          exitCode: ExitCode.OperationFailed,
          hint: 'check --registry-username and the password given on stdin',
          cause: error,
          details: { host },
        },
      );
    }
  }
  return auth;
}
