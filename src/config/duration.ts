import { usageError } from '../core/errors.js';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses Go-style durations as kubectl takes them: `90s`, `5m`, `1h30m`, `500ms`; a bare number is seconds. */
export function parseDuration(text: string, what = 'duration'): number {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const part = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
  let total = 0;
  let consumed = 0;
  for (const match of trimmed.matchAll(part)) {
    if (match.index !== consumed) break;
    total += Number(match[1]) * UNIT_MS[match[2]!]!;
    consumed += match[0].length;
  }
  if (consumed === 0 || consumed !== trimmed.length) {
    throw usageError('INVALID_DURATION', `${what} "${text}" is not a duration`, {
      hint: 'write it like 90s, 5m or 1h30m',
    });
  }
  return total;
}
