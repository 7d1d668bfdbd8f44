// The audit trailers name the right people and sources: the actor is the commit's author outside
// CI, and a rollback or promotion records the source of the images it restores or copies, not
// the app repo's HEAD of the run that does it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCli } from './support/cli.js';
import { clusterFixture } from './support/cluster.js';
import { git } from './support/git.js';
import { REGISTRY, WEB_IMAGE_CONFIG, webEnvironmentFiles } from './support/manifests.js';
import { uniqueName } from './support/test-cluster.js';

const sha = (digit: string) => digit.repeat(40);

test('Gitops-Actor is the commit author; rollback and promote keep the source commit of the images they move', async (t) => {
  const ns = { staging: uniqueName('staging'), production: uniqueName('production') };
  const cluster = await clusterFixture(
    t,
    {
      ...webEnvironmentFiles('staging', { namespace: ns.staging }),
      ...webEnvironmentFiles('production', { namespace: ns.production }),
    },
    {
      staging: `    namespace: ${ns.staging}\n    timeout: 3m\n`,
      production: `    namespace: ${ns.production}\n    timeout: 3m\n    promoteFrom: staging\n`,
    },
    WEB_IMAGE_CONFIG,
  );
  // A CI run that built commit `source` of the app repo (GITHUB_SHA), by a person with a git identity.
  const run = async (source: string, args: string[]) => {
    const result = await runCli(['--json', ...args], {
      cwd: cluster.app,
      env: { ...cluster.env, GITHUB_SHA: source, GIT_AUTHOR_NAME: 'Alice Author' },
    });
    assert.equal(result.code, 0, result.stderr);
    return (JSON.parse(result.stdout) as { revision: string }).revision;
  };
  const trailer = (revision: string, key: string) =>
    git(cluster.remote.bare, ['log', '-1', `--format=%(trailers:key=${key},valueonly)`, revision]).trim();
  const deploy = (tag: string) => [
    'deploy',
    '--env',
    'staging',
    '--skip-build',
    '--image',
    `web=${REGISTRY}/web:${tag}`,
  ];

  const v1 = await run(sha('1'), deploy('1.0.0'));
  assert.equal(trailer(v1, 'Gitops-Actor'), 'Alice Author');
  assert.equal(git(cluster.remote.bare, ['log', '-1', '--format=%an', v1]), 'Alice Author', 'one identity');
  assert.equal(trailer(v1, 'Gitops-Source-Commit'), sha('1'));
  await run(sha('2'), deploy('2.0.0'));

  const rolledBack = await run(sha('3'), ['rollback', v1.slice(0, 12), '--env', 'staging']);
  assert.equal(trailer(rolledBack, 'Gitops-Action'), 'rollback');
  assert.equal(trailer(rolledBack, 'Gitops-Source-Commit'), sha('1'), 'the source of the restored images');

  const promoted = await run(sha('4'), ['promote', '--to', 'production']);
  assert.equal(trailer(promoted, 'Gitops-Action'), 'promote');
  assert.equal(trailer(promoted, 'Gitops-Source-Commit'), sha('1'), 'the source of the promoted images');
  assert.match(git(cluster.remote.bare, ['log', '-1', '--format=%s', promoted]), /^promote\(production\): /);
});
