#!/usr/bin/env node
// Entry point: resolves the built CLI in dist/ and hands it the real process.
// The first SIGINT/SIGTERM aborts the running command (children are killed, clean-ups run,
// exit 130); a second one exits at once.
//
// CommonJS on purpose: `--version` and `--help` are answered here, and a CommonJS entry starts
// without Node's ES module loader (about a quarter of `node -e 0` again, bench/cold-start.bench.ts).
// The CLI itself (dist/, ES modules) is imported only past them.
const { readFileSync } = require('node:fs');
const { join } = require('node:path');

const args = process.argv.slice(2);
const root = join(__dirname, '..');

// `gitops … | head` closes the pipe early: that is the reader's choice, not an error to report.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}

function packageVersion() {
  return JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version;
}

async function main() {
  // `gitops --version` is what scripts call to probe the tool: answer it without loading the CLI.
  if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
    process.stdout.write(`${packageVersion()}\n`);
    return 0;
  }
  if (args.length === 1 && (args[0] === '--help' || args[0] === '-h')) {
    // commander wraps help to a terminal's width; the kept text is the 80 columns of a pipe or file.
    const help = process.stdout.isTTY ? undefined : require('./help-cache.cjs').cachedHelp();
    if (help !== undefined) {
      process.stdout.write(help);
      return 0;
    }
  }

  const interrupt = new AbortController();
  // Every request in flight and every child process listens for the interrupt: a deploy has a
  // few dozen at once (its server dry run and apply), which is no leak to warn about on stderr.
  require('node:events').setMaxListeners(256, interrupt.signal);
  let interrupts = 0;
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.on(signal, () => {
      interrupts += 1;
      if (interrupts > 1) process.exit(130);
      interrupt.abort(signal);
    });
  }

  let cli;
  try {
    cli = await import('../dist/cli/main.js');
  } catch (error) {
    if (error?.code === 'ERR_MODULE_NOT_FOUND' && String(error.message).includes('dist/cli/main.js')) {
      process.stderr.write(
        'error: gitops is not built (dist/ is missing)\nhint: run `npm install` or `npm run build` in the gitops package\n',
      );
      return 2;
    }
    throw error;
  }
  const code = await cli.run(args, {
    cwd: process.cwd(),
    env: process.env,
    stdout: process.stdout,
    stderr: process.stderr,
    // Built on first use: a stream on standard input costs start-up time most commands never need.
    get stdin() {
      return process.stdin;
    },
    isTTY: Boolean(process.stderr.isTTY),
    signal: interrupt.signal,
  });
  return interrupt.signal.aborted ? 130 : code;
}

// Set the exit code and let Node drain stdout; process.exit() here could cut piped output.
main().then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    // Only a failure to load the CLI lands here: run() reports everything else itself.
    process.stderr.write(`${error?.stack ?? error}\n`);
    process.exitCode = 1;
  },
);
