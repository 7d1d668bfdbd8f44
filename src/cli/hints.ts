import type { GitopsError } from '../core/errors.js';

/**
 * Hints that name command-line options, for errors whose core code knows no flags: core says what
 * went wrong, the CLI says which option changes it.
 */
const OPTION_HINTS: Record<string, string> = {
  DRIFT:
    'find out who changed what (above), then deploy with --on-drift overwrite to put git back, or --on-drift warn',
  OBJECT_OWNED_ELSEWHERE:
    'remove them from the environment, or take them over on purpose with --adopt (or environments.<env>.adopt: true in gitops.yaml)',
};

/** The hint shown with an error: its own, else the CLI's for its code. */
export function hintOf(error: GitopsError): string | undefined {
  return error.hint ?? OPTION_HINTS[error.code];
}
