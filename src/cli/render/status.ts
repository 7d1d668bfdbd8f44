import { describeLock } from '../../gates/lock.js';
import type { EnvironmentStatus } from '../../operations/status.js';
import type { Palette } from '../color.js';

/** `gitops status` for people: a block per environment. */
export function formatStatus(statuses: readonly EnvironmentStatus[], color: Palette): string[] {
  return statuses.map((status) => {
    const deployed = status.liveRevision !== null;
    const drift = status.drift
      ? status.drift.inSync
        ? [color.green('in sync')]
        : [
            color.yellow(
              `drift: ${status.drift.counts.modified} modified, ${status.drift.counts.missing} missing, ${status.drift.counts.extra} extra${status.drift.counts.unmanaged ? `, ${status.drift.counts.unmanaged} not managed` : ''}${status.drift.counts.foreign ? `, ${status.drift.counts.foreign} owned by others` : ''}`,
            ),
            `run gitops diff --env ${status.environment} to see what differs and who changed it`,
          ]
      : [];
    const owners = (status.drift?.foreign ?? []).map(
      (entry) => `  ${color.yellow(`${entry.object} is owned by ${entry.owner}`)}`,
    );
    // One workload per line: a dozen of them on one line cannot be read.
    const health = status.rollouts.map(
      (rollout) => `${rollout.ready ? color.green('✓') : color.red('✗')} ${rollout.object} ${rollout.detail}`,
    );
    const revisions = deployed
      ? `  live ${status.liveRevision!.slice(0, 12)}  branch ${status.headRevision.slice(0, 12) || '?'}  git: ${status.git}  phase: ${status.phase ?? 'unknown'}`
      : status.headRevision
        ? `  not deployed yet  branch ${status.headRevision.slice(0, 12)}`
        : '';
    return [
      color.bold(status.environment),
      ...(revisions ? [revisions] : []),
      ...drift.map((line) => `  ${line}`),
      ...owners,
      ...health.map((line) => `  ${line}`),
      ...(status.lock ? [`  ${color.yellow(`🔒 ${describeLock(status.lock)}`)}`] : []),
      ...(status.lease
        ? [
            `  ${color.yellow(`⏳ apply lease: ${status.lease.action ?? 'run'}${status.lease.revision ? ` of ${status.lease.revision.slice(0, 12)}` : ''}${status.lease.actor ? ` by ${status.lease.actor}` : ''}, holder ${status.lease.holder}${status.lease.expired ? `, expired at ${status.lease.expires}` : `, renewed ${status.lease.renewTime ?? '?'}`}`)}`,
          ]
        : []),
      ...(status.freezes ?? []).map((freeze) => `  ${color.yellow(`❄ ${freeze}`)}`),
      ...(status.note ? [`  ${color.yellow(status.note)}`] : []),
      ...(status.error ? [`  ${color.red(status.error)}`] : []),
    ].join('\n');
  });
}
