import type { EnvRepoConfig } from '../config/types.js';
import type { Context } from '../core/context.js';
import { GitopsError } from '../core/errors.js';
import { ExecError } from '../core/exec.js';
import { ExitCode } from '../core/exit-codes.js';
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
    /Could not resolve host|Connection refused|Connection timed out|Network is unreachable|Could not read from remote|unable to access|early EOF|does not appear to be a git repository/i.test(
      stderr,
    )
  ) {
    return 'network';
  }
  return 'other';
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
function backoffMs(attempt: number): number {
  // The window doubles from 400 ms: twenty jobs racing for one branch spread out within a few
  // rounds instead of colliding again (measured in test/bump-write.test.ts).
  const cap = Math.min(6400, 400 * 2 ** (attempt - 1));
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
  return git.output(['rev-parse', 'HEAD']);
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

/**
 * Applies an edit, commits and pushes it, never forcing. When the remote moved in between, fetches
 * the new head, resets onto it and RE-APPLIES the edit (not a textual rebase), then commits and
 * pushes again, with jittered backoff, up to `envRepo.pushAttempts` times. When the new head
 * already holds the change, finishes without a commit.
 */
export async function writeAndPush<T extends EditOutcome>(
  ctx: Context,
  checkout: EnvCheckout,
  config: EnvRepoConfig,
  request: WriteRequest<T>,
): Promise<WriteResult<T>> {
  const remote = request.remote ?? 'origin';
  const maxAttempts = request.push ? config.pushAttempts : 1;
  let networkFailures = 0;
  let lastStderr = '';
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
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
      await sleep(backoffMs(networkFailures), ctx.signal);
      push = await pushOnce();
    }
    if (push.exitCode === 0)
      return { outcome, commit, pushed: !push.skipped, attempts: attempt, alreadyOnRemote: false };

    lastStderr = push.stderr;
    const kind = classifyPushFailure(push.stderr);
    if (kind !== 'moved') {
      throw pushError(kind, push.stderr, checkout, attempt);
    } else {
      ctx.reporter.debug(
        `push rejected: ${checkout.branch} moved on the remote (attempt ${attempt}/${maxAttempts})`,
      );
    }
    if (attempt === maxAttempts) break;
    await sleep(backoffMs(attempt), ctx.signal);
    // Shallow fetch of the new head, then put the working tree exactly on it and re-apply.
    const fetch = await checkout.git.read(
      [
        'fetch',
        '--quiet',
        '--depth',
        '1',
        remote,
        `+refs/heads/${checkout.branch}:refs/remotes/${remote}/${checkout.branch}`,
      ],
      { allowFailure: true },
    );
    // The remote may vanish between the rejected push and this fetch: say so, with the advice.
    if (fetch.exitCode !== 0)
      throw pushError(classifyPushFailure(fetch.stderr), fetch.stderr, checkout, attempt);
    await checkout.git.run(['reset', '--quiet', '--hard', `refs/remotes/${remote}/${checkout.branch}`]);
  }
  throw new GitopsError(
    'PUSH_ATTEMPTS_EXHAUSTED',
    `the push to ${checkout.remote ?? remote} (branch ${checkout.branch}) was rejected ${maxAttempts} times because the branch kept moving; nothing of this run is on the remote`,
    {
      hint: 'raise envRepo.pushAttempts, or re-run the job',
      details: { attempts: maxAttempts, lastError: lastStderr.trim().split('\n').slice(-3).join('\n') },
    },
  );
}
