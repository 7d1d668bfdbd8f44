import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type * as CommanderModule from 'commander';
import type { Command } from 'commander';
import type { ActionFactory, ActionState } from './action.js';
import type { CliIO } from './io.js';

const EXIT_USAGE = 2;

// commander is CommonJS: require() skips the ESM wrapper's CJS analysis, which is a third of
// start-up time on Node 20 (bench/cold-start.bench.ts).
const {
  Command: CommandClass,
  CommanderError,
  Help,
  Option,
} = createRequire(import.meta.url)('commander') as typeof CommanderModule;

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

/**
 * Completes a command that buildProgram created with its name, description and operands: its
 * options, help text and action.
 */
export type DefineCommand = (command: Command, action: ActionFactory) => void;

interface CommandEntry {
  name: string;
  description: string;
  /** Operands as `.argument()` takes them: name, then description. */
  operands?: ReadonlyArray<readonly [string, string?]>;
  load: () => Promise<DefineCommand>;
}

/**
 * Every command, in the order `gitops --help` lists them. The list needs only what is here; a
 * command's module (options, help text, action) is loaded only when argv names the command, so
 * `gitops --help` loads none of them and `gitops deploy …` only deploy's.
 */
const COMMANDS: readonly CommandEntry[] = [
  {
    name: 'init',
    description:
      'write a commented starter gitops.yaml (and, with --ci-template github|jenkins, CI workflow files)',
    // `--ci` is the global CI-mode switch, so commander hands `github`/`jenkins` of `init --ci github`
    // to this command as an operand; init reads it from there (the older spelling of --ci-template).
    operands: [['[ci-provider]']],
    load: async () => (await import('./commands/init.js')).defineInit,
  },
  {
    name: 'deploy',
    description: 'build, bump the env repo, check drift, apply, wait for the rollout, verify and record',
    load: async () => (await import('./commands/deploy.js')).defineDeploy,
  },
  {
    name: 'rollback',
    description: 'return an environment to an earlier env-repo commit, as a new commit, applied and verified',
    operands: [
      ['[sha]', 'env-repo commit to return to (full or short); default: the previous deployed revision'],
    ],
    load: async () => (await import('./commands/rollback.js')).defineRollback,
  },
  {
    name: 'promote',
    description:
      'copy the images of one environment (as its verified revision renders them) to the next, then commit, apply, wait and verify',
    load: async () => (await import('./commands/promote.js')).definePromote,
  },
  {
    name: 'diff',
    description: 'show what differs between git and the live cluster (exit 0 in sync, 1 differences)',
    load: async () => (await import('./commands/diff.js')).defineDiff,
  },
  {
    name: 'status',
    description:
      'per environment: live revision against the branch, drift, rollout health, deploy state (exit 1 when not all is well)',
    load: async () => (await import('./commands/status.js')).defineStatus,
  },
  {
    name: 'history',
    description: "list an environment's deploys from the env repo's log, newest first, the live one marked",
    load: async () => (await import('./commands/history.js')).defineHistory,
  },
  {
    name: 'lock',
    description: 'lock an environment: deploy, promote and rollback refuse (exit 5) until unlocked',
    operands: [['<env>', 'environment of gitops.yaml']],
    load: async () => (await import('./commands/lock.js')).defineLock,
  },
  {
    name: 'unlock',
    description: 'remove the lock of an environment (a commit to the env repo)',
    operands: [['<env>', 'environment of gitops.yaml']],
    load: async () => (await import('./commands/lock.js')).defineUnlock,
  },
  {
    name: 'bump',
    description: 'set new image references in an environment of the env repo, commit and push them',
    load: async () => (await import('./commands/bump.js')).defineBump,
  },
  {
    name: 'build',
    description: 'build the images of gitops.yaml, push them and print their digests',
    operands: [['[images...]', 'names of the images to build (default: all)']],
    load: async () => (await import('./commands/build.js')).defineBuild,
  },
];

/**
 * Builds the commander program: every command with its name, description and operands, and the
 * rest (options, help text, action) of those `complete` selects. Only a completed command can run
 * or show its own help; run() completes each command argv names.
 */
export async function buildProgram(
  io: CliIO,
  state: ActionState,
  complete: (name: string) => boolean = () => true,
): Promise<Command> {
  const incomplete = new WeakSet<Command>();
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
    .configureHelp({
      // `gitops help deploy` lists --json, --dry-run and the other global options too.
      showGlobalOptions: true,
      subcommandTerm(command) {
        const term = Help.prototype.subcommandTerm.call(this, command);
        // A command not completed has no options yet; every command has some, so the list shows
        // `[options]` as it would once completed (a test compares the list both ways).
        return incomplete.has(command) ? term.replace(command.name(), `${command.name()} [options]`) : term;
      },
    })
    .exitOverride()
    .configureOutput(outputTo(io))
    .addHelpText(
      'after',
      '\nExit codes: 0 ok/in sync, 1 differences, 2 usage/config/input, 3 operation failed,\n4 rollout failed, 5 blocked by a gate, 6 superseded by a newer revision, 130 interrupted.\nSee README.md.',
    );

  const completed: Array<{ command: Command; load: CommandEntry['load'] }> = [];
  for (const entry of COMMANDS) {
    const command = program.command(entry.name).description(entry.description);
    for (const [name, description] of entry.operands ?? []) command.argument(name, description);
    if (complete(entry.name)) completed.push({ command, load: entry.load });
    else incomplete.add(command);
  }
  if (completed.length > 0) {
    const [{ actionFactory }, ...defines] = await Promise.all([
      import('./action.js'),
      ...completed.map(({ load }) => load()),
    ]);
    const action = actionFactory(io, state);
    for (const [index, { command }] of completed.entries()) defines[index]!(command, action);
  }

  for (const command of program.commands) {
    command.exitOverride().configureOutput(outputTo(io));
    checkRequiredOptionsLast(command);
  }
  return program;
}

/**
 * commander's output goes to the streams run() was given, wrapped to their width: a terminal's
 * columns, else 80 (as commander does for process.stdout, which in-process runs do not write to).
 */
function outputTo(io: CliIO) {
  const widthOf = (stream: CliIO['stdout']) => {
    const terminal = stream as { isTTY?: boolean; columns?: number };
    return terminal.isTTY && terminal.columns ? terminal.columns : 80;
  };
  return {
    writeOut: (text: string) => io.stdout.write(text),
    writeErr: (text: string) => io.stderr.write(text),
    getOutHelpWidth: () => widthOf(io.stdout),
    getErrHelpWidth: () => widthOf(io.stderr),
  };
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
  // commander dispatches to a command only by a token that is its name, so completing the
  // commands argv names is enough; a name that is an option value too costs one module, no more.
  const program = await buildProgram(io, state, (name) => argv.includes(name));
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
