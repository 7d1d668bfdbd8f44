import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { createContext } from '../src/cli/context.js';
import type { GitopsError } from '../src/core/errors.js';
import { Git } from '../src/git/runner.js';
import { verifyCommitRange } from '../src/git/verify.js';
import { baseEnv, runCli, tempDir } from './support/cli.js';
import { clusterFixture } from './support/cluster.js';
import { createRemote, git, gitTestEnv } from './support/git.js';
import { REGISTRY, WEB_IMAGE_CONFIG, webEnvironmentFiles } from './support/manifests.js';
import { uniqueName } from './support/test-cluster.js';

const FILES = {
  'envs/staging/config.yaml':
    'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\ndata:\n  level: info\n',
};

function sshKey(dir: string, name: string): string {
  const key = join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', key]);
  return key;
}

/**
 * An env repo whose gitops commits are signed with an allowed SSH key (envRepo.sign and
 * verifyCommits), deployed once at 1.0.0. Returns the fixture and a way to push by hand.
 */
async function signedFixture(t: Parameters<typeof clusterFixture>[0]) {
  const ns = uniqueName('staging');
  const cluster = await clusterFixture(
    t,
    { ...webEnvironmentFiles('staging', { namespace: ns }), ...FILES },
    { staging: `    namespace: ${ns}\n    timeout: 3m\n` },
    WEB_IMAGE_CONFIG,
  );
  const keys = tempDir(t, 'gitops-keys-');
  const bot = sshKey(keys, 'gitops-bot');
  const intruder = sshKey(keys, 'intruder');
  writeFileSync(
    join(cluster.app, 'allowed_signers'),
    `author@example.com ${readFileSync(`${bot}.pub`, 'utf8').trim()}\n`,
  );
  const gitconfig = join(keys, 'gitconfig');
  writeFileSync(gitconfig, `[gpg]\n\tformat = ssh\n[user]\n\tsigningkey = ${bot}\n`);
  const configFile = join(cluster.app, 'gitops.yaml');
  const config = readFileSync(configFile, 'utf8');
  // The seed commit predates signing: the first deploy signs, then verification is switched on.
  writeFileSync(configFile, config.replace('  branch: main\n', '  branch: main\n  sign: true\n'));
  const env = { ...cluster.env, GIT_CONFIG_GLOBAL: gitconfig };
  /** Added to every run's environment (a GnuPG home). */
  const extraEnv: Record<string, string> = {};
  const gitops = (args: string[]) => runCli(args, { cwd: cluster.app, env: { ...env, ...extraEnv } });
  const first = await gitops([
    '--json',
    'deploy',
    '--env',
    'staging',
    '--skip-build',
    '--image',
    `web=${REGISTRY}/web:1.0.0`,
  ]);
  assert.equal(first.code, 0, first.stderr);
  writeFileSync(
    configFile,
    config.replace(
      '  branch: main\n',
      '  branch: main\n  sign: true\n  verifyCommits:\n    allowedSigners: allowed_signers\n',
    ),
  );
  /** Commits a change to the ConfigMap by hand and pushes it; returns the commit. */
  const pushByHand = (level: string, signArgs: string[]) => {
    const seed = cluster.remote.seed;
    git(seed, ['pull', '--quiet', '--ff-only', 'origin', 'main']);
    writeFileSync(
      join(seed, 'envs/staging/config.yaml'),
      FILES['envs/staging/config.yaml'].replace('info', level),
    );
    git(seed, ['add', '-A']);
    git(seed, ['-c', 'gpg.format=ssh', ...signArgs, 'commit', '--quiet', '-m', `log level ${level}`]);
    git(seed, ['push', '--quiet', 'origin', 'main']);
    return git(seed, ['rev-parse', 'HEAD']);
  };
  return {
    cluster,
    ns,
    gitops,
    extraEnv,
    intruder,
    bot,
    pushByHand,
    deploy: (tag: string) =>
      gitops([
        '--json',
        'deploy',
        '--env',
        'staging',
        '--skip-build',
        '--image',
        `web=${REGISTRY}/web:${tag}`,
      ]),
    firstRevision: (JSON.parse(first.stdout) as { revision: string }).revision,
  };
}

test('verifyCommits: signed commits deploy; an unsigned commit pushed by hand → deploy and rollback exit 5 naming it', async (t) => {
  const { cluster, gitops, deploy, pushByHand, bot, firstRevision } = await signedFixture(t);
  const signed = pushByHand('debug', ['-c', `user.signingkey=${bot}`, '-c', 'commit.gpgsign=true']);
  const second = await deploy('2.0.0');
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stderr, /verify signatures — 1 commit\(s\) since [0-9a-f]{12} signed by allowed keys/);
  const secondRevision = (JSON.parse(second.stdout) as { revision: string }).revision;
  assert.equal(git(cluster.remote.bare, ['rev-parse', `${secondRevision}~1`]), signed);

  const unsigned = pushByHand('trace', ['-c', 'commit.gpgsign=false']);
  const head = cluster.remote.head();
  const blocked = await deploy('3.0.0');
  assert.equal(blocked.code, 5, blocked.stderr);
  const doc = JSON.parse(blocked.stdout) as { error: { code: string; details: { commit: string } } };
  assert.equal(doc.error.code, 'UNSIGNED_COMMIT');
  assert.equal(doc.error.details.commit, unsigned);
  assert.ok(
    blocked.stderr.includes(`env-repo commit ${unsigned} (author Test Author) is not signed`),
    blocked.stderr,
  );
  assert.equal(cluster.remote.head(), head, 'nothing pushed');

  const rollback = await gitops(['rollback', firstRevision.slice(0, 12), '--env', 'staging']);
  assert.equal(rollback.code, 5, rollback.stderr);
  assert.ok(rollback.stderr.includes(unsigned), rollback.stderr);
  assert.equal(cluster.remote.head(), head, 'nothing pushed');
});

test('verifyCommits: a commit signed by a key outside the allowed-signers file → exit 5 naming it', async (t) => {
  const { cluster, deploy, pushByHand, intruder } = await signedFixture(t);
  const forged = pushByHand('debug', ['-c', `user.signingkey=${intruder}`, '-c', 'commit.gpgsign=true']);
  const head = cluster.remote.head();
  const blocked = await deploy('2.0.0');
  assert.equal(blocked.code, 5, blocked.stderr);
  assert.ok(
    blocked.stderr.includes(
      `env-repo commit ${forged} (author Test Author) is signed by a key that is not in the allowed-signers file`,
    ),
    blocked.stderr,
  );
  assert.equal(cluster.remote.head(), head);
});

/** git in the seed clone with extra environment (a GnuPG home). */
function gitEnv(cwd: string, args: string[], env: Record<string, string> = {}): string {
  return execFileSync('git', args, {
    cwd,
    env: { ...process.env, ...gitTestEnv, ...env },
    encoding: 'utf8',
    stdio: ['pipe', 'pipe', 'pipe'],
  }).trim();
}

test('verifyCommits: unsigned commits hidden behind a shallow boundary (a long side branch, a signed merge) → exit 5 naming one, nothing applied', async (t) => {
  const { cluster, deploy, bot } = await signedFixture(t);
  const seed = cluster.remote.seed;
  git(seed, ['pull', '--quiet', '--ff-only', 'origin', 'main']);
  const signing = ['-c', 'gpg.format=ssh', '-c', `user.signingkey=${bot}`, '-c', 'commit.gpgsign=true'];
  git(seed, ['checkout', '--quiet', '-b', 'side']);
  mkdirSync(join(seed, 'notes'), { recursive: true });
  const unsigned: string[] = [];
  for (let i = 0; i < 6; i++) {
    writeFileSync(
      join(seed, i === 0 ? 'envs/staging/intruder.yaml' : `notes/unsigned-${i}.txt`),
      i === 0
        ? 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: intruder\ndata:\n  owned: "yes"\n'
        : `${i}\n`,
    );
    git(seed, ['add', '-A']);
    git(seed, ['-c', 'commit.gpgsign=false', 'commit', '--quiet', '-m', `unsigned ${i}`]);
    unsigned.push(git(seed, ['rev-parse', 'HEAD']));
  }
  // More signed commits on top than the first deepening (--depth=50) reaches.
  for (let i = 0; i < 55; i++) {
    writeFileSync(join(seed, 'notes/signed.txt'), `${i}\n`);
    git(seed, ['add', '-A']);
    git(seed, [...signing, 'commit', '--quiet', '-m', `signed ${i}`]);
  }
  git(seed, ['checkout', '--quiet', 'main']);
  git(seed, [...signing, 'merge', '--quiet', '--no-ff', '-m', 'merge side', 'side']);
  git(seed, ['push', '--quiet', 'origin', 'main']);
  const head = cluster.remote.head();

  const blocked = await deploy('2.0.0');
  assert.equal(blocked.code, 5, blocked.stderr);
  const doc = JSON.parse(blocked.stdout) as { error: { code: string; details: { commit: string } } };
  assert.equal(doc.error.code, 'UNSIGNED_COMMIT');
  assert.ok(
    unsigned.includes(doc.error.details.commit),
    `${doc.error.details.commit} is one of the unsigned`,
  );
  assert.match(blocked.stderr, /is not signed; refusing to apply/);
  assert.equal(cluster.remote.head(), head, 'nothing pushed');
  const intruder = await cluster.kubectl([
    'get',
    'configmap',
    'intruder',
    '-A',
    '--ignore-not-found',
    '-o',
    'name',
  ]);
  assert.equal(intruder.stdout.trim(), '', 'nothing applied');
});

test('verifyCommits: rollback to an unsigned commit from before the verified revision → exit 5; to a signed one it goes', async (t) => {
  const { cluster, gitops, deploy, pushByHand, bot, firstRevision } = await signedFixture(t);
  const seedCommit = cluster.remote.log().at(-1)!;
  const head = cluster.remote.head();
  const refused = await gitops(['--json', 'rollback', seedCommit.slice(0, 12), '--env', 'staging']);
  assert.equal(refused.code, 5, refused.stderr);
  const doc = JSON.parse(refused.stdout) as { error: { code: string; details: { commit: string } } };
  assert.equal(doc.error.code, 'UNSIGNED_COMMIT');
  assert.equal(doc.error.details.commit, seedCommit);
  assert.ok(refused.stderr.includes(`the rollback target ${seedCommit} (author Test Author) is not signed`));
  assert.equal(cluster.remote.head(), head, 'nothing pushed');
  const inventory = await gitops(['--json', 'status', '--env', 'staging']);
  assert.equal(inventory.code, 0, inventory.stderr);
  assert.ok(inventory.stdout.includes(firstRevision), 'the cluster is still at the verified revision');

  // A signed target outside the range just checked (gitops' own first deploy commit) is restored.
  pushByHand('debug', ['-c', `user.signingkey=${bot}`, '-c', 'commit.gpgsign=true']);
  const second = await deploy('2.0.0');
  assert.equal(second.code, 0, second.stderr);
  const rollback = await gitops(['rollback', firstRevision.slice(0, 12), '--env', 'staging']);
  assert.equal(rollback.code, 0, rollback.stderr);
});

/** A GnuPG home with two ultimately trusted signing keys; returns their fingerprints. */
function gpgHome(t: Parameters<typeof tempDir>[0]): { home: string; allowed: string; intruder: string } {
  const home = tempDir(t, 'gitops-gpg-');
  const env = { ...process.env, GNUPGHOME: home };
  const make = (name: string) => {
    execFileSync(
      'gpg',
      [
        '--batch',
        '--passphrase',
        '',
        '--quick-gen-key',
        `${name} <${name}@example.com>`,
        'ed25519',
        'sign',
        'never',
      ],
      { env, stdio: 'ignore' },
    );
    const listing = execFileSync(
      'gpg',
      ['--batch', '--with-colons', '--list-secret-keys', `${name}@example.com`],
      { env, encoding: 'utf8' },
    );
    return /^fpr:+([0-9A-F]{40}):/m.exec(listing)![1]!;
  };
  const fingerprints = { allowed: make('allowed'), intruder: make('intruder') };
  (t as { after(fn: () => void): void }).after(() => {
    execFileSync('gpgconf', ['--kill', 'gpg-agent'], { env, stdio: 'ignore' });
  });
  return { home, ...fingerprints };
}

test('verifyCommits: a GPG signature by a key the runner trusts but allowedKeys does not list → exit 5; a listed key deploys', async (t) => {
  const { cluster, ns, deploy, pushByHand, extraEnv } = await signedFixture(t);
  const gpg = gpgHome(t);
  extraEnv.GNUPGHOME = gpg.home;
  const configFile = join(cluster.app, 'gitops.yaml');
  writeFileSync(
    configFile,
    readFileSync(configFile, 'utf8').replace(
      '    allowedSigners: allowed_signers\n',
      `    allowedSigners: allowed_signers\n    allowedKeys: [${gpg.allowed}]\n`,
    ),
  );
  process.env.GNUPGHOME = gpg.home;
  t.after(() => {
    delete process.env.GNUPGHOME;
  });
  const openpgp = (key: string) => [
    '-c',
    'gpg.format=openpgp',
    '-c',
    `user.signingkey=${key}`,
    '-c',
    'commit.gpgsign=true',
  ];

  const listed = pushByHand('debug', openpgp(gpg.allowed));
  assert.match(
    gitEnv(cluster.remote.seed, ['log', '-1', '--format=%G? %GF', listed], { GNUPGHOME: gpg.home }),
    /^G /,
  );
  const ok = await deploy('2.0.0');
  assert.equal(ok.code, 0, ok.stderr);

  const forged = pushByHand('trace', openpgp(gpg.intruder));
  assert.match(
    gitEnv(cluster.remote.seed, ['log', '-1', '--format=%G?', forged], { GNUPGHOME: gpg.home }),
    /^G$/,
    "the runner's GnuPG trusts the intruder's key",
  );
  const head = cluster.remote.head();
  const blocked = await deploy('3.0.0');
  assert.equal(blocked.code, 5, blocked.stderr);
  assert.ok(
    blocked.stderr.includes(
      `env-repo commit ${forged} (author Test Author) is signed by the GPG key ${gpg.intruder}, which is not in envRepo.verifyCommits.allowedKeys`,
    ),
    blocked.stderr,
  );
  assert.equal(cluster.remote.head(), head, 'nothing pushed');
  const level = await cluster.kubectl(['get', 'configmap', 'web', '-n', ns, '-o', 'jsonpath={.data.level}']);
  assert.equal(
    level.stdout.trim(),
    'debug',
    'nothing applied: the live ConfigMap is as the listed key left it',
  );
});

test('verifyCommits without envRepo.sign is refused at config load (exit 2), before anything is pushed', async (t) => {
  const remote = createRemote(t, FILES);
  const app = tempDir(t, 'gitops-app-');
  writeFileSync(join(app, 'allowed_signers'), '');
  writeFileSync(
    join(app, 'gitops.yaml'),
    `version: 1\nenvRepo:\n  url: ${remote.bare}\n  branch: main\n  verifyCommits:\n    allowedSigners: allowed_signers\nenvironments:\n  staging:\n    path: envs/staging\n`,
  );
  const head = remote.head();
  const result = await runCli(['--json', 'deploy', '--env', 'staging', '--skip-build'], { cwd: app });
  assert.equal(result.code, 2, result.stderr);
  assert.equal((JSON.parse(result.stdout) as { error: { code: string } }).error.code, 'CONFIG_INVALID');
  assert.match(
    result.stderr,
    /gitops\.yaml:6:\d+: .*envRepo\.verifyCommits is set but envRepo\.sign is not true/,
  );
  assert.equal(remote.head(), head, 'nothing pushed');
});

/** A context for calling the verification code in-process. */
function context(cwd: string) {
  return createContext(
    {
      cwd,
      env: baseEnv({ ...gitTestEnv, GIT_CONFIG_GLOBAL: '/dev/null' }),
      stdout: new PassThrough(),
      stderr: new PassThrough(),
      isTTY: false,
    },
    {},
  );
}

test('verifyCommits: a range cut by a shallow boundary that cannot be deepened, or a checkout with grafts, is refused (exit 5)', async (t) => {
  const keys = tempDir(t, 'gitops-keys-');
  const bot = sshKey(keys, 'gitops-bot');
  const allowed = join(keys, 'allowed_signers');
  writeFileSync(allowed, `author@example.com ${readFileSync(`${bot}.pub`, 'utf8').trim()}\n`);
  const signing = ['-c', 'gpg.format=ssh', '-c', `user.signingkey=${bot}`, '-c', 'commit.gpgsign=true'];
  const origin = tempDir(t, 'gitops-origin-');
  git(origin, ['init', '--quiet', '-b', 'main']);
  git(origin, [...signing, 'commit', '--quiet', '--allow-empty', '-m', 'trusted']);
  const since = git(origin, ['rev-parse', 'HEAD']);
  git(origin, ['checkout', '--quiet', '-b', 'side']);
  git(origin, ['-c', 'commit.gpgsign=false', 'commit', '--quiet', '--allow-empty', '-m', 'unsigned']);
  for (let i = 0; i < 3; i++)
    git(origin, [...signing, 'commit', '--quiet', '--allow-empty', '-m', `signed ${i}`]);
  git(origin, ['checkout', '--quiet', 'main']);
  git(origin, [...signing, 'merge', '--quiet', '--no-ff', '-m', 'merge', 'side']);
  const head = git(origin, ['rev-parse', 'HEAD']);

  // Depth 3 from the merge: the trusted commit is there, the side branch is cut above "unsigned".
  const root = tempDir(t, 'gitops-shallow-');
  const dir = join(root, 'clone');
  git(root, ['clone', '--quiet', '--depth', '3', '--no-local', `file://${origin}`, dir]);
  const ctx = context(dir);
  const checkout = {
    dir,
    git: new Git(ctx, dir),
    branch: 'main',
    envPath: '.',
    envDir: dir,
    temporary: false,
  };
  const allowedKeys = { allowedSigners: allowed, gpgFingerprints: [] };
  await assert.rejects(
    verifyCommitRange(ctx, checkout, allowedKeys, head, since),
    (error: GitopsError) =>
      error.code === 'SIGNATURES_UNVERIFIABLE' &&
      error.exitCode === 5 &&
      /is cut at the shallow commit [0-9a-f]{12}: commits behind it cannot be checked/.test(error.message),
  );

  // The full history: the unsigned commit is found and named.
  const full = join(root, 'full');
  git(root, ['clone', '--quiet', `file://${origin}`, full]);
  const fullCheckout = { ...checkout, dir: full, git: new Git(ctx, full), envDir: full };
  const unsigned = git(full, ['rev-parse', 'origin/side~3']);
  await assert.rejects(
    verifyCommitRange(ctx, fullCheckout, allowedKeys, head, since),
    (error: GitopsError) =>
      error.code === 'UNSIGNED_COMMIT' && error.message.includes(`env-repo commit ${unsigned}`),
  );

  // Grafts rewrite what the history shows: refused, whatever the range.
  writeFileSync(join(full, '.git', 'info', 'grafts'), `${head} ${since}\n`);
  await assert.rejects(
    verifyCommitRange(ctx, fullCheckout, allowedKeys, head, since),
    (error: GitopsError) => error.code === 'SIGNATURES_UNVERIFIABLE' && /grafts/.test(error.message),
  );
});
