import type { Command } from 'commander';
import type { CliContext } from './context.js';
import type { CliIO, GlobalOptions } from './io.js';

/** What a command body returns: its exit code (0 by default) and the `--json` document's fields. */
export interface CommandOutcome {
  exitCode?: number;
  result?: object;
}

export type CommandBody<O> = (
  ctx: CliContext,
  options: O & GlobalOptions,
  args: string[],
) => Promise<CommandOutcome>;

/** Wraps a command body so it runs under the one top-level handler (context, errors, exit codes, JSON). */
export type ActionFactory = <O>(body: CommandBody<O>) => (...commanderArgs: unknown[]) => Promise<void>;

export interface ActionState {
  exitCode: number;
}

export function actionFactory(io: CliIO, state: ActionState): ActionFactory {
  return <O>(body: CommandBody<O>) =>
    async (...commanderArgs: unknown[]) => {
      const command = commanderArgs.at(-1) as Command;
      const args = commanderArgs.slice(0, -2).flatMap((value) => (Array.isArray(value) ? value : [value]));
      const options = command.optsWithGlobals() as O & GlobalOptions;
      // Loaded here, not at start-up: `gitops --help` must not pay for them.
      const [{ openContext }, { runCommand }] = await Promise.all([
        import('./context.js'),
        import('./run-command.js'),
      ]);
      const ctx = await openContext(io, options);
      state.exitCode = await runCommand(ctx, () =>
        body(ctx, options, args.filter((arg) => arg !== undefined) as string[]),
      );
    };
}
