import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Context } from '../core/context.js';
import { GitopsError, isGitopsError, usageError } from '../core/errors.js';
import type { ExecResult } from '../core/exec.js';

export type EngineName = 'docker' | 'podman' | 'buildah';

/**
 * The order `build.engine: auto` tries engines in. Docker comes first because where a working
 * daemon exists it is what the team uses locally; a docker client without a reachable daemon
 * (common on CI images) is skipped, not chosen.
 */
export const ENGINE_ORDER: readonly EngineName[] = ['docker', 'podman', 'buildah'];

/**
 * Oldest versions gitops drives. podman 3 / buildah 1.20: `--timestamp` (reproducible digests)
 * and `push --digestfile`. Docker 20.10: BuildKit by default, `SOURCE_DATE_EPOCH`-aware buildx.
 */
export const MIN_ENGINE_VERSIONS: Record<EngineName, string> = {
  docker: '20.10.0',
  podman: '3.0.0',
  buildah: '1.20.0',
};

const INSTALL_HINT =
  'install one: podman (Debian/Ubuntu: `apt-get install podman`, https://podman.io/docs/installation), ' +
  'Docker (https://docs.docker.com/engine/install/) or buildah; or set build.engine in gitops.yaml';

/** A build engine found on this machine, with its version already checked. */
export interface Engine {
  name: EngineName;
  version: string;
  /** docker only: `docker buildx` is available (BuildKit, multi-platform, `--metadata-file`). */
  buildx: boolean;
}

/** How long probing one engine may take: a docker client waiting for a remote daemon must not stall a build. */
const PROBE_TIMEOUT_MS = 20_000;

/**
 * Finds the engine to build with: the configured one, or the first working one in ENGINE_ORDER.
 * The version is checked here, before anything is built. No usable engine is a usage error
 * (exit 2) naming every engine looked for and why each was not used.
 */
export async function detectEngine(ctx: Context, wanted: 'auto' | EngineName, cwd: string): Promise<Engine> {
  const candidates = wanted === 'auto' ? ENGINE_ORDER : [wanted];
  const problems: string[] = [];
  for (const name of candidates) {
    const probed = await probe(ctx, name, cwd);
    if ('engine' in probed) {
      if (compareVersions(probed.engine.version, MIN_ENGINE_VERSIONS[name]) < 0) {
        throw usageError(
          'ENGINE_TOO_OLD',
          `${name} ${probed.engine.version} is older than ${MIN_ENGINE_VERSIONS[name]}, the oldest gitops builds with`,
          { hint: `upgrade ${name}, or choose another engine with build.engine in gitops.yaml` },
        );
      }
      return probed.engine;
    }
    problems.push(`${name} (${probed.problem})`);
  }
  const looked = candidates.join(', ');
  throw usageError(
    'ENGINE_NOT_FOUND',
    wanted === 'auto'
      ? `no container engine to build with; looked for ${looked}: ${problems.join('; ')}`
      : `build.engine is ${wanted}, but it cannot be used: ${problems.join('; ')}`,
    { hint: INSTALL_HINT, details: { looked: [...candidates], problems } },
  );
}

async function probe(
  ctx: Context,
  name: EngineName,
  cwd: string,
): Promise<{ engine: Engine } | { problem: string }> {
  const run = (args: string[]) =>
    ctx.exec.run(name, args, { cwd, allowFailure: true, timeoutMs: PROBE_TIMEOUT_MS, read: true });
  let result: ExecResult;
  try {
    if (name === 'docker') {
      // The server version: a client alone cannot build anything.
      result = await run(['version', '--format', '{{.Server.Version}}']);
    } else if (name === 'podman') {
      result = await run(['version', '--format', '{{.Client.Version}}']);
    } else {
      result = await run(['--version']);
    }
  } catch (error) {
    if (isGitopsError(error) && error.code === 'COMMAND_NOT_FOUND') return { problem: 'not found on PATH' };
    if (isGitopsError(error) && error.code === 'EXEC_TIMEOUT') return { problem: 'did not answer in time' };
    throw error;
  }
  if (result.exitCode !== 0) {
    const why = firstLine(result.stderr) || `exit code ${result.exitCode}`;
    return { problem: name === 'docker' ? `daemon not reachable: ${why}` : why };
  }
  const version = /(\d+\.\d+(?:\.\d+)?)/.exec(result.stdout)?.[1];
  if (!version) return { problem: `cannot read its version from "${firstLine(result.stdout)}"` };
  let buildx = false;
  if (name === 'docker') {
    const plugin = await run(['buildx', 'version']).catch(() => undefined);
    buildx = plugin?.exitCode === 0;
  }
  return { engine: { name, version, buildx } };
}

function firstLine(text: string): string {
  return (
    text
      .split('\n')
      .map((line) => line.trim())
      .find(Boolean) ?? ''
  );
}

/** Compares dotted numeric versions (`4.3.1` vs `3.0`); missing parts count as 0. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map((part) => Number.parseInt(part, 10) || 0);
  const pb = b.split('.').map((part) => Number.parseInt(part, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const diff = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (diff !== 0) return diff;
  }
  return 0;
}

export interface BuildArg {
  name: string;
  value: string;
  /** Secret values never reach a command line: the engine reads them from its environment. */
  secret: boolean;
}

/** One image build as the engine sees it: paths absolute, references complete. */
export interface EngineBuild {
  contextDir: string;
  dockerfile?: string;
  target?: string;
  platforms: string[];
  buildArgs: BuildArg[];
  labels: Record<string, string>;
  /** `repo:tag` for every tag; the first is the primary one whose digest is reported. */
  references: string[];
  /** Plain HTTP, no TLS verification (loopback registries only, see isLoopbackRegistry). */
  insecure: boolean;
  /** Auth file with `--registry-username` credentials (podman/buildah). */
  authFile?: string;
  /** DOCKER_CONFIG with those credentials (docker). */
  dockerConfig?: string;
  /** A private directory for digest and metadata files. */
  workDir: string;
}

/** Timeout for one build or push: builds of real apps take minutes, not hours. */
const BUILD_TIMEOUT_MS = 60 * 60 * 1000;

/** The `sha256:…` digest in a file written by the engine, if the file exists and holds one. */
async function digestFromFile(file: string): Promise<string | undefined> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return /sha256:[a-f0-9]{64}/.exec(text)?.[0];
}

/** The image ID `--iidfile` wrote (`sha256:…` or bare hex), as the bare hex ID push accepts. */
async function imageIdFromFile(file: string): Promise<string> {
  const text = await readFile(file, 'utf8').catch(() => '');
  const id = /^(?:sha256:)?([a-f0-9]{64})\s*$/.exec(text)?.[1];
  if (!id) {
    throw new GitopsError('BUILD_FAILED', `the image build finished but wrote no image ID to ${file}`, {
      hint: 'run the build again with --verbose to see the engine output',
    });
  }
  return id;
}

/**
 * Builds an image and pushes every reference. Returns the registry digest of the primary
 * reference when the engine reports it (digest file, metadata file, push output or inspect);
 * undefined when it does not (the caller then asks the registry), or under `--dry-run`.
 * Failures throw ExecError with the tail of the engine's output.
 */
export async function buildAndPush(
  ctx: Context,
  engine: Engine,
  build: EngineBuild,
  push: boolean,
  log: (line: string) => void,
): Promise<{ digest?: string; skipped: boolean }> {
  if (engine.name === 'docker') return dockerBuild(ctx, engine, build, push, log);
  return podmanBuild(ctx, engine, build, push, log);
}

function commonBuildArgs(build: EngineBuild): { args: string[]; env: Record<string, string> } {
  const args: string[] = [];
  const env: Record<string, string> = {};
  if (build.dockerfile) args.push('--file', build.dockerfile);
  if (build.target) args.push('--target', build.target);
  for (const arg of build.buildArgs) {
    if (arg.secret) {
      // `--build-arg NAME` without a value makes the engine take it from its environment,
      // so the secret is in neither argv (visible in `ps`) nor any echoed command line.
      args.push('--build-arg', arg.name);
      env[arg.name] = arg.value;
    } else {
      args.push('--build-arg', `${arg.name}=${arg.value}`);
    }
  }
  for (const [key, value] of Object.entries(build.labels)) args.push('--label', `${key}=${value}`);
  return { args, env };
}

/** podman and buildah share their build and push flags (podman builds with buildah's code). */
async function podmanBuild(
  ctx: Context,
  engine: Engine,
  build: EngineBuild,
  push: boolean,
  log: (line: string) => void,
): Promise<{ digest?: string; skipped: boolean }> {
  const bin = engine.name;
  const [primary] = build.references as [string, ...string[]];
  const common = commonBuildArgs(build);
  const multi = build.platforms.length > 1;
  const auth = build.authFile ? ['--authfile', build.authFile] : [];
  const tls = build.insecure ? ['--tls-verify=false'] : [];
  // Reproducible digests: --timestamp 0 fixes file times and the image's created time (the
  // created label carries the commit time instead). --layers=false because with the layer cache
  // podman 4.3 writes intermediate image IDs into the history ("FROM 8e6a99af4191", or a
  // sibling build's "…-tmp:latest" when images build concurrently), so identical inputs gave
  // different digests depending on what the cache held. Measured; the cost is no layer reuse.
  const args = [
    bin === 'buildah' ? 'bud' : 'build',
    '--timestamp',
    '0',
    '--layers=false',
    ...common.args,
    ...auth,
    ...tls,
  ];
  if (build.platforms.length > 0) args.push('--platform', build.platforms.join(','));
  if (multi) args.push('--manifest', primary);
  else for (const reference of build.references) args.push('--tag', reference);
  const imageIdFile = join(build.workDir, 'image-id');
  if (!multi) args.push('--iidfile', imageIdFile);
  args.push(build.contextDir);

  log(`building with ${bin} ${engine.version}`);
  const built = await ctx.exec.run(bin, args, {
    cwd: build.contextDir,
    env: common.env,
    timeoutMs: BUILD_TIMEOUT_MS,
  });
  if (built.skipped || !push) return { skipped: built.skipped };

  // Each reference is pushed from the image ID the build wrote, not from its local name: podman
  // 4.x can drop a name another build in the same storage rewrote at the same moment (its tags
  // live in one shared file), and `push <name>` then fails with "image not known" although the
  // image is there. The ID cannot be lost that way.
  const source = multi ? primary : await imageIdFromFile(imageIdFile);
  const digestFile = join(build.workDir, 'digest');
  for (const [index, reference] of build.references.entries()) {
    log(`pushing ${reference}`);
    const file = index === 0 ? ['--digestfile', digestFile] : [];
    const pushArgs = multi
      ? ['manifest', 'push', '--all', ...file, ...auth, ...tls, source, `docker://${reference}`]
      : ['push', ...file, ...auth, ...tls, source, `docker://${reference}`];
    await ctx.exec.run(bin, pushArgs, { cwd: build.contextDir, timeoutMs: BUILD_TIMEOUT_MS });
  }
  const digest = await digestFromFile(digestFile);
  return { ...(digest ? { digest } : {}), skipped: false };
}

async function dockerBuild(
  ctx: Context,
  engine: Engine,
  build: EngineBuild,
  push: boolean,
  log: (line: string) => void,
): Promise<{ digest?: string; skipped: boolean }> {
  const [primary] = build.references as [string, ...string[]];
  const common = commonBuildArgs(build);
  const env: Record<string, string> = {
    ...common.env,
    ...(build.dockerConfig ? { DOCKER_CONFIG: build.dockerConfig } : {}),
  };
  const tags = build.references.flatMap((reference) => ['--tag', reference]);
  const options = { cwd: build.contextDir, env, timeoutMs: BUILD_TIMEOUT_MS };

  if (engine.buildx) {
    // BuildKit reads SOURCE_DATE_EPOCH for the image's created time (reproducible builds).
    const metadataFile = join(build.workDir, 'metadata.json');
    const args = ['buildx', 'build', ...common.args, '--build-arg', 'SOURCE_DATE_EPOCH=0', ...tags];
    if (build.platforms.length > 0) args.push('--platform', build.platforms.join(','));
    args.push(push ? '--push' : '--load', '--metadata-file', metadataFile, build.contextDir);
    log(`building with docker ${engine.version} (buildx)`);
    const built = await ctx.exec.run('docker', args, options);
    if (built.skipped || !push) return { skipped: built.skipped };
    const metadata = await readFile(metadataFile, 'utf8').catch(() => '{}');
    const digest = (JSON.parse(metadata) as Record<string, unknown>)['containerimage.digest'];
    return { ...(typeof digest === 'string' ? { digest } : {}), skipped: false };
  }

  if (build.platforms.length > 1) {
    throw usageError(
      'ENGINE_NO_MULTI_PLATFORM',
      `building for ${build.platforms.join(', ')} needs docker buildx, which is not installed`,
      { hint: 'install the buildx plugin, use podman or buildah, or list one platform' },
    );
  }
  const args = ['build', ...common.args, ...tags];
  if (build.platforms.length === 1) args.push('--platform', build.platforms[0]!);
  args.push(build.contextDir);
  log(`building with docker ${engine.version} (classic builder)`);
  const built = await ctx.exec.run('docker', args, options);
  if (built.skipped || !push) return { skipped: built.skipped };

  let digest: string | undefined;
  for (const reference of build.references) {
    log(`pushing ${reference}`);
    const pushed = await ctx.exec.run('docker', ['push', reference], options);
    // "v1: digest: sha256:… size: 528" is the last line of a classic push.
    if (reference === primary) digest = /digest: (sha256:[a-f0-9]{64})/.exec(pushed.stdout)?.[1];
  }
  if (!digest) {
    const inspected = await ctx.exec.run(
      'docker',
      ['image', 'inspect', '--format', '{{json .RepoDigests}}', primary],
      { ...options, read: true, allowFailure: true },
    );
    const repository = primary.slice(0, primary.lastIndexOf(':'));
    const repoDigests = inspected.exitCode === 0 ? (JSON.parse(inspected.stdout) as string[]) : [];
    digest = repoDigests.find((entry) => entry.startsWith(`${repository}@`))?.split('@')[1];
  }
  return { ...(digest ? { digest } : {}), skipped: false };
}
