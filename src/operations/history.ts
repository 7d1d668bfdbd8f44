import type { Context } from '../core/context.js';
import { TRAILER } from '../git/message.js';
import { deepenUntil, resolveRevision } from '../git/revision.js';
import { openSession } from './session.js';

export interface HistoryResult {
  environment: string;
  /** The environment's directory in the env repo. */
  envPath: string;
  /** What the log covers: the files and directories the environment's render reads. */
  paths: string[];
  liveRevision: string | null;
  entries: HistoryEntry[];
}

export interface HistoryEntry {
  sha: string;
  time: string;
  subject: string;
  action: string;
  images: string[];
  sourceCommit?: string;
  actor?: string;
  buildUrl?: string;
  live: boolean;
}

const FIELD = '\u001f';
const RECORD = '\u001e';

function parseLog(text: string, liveRevision: string | undefined): HistoryEntry[] {
  return text
    .split(RECORD)
    .map((record) => record.trim())
    .filter(Boolean)
    .map((record) => {
      const [sha = '', time = '', author = '', subject = '', trailerText = ''] = record.split(FIELD);
      const trailers = trailerText
        .split('\n')
        .map((line) => /^([\w-]+):\s*(.*)$/.exec(line))
        .filter((match): match is RegExpExecArray => match !== null);
      const values = (key: string) => trailers.filter((match) => match[1] === key).map((match) => match[2]!);
      const action = values(TRAILER.action)[0] ?? 'manual';
      const sourceCommit = values(TRAILER.sourceCommit)[0];
      const buildUrl = values(TRAILER.buildUrl)[0];
      return {
        sha,
        time,
        subject,
        action,
        images: values(TRAILER.image),
        ...(sourceCommit ? { sourceCommit } : {}),
        actor: values(TRAILER.actor)[0] ?? author,
        ...(buildUrl ? { buildUrl } : {}),
        live: sha === liveRevision,
      };
    });
}

/**
 * `gitops history --env`: the env repo's log of what the environment renders from (its directory
 * and every file its render reads: kustomize bases and components, the chart, values files),
 * newest first (at most `limit` entries, a positive whole number). The live mark is on the commit
 * whose content is live: the newest one at or before the live revision.
 */
export async function runHistory(
  ctx: Context,
  options: { env: string; limit: number },
): Promise<HistoryResult> {
  const session = await openSession(ctx, options.env);
  const checkout = await session.openEnvRepo();
  let liveRevision: string | undefined;
  try {
    liveRevision = (await session.readInventory())?.revision;
  } catch (error) {
    ctx.reporter.warn(`cannot mark the live revision: ${(error as Error).message.split('\n')[0]}`);
  }
  const live = liveRevision
    ? await resolveRevision(ctx, checkout, liveRevision).catch(() => undefined)
    : undefined;
  const head = await checkout.git.head();
  const paths = await session.closure(checkout, live ? [head, live] : [head]);
  const count = async () =>
    Number(await checkout.git.output(['rev-list', '--count', 'HEAD', '--', ...paths]));
  // Shallow clones see one commit; fetch history until the limit is covered (changesets#700).
  await deepenUntil(checkout, async () => (await count()) >= options.limit);
  const text = await checkout.git.output([
    'log',
    `-n${options.limit}`,
    `--format=%H${FIELD}%aI${FIELD}%an${FIELD}%s${FIELD}%(trailers:only,unfold)${RECORD}`,
    '--',
    ...paths,
  ]);
  // The live revision may be a commit of another environment: its content is the last commit
  // before it that touched this one's paths.
  const liveEntry = live
    ? await checkout.git.tryOutput(['log', '-1', '--format=%H', live, '--', ...paths])
    : undefined;
  return {
    environment: session.environment.name,
    envPath: checkout.envPath,
    paths,
    liveRevision: liveRevision ?? null,
    entries: parseLog(text, liveEntry || undefined),
  };
}
