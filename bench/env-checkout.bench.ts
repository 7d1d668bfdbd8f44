import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { createContext } from '../src/cli/context.js';
import { openEnvRepo } from '../src/git/checkout.js';
import { testConfig, testEnvironment } from '../test/support/config.js';
import { type BenchRow, measure, round, row } from './lib.js';

const ENVIRONMENTS = 100;
const FILES_PER_ENV = 200; // 20,000 files
const COMMITS = 10_000;

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

export async function run(): Promise<BenchRow[]> {
  const root = mkdtempSync(join(tmpdir(), 'gitops-bench-checkout-'));
  try {
    const started = performance.now();
    const bare = generateEnvRepo(root);
    const generation = round((performance.now() - started) / 1000);
    const url = `file://${bare}`;

    let fullStats = { objects: 0, bytes: 0 };
    const full = await measure(
      () => {
        const dir = mkdtempSync(join(root, 'full-'));
        git(root, ['clone', '--quiet', '--no-local', url, dir]);
        fullStats = packStats(join(dir, '.git'));
        rmSync(dir, { recursive: true, force: true });
      },
      { runs: 3, warmup: 1 },
    );

    const config = testConfig(root, bare);
    const environment = testEnvironment('envs/env-7', 'env-7');
    let sparseStats = { objects: 0, bytes: 0 };
    const sparse = await measure(
      async () => {
        const ctx = createContext(
          { cwd: root, env: gitEnv, stdout: new PassThrough(), stderr: new PassThrough(), isTTY: false },
          {},
        );
        const checkout = await openEnvRepo(ctx, config, environment);
        sparseStats = packStats(join(checkout.dir, '.git'));
        await ctx.cleanup.run();
      },
      { runs: 3, warmup: 1 },
    );
    const fraction = (value: number, of: number) => `${((100 * value) / of).toFixed(2)}%`;
    const notes =
      `repo: ${ENVIRONMENTS * FILES_PER_ENV} files, ${COMMITS} commits (generated in ${generation}s); ` +
      `full clone ${fullStats.objects} objects / ${(fullStats.bytes / 2 ** 20).toFixed(1)} MiB; ` +
      `one-environment checkout ${sparseStats.objects} objects / ${(sparseStats.bytes / 2 ** 10).toFixed(0)} KiB ` +
      `(${fraction(sparseStats.objects, fullStats.objects)} of the objects, ${fraction(sparseStats.bytes, fullStats.bytes)} of the bytes)`;
    return [
      row(
        'env-repo checkout',
        { label: 'gitops checkout of one environment (depth 1, blob:none, sparse)', ...sparse },
        { label: 'git clone (full)', ...full },
        undefined,
        notes,
      ),
    ];
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const rows = await run();
  console.table(
    rows.map((r) => ({ subject: r.subject.medianMs, baseline: r.baseline.medianMs, ratio: r.ratio })),
  );
  console.log(rows[0]?.notes);
}
