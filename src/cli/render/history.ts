import type { HistoryResult } from '../../operations/history.js';
import type { Palette } from '../color.js';

/** `gitops history` for people: one line per commit, the live one marked. */
export function formatHistory(history: HistoryResult, color: Palette): string {
  const lines = history.entries.map((entry) => {
    const mark = entry.live ? color.green('●') : ' ';
    const images = entry.images.length ? entry.images.join(', ') : entry.subject;
    const source = entry.sourceCommit ? ` src ${entry.sourceCommit.slice(0, 8)}` : '';
    return `${mark} ${entry.sha.slice(0, 12)}  ${entry.time.replace('T', ' ').slice(0, 16)}  ${entry.action.padEnd(8)}  ${images}  ${color.dim(`${entry.actor ?? ''}${source}`)}${entry.live ? color.green('  (live)') : ''}`;
  });
  return lines.length ? lines.join('\n') : `no commits touch ${history.envPath}`;
}
