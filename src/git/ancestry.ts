import type { EnvCheckout } from './checkout.js';
import { deepenUntil } from './revision.js';

/**
 * Fetches the branch head from the remote (the commits since what the clone has, not a new
 * shallow tip) and returns its sha; without a remote, the checkout's HEAD. With `have`, a commit
 * the clone holds (the one this run just pushed), the remote is first asked where the branch is
 * (`ls-remote`): when it is still there, there is nothing to fetch.
 */
export async function fetchBranchHead(
  checkout: EnvCheckout,
  options: { remote?: string; have?: string } = {},
): Promise<string> {
  if (!checkout.remote) return checkout.git.head();
  const remote = options.remote ?? 'origin';
  if (options.have) {
    const listed = await checkout.git.read(
      ['ls-remote', '--quiet', remote, `refs/heads/${checkout.branch}`],
      {
        allowFailure: true,
      },
    );
    if (listed.exitCode === 0 && listed.stdout.split(/\s/)[0] === options.have) return options.have;
  }
  const ref = `refs/remotes/${remote}/${checkout.branch}`;
  await checkout.git.read(['fetch', '--quiet', remote, `+refs/heads/${checkout.branch}:${ref}`]);
  return checkout.git.output(['rev-parse', ref]);
}

/**
 * Whether `ancestor` is `descendant` or in its history. A shallow clone is deepened until it can
 * tell (CI clones are shallow: the answer must not depend on the depth).
 */
export async function isAncestor(
  checkout: EnvCheckout,
  ancestor: string,
  descendant: string,
): Promise<boolean> {
  if (ancestor === descendant) return true;
  return deepenUntil(checkout, mergeBaseTest(checkout, ancestor, descendant));
}

/** `git merge-base --is-ancestor` as a test deepenUntil can repeat. */
function mergeBaseTest(checkout: EnvCheckout, ancestor: string, descendant: string): () => Promise<boolean> {
  return async () =>
    (await checkout.git.read(['merge-base', '--is-ancestor', ancestor, descendant], { allowFailure: true }))
      .exitCode === 0;
}

/**
 * For a commit the shallow clone does not hold yet (an older revision): deepens the clone to
 * `within` commits before asking whether it is an ancestor of `descendant`. Asked first, a
 * partial clone would fetch the lone commit on demand, and that cannot show it in the head's
 * history beyond the shallow boundary anyway. False when it is not within that depth (isAncestor
 * deepens further).
 */
export async function deepenToAncestor(
  checkout: EnvCheckout,
  ancestor: string,
  descendant: string,
  within: number,
): Promise<boolean> {
  if (ancestor === descendant) return true;
  return deepenUntil(checkout, mergeBaseTest(checkout, ancestor, descendant), { askFirst: false, within });
}

/** Whether the environment's directory is the same at two revisions (one changes nothing the other has). */
export async function sameEnvironment(checkout: EnvCheckout, a: string, b: string): Promise<boolean> {
  return sameFiles(checkout, a, b, [checkout.envPath]);
}

/**
 * Whether these paths (files or directories) hold the same content at two commits. Trees are
 * compared by their object ids (`diff-tree`, no rename detection): no blob is read, so a partial
 * clone fetches none.
 */
export async function sameFiles(
  checkout: EnvCheckout,
  a: string,
  b: string,
  paths: readonly string[],
): Promise<boolean> {
  if (a === b) return true;
  const diff = await checkout.git.read(['diff-tree', '--quiet', '-r', a, b, '--', ...paths], {
    allowFailure: true,
  });
  return diff.exitCode === 0;
}

/**
 * Whether `commit` is `descendant` or in its history, when `descendant` is at most as old as the
 * fetched branch head: every commit after `commit` is in the clone then, so nothing is deepened
 * (a revision the clone does not have is older than `commit`, or from elsewhere: not a descendant).
 */
export async function contains(checkout: EnvCheckout, descendant: string, commit: string): Promise<boolean> {
  if (descendant === commit) return true;
  const known = await checkout.git.read(['cat-file', '-e', `${descendant}^{commit}`], { allowFailure: true });
  if (known.exitCode !== 0) return false;
  const test = await checkout.git.read(['merge-base', '--is-ancestor', commit, descendant], {
    allowFailure: true,
  });
  return test.exitCode === 0;
}
