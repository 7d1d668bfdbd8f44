import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { createContext } from '../src/cli/context.js';
import { openEnvRepo } from '../src/git/checkout.js';
import { testConfig, testEnvironment } from '../test/support/config.js';
import { type BenchRow, type Contender, measurePair, round, scaled } from './lib.js';
import { runProcess } from './support/process.js';

// 20,000 files and 10,000 commits at full size; env-7 is the one checked out.
const ENVIRONMENTS = scaled(100, 8);
const FILES_PER_ENV = scaled(200, 10);
const COMMITS = scaled(10_000, 10);

const gitEnv = { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', LC_ALL: 'C' };

function git(cwd: string, args: string[], input?: string): string {
  return execFileSync('git', args, { cwd, env: gitEnv, input, encoding: 'utf8', maxBuffer: 1 << 30 }).trim();
}

function manifest(env: number, file: number, version: number): string {
  return `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: svc-${file}\n  namespace: env-${env}\nspec:\n  replicas: 2\n  template:\n    spec:\n      containers:\n        - name: app\n          image: registry.example.com/acme/svc-${file}:1.${version}.0\n`;
}

/** A bare env repo with 20,000 files and 10,000 commits, written with git fast-import in seconds. */
export function generateEnvRepo(root: string): string {
  const bare = join(root, 'env.git');
  git(root, ['init', '--quiet', '--bare', '--initial-branch=main', bare]);
  const chunks: string[] = [];
  const data = (text: string) => `data ${Buffer.byteLength(text)}\n${text}\n`;
  let mark = 0;
  let time = 1_700_000_000;
  const commit = (message: string, changes: string[]) => {
    mark += 1;
    chunks.push(
      `commit refs/heads/main\nmark :${mark}\ncommitter Bench <bench@example.com> ${time++} +0000\n${data(message)}`,
    );
    if (mark > 1) chunks.push(`from :${mark - 1}\n`);
    chunks.push(...changes, '\n');
  };
  const initial: string[] = [];
  for (let env = 0; env < ENVIRONMENTS; env++) {
    for (let file = 0; file < FILES_PER_ENV; file++) {
      initial.push(`M 100644 inline envs/env-${env}/svc-${file}.yaml\n${data(manifest(env, file, 0))}`);
    }
  }
  commit('initial', initial);
  for (let index = 1; index < COMMITS; index++) {
    const env = index % ENVIRONMENTS;
    const file = Math.floor(index / ENVIRONMENTS) % FILES_PER_ENV;
    commit(`deploy(env-${env}): svc-${file}`, [
      `M 100644 inline envs/env-${env}/svc-${file}.yaml\n${data(manifest(env, file, index))}`,
    ]);
  }
  execFileSync('git', ['fast-import', '--quiet'], {
    cwd: bare,
    env: gitEnv,
    input: chunks.join(''),
    maxBuffer: 1 << 30,
  });
  git(bare, ['gc', '--quiet', '--aggressive']);
  // Hosting services (GitHub, GitLab) allow partial clone; a local bare repo must opt in.
  git(bare, ['config', 'uploadpack.allowFilter', 'true']);
  return bare;
}

function packStats(gitDir: string): { objects: number; bytes: number } {
  const stats = Object.fromEntries(
    git(gitDir, ['count-objects', '-v'])
      .split('\n')
      .map((line) => line.split(': ') as [string, string]),
  );
  return {
    objects: Number(stats.count ?? 0) + Number(stats['in-pack'] ?? 0),
    bytes: (Number(stats.size ?? 0) + Number(stats['size-pack'] ?? 0)) * 1024,
  };
}

/**
 * gitops' checkout of one environment of a 20,000-file, 10,000-commit env repo, in turn with
 * what a person would type for the same: a shallow, blob-less, sparse clone of that environment.
 */
export async function run(): Promise<BenchRow[]> {
  const root = mkdtempSync(join(tmpdir(), 'gitops-bench-checkout-'));
  try {
    const started = performance.now();
    const bare = generateEnvRepo(root);
    const generation = round((performance.now() - started) / 1000);
    const url = `file://${bare}`;
    const envPath = 'envs/env-7';

    let handStats = { objects: 0, bytes: 0 };
    let handFiles = 0;
    const byHand: Contender = {
      label: 'git clone --filter=blob:none --depth 1 --sparse + sparse-checkout set',
      run: async () => {
        const dir = mkdtempSync(join(root, 'hand-'));
        try {
          const env = gitEnv as Record<string, string>;
          await runProcess(
            'git',
            ['clone', '--quiet', '--filter=blob:none', '--depth', '1', '--sparse', url, join(dir, 'repo')],
            { env, cwd: root },
          );
          await runProcess('git', ['sparse-checkout', 'set', envPath], { env, cwd: join(dir, 'repo') });
          handStats = packStats(join(dir, 'repo', '.git'));
          handFiles = readdirSync(join(dir, 'repo', envPath)).length;
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      },
    };

    const config = testConfig(root, bare);
    const environment = testEnvironment(envPath, 'env-7');
    let gitopsStats = { objects: 0, bytes: 0 };
    let gitopsFiles = 0;
    const gitops: Contender = {
      label: 'gitops checkout of one environment (openEnvRepo)',
      run: async () => {
        const ctx = createContext(
          { cwd: root, env: gitEnv, stdout: new PassThrough(), stderr: new PassThrough(), isTTY: false },
          {},
        );
        try {
          const checkout = await openEnvRepo(ctx, config, environment);
          gitopsStats = packStats(join(checkout.dir, '.git'));
          gitopsFiles = readdirSync(checkout.envDir).length;
        } finally {
          await ctx.cleanup.run();
        }
      },
    };
    const row = await measurePair('env-repo checkout', gitops, byHand, { runs: 5, warmup: 1 });
    if (row.status !== 'failed') {
      if (gitopsFiles !== FILES_PER_ENV || handFiles !== FILES_PER_ENV) {
        row.status = 'failed';
        row.error = `expected ${FILES_PER_ENV} files of ${envPath}: gitops checked out ${gitopsFiles}, the sparse clone ${handFiles}`;
      }
      const kib = (bytes: number) => `${(bytes / 2 ** 10).toFixed(0)} KiB`;
      row.notes =
        `repo: ${ENVIRONMENTS * FILES_PER_ENV} files, ${COMMITS} commits (generated in ${generation}s); ` +
        `gitops' checkout holds ${gitopsStats.objects} objects / ${kib(gitopsStats.bytes)}, ` +
        `the sparse clone ${handStats.objects} objects / ${kib(handStats.bytes)}`;
    }
    return [row];
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const rows = await run();
  console.log(JSON.stringify(rows, null, 2));
}
