import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { closest } from '../config/suggest.js';
import type { GitopsConfig, ImageConfig } from '../config/types.js';
import type { Context } from '../core/context.js';
import { GitopsError, usageError } from '../core/errors.js';
import { ExecError } from '../core/exec.js';
import { ExitCode } from '../core/exit-codes.js';
import { looksSecretName } from '../core/mask.js';
import { type BuildArg, buildAndPush, detectEngine, type Engine } from './engine.js';
import { isLoopbackRegistry, registryHost, repositoryProblem, sanitizeTag } from './reference.js';
import { inspectRemote, loginRegistries, type RegistryAuth, retag } from './registry.js';
import { isDirty, readSourceFacts, type SourceFacts } from './source.js';

/** OCI annotation keys (https://github.com/opencontainers/image-spec/blob/main/annotations.md). */
export const LABEL_REVISION = 'org.opencontainers.image.revision';
export const LABEL_SOURCE = 'org.opencontainers.image.source';
export const LABEL_CREATED = 'org.opencontainers.image.created';
/**
 * Hash of everything besides the commit that shapes the image (Containerfile path, target,
 * platforms, build-arg values, extra labels; secret build args by name only, so no hash of a
 * secret is ever published). A tag is reused only when revision and inputs both match.
 */
export const LABEL_INPUTS = 'dev.gitops.build-inputs';

export interface BuildOptions {
  /** Names of the images to build (`images[].name`); all configured images when absent or empty. */
  images?: string[];
  /** Build even when the registry already has the tag built from this commit. */
  rebuild: boolean;
  /** `--build-arg` values; they override the config's `buildArgs` of the same name. */
  buildArgs: Record<string, string>;
  /** Push to the registry. Without it the images are only built locally: no digest, no reuse. */
  push: boolean;
  /** Credentials to log into the images' registries with, on top of what the engine is logged into. */
  registryAuth?: { username: string; password: string };
}

/** One image after `buildImages`: what the deploy writes into the environment repo. */
export interface BuiltImage {
  /** `images[].name` from the config. */
  name: string;
  repository: string;
  /** The primary tag: the short commit sha (`<sha>-dirty` for a work tree with changes). */
  tag: string;
  /** Every tag pushed, the primary one first. */
  tags: string[];
  /** Manifest digest the registry confirmed for `tag`; absent without push and under --dry-run. */
  digest?: string;
  /** `repo:tag@sha256:…` (build.pin: digest, when the digest is known) or `repo:tag`. */
  reference: string;
  /** `reused`: the registry already had this tag from the same commit and inputs; nothing was built. */
  status: 'built' | 'reused' | 'dry-run';
  /** The build context had uncommitted changes: never reused, tagged `-dirty`. */
  dirty: boolean;
  durationMs: number;
}

/** The engine used and the commit built, for reports next to the images. */
export interface BuildRun {
  engine: Engine;
  source: SourceFacts;
  images: BuiltImage[];
}

/**
 * Builds, pushes and pins the configured images: the first step of `gitops deploy`.
 *
 * - Engine: `build.engine`, or the first working one of docker, podman, buildah; version checked first.
 * - Tags: the short commit sha, plus `images[].tags` with `{sha}`, `{branch}`, `{tag}` (version
 *   tag at HEAD) substituted; a tag whose placeholder has no value is left out with a warning.
 * - Labels: OCI revision, source (remote URL without credentials), created (the commit time, so
 *   the same commit gives the same digest), the inputs hash, and `images[].labels`.
 * - Idempotence: when the registry's image under the primary tag carries this commit and these
 *   inputs, nothing is built ("reused") unless `rebuild`; its extra tags are pointed at it.
 * - Up to `build.concurrency` images at once; every failure is reported, then BUILD_FAILED (exit 3)
 *   with the tail of the engine's output.
 */
export async function buildImages(
  ctx: Context,
  config: GitopsConfig,
  options: BuildOptions,
): Promise<BuiltImage[]> {
  return (await runBuild(ctx, config, options)).images;
}

/**
 * `config.build` with its documented defaults. The loader currently leaves an absent `build:`
 * block as `{}` (nested defaults are not applied), so they are filled in here too.
 */
/** `buildImages`, also returning the engine and the source facts (for `gitops build --json`). */
export async function runBuild(ctx: Context, config: GitopsConfig, options: BuildOptions): Promise<BuildRun> {
  const images = selectImages(config, options.images);
  for (const image of images) registerSecrets(ctx, image, options.buildArgs);
  if (options.registryAuth) ctx.masker.add(options.registryAuth.password);

  const settings = config.build;
  const engine = await detectEngine(ctx, settings.engine, config.dir);
  const source = await readSourceFacts(ctx, config.dir);

  const workDir = await mkdtemp(join(ctx.env.TMPDIR || tmpdir(), 'gitops-build-'));
  ctx.cleanup.add(() => rm(workDir, { recursive: true, force: true }));

  let auth: RegistryAuth = {};
  if (options.registryAuth && options.push) {
    const hosts = [...new Set(images.map((image) => registryHost(image.repository)))];
    auth = await loginRegistries(ctx, engine, hosts, options.registryAuth, workDir);
  }

  const title = `build ${images.length === 1 ? images[0]!.name : `${images.length} images`} at ${source.shortSha}`;
  const built = await ctx.reporter.step(title, async (step) => {
    const outcomes = await mapBounded(images, settings.concurrency, (image, index) =>
      buildOne(ctx, config, image, {
        pin: settings.pin,
        engine,
        source,
        auth,
        options,
        workDir: join(workDir, String(index)),
        log: (line) => step.log(`[${image.name}] ${line}`),
      }),
    );
    const failures = outcomes.flatMap((outcome) => (outcome.ok ? [] : [outcome.error]));
    if (failures.length > 0) throw combineFailures(failures, outcomes);
    const results = outcomes.flatMap((outcome) => (outcome.ok ? [outcome.value] : []));
    const counts = (['built', 'reused', 'dry-run'] as const)
      .map((status) => [status, results.filter((image) => image.status === status).length] as const)
      .filter(([, count]) => count > 0)
      .map(([status, count]) => `${count} ${status}`);
    step.detail(counts.join(', '));
    return results;
  });
  return { engine, source, images: built };
}

function selectImages(config: GitopsConfig, names: string[] | undefined): ImageConfig[] {
  if (config.images.length === 0) {
    throw usageError('NO_IMAGES', `${config.file} lists no images to build`, {
      hint: 'add an entry under `images:` (name, repository, context)',
      location: { file: config.file },
    });
  }
  if (!names || names.length === 0) return config.images;
  const known = config.images.map((image) => image.name);
  return names.map((name) => {
    const image = config.images.find((candidate) => candidate.name === name);
    if (image) return image;
    const suggestion = closest(name, known);
    throw usageError('IMAGE_UNKNOWN', `no image named "${name}" in ${config.file}`, {
      hint: suggestion
        ? `did you mean "${suggestion}"? (images: ${known.join(', ')})`
        : `images: ${known.join(', ')}`,
    });
  });
}

function isSecretArg(image: ImageConfig, name: string): boolean {
  return image.secretBuildArgs.includes(name) || looksSecretName(name);
}

/** Secret build-arg values are masked before anything is printed, config and CLI alike. */
function registerSecrets(ctx: Context, image: ImageConfig, cliArgs: Record<string, string>): void {
  for (const [name, value] of Object.entries({ ...image.buildArgs, ...cliArgs })) {
    if (isSecretArg(image, name)) ctx.masker.add(value);
  }
}

interface BuildOneSettings {
  pin: 'digest' | 'tag';
  engine: Engine;
  source: SourceFacts;
  auth: RegistryAuth;
  options: BuildOptions;
  workDir: string;
  log: (line: string) => void;
}

async function buildOne(
  ctx: Context,
  config: GitopsConfig,
  image: ImageConfig,
  settings: BuildOneSettings,
): Promise<BuiltImage> {
  const { engine, source, auth, options, log } = settings;
  const started = performance.now();
  const problem = repositoryProblem(image.repository);
  if (problem) {
    throw usageError(
      'IMAGE_REPOSITORY_INVALID',
      `image ${image.name}: repository "${image.repository}" ${problem}`,
      {
        location: { file: config.file },
      },
    );
  }
  const contextDir = resolve(config.dir, image.context);
  if (!existsSync(contextDir)) {
    throw usageError(
      'BUILD_CONTEXT_MISSING',
      `image ${image.name}: build context ${contextDir} does not exist`,
      {
        hint: 'images[].context is relative to the directory of gitops.yaml',
        location: { file: config.file },
      },
    );
  }
  const dockerfile = image.dockerfile ? resolve(config.dir, image.dockerfile) : undefined;
  if (dockerfile && !existsSync(dockerfile)) {
    throw usageError('BUILD_FILE_MISSING', `image ${image.name}: ${dockerfile} does not exist`, {
      hint: 'images[].dockerfile is relative to the directory of gitops.yaml',
      location: { file: config.file },
    });
  }

  const dirty = await isDirty(ctx, source, dockerfile ? [contextDir, dockerfile] : [contextDir]);
  if (dirty) {
    ctx.reporter.warn(
      `${image.name}: ${relative(source.root, contextDir) || '.'} has uncommitted changes; building as ${source.shortSha}-dirty, never reused, extra tags not pushed`,
    );
  }
  const tags = imageTags(ctx, image, source, dirty);
  const [tag] = tags as [string, ...string[]];
  const references = tags.map((each) => `${image.repository}:${each}`);
  const primary = references[0]!;
  const host = registryHost(image.repository);

  const buildArgs: BuildArg[] = Object.entries({ ...image.buildArgs, ...options.buildArgs }).map(
    ([name, value]) => ({ name, value, secret: isSecretArg(image, name) }),
  );
  const inputs = inputsHash(image, source, contextDir, dockerfile, buildArgs);
  const labels: Record<string, string> = {
    ...image.labels,
    [LABEL_REVISION]: dirty ? `${source.sha}-dirty` : source.sha,
    [LABEL_CREATED]: source.committedAt,
    ...(source.sourceUrl ? { [LABEL_SOURCE]: source.sourceUrl } : {}),
    [LABEL_INPUTS]: inputs,
  };

  const finish = (status: BuiltImage['status'], digest: string | undefined): BuiltImage => {
    const pinned = settings.pin === 'digest' && digest !== undefined;
    const result: BuiltImage = {
      name: image.name,
      repository: image.repository,
      tag,
      tags,
      ...(digest ? { digest } : {}),
      reference: pinned ? `${primary}@${digest}` : primary,
      status,
      dirty,
      durationMs: Math.round(performance.now() - started),
    };
    log(`${status} ${result.reference}`);
    return result;
  };

  const registryOptions = { host, auth, cwd: contextDir };
  if (options.push && !options.rebuild && !dirty) {
    const remote = await inspectRemote(ctx, primary, registryOptions);
    if (remote.kind === 'found') {
      const remoteLabels = remote.image.labels;
      if (remoteLabels[LABEL_REVISION] === source.sha && remoteLabels[LABEL_INPUTS] === inputs) {
        for (const reference of references.slice(1)) {
          log(`tagging ${reference}`);
          await retag(ctx, `${image.repository}@${remote.image.digest}`, reference, registryOptions);
        }
        return finish('reused', remote.image.digest);
      }
      log(`${primary} exists but was built from other sources; rebuilding`);
    } else if (remote.kind === 'unknown') {
      ctx.reporter.warn(
        `${image.name}: cannot ask the registry about ${primary} (${remote.reason}); building`,
      );
    }
  }

  await mkdir(settings.workDir, { recursive: true });
  let pushed: Awaited<ReturnType<typeof buildAndPush>>;
  try {
    pushed = await buildAndPush(
      ctx,
      engine,
      {
        contextDir,
        ...(dockerfile ? { dockerfile } : {}),
        ...(image.target ? { target: image.target } : {}),
        platforms: image.platforms,
        buildArgs,
        labels,
        references,
        insecure: isLoopbackRegistry(host),
        ...(auth.authFile ? { authFile: auth.authFile } : {}),
        ...(auth.dockerConfig ? { dockerConfig: auth.dockerConfig } : {}),
        workDir: settings.workDir,
      },
      options.push,
      log,
    );
  } catch (error) {
    if (error instanceof ExecError) throw engineFailure(image, engine, error);
    throw error;
  }
  if (pushed.skipped) return finish('dry-run', undefined);
  if (!options.push) return finish('built', undefined);

  let digest = pushed.digest;
  if (!digest) {
    // The engine did not say; the registry is the authority on what it stored.
    const remote = await inspectRemote(ctx, primary, registryOptions);
    if (remote.kind === 'found') digest = remote.image.digest;
  }
  if (!digest && settings.pin === 'digest') {
    throw new GitopsError(
      'DIGEST_UNKNOWN',
      `${primary} was pushed, but neither ${engine.name} nor the registry reported its digest`,
      {
        exitCode: ExitCode.OperationFailed,
        hint: 'install skopeo so gitops can ask the registry, or set build.pin: tag',
      },
    );
  }
  return finish('built', digest);
}

/** The primary tag first, then the configured extra tags (none for a dirty tree). */
function imageTags(ctx: Context, image: ImageConfig, source: SourceFacts, dirty: boolean): string[] {
  const primary = dirty ? `${source.shortSha}-dirty` : source.shortSha;
  if (dirty) return [primary];
  const values: Record<string, string | undefined> = {
    sha: source.shortSha,
    branch: source.branch,
    tag: source.gitTag,
  };
  const tags = [primary];
  for (const template of image.tags) {
    const missing = [...template.matchAll(/\{(\w+)\}/g)]
      .map((match) => match[1]!)
      .filter((key) => !values[key]);
    if (missing.length > 0) {
      ctx.reporter.warn(
        `${image.name}: tag "${template}" left out: no {${missing.join('}, {')}} for this checkout`,
      );
      continue;
    }
    const tag = sanitizeTag(template.replace(/\{(\w+)\}/g, (_, key: string) => values[key] ?? ''));
    if (!tag) {
      ctx.reporter.warn(`${image.name}: tag "${template}" left out: it is not a valid tag here`);
      continue;
    }
    if (!tags.includes(tag)) tags.push(tag);
  }
  return tags;
}

function inputsHash(
  image: ImageConfig,
  source: SourceFacts,
  contextDir: string,
  dockerfile: string | undefined,
  buildArgs: BuildArg[],
): string {
  const canonical = JSON.stringify({
    context: relative(source.root, contextDir),
    dockerfile: dockerfile ? relative(source.root, dockerfile) : null,
    target: image.target ?? null,
    platforms: [...image.platforms].sort(),
    args: buildArgs
      .map((arg) => (arg.secret ? [arg.name] : [arg.name, arg.value]))
      .sort((a, b) => (a[0]! < b[0]! ? -1 : 1)),
    labels: Object.entries(image.labels).sort(([a], [b]) => (a < b ? -1 : 1)),
  });
  return `sha256:${createHash('sha256').update(canonical).digest('hex')}`;
}

/** How many lines of the engine's output a failed build shows: the error and what led to it. */
const FAILURE_TAIL_LINES = 25;

function engineFailure(image: ImageConfig, engine: Engine, error: ExecError): GitopsError {
  const output = [...error.stdout.trimEnd().split('\n').slice(-10), ...error.stderrTail.split('\n')]
    .filter((line) => line.trim() !== '')
    .slice(-FAILURE_TAIL_LINES);
  const what = error.timedOut ? 'timed out' : `exited with code ${error.commandExitCode ?? '?'}`;
  return new GitopsError(
    'BUILD_FAILED',
    `image ${image.name}: ${engine.name} ${what}:\n${output.map((line) => `  ${line}`).join('\n')}`,
    {
      exitCode: ExitCode.OperationFailed,
      hint: 'run with --verbose to see the engine commands',
      cause: error,
      details: { image: image.name, command: error.command, exitCode: error.commandExitCode },
    },
  );
}

type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

/**
 * Runs `task` over `items` with at most `limit` running at once. Every item runs to its end even
 * when another fails: a half-finished push of a sibling is worse than waiting for it.
 */
export async function mapBounded<T, R>(
  items: readonly T[],
  limit: number,
  task: (item: T, index: number) => Promise<R>,
): Promise<Outcome<R>[]> {
  const outcomes: Outcome<R>[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      try {
        outcomes[index] = { ok: true, value: await task(items[index]!, index) };
      } catch (error) {
        outcomes[index] = { ok: false, error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return outcomes;
}

function combineFailures(failures: unknown[], outcomes: Outcome<BuiltImage>[]): unknown {
  const done = outcomes.flatMap((outcome) => (outcome.ok ? [outcome.value] : []));
  if (failures.length === 1 && done.length === 0) return failures[0];
  const messages = failures.map((error) => (error instanceof Error ? error.message : String(error)));
  const exitCode = failures.every(
    (error) => error instanceof GitopsError && error.exitCode === ExitCode.Usage,
  )
    ? ExitCode.Usage
    : ExitCode.OperationFailed;
  return new GitopsError(
    'BUILD_FAILED',
    `${failures.length} of ${outcomes.length} images failed:\n${messages.join('\n')}`,
    {
      exitCode,
      cause: failures[0],
      details: { completed: done },
    },
  );
}
