#!/usr/bin/env node
// Entry point: resolves the built CLI in dist/ and hands it the real process.
// The first SIGINT/SIGTERM aborts the running command (children are killed, clean-ups run,
// exit 130); a second one exits at once.
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
  if (error && error.code === 'ERR_MODULE_NOT_FOUND' && String(error.message).includes('dist/cli/main.js')) {
    process.stderr.write(
      'error: gitops is not built (dist/ is missing)\nhint: run `npm install` or `npm run build` in the gitops package\n',
    );
    process.exitCode = 2;
  } else {
    throw error;
  }
}
if (cli) {
  process.exitCode = await cli.run(process.argv.slice(2), {
    cwd: process.cwd(),
    env: process.env,
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    isTTY: Boolean(process.stderr.isTTY),
    signal: interrupt.signal,
  });
  if (interrupt.signal.aborted) process.exitCode = 130;
}
