import { blockedError, type GitopsError } from '../core/errors.js';
import type { DriftReport, ObjectDrift } from '../drift/detect.js';

export interface OwnershipVerdict {
  /** Objects that exist without an owner: this environment adopts them. */
  adopt: ObjectDrift[];
  /** Objects another owner manages, taken over only when adoption was asked for. */
  takeOver: ObjectDrift[];
}

/**
 * The ownership gate, before anything is pushed or applied: an environment changes only objects
 * it owns or that nobody owns (adopted, as Argo CD and Flux adopt unlabelled objects). An object
 * another environment, app, Helm release, Flux or Argo CD manages is refused (exit 5, naming the
 * owner) unless adoption was asked for — the way Helm refuses "invalid ownership metadata".
 */
export function ownershipGate(report: DriftReport, adopt: boolean): OwnershipVerdict {
  const foreign = report.objects.filter((object) => object.state === 'foreign');
  if (foreign.length > 0 && !adopt) throw ownedElsewhereError(report.environment, foreign);
  return { adopt: report.objects.filter((object) => object.state === 'unmanaged'), takeOver: foreign };
}

function ownedElsewhereError(environment: string, foreign: readonly ObjectDrift[]): GitopsError {
  const first = foreign[0]!;
  return blockedError(
    'OBJECT_OWNED_ELSEWHERE',
    `${environment} declares ${foreign.length} object(s) that another owner manages; nothing was pushed or applied:\n${foreign
      .map(
        (object) =>
          `${object.source ? `${object.source.file}:${object.source.line}: ` : ''}${object.display} is owned by ${object.owner}`,
      )
      .join('\n')}`,
    {
      ...(first.source ? { location: { file: first.source.file, line: first.source.line } } : {}),
      details: { objects: foreign.map((object) => ({ object: object.display, owner: object.owner })) },
    },
  );
}
