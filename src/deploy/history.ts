import type { CommandOutcome } from '../cli/action.js';
import type { Context } from '../cli/context.js';
import { readInventory } from '../cluster/inventory.js';
import { openSession } from '../cluster/session.js';
import { usageError } from '../core/errors.js';
import { openEnvRepo } from '../git/checkout.js';
import { TRAILER } from '../git/message.js';
import { deepenUntil } from '../git/revision.js';
import { inventoryNs } from './pipeline.js';

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

/** `gitops history --env`: the env repo's log of the environment's path, newest first, the live revision marked. */
export async function runHistory(
  ctx: Context,
  options: { env: string; limit: number },
): Promise<CommandOutcome> {
  if (!Number.isInteger(options.limit) || options.limit < 1) {
    throw usageError('INVALID_LIMIT', `--limit ${options.limit} is not a positive whole number`);
  }
  const session = await openSession(ctx, options.env);
  const checkout = await openEnvRepo(ctx, session.config, session.environment);
  const count = async () =>
    Number(await checkout.git.output(['rev-list', '--count', 'HEAD', '--', checkout.envPath]));
  // Shallow clones see one commit; fetch history until the limit is covered (changesets#700).
  await deepenUntil(checkout, async () => (await count()) >= options.limit);
  const text = await checkout.git.output([
    'log',
    `-n${options.limit}`,
    `--format=%H${FIELD}%aI${FIELD}%an${FIELD}%s${FIELD}%(trailers:only,unfold)${RECORD}`,
    '--',
    checkout.envPath,
  ]);
  let liveRevision: string | undefined;
  try {
    liveRevision = (await readInventory(session.kubectl, session.environment, inventoryNs(session)))
      ?.revision;
  } catch (error) {
    ctx.reporter.warn(`cannot mark the live revision: ${(error as Error).message.split('\n')[0]}`);
  }
  const entries = parseLog(text, liveRevision);
  const { color } = ctx.reporter;
  const lines = entries.map((entry) => {
    const mark = entry.live ? color.green('●') : ' ';
    const images = entry.images.length ? entry.images.join(', ') : entry.subject;
    const source = entry.sourceCommit ? ` src ${entry.sourceCommit.slice(0, 8)}` : '';
    return `${mark} ${entry.sha.slice(0, 12)}  ${entry.time.replace('T', ' ').slice(0, 16)}  ${entry.action.padEnd(8)}  ${images}  ${color.dim(`${entry.actor ?? ''}${source}`)}${entry.live ? color.green('  (live)') : ''}`;
  });
  ctx.reporter.print(lines.length ? lines.join('\n') : `no commits touch ${checkout.envPath}`);
  return { result: { environment: session.environment.name, liveRevision: liveRevision ?? null, entries } };
}
