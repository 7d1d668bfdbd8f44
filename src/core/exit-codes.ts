/**
 * The one exit-code contract shared by every command (README, "Exit codes").
 * Change it only with a reason written in the README.
 */
export const ExitCode = {
  /** Success; for diff/drift checks: in sync. */
  Ok: 0,
  /** Diff/drift check: differences found. */
  Differences: 1,
  /** Usage, config or input error; nothing was changed. */
  Usage: 2,
  /** An operation failed (git, build, registry, cluster). */
  OperationFailed: 3,
  /** Rollout failed or timed out. */
  RolloutFailed: 4,
  /** Blocked by a gate (drift, policy, lock, signature). */
  Blocked: 5,
  /**
   * Superseded: a newer revision of the branch, which replaces this run's change, is live and
   * verified (applied by this run or another gitops run). Nothing to roll back (README, "Exit codes").
   */
  Superseded: 6,
  /** Interrupted by SIGINT/SIGTERM. */
  Interrupted: 130,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];
