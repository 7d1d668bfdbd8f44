import type { EnvironmentConfig, FreezeWindow, GitopsConfig } from '../config/types.js';
import { usageError } from '../core/errors.js';

const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;

/** A freeze window that holds at a given moment, with where it was configured. */
export interface ActiveFreeze {
  window: FreezeWindow;
  /** `freezes[0]` or `environments.<env>.freezes[1]`: the config key, for messages. */
  key: string;
  /** When this occurrence of the window ends (ISO 8601, UTC). */
  until: string;
}

function minutes(clock: string, key: string): number {
  const match = /^(\d{2}):(\d{2})$/.exec(clock);
  if (!match) {
    throw usageError(
      'FREEZE_INVALID',
      `${key}: "${clock}" is not HH:MM; a weekly window (days) takes UTC times`,
      {
        hint: 'write from/to as HH:MM, e.g. from: "15:00", to: "24:00"',
      },
    );
  }
  return Number(match[1]) * 60 + Number(match[2]);
}

function timestamp(value: string, key: string): number {
  const time = /T/.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(time)) {
    throw usageError('FREEZE_INVALID', `${key}: "${value}" is not a timestamp with a zone`, {
      hint: 'write from/to as 2026-12-20T00:00:00Z, or add days: [...] for a weekly window in HH:MM',
    });
  }
  return time;
}

/** Whether `window` holds at `now`; returns when it ends, or undefined. Bad windows are exit 2. */
export function freezeEnd(window: FreezeWindow, now: Date, key: string): Date | undefined {
  if (window.days.length === 0) {
    const from = timestamp(window.from, `${key}.from`);
    const to = timestamp(window.to, `${key}.to`);
    if (to <= from) {
      throw usageError('FREEZE_INVALID', `${key}: "to" (${window.to}) is not after "from" (${window.from})`);
    }
    return now.getTime() >= from && now.getTime() < to ? new Date(to) : undefined;
  }
  const from = minutes(window.from, `${key}.from`);
  const to = minutes(window.to, `${key}.to`);
  if (to <= from) {
    throw usageError(
      'FREEZE_INVALID',
      `${key}: "to" (${window.to}) is not after "from" (${window.from}); split a window over midnight in two`,
    );
  }
  const day = DAYS[now.getUTCDay()]!;
  const minute = now.getUTCHours() * 60 + now.getUTCMinutes();
  if (!window.days.includes(day) || minute < from || minute >= to) return undefined;
  const end = new Date(now);
  end.setUTCHours(0, to, 0, 0);
  return end;
}

/** The freeze windows (top-level and the environment's) that hold at `now`. */
export function activeFreezes(
  config: Pick<GitopsConfig, 'freezes'>,
  environment: Pick<EnvironmentConfig, 'name' | 'freezes'>,
  now: Date,
): ActiveFreeze[] {
  const candidates = [
    ...(config.freezes ?? []).map((window, index) => ({ window, key: `freezes[${index}]` })),
    ...(environment.freezes ?? []).map((window, index) => ({
      window,
      key: `environments.${environment.name}.freezes[${index}]`,
    })),
  ];
  const active: ActiveFreeze[] = [];
  for (const { window, key } of candidates) {
    const end = freezeEnd(window, now, key);
    if (end) active.push({ window, key, until: end.toISOString() });
  }
  return active;
}

/** One line per freeze, for messages and trailers. */
export function describeFreeze(freeze: ActiveFreeze): string {
  const when = freeze.window.days.length
    ? `${freeze.window.days.join(',')} ${freeze.window.from}–${freeze.window.to} UTC`
    : `${freeze.window.from} – ${freeze.window.to}`;
  return `freeze ${freeze.key} (${when}, until ${freeze.until}): ${freeze.window.reason}`;
}
