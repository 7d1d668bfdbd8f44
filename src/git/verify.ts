import { existsSync, readFileSync } from 'node:fs';
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

/** What signatures `envRepo.verifyCommits` accepts: SSH keys of a file, GPG keys by fingerprint. */
export interface AllowedKeys {
  /** SSH allowed-signers file (absolute), or undefined: then no SSH signature is accepted. */
  allowedSigners?: string;
  /** Upper-case OpenPGP fingerprints (primary key or signing subkey). */
  gpgFingerprints: string[];
}

/** The keys of `envRepo.verifyCommits`, or undefined when verification is off. */
export function allowedKeys(config: GitopsConfig): AllowedKeys | undefined {
  const setting = config.envRepo.verifyCommits;
  if (!setting) return undefined;
  const gpgFingerprints = (setting.allowedKeys ?? []).map((key) => key.toUpperCase());
  if (!setting.allowedSigners) return { gpgFingerprints };
  const file = resolve(config.dir, setting.allowedSigners);
  if (!existsSync(file)) {
    throw usageError(
      'ALLOWED_SIGNERS_MISSING',
      `envRepo.verifyCommits.allowedSigners names ${setting.allowedSigners}, which does not exist`,
      { hint: 'point it at an SSH allowed-signers file ("<principal> <key type> <public key>" per line)' },
    );
  }
  return { allowedSigners: file, gpgFingerprints };
}

/** An OpenPGP fingerprint as git prints it in %GF/%GP (SSH keys print as `SHA256:…`). */
const GPG_FINGERPRINT = /^(?:[0-9A-F]{40}|[0-9A-F]{64})$/;

/** Why a commit's signature is not accepted, or undefined when it is. */
function signatureProblem(status: string, fingerprint: string, primary: string, keys: AllowedKeys) {
  const gpg = GPG_FINGERPRINT.test(fingerprint.toUpperCase()) || GPG_FINGERPRINT.test(primary.toUpperCase());
  if (status === 'N') return 'is not signed';
  if (gpg) {
    // Git says G for any key GnuPG trusts, U for a good signature of unknown trust: neither is the
    // question. Only a good signature (G or U) by a listed key counts.
    if (status !== 'G' && status !== 'U')
      return `has a GPG signature that does not verify or has expired (git %G? = ${status})`;
    const listed = [fingerprint, primary].some((key) => keys.gpgFingerprints.includes(key.toUpperCase()));
    return listed
      ? undefined
      : `is signed by the GPG key ${fingerprint || primary}, which is not in envRepo.verifyCommits.allowedKeys`;
  }
  if (status === 'G')
    return keys.allowedSigners ? undefined : 'is signed with SSH, and no allowedSigners is set';
  if (status === 'U') return 'is signed by a key that is not in the allowed-signers file';
  return `has a signature that does not verify (git %G? = ${status})`;
}

/** Git options for reading signatures: the allowed-signers file, and no replacement objects. */
function verifyArgs(keys: AllowedKeys): string[] {
  return [
    // `git replace` objects would let a local ref stand in for a commit's real content.
    '--no-replace-objects',
    '-c',
    `gpg.ssh.allowedSignersFile=${keys.allowedSigners ?? '/dev/null'}`,
  ];
}

const LOG_FORMAT = '--format=%H %G? %GF %GP %an';

function parseLogLine(line: string) {
  const [sha, status, fingerprint, primary, ...author] = line.split(' ');
  return { sha: sha!, status: status ?? 'N', fingerprint: fingerprint ?? '', primary: primary ?? '', author };
}

/** Commits of the shallow boundary (their parents are not in the clone), or none. */
async function shallowCommits(checkout: EnvCheckout): Promise<Set<string>> {
  const path = await checkout.git.output(['rev-parse', '--git-path', 'shallow']);
  const file = resolve(checkout.dir, path);
  if (!existsSync(file)) return new Set();
  return new Set(readFileSync(file, 'utf8').split('\n').filter(Boolean));
}

/**
 * Checks that every commit after `since` up to `revision` is signed by an allowed key: SSH
 * signatures by a key of the allowed-signers file (git's `%G?` is `G` only then), GPG signatures by
 * a key whose fingerprint is in `allowedKeys`. Without `since` (nothing verified is deployed),
 * `revision` alone is checked. The range is complete or refused: a shallow clone is deepened (and
 * unshallowed) until `since` is reached and no commit of the range sits on the shallow boundary
 * (a merge's other parent cut off by `--depth` would hide its commits), and grafts are refused.
 * Exit 5 names the commit.
 */
export async function verifyCommitRange(
  ctx: Context,
  checkout: EnvCheckout,
  keys: AllowedKeys,
  revision: string,
  since?: string,
): Promise<SignatureCheck> {
  let range = [revision, '-1'];
  const grafts = resolve(checkout.dir, await checkout.git.output(['rev-parse', '--git-path', 'info/grafts']));
  if (existsSync(grafts)) {
    throw blockedError(
      'SIGNATURES_UNVERIFIABLE',
      `the env-repo checkout has grafts (${grafts}): the history it shows is not the commits' own`,
      { hint: 'verify in a fresh clone; remove info/grafts' },
    );
  }
  if (since && since !== revision) {
    const reachable = async () =>
      (
        await checkout.git.read(['--no-replace-objects', 'merge-base', '--is-ancestor', since, revision], {
          allowFailure: true,
        })
      ).exitCode === 0;
    /** Commits of the range whose parents the clone lacks. */
    const cut = async () => {
      const boundary = await shallowCommits(checkout);
      if (boundary.size === 0) return [];
      const inRange = await checkout.git.output([
        '--no-replace-objects',
        'rev-list',
        `${since}..${revision}`,
      ]);
      return inRange.split('\n').filter((sha) => boundary.has(sha));
    };
    const complete = async () => (await reachable()) && (await cut()).length === 0;
    if (!(await deepenUntil(checkout, complete))) {
      if (!(await reachable())) {
        throw blockedError(
          'SIGNATURES_UNVERIFIABLE',
          `the deployed revision ${since.slice(0, 12)} is not an ancestor of ${revision.slice(0, 12)}: the commits in between cannot be checked`,
          { hint: 'the branch history was rewritten; find out why before deploying (gitops history)' },
        );
      }
      const [boundary] = await cut();
      throw blockedError(
        'SIGNATURES_UNVERIFIABLE',
        `the history between ${since.slice(0, 12)} and ${revision.slice(0, 12)} is cut at the shallow commit ${boundary!.slice(0, 12)}: commits behind it cannot be checked`,
        {
          hint: 'use a full clone of the env repo (--env-repo-dir of a clone without --depth), or let gitops clone it',
        },
      );
    }
    range = [`${since}..${revision}`];
  } else if (since === revision) {
    return { commits: [], since };
  }
  const log = await checkout.git.output([...verifyArgs(keys), 'log', '--reverse', LOG_FORMAT, ...range], {});
  const commits: string[] = [];
  for (const line of log.split('\n').filter(Boolean)) {
    const { sha, status, fingerprint, primary, author } = parseLogLine(line);
    commits.push(sha);
    const why = signatureProblem(status, fingerprint, primary, keys);
    if (!why) continue;
    throw blockedError(
      'UNSIGNED_COMMIT',
      `env-repo commit ${sha} (author ${author.join(' ') || 'unknown'}) ${why}; refusing to apply ${revision.slice(0, 12)}`,
      {
        hint: `every commit since the deployed revision${since ? ` ${since.slice(0, 12)}` : ''} must be signed by a key of envRepo.verifyCommits (allowedSigners, allowedKeys); revert or re-sign ${sha.slice(0, 12)}`,
        details: { commit: sha, signature: status, revision, ...(since ? { since } : {}) },
      },
    );
  }
  ctx.reporter.debug(`signatures: ${commits.length} commit(s) verified`);
  return { commits, ...(since ? { since } : {}) };
}

/**
 * A rollback restores `target`'s tree: the target must be one of the commits verified up to the
 * head (the trusted revision `since`, or after it), or be signed by an allowed key itself. An
 * unsigned commit from before verification, or from before the trusted revision, is refused:
 * gitops' own signed commit would otherwise cover a tree nobody allowed signed.
 */
export async function verifyRollbackTarget(
  checkout: EnvCheckout,
  keys: AllowedKeys,
  target: string,
  head: string,
  since?: string,
): Promise<void> {
  if (target === head || target === since) return;
  if (since) {
    const isAncestor = async (a: string, b: string) =>
      (
        await checkout.git.read(['--no-replace-objects', 'merge-base', '--is-ancestor', a, b], {
          allowFailure: true,
        })
      ).exitCode === 0;
    // In since..head: checked by verifyCommitRange in this very run.
    if ((await isAncestor(since, target)) && (await isAncestor(target, head))) return;
  }
  const line = await checkout.git.output([...verifyArgs(keys), 'log', '-1', LOG_FORMAT, target]);
  const { status, fingerprint, primary, author } = parseLogLine(line);
  const why = signatureProblem(status, fingerprint, primary, keys);
  if (!why) return;
  throw blockedError(
    'UNSIGNED_COMMIT',
    `the rollback target ${target} (author ${author.join(' ') || 'unknown'}) ${why}, and it is not among the commits verified since ${since ? since.slice(0, 12) : 'the start'}; refusing to restore its tree`,
    {
      hint: 'roll back to a revision gitops deployed (its commits are signed), or to a commit signed by an allowed key',
      details: { commit: target, signature: status, ...(since ? { since } : {}) },
    },
  );
}
