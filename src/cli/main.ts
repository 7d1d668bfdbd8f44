import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type * as CommanderModule from 'commander';
import type { Command } from 'commander';
import { type ActionState, actionFactory } from './action.js';
import { defineBuild } from './commands/build.js';
import { defineBump } from './commands/bump.js';
import { defineDeploy } from './commands/deploy.js';
import { defineDiff } from './commands/diff.js';
import { defineHistory } from './commands/history.js';
import { defineInit } from './commands/init.js';
import { defineLock, defineUnlock } from './commands/lock.js';
import { definePromote } from './commands/promote.js';
import { defineRollback } from './commands/rollback.js';
import { defineStatus } from './commands/status.js';
import type { CliIO } from './io.js';

const EXIT_USAGE = 2;

// commander is CommonJS: require() skips the ESM wrapper's CJS analysis, which is a third of
// start-up time on Node 20 (bench/cold-start.bench.ts).
const {
  Command: CommandClass,
  CommanderError,
  Option,
} = createRequire(import.meta.url)('commander') as typeof CommanderModule;

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

/** Builds the commander program. Commands are registered here only once they work. */
export function buildProgram(io: CliIO, state: ActionState): Command {
  const program = new CommandClass('gitops');
  program
    .description(
      'Push-based GitOps deployments from CI: build, bump the env repo, check drift, apply, wait, verify.',
    )
    .version(packageVersion(), '-V, --version', 'print the version')
    .option(
      '-c, --config <path>',
      'config file (default: gitops.yaml, looked up from the working directory to the repo root)',
    )
    .option('--json', 'print one JSON document with the result on stdout; human output stays on stderr')
    .option('-v, --verbose', 'show commands run and stack traces')
    .option('-q, --quiet', 'only errors, warnings and results')
    .option('--no-color', 'no colours (NO_COLOR is honoured too)')
    .option('-n, --dry-run', 'show what would change; run reads, skip every write (commits, pushes, applies)')
    .addOption(new Option('--ci', 'CI mode: plain output, no spinners (default: detected from CI env vars)'))
    .addOption(new Option('--no-ci', 'interactive mode even when CI env vars are set'))
    .showSuggestionAfterError(true)
    // `gitops help deploy` lists --json, --dry-run and the other global options too.
    .configureHelp({ showGlobalOptions: true })
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    })
    .addHelpText(
      'after',
      '\nExit codes: 0 ok/in sync, 1 differences, 2 usage/config/input, 3 operation failed,\n4 rollout failed, 5 blocked by a gate, 6 superseded by a newer revision, 130 interrupted.\nSee README.md.',
    );

  const action = actionFactory(io, state);
  defineInit(program, action);
  defineDeploy(program, action);
  defineRollback(program, action);
  definePromote(program, action);
  defineDiff(program, action);
  defineStatus(program, action);
  defineHistory(program, action);
  defineLock(program, action);
  defineUnlock(program, action);
  defineBump(program, action);
  defineBuild(program, action);

  for (const command of program.commands) {
    command.exitOverride().configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    });
    checkRequiredOptionsLast(command);
  }
  return program;
}

/**
 * commander checks required options before unknown ones, so a typo (`diff --evn staging`) was
 * reported as "required option '--env' not specified". The check moves after the unknown-option
 * check (a preAction hook), where a typo gets "unknown option '--evn' (Did you mean --env?)".
 */
function checkRequiredOptionsLast(command: Command): void {
  const required = command.options.filter((option) => option.mandatory);
  for (const option of required) option.mandatory = false;
  if (required.length === 0) return;
  command.hook('preAction', (self) => {
    for (const option of required) {
      if (self.getOptionValue(option.attributeName()) === undefined) {
        self.error(`error: required option '${option.flags}' not specified`, {
          code: 'commander.missingMandatoryOptionValue',
          exitCode: EXIT_USAGE,
        });
      }
    }
  });
}

/** Runs the CLI with the given arguments (without `node gitops`); resolves to the exit code. */
export async function run(argv: readonly string[], io: CliIO): Promise<number> {
  const state: ActionState = { exitCode: 0 };
  const program = buildProgram(io, state);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return state.exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end here too, with exit code 0.
      if (error.exitCode === 0) return 0;
      if (argv.includes('--json')) {
        const message = error.message.replace(/^error: /, '');
        io.stdout.write(
          `${JSON.stringify({ ok: false, error: { code: 'USAGE', exitCode: EXIT_USAGE, message } }, null, 2)}\n`,
        );
      }
      return EXIT_USAGE;
    }
    throw error;
  }
}
