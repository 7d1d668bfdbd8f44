import { parseDuration } from '../config/duration.js';
import { usageError } from '../core/errors.js';
import type { OnDrift } from '../gates/drift.js';

/** Commander argument parser for repeatable options (`--image a --image b` → ['a', 'b']). */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function parseOnDrift(value: string): OnDrift {
  if (value === 'fail' || value === 'warn' || value === 'overwrite') return value;
  throw usageError('INVALID_ON_DRIFT', `--on-drift ${value} is not one of fail, warn, overwrite`);
}

/** `--timeout <duration>` in milliseconds; undefined when not given (the environment's applies). */
export function parseTimeout(value: string | undefined): number | undefined {
  return value === undefined ? undefined : parseDuration(value, '--timeout');
}

export function parseLimit(value: string): number {
  const limit = Number(value);
  if (!Number.isInteger(limit) || limit < 1) {
    throw usageError('INVALID_LIMIT', `--limit ${limit} is not a positive whole number`);
  }
  return limit;
}

/** `--force` needs `--reason`: an override without a reason is not auditable. Exit 2 before anything runs. */
export function checkOverride(options: { force?: boolean; reason?: string }): {
  force?: true;
  reason?: string;
} {
  if (options.force && !options.reason?.trim()) {
    throw usageError(
      'FORCE_WITHOUT_REASON',
      '--force needs --reason "…": the override is recorded in the commit',
      {
        hint: 'add --reason "why this cannot wait"',
      },
    );
  }
  return { ...(options.force ? { force: true } : {}), ...(options.reason ? { reason: options.reason } : {}) };
}
