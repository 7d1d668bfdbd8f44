import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli, tempDir } from './support/cli.js';
import { clusterFixture } from './support/cluster.js';
import { git } from './support/git.js';
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
  const gitops = (args: string[]) => runCli(args, { cwd: cluster.app, env });
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
    gitops,
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
