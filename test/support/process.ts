import { type ChildProcessWithoutNullStreams, execFileSync, spawn } from 'node:child_process';
import { chmodSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { binPath, type CliResult } from './cli.js';

/** A running `bin/gitops.cjs`: its pid, its output so far, and its result once it exits. */
export interface RunningBin {
  child: ChildProcessWithoutNullStreams;
  pid: number;
  stderr(): string;
  /** Resolves once `predicate(stderr so far)` holds; rejects after `timeoutMs`. */
  waitForStderr(predicate: (stderr: string) => boolean, timeoutMs?: number): Promise<void>;
  done: Promise<CliResult>;
}

/** Starts the built CLI as a child process without waiting for it (for signal tests). */
export function startBin(
  args: string[],
  options: { cwd: string; env: Record<string, string | undefined>; timeoutMs?: number },
): RunningBin {
  const child = spawn(process.execPath, [binPath, ...args], {
    cwd: options.cwd,
    env: options.env as NodeJS.ProcessEnv,
    stdio: ['pipe', 'pipe', 'pipe'],
    timeout: options.timeoutMs ?? 60_000,
  });
  let stdout = '';
  let stderr = '';
  const listeners = new Set<() => void>();
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
    for (const listener of listeners) listener();
  });
  child.stdin.end('');
  const done = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      for (const listener of listeners) listener();
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
  });
  return {
    child,
    pid: child.pid!,
    stderr: () => stderr,
    done,
    // A bound for a hung child only: the wait ends when the output comes or the child exits.
    waitForStderr(predicate, timeoutMs = 180_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (predicate(stderr)) {
            cleanup();
            resolve();
          } else if (child.exitCode !== null || child.signalCode !== null) {
            cleanup();
            reject(new Error(`gitops exited before the expected output; stderr:\n${stderr}`));
          }
        };
        // Predicates may look at more than stderr (e.g. a test server's request log): poll too.
        const poll = setInterval(check, 50);
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`timed out waiting for output; stderr so far:\n${stderr}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          clearInterval(poll);
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      });
    },
  };
}

export interface ProcessInfo {
  pid: number;
  ppid: number;
  /** Start time in clock ticks since boot (tells a reused pid from the original). */
  start: string;
  cmdline: string;
}

function readProcess(pid: number): ProcessInfo | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name (which may hold spaces).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
    // fields[0] is the state, [1] ppid, [19] starttime; a zombie has exited already.
    if (fields[0] === 'Z') return undefined;
    return { pid, ppid: Number(fields[1]), start: fields[19] ?? '', cmdline };
  } catch {
    return undefined;
  }
}

/** Every live process below `root` (children, grandchildren, …), from /proc. */
export function descendants(root: number): ProcessInfo[] {
  const all = readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map((name) => readProcess(Number(name)))
    .filter((info): info is ProcessInfo => info !== undefined);
  const found: ProcessInfo[] = [];
  const parents = new Set([root]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const info of all) {
      if (parents.has(info.ppid) && !parents.has(info.pid)) {
        parents.add(info.pid);
        found.push(info);
        grew = true;
      }
    }
  }
  return found;
}

/** The processes of `snapshot` that still run (same pid and start time): orphans once their parent is gone. */
export function stillRunning(snapshot: readonly ProcessInfo[]): ProcessInfo[] {
  return snapshot.filter((info) => {
    const now = readProcess(info.pid);
    return now !== undefined && now.start === info.start;
  });
}

/**
 * A directory with a `git` wrapper that sleeps before running one git subcommand (named by
 * GITOPS_TEST_SLOW_GIT, e.g. `clone` or `push`; a `push --dry-run` is never slowed), so a test can
 * interrupt gitops while that command runs. The sleep dies with the wrapper (no orphan of its own).
 */
export function slowGitDir(dir: string): string {
  const realGit = execFileSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).trim();
  const file = join(dir, 'git');
  writeFileSync(
    file,
    `#!/bin/sh
if [ "$1" = "$GITOPS_TEST_SLOW_GIT" ]; then
  case " $* " in
    *" --dry-run "*) ;;
    *)
      trap 'kill $pid 2>/dev/null; exit 143' TERM INT
      sleep "\${GITOPS_TEST_SLOW_SECONDS:-10}" & pid=$!
      wait $pid
      ;;
  esac
fi
exec ${realGit} "$@"
`,
  );
  chmodSync(file, 0o755);
  return dir;
}

/**
 * A directory with a `git` wrapper for races around a push:
 * - GITOPS_TEST_PUSH_GATE=<file>: the first real `git push` (not `--dry-run`) creates
 *   `<file>.waiting` and blocks until `<file>` exists, so a test can change the remote between a
 *   run's gates and its push, at a moment it chose (no sleeps).
 * - GITOPS_TEST_PUSH_HANGUP=1: every real `git push` runs, then reports the connection broken
 *   ("the remote end hung up unexpectedly") although the remote updated the ref; `git ls-remote`
 *   fails, as when the network is gone right after.
 */
export function pushShimDir(dir: string): string {
  const realGit = execFileSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).trim();
  const file = join(dir, 'git');
  writeFileSync(
    file,
    `#!/bin/sh
case " $* " in *" --dry-run "*) dry=1 ;; *) dry= ;; esac
if [ "$1" = "push" ] && [ -z "$dry" ] && [ -n "$GITOPS_TEST_PUSH_GATE" ] && [ ! -e "$GITOPS_TEST_PUSH_GATE.passed" ]; then
  : > "$GITOPS_TEST_PUSH_GATE.waiting"
  while [ ! -e "$GITOPS_TEST_PUSH_GATE" ]; do sleep 0.05; done
  : > "$GITOPS_TEST_PUSH_GATE.passed"
fi
if [ -n "$GITOPS_TEST_PUSH_HANGUP" ]; then
  if [ "$1" = "ls-remote" ]; then
    echo "fatal: Could not read from remote repository." >&2
    exit 128
  fi
  if [ "$1" = "push" ] && [ -z "$dry" ]; then
    ${realGit} "$@" >/dev/null 2>&1
    echo "fatal: the remote end hung up unexpectedly" >&2
    exit 128
  fi
fi
exec ${realGit} "$@"
`,
  );
  chmodSync(file, 0o755);
  return dir;
}

/** A process that keeps one core busy until the test ends (a loaded CI machine). */
export function cpuLoad(t: { after(fn: () => void): void }): void {
  const child = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
  t.after(() => {
    child.kill('SIGKILL');
  });
}
