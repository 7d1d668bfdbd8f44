import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { GitopsConfig } from '../config/types.js';
import type { Context } from '../core/context.js';
import { blockedError, usageError } from '../core/errors.js';
import type { EnvCheckout } from './checkout.js';
import { deepenUntil } from './revision.js';

export interface SignatureCheck {
  /** Commits checked, oldest first. */
  commits: string[];
  /** The range's start (exclusive); undefined when only the revision itself was checked. */
  since?: string;
}

/** The allowed-signers file of `envRepo.verifyCommits`, or undefined when verification is off. */
export function allowedSignersFile(config: GitopsConfig): string | undefined {
  const setting = config.envRepo.verifyCommits;
  if (!setting) return undefined;
  const file = resolve(config.dir, setting.allowedSigners);
  if (!existsSync(file)) {
    throw usageError(
      'ALLOWED_SIGNERS_MISSING',
      `envRepo.verifyCommits.allowedSigners names ${setting.allowedSigners}, which does not exist`,
      { hint: 'point it at an SSH allowed-signers file ("<principal> <key type> <public key>" per line)' },
    );
  }
  return file;
}

/**
 * Checks that every commit after `since` up to `revision` is signed by a key of the allowed-signers
 * file (git's `%G?` is `G` only for a good signature by an allowed key; `U` means a good signature
 * by a key that file does not list). Without `since` (nothing verified is deployed), `revision`
 * alone is checked. A shallow clone is deepened until `since` is reached. Exit 5 names the commit.
 */
export async function verifyCommitRange(
  ctx: Context,
  checkout: EnvCheckout,
  allowedSigners: string,
  revision: string,
  since?: string,
): Promise<SignatureCheck> {
  let range = [revision, '-1'];
  if (since && since !== revision) {
    const reachable = async () =>
      (await checkout.git.read(['merge-base', '--is-ancestor', since, revision], { allowFailure: true }))
        .exitCode === 0;
    if (!(await deepenUntil(checkout, reachable))) {
      throw blockedError(
        'SIGNATURES_UNVERIFIABLE',
        `the deployed revision ${since.slice(0, 12)} is not an ancestor of ${revision.slice(0, 12)}: the commits in between cannot be checked`,
        { hint: 'the branch history was rewritten; find out why before deploying (gitops history)' },
      );
    }
    range = [`${since}..${revision}`];
  } else if (since === revision) {
    return { commits: [], since };
  }
  const log = await checkout.git.output(
    [
      '-c',
      `gpg.ssh.allowedSignersFile=${allowedSigners}`,
      'log',
      '--reverse',
      '--format=%H %G? %an',
      ...range,
    ],
    {},
  );
  const commits: string[] = [];
  for (const line of log.split('\n').filter(Boolean)) {
    const [sha, status, ...author] = line.split(' ');
    commits.push(sha!);
    if (status === 'G') continue;
    const why =
      status === 'N'
        ? 'is not signed'
        : status === 'U'
          ? 'is signed by a key that is not in the allowed-signers file'
          : `has a signature that does not verify (git %G? = ${status})`;
    throw blockedError(
      'UNSIGNED_COMMIT',
      `env-repo commit ${sha} (author ${author.join(' ') || 'unknown'}) ${why}; refusing to apply ${revision.slice(0, 12)}`,
      {
        hint: `every commit since the deployed revision${since ? ` ${since.slice(0, 12)}` : ''} must be signed by a key of envRepo.verifyCommits.allowedSigners; revert or re-sign ${sha!.slice(0, 12)}`,
        details: { commit: sha, signature: status, revision, ...(since ? { since } : {}) },
      },
    );
  }
  ctx.reporter.debug(`signatures: ${commits.length} commit(s) verified`);
  return { commits, ...(since ? { since } : {}) };
}
