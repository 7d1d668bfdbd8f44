/**
 * kapp (Carvel), the peer of the deploy row: found on PATH or in ~/.cache/gitops-bench/bin, or
 * built there once with `go install` from the Go module proxy. Where it cannot be had, the peer
 * row is skipped with the reason, loudly; it never fails the bench.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { firstLine } from '../lib.js';
import { runProcess } from './process.js';

/** No version of kapp was listed as building with this Go; `latest` is what is tried. */
const KAPP_MODULE = 'carvel.dev/kapp/cmd/kapp';
const KAPP_VERSION = process.env.BENCH_KAPP_VERSION ?? 'latest';
const BUILD_TIMEOUT_MS = 15 * 60_000;

export const benchCache = (): string =>
  join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'gitops-bench');

function onPath(name: string): string | undefined {
  try {
    return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

let found: Promise<{ path: string } | { reason: string }> | undefined;

/** The kapp binary, or why there is none (asked once per process). */
export function kappBinary(): Promise<{ path: string } | { reason: string }> {
  found ??= locate();
  return found;
}

async function locate(): Promise<{ path: string } | { reason: string }> {
  const bin = join(benchCache(), 'bin');
  const cached = join(bin, 'kapp');
  if (existsSync(cached)) return { path: cached };
  const installed = onPath('kapp');
  if (installed) return { path: installed };
  const go = onPath('go');
  if (!go) return { reason: 'kapp is not installed and there is no Go toolchain to build it' };
  mkdirSync(bin, { recursive: true });
  process.stderr.write(`  building kapp (go install ${KAPP_MODULE}@${KAPP_VERSION}) into ${bin} …\n`);
  try {
    await runProcess(go, ['install', `${KAPP_MODULE}@${KAPP_VERSION}`], {
      env: { ...process.env, GOBIN: bin, GOFLAGS: '-buildvcs=false' },
      timeoutMs: BUILD_TIMEOUT_MS,
    });
  } catch (error) {
    // The results are committed: they name no registry host.
    const lines = (error instanceof Error ? error.message : String(error)).split('\n');
    const why = (lines.find((line) => line.startsWith('go: ')) ?? firstLine(error)).replace(
      /https?:\/\/\S+/g,
      '<module proxy>',
    );
    return { reason: `go install ${KAPP_MODULE}@${KAPP_VERSION} failed: ${why.slice(0, 300)}` };
  }
  return existsSync(cached) ? { path: cached } : { reason: `go install left no ${cached}` };
}
