import { isGitopsError } from '../core/errors.js';
import { ExitCode } from '../core/exit-codes.js';
import type { CommandOutcome } from './action.js';
import type { CliContext } from './context.js';
import { errorDocument } from './reporter.js';

/**
 * The one top-level catch: known errors print `error: …` and a hint (stack only with --verbose),
 * unknown errors print their stack; `--json` gets exactly one document either way.
 * Returns the exit code; the caller sets process.exitCode (never process.exit after output).
 */
export async function runCommand(ctx: CliContext, body: () => Promise<CommandOutcome>): Promise<number> {
  try {
    const outcome = await body();
    const exitCode = outcome.exitCode ?? ExitCode.Ok;
    ctx.reporter.result({
      ok: exitCode === ExitCode.Ok || exitCode === ExitCode.Differences,
      ...outcome.result,
      steps: ctx.reporter.steps,
    });
    return exitCode;
  } catch (error) {
    const interrupted = ctx.signal?.aborted === true;
    ctx.reporter.error(error);
    ctx.reporter.result({ ...errorDocument(error), steps: ctx.reporter.steps });
    if (interrupted) return ExitCode.Interrupted;
    return isGitopsError(error) ? error.exitCode : ExitCode.OperationFailed;
  } finally {
    await ctx.cleanup.run();
  }
}
