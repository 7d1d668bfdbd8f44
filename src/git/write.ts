import { parseDuration } from '../config/duration.js';
import type { EnvRepoConfig } from '../config/types.js';
import type { Context } from '../core/context.js';
import { GitopsError } from '../core/errors.js';
import { ExecError } from '../core/exec.js';
import { ExitCode } from '../core/exit-codes.js';
import { contains } from './ancestry.js';
import type { EnvCheckout } from './checkout.js';

/** What one application of the edit did to the working tree. */
export interface EditOutcome {
  changed: boolean;
  /** Files changed, relative to the checkout root. */
  files: string[];
  /** The commit message for these changes. */
  message: string;
}

export interface WriteRequest<T extends EditOutcome> {
  /**
   * Applies the change to the working tree as it is now. Called again after the remote moved,
   * on the new head: the edit is re-applied, never rebased as text.
   */
  edit: (attempt: number) => Promise<T>;
  push: boolean;
  /** Remote name to push to. */
  remote?: string;
  /**
   * Runs before the edit on every attempt after the first, with the working tree on the new head
   * the push will land on: a gate (lock, freeze) that appeared since the run began stops it here,
   * before anything is pushed.
   */
  check?: (attempt: number) => Promise<void>;
}

export interface WriteResult<T extends EditOutcome> {
  /** The last edit outcome (on the head that was finally pushed). */
  outcome: T;
  /** The commit made; undefined when nothing needed changing. */
  commit?: string;
  pushed: boolean;
  attempts: number;
  /** True when the remote already held the change after it moved (another job did it). */
  alreadyOnRemote: boolean;
}

export type PushFailureKind = 'moved' | 'hook' | 'protected' | 'auth' | 'network' | 'other';

/** Classifies `git push` stderr (LC_ALL=C) so only a moved remote is retried. */
export function classifyPushFailure(stderr: string): PushFailureKind {
  if (/\((fetch first|non-fast-forward|stale info)\)/.test(stderr)) return 'moved';
  // Concurrent pushes to one repository race on the ref lock; the loser sees one of these.
  if (/cannot lock ref|failed to update ref|incorrect old value|unable to update local ref/i.test(stderr))
    return 'moved';
  if (/protected branch|GH006/i.test(stderr)) return 'protected';
  if (/pre-receive hook declined|hook declined|\[remote rejected\]/i.test(stderr)) return 'hook';
  if (
    /Authentication failed|could not read (Username|Password)|terminal prompts disabled|Permission denied|returned error: 40[13]|HTTP 40[13]|access denied|invalid credentials/i.test(
      stderr,
    )
  ) {
    return 'auth';
  }
  if (
    /Could not resolve host|Connection refused|Connection timed out|Network is unreachable|Could not read from remote|unable to access|early EOF|does not appear to be a git repository|remote end hung up|Connection reset|RPC failed|Broken pipe/i.test(
      stderr,
    )
  ) {
    return 'network';
  }
  return 'other';
}

/** A network failure in which no connection to the remote was made: nothing can have been pushed. */
function neverConnected(stderr: string): boolean {
  return /Could not resolve host|Connection refused|Network is unreachable|No route to host|Failed to connect|does not appear to be a git repository/i.test(
    stderr,
  );
}

/** Lines the remote printed (`remote: …`): a hook's own explanation. */
function remoteLines(stderr: string): string {
  return stderr
    .split('\n')
    .filter((line) => line.startsWith('remote:'))
    .map((line) => line.replace(/^remote:\s?/, '').trimEnd())
    .filter(Boolean)
    .join('\n');
}

/** Full jitter exponential backoff (AWS architecture blog, "Exponential Backoff And Jitter"). */
export function backoffMs(attempt: number, baseMs: number): number {
  // The window doubles from envRepo.pushBackoff up to 64 times it: forty jobs racing for one
  // branch of a loaded machine spread out instead of colliding again, and the attempts that
  // cannot win stop loading the machine that the winner's push waits on
  // (test/concurrency.test.ts).
  const cap = baseMs * 2 ** Math.min(attempt - 1, 6);
  return Math.round(Math.random() * cap);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolveSleep, reject) => {
    if (signal?.aborted)
      return reject(new GitopsError('INTERRUPTED', 'interrupted', { exitCode: ExitCode.Interrupted }));
    const timer = setTimeout(resolveSleep, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(
          new GitopsError('INTERRUPTED', 'interrupted while waiting to retry the push', {
            exitCode: ExitCode.Interrupted,
          }),
        );
      },
      { once: true },
    );
  });
}

/** Author and committer for gitops commits: config, else GIT_AUTHOR_* / git config, else a bot identity. */
export async function authorEnv(
  ctx: Context,
  checkout: EnvCheckout,
  config: EnvRepoConfig,
): Promise<Record<string, string>> {
  if (config.author) {
    const { name, email } = config.author;
    return {
      GIT_AUTHOR_NAME: name,
      GIT_AUTHOR_EMAIL: email,
      GIT_COMMITTER_NAME: name,
      GIT_COMMITTER_EMAIL: email,
    };
  }
  const name = ctx.env.GIT_AUTHOR_NAME ?? (await checkout.git.tryOutput(['config', 'user.name']));
  const email = ctx.env.GIT_AUTHOR_EMAIL ?? (await checkout.git.tryOutput(['config', 'user.email']));
  const bot = { name: 'gitops-bot', email: 'gitops-bot@users.noreply.localhost' };
  const identity = { name: name || bot.name, email: email || bot.email };
  return {
    GIT_AUTHOR_NAME: identity.name,
    GIT_AUTHOR_EMAIL: identity.email,
    GIT_COMMITTER_NAME: ctx.env.GIT_COMMITTER_NAME ?? identity.name,
    GIT_COMMITTER_EMAIL: ctx.env.GIT_COMMITTER_EMAIL ?? identity.email,
  };
}

/** `-S` when the config asks for signing, `--no-gpg-sign` when it forbids it, else git's own commit.gpgsign. */
function signArgs(config: EnvRepoConfig): string[] {
  if (config.sign === true) return ['-S'];
  if (config.sign === false) return ['--no-gpg-sign'];
  return [];
}

/** Commits the staged files of an edit; returns the new commit's sha. */
export async function commitEdit(
  ctx: Context,
  checkout: EnvCheckout,
  config: EnvRepoConfig,
  outcome: EditOutcome,
): Promise<string> {
  const { git } = checkout;
  await git.run(['add', '--', ...outcome.files]);
  const env = await authorEnv(ctx, checkout, config);
  try {
    await git.run(['commit', '--quiet', '--no-verify', ...signArgs(config), '-F', '-'], {
      input: outcome.message,
      env,
    });
  } catch (error) {
    if (error instanceof ExecError && /gpg|sign|ssh-keygen/i.test(error.stderrTail)) {
      throw new GitopsError('COMMIT_SIGN_FAILED', `signing the commit failed:\n${error.stderrTail}`, {
        hint: 'check user.signingkey and gpg.format in git config, or set envRepo.sign: false',
        cause: error,
      });
    }
    throw error;
  }
  return git.head();
}

/**
 * Checks early, before any edit, that pushing to the branch is allowed (`git push --dry-run`):
 * a job that cannot push should fail in a second, not after a build.
 */
export async function checkPushAccess(checkout: EnvCheckout, remote = 'origin'): Promise<void> {
  const result = await checkout.git.read(
    ['push', '--dry-run', '--quiet', remote, `HEAD:refs/heads/${checkout.branch}`],
    {
      allowFailure: true,
    },
  );
  if (result.exitCode === 0) return;
  const kind = classifyPushFailure(result.stderr);
  if (kind === 'moved') return; // The remote moved since the clone; the real push handles that.
  throw pushError(kind, result.stderr, checkout, 0);
}

function pushError(
  kind: PushFailureKind,
  stderr: string,
  checkout: EnvCheckout,
  attempts: number,
): GitopsError {
  const where = `${checkout.remote ?? 'the remote'} (branch ${checkout.branch})`;
  const tail = stderr.trim().split('\n').slice(-8).join('\n');
  switch (kind) {
    case 'hook':
      return new GitopsError(
        'PUSH_REJECTED_BY_HOOK',
        `the push to ${where} was rejected by a server-side hook:\n${remoteLines(stderr) || tail}`,
        {
          hint: 'the hook message says what the remote requires; nothing was changed on the remote',
          details: { attempts },
        },
      );
    case 'protected':
      return new GitopsError(
        'PUSH_PROTECTED_BRANCH',
        `${checkout.branch} is a protected branch on ${where}; the push was refused:\n${tail}`,
        {
          hint: "allow this job's identity to push to the branch, or point envRepo.branch at one it may push to",
          details: { attempts },
        },
      );
    case 'auth':
      return new GitopsError('PUSH_AUTH_FAILED', `authentication to ${where} failed:\n${tail}`, {
        hint: 'check the token named by envRepo.tokenEnv (it needs write access) or the SSH key; not retried',
        details: { attempts },
      });
    case 'network':
      return new GitopsError('PUSH_NETWORK', `the env repo ${where} could not be reached:\n${tail}`, {
        hint: 'nothing was pushed; re-run the job when the remote is reachable',
        details: { attempts },
      });
    default:
      return new GitopsError('PUSH_FAILED', `the push to ${where} failed:\n${tail}`, {
        details: { attempts },
      });
  }
}

const NETWORK_RETRIES = 3;

/** The remote branch's commit, or undefined when the remote cannot be asked. */
async function remoteHead(checkout: EnvCheckout, remote: string): Promise<string | undefined> {
  const listed = await checkout.git.read(['ls-remote', '--quiet', remote, `refs/heads/${checkout.branch}`], {
    allowFailure: true,
  });
  if (listed.exitCode !== 0) return undefined;
  return listed.stdout.trim().split(/\s+/)[0] ?? '';
}

/**
 * Applies an edit, commits and pushes it, never forcing. When the remote moved in between, fetches
 * the new head, resets onto it, runs the request's `check` (gates) and RE-APPLIES the edit (not a
 * textual rebase), then commits and pushes again after a jittered backoff, for as long as
 * `envRepo.pushTimeout` allows (and at most `envRepo.pushAttempts` times when that is set). When
 * the new head already holds the change, finishes without a commit. A push whose connection broke
 * is checked against the remote: landed, not landed (retried), or unknown (PUSH_MAY_HAVE_LANDED).
 */
export async function writeAndPush<T extends EditOutcome>(
  ctx: Context,
  checkout: EnvCheckout,
  config: EnvRepoConfig,
  request: WriteRequest<T>,
): Promise<WriteResult<T>> {
  const remote = request.remote ?? 'origin';
  const maxAttempts = request.push ? (config.pushAttempts ?? Number.POSITIVE_INFINITY) : 1;
  const budgetMs = parseDuration(config.pushTimeout, 'envRepo.pushTimeout');
  const baseMs = parseDuration(config.pushBackoff, 'envRepo.pushBackoff');
  const started = Date.now();
  let networkFailures = 0;
  let lastStderr = '';
  let attempt = 1;
  for (; ; attempt++) {
    if (attempt > 1) await request.check?.(attempt);
    const outcome = await request.edit(attempt);
    if (!outcome.changed) {
      return { outcome, pushed: false, attempts: attempt, alreadyOnRemote: attempt > 1 };
    }
    const commit = await commitEdit(ctx, checkout, config, outcome);
    if (!request.push) return { outcome, commit, pushed: false, attempts: attempt, alreadyOnRemote: false };

    const pushOnce = () =>
      checkout.git.run(['push', '--quiet', remote, `HEAD:refs/heads/${checkout.branch}`], {
        allowFailure: true,
      });
    let push = await pushOnce();
    // A network failure is retried as the same push of the same commit: the remote may not be
    // reachable for a fetch either, and re-applying the edit on an unchanged tree would find
    // nothing to do and report "already on the remote" for a commit that never got there.
    while (
      push.exitCode !== 0 &&
      classifyPushFailure(push.stderr) === 'network' &&
      ++networkFailures < NETWORK_RETRIES
    ) {
      ctx.reporter.debug(`push failed (network), retrying: ${push.stderr.trim().split('\n').at(-1)}`);
      await sleep(backoffMs(networkFailures, baseMs), ctx.signal);
      push = await pushOnce();
    }
    if (push.exitCode === 0)
      return { outcome, commit, pushed: !push.skipped, attempts: attempt, alreadyOnRemote: false };

    lastStderr = push.stderr;
    let kind = classifyPushFailure(push.stderr);
    if (kind === 'network' && !neverConnected(push.stderr)) {
      // The connection broke while the push was under way: the remote may have updated the ref
      // before it did. Ask the remote which commit the branch is on now.
      const now = await remoteHead(checkout, remote);
      if (now === commit) {
        ctx.reporter.debug('the push reported a broken connection, but the remote has the commit');
        return { outcome, commit, pushed: true, attempts: attempt, alreadyOnRemote: false };
      }
      if (now === undefined) throw mayHaveLanded(push.stderr, checkout, commit, attempt);
      // The remote answers and is elsewhere: retried like a moved branch (after the fetch below
      // tells whether the commit landed under the pushes of others).
      kind = 'moved';
    }
    if (kind !== 'moved') {
      throw pushError(kind, push.stderr, checkout, attempt);
    }
    ctx.reporter.debug(`push rejected: ${checkout.branch} moved on the remote (attempt ${attempt})`);
    if (attempt >= maxAttempts) break;
    const wait = backoffMs(attempt, baseMs);
    if (Date.now() - started + wait > budgetMs) break;
    await sleep(wait, ctx.signal);
    // Fetch the new head (the commits since the clone's, not a new shallow tip: they tell whether
    // this commit is among them), then put the working tree exactly on it and re-apply.
    const tracking = `refs/remotes/${remote}/${checkout.branch}`;
    const fetch = await checkout.git.read(
      ['fetch', '--quiet', remote, `+refs/heads/${checkout.branch}:${tracking}`],
      { allowFailure: true },
    );
    // The remote may vanish between the rejected push and this fetch: say so, with the advice.
    if (fetch.exitCode !== 0)
      throw pushError(classifyPushFailure(fetch.stderr), fetch.stderr, checkout, attempt);
    // A push whose connection broke may have landed, with other pushes on top since (a plain
    // rejection did not: the remote said so).
    const rejected = classifyPushFailure(lastStderr) === 'moved';
    if (!rejected && (await contains(checkout, await checkout.git.output(['rev-parse', tracking]), commit))) {
      ctx.reporter.debug('the push reported a failure, but the branch holds the commit');
      return { outcome, commit, pushed: true, attempts: attempt, alreadyOnRemote: false };
    }
    await checkout.git.run(['reset', '--quiet', '--hard', tracking]);
  }
  const seconds = Math.round((Date.now() - started) / 1000);
  throw new GitopsError(
    'PUSH_ATTEMPTS_EXHAUSTED',
    `the push to ${checkout.remote ?? remote} (branch ${checkout.branch}) was rejected ${attempt} times in ${seconds}s because the branch kept moving; nothing of this run is on the remote`,
    {
      hint:
        attempt >= maxAttempts
          ? 'raise or remove envRepo.pushAttempts, or re-run the job'
          : 'raise envRepo.pushTimeout, or re-run the job',
      details: { attempts: attempt, lastError: lastStderr.trim().split('\n').slice(-3).join('\n') },
    },
  );
}

function mayHaveLanded(stderr: string, checkout: EnvCheckout, commit: string, attempts: number) {
  const tail = stderr.trim().split('\n').slice(-4).join('\n');
  return new GitopsError(
    'PUSH_MAY_HAVE_LANDED',
    `the connection to ${checkout.remote ?? 'the remote'} broke while pushing ${commit.slice(0, 12)} to ${checkout.branch}, and the remote cannot be asked now: the push may have landed:\n${tail}`,
    {
      hint: `nothing was applied; re-run the job: if ${commit.slice(0, 12)} landed, the next run finds the change on the branch and applies it (git ls-remote shows the branch head)`,
      details: { attempts, commit },
    },
  );
}
