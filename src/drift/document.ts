import type { DriftReport } from './detect.js';

/** The `--json` form: states, fields, managers; Secret values never included. */
export function driftDocument(report: DriftReport): Record<string, unknown> {
  return {
    environment: report.environment,
    inSync: report.inSync,
    counts: report.counts,
    liveRevisions: report.liveRevisions,
    objects: report.objects.map((object) => ({
      key: object.key,
      kind: object.kind,
      name: object.name,
      ...(object.namespace ? { namespace: object.namespace } : {}),
      state: object.state,
      ...(object.source ? { source: object.source } : {}),
      ...(object.liveRevision ? { liveRevision: object.liveRevision } : {}),
      ...(object.state === 'extra' ? { prunable: Boolean(object.prunable) } : {}),
      ...(object.adopted ? { adopted: true } : {}),
      ...(object.owner ? { owner: object.owner } : {}),
      managers: object.managers,
      differences: object.differences.map((difference) => ({
        kind: difference.kind,
        path: difference.display,
        pointer: difference.pointer,
        ...(difference.secret ? { secret: true } : { desired: difference.desired, live: difference.live }),
        managers: difference.managers,
      })),
    })),
  };
}
