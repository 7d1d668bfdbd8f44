import type { DriftReport } from '../drift/detect.js';
import type { OnDrift } from '../gates/drift.js';

/** An image a deploy changed: config name (or repository), old and new reference. */
export interface ImageRecord {
  name: string;
  old?: string;
  new: string;
}

/** How a deploy ended, for its summary. */
export type DeployEnding = 'deployed' | 'superseded' | 'rolled-back' | 'rollback-unhealthy' | 'failed';

declare module '../core/reporter.js' {
  interface ViewKinds {
    /** Drift found by the drift gate or by verify; `decision` says what the gate made of it. */
    drift: { report: DriftReport; decision?: OnDrift };
    /** A patch: what a dry run would commit. */
    diff: { text: string };
    /** The outcome of a deploy or promote, for the CI job's summary. */
    'deploy-summary': {
      environment: string;
      images: ImageRecord[];
      revision?: string;
      durationMs: number;
      ending: DeployEnding;
      /** With ending `failed`: the error code. */
      code?: string;
    };
  }
}
