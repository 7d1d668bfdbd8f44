import { blockedError } from '../core/errors.js';
import type { DriftReport } from '../drift/detect.js';
import { driftDocument } from '../drift/document.js';

/** What deploy and promote do when the cluster drifted from the deployed revision. */
export type OnDrift = 'fail' | 'warn' | 'overwrite';

/**
 * The drift gate: in sync passes; drift refuses the deploy (exit 5, nothing changed) unless the
 * caller chose to warn or to overwrite it. Returns what was decided.
 */
export function driftGate(
  drift: DriftReport,
  onDrift: OnDrift,
  deployedRevision: string,
): 'in-sync' | Exclude<OnDrift, 'fail'> {
  if (drift.inSync) return 'in-sync';
  if (onDrift !== 'fail') return onDrift;
  throw blockedError(
    'DRIFT',
    `${drift.environment} has drifted from the deployed revision ${deployedRevision.slice(0, 12)}; nothing was changed`,
    { details: driftDocument(drift) },
  );
}
