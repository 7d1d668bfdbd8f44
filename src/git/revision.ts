import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Context } from '../core/context.js';
import { usageError } from '../core/errors.js';
import { validateRevisionArgument } from '../core/git-refs.js';
import { type RenderInputs, type RenderSource, renderInputs } from '../manifests/inputs.js';
import type { EnvCheckout } from './checkout.js';
import { filesAt } from './tree.js';

/** A read-only tree of one environment at one revision. */
export interface RevisionTree {
  sha: string;
  dir: string;
  envDir: string;
  /** What was written: the environment's render inputs at `sha`. */
  inputs: RenderInputs;
}

/** History depths tried, in order, before fetching all of it (commits and trees only: blobs stay lazy). */
const DEEPEN_STEPS = [50, 500];

/**
 * Fetches more history of a shallow clone until `found()` holds: shallow CI clones are the normal
 * case, and commands that look back (rollback, history, short shas) deepen step by step.
 * Returns whether it was found. `askFirst: false` deepens before the first `found()`, for a
 * caller that knows the clone lacks what it looks for; `within` stops at that depth (the whole
 * history is not fetched for a guess).
 */
export async function deepenUntil(
  checkout: EnvCheckout,
  found: () => Promise<boolean>,
  options: { askFirst?: boolean; within?: number } = {},
): Promise<boolean> {
  let asked = false;
  const ask = () => {
    asked = true;
    return found();
  };
  if ((options.askFirst ?? true) && (await ask())) return true;
  // Nothing more to fetch: what was not asked yet is asked of the history at hand.
  const atHand = async () => !asked && (await ask());
  if (!checkout.remote) return atHand();
  const shallow = async () =>
    (await checkout.git.tryOutput(['rev-parse', '--is-shallow-repository'])) === 'true';
  const branch = `+refs/heads/${checkout.branch}:refs/remotes/origin/${checkout.branch}`;
  const { within } = options;
  for (const depth of within === undefined ? DEEPEN_STEPS : [within]) {
    if (!(await shallow())) return atHand();
    await checkout.git.read(['fetch', '--quiet', `--depth=${depth}`, 'origin', branch]);
    if (await ask()) return true;
  }
  if (within !== undefined || !(await shallow())) return false;
  await checkout.git.read(['fetch', '--quiet', '--unshallow', 'origin', branch]);
  return ask();
}

/**
 * Resolves `ref` (full or short sha, branch, tag) in the checkout: locally, then by fetching it,
 * then by deepening the shallow history. Ambiguous short shas are refused.
 */
export async function resolveRevision(ctx: Context, checkout: EnvCheckout, ref: string): Promise<string> {
  validateRevisionArgument(ref, { what: 'revision' });
  let ambiguous = false;
  const lookup = async (): Promise<string | undefined> => {
    const result = await checkout.git.read(['rev-parse', '--verify', '--quiet', `${ref}^{commit}`], {
      allowFailure: true,
    });
    if (/ambiguous/i.test(result.stderr)) ambiguous = true;
    return result.exitCode === 0 ? result.stdout.trim() : undefined;
  };
  let sha = await lookup();
  if (!sha && checkout.remote && (/^[0-9a-f]{40}$/.test(ref) || !/^[0-9a-f]{4,39}$/.test(ref))) {
    // Full shas, branches and tags can be fetched by name; short shas cannot.
    const fetched = await checkout.git.read(['fetch', '--quiet', '--depth', '1', 'origin', ref], {
      allowFailure: true,
    });
    if (fetched.exitCode === 0)
      sha = await checkout.git.tryOutput(['rev-parse', '--verify', '--quiet', 'FETCH_HEAD^{commit}']);
  }
  if (!sha && /^[0-9a-f]{4,39}$/.test(ref)) {
    await deepenUntil(checkout, async () => {
      sha = await lookup();
      return sha !== undefined || ambiguous;
    });
  }
  if (ambiguous) {
    throw usageError('REVISION_AMBIGUOUS', `the short sha ${ref} matches several commits of the env repo`, {
      hint: 'give more characters of the sha',
    });
  }
  if (!sha) {
    throw usageError('REVISION_NOT_FOUND', `revision ${ref} does not exist in the env repo`, {
      hint: 'run `gitops history --env <env>` to see deployable revisions',
    });
  }
  ctx.reporter.debug(`revision ${ref} is ${sha}`);
  return sha;
}

/** What of an environment decides which files its render reads (see manifests/inputs.ts). */
export type InputsSource = Omit<RenderSource, 'envPath'>;

/**
 * The files and directories an environment's render reads at `sha` (its revision closure): the
 * checkout's environment, or another one of the same env repo at `envPath`.
 */
export function inputsAt(
  checkout: EnvCheckout,
  sha: string,
  source: InputsSource,
  envPath = checkout.envPath,
): Promise<RenderInputs> {
  return renderInputs(filesAt(checkout.git, sha), {
    chart: source.chart,
    helmValues: source.helmValues,
    envPath,
  });
}

/**
 * Writes what the environment's render reads as of `sha` (its directory, kustomize bases and
 * components, the chart and values files) into a temp directory, through a private index so the
 * checkout's own index and work tree stay untouched.
 */
export async function materializeRevision(
  ctx: Context,
  checkout: EnvCheckout,
  sha: string,
  source: InputsSource,
): Promise<RevisionTree> {
  const root = mkdtempSync(join(ctx.env.TMPDIR || tmpdir(), 'gitops-rev-'));
  ctx.cleanup.add(() => rmSync(root, { recursive: true, force: true }));
  const dir = join(root, 'tree');
  mkdirSync(dir);
  const files = filesAt(checkout.git, sha);
  if ((await files.kind(checkout.envPath)) !== 'dir') {
    throw usageError(
      'ENV_PATH_MISSING',
      `environment path ${checkout.envPath} does not exist at revision ${sha.slice(0, 12)}`,
      {
        hint: 'pick a revision at which the environment existed',
      },
    );
  }
  const inputs = await renderInputs(files, { ...source, envPath: checkout.envPath });
  const existing: string[] = [];
  for (const path of inputs.paths) if (await files.kind(path)) existing.push(path);
  const env = { GIT_INDEX_FILE: join(root, 'index') };
  await checkout.git.read([`--work-tree=${dir}`, 'checkout', sha, '--', ...existing], { env });
  return { sha, dir, envDir: join(dir, checkout.envPath), inputs };
}
