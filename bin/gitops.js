#!/usr/bin/env node
// Entry point: resolves the built CLI in dist/ and hands it the real process.
// The first SIGINT/SIGTERM aborts the running command (children are killed, clean-ups run,
// exit 130); a second one exits at once.
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);

// `gitops … | head` closes the pipe early: that is the reader's choice, not an error to report.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}

async function main() {
  // `gitops --version` is what scripts call to probe the tool: answer it without loading the CLI.
  if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    process.stdout.write(`${pkg.version}\n`);
    return 0;
  }

  const interrupt = new AbortController();
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
    stdin: process.stdin,
    isTTY: Boolean(process.stderr.isTTY),
    signal: interrupt.signal,
  });
  return interrupt.signal.aborted ? 130 : code;
}

// Set the exit code and let Node drain stdout; process.exit() here could cut piped output.
process.exitCode = await main();
