import type { Cluster } from '../cluster/cluster.js';
import { serverDryRun } from '../cluster/dry-run.js';
import type { EnvironmentConfig } from '../config/types.js';
import { blockedError } from '../core/errors.js';
import { type DesiredObject, displayName } from '../kube/objects.js';

export interface DryRunRefusal {
  object: string;
  message: string;
  file?: string;
  line?: number;
}

export interface DryRunSummary {
  accepted: number;
  /** Custom resources of CRDs the same apply installs: checked when they are applied. */
  awaitingCrd: number;
}

/**
 * The server-side dry run gate, before anything is pushed: the API server sees the whole rendered
 * set as the apply will send it and refuses what it would refuse then (a namespace that does not
 * exist, an invalid object, an immutable field changed, an unknown kind). A refusal stops the
 * run with the server's words, the object and its file:line (exit 5, nothing pushed).
 */
export async function serverDryRunGate(
  cluster: Cluster,
  environment: EnvironmentConfig,
  objects: readonly DesiredObject[],
  revision: string,
): Promise<DryRunSummary> {
  const { verdicts } = await serverDryRun(
    cluster,
    environment,
    objects.map((item) => item.object),
    revision,
  );
  const refusals: DryRunRefusal[] = [];
  let awaitingCrd = 0;
  for (const [index, verdict] of verdicts.entries()) {
    const { object, source } = objects[index]!;
    if (verdict.status === 'deferred' && verdict.why === 'crd') awaitingCrd++;
    if (verdict.status !== 'refused') continue;
    refusals.push({
      object: displayName(object),
      message: verdict.message,
      ...(source ? { file: source.file, line: source.line } : {}),
    });
  }
  if (refusals.length > 0) {
    const first = refusals[0]!;
    const lines = refusals.map(
      (refusal) =>
        `${refusal.file ? `${refusal.file}:${refusal.line ?? 1}: ` : ''}${refusal.object}: ${refusal.message}`,
    );
    throw blockedError(
      'SERVER_DRY_RUN_REFUSED',
      `the API server would refuse ${refusals.length} object(s) of ${environment.name} (server-side dry run; nothing was pushed):\n${lines.join('\n')}`,
      {
        ...(first.file
          ? { location: { file: first.file, ...(first.line ? { line: first.line } : {}) } }
          : {}),
        hint: 'fix the manifests; an immutable field is changed by recreating the object under a new name',
        details: { refusals },
      },
    );
  }
  return { accepted: verdicts.length - awaitingCrd, awaitingCrd };
}
