// Many jobs at once: 15 deploys of one environment, three rounds; 20 bumps and 20 deploys of two
// environments under a CPU-loading process, five runs in a row. Nothing is lost, the cluster ends on
// the branch head, no job exits 4, and every non-zero exit is a superseded job that says which newer
// revision runs.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it as test } from 'node:test';
import { type CliResult, runBin, tempDir } from './support/cli.js';
import { type ClusterFixture, clusterFixture } from './support/cluster.js';
import { createRemote, git, type TestRemote } from './support/git.js';
import { deployWeb, inventoryData, liveWebImage } from './support/live.js';
import { REGISTRY, WEB_IMAGE_CONFIG, webEnvironmentFiles } from './support/manifests.js';
import { cpuLoad } from './support/process.js';
import { uniqueName } from './support/test-cluster.js';

type Fixture = ClusterFixture & { namespaces: Record<string, string> };

async function fixture(t: Parameters<typeof clusterFixture>[0], envs: string[]): Promise<Fixture> {
  const namespaces = Object.fromEntries(envs.map((env) => [env, uniqueName(env)]));
  const cluster = await clusterFixture(
    t,
    Object.assign({}, ...envs.map((env) => webEnvironmentFiles(env, { namespace: namespaces[env] }))),
    Object.fromEntries(envs.map((env) => [env, `    namespace: ${namespaces[env]}\n    timeout: 3m\n`])),
    WEB_IMAGE_CONFIG,
  );
  return Object.assign(cluster, { namespaces });
}

/** An env repo of its own for write-back jobs (`gitops bump`, no cluster), and an app dir using it. */
function bumpRepo(t: Parameters<typeof createRemote>[0]): { remote: TestRemote; app: string } {
  const remote = createRemote(t, webEnvironmentFiles('dev'));
  const app = tempDir(t, 'gitops-bump-app-');
  writeFileSync(
    join(app, 'gitops.yaml'),
    `version: 1\n${WEB_IMAGE_CONFIG}envRepo:\n  url: ${remote.bare}\n  branch: main\nenvironments:\n  dev:\n    path: envs/dev\n`,
  );
  return { remote, app };
}

interface Outcome {
  label: string;
  tag: string;
  code: number;
  doc: {
    revision?: string;
    error?: { code: string; message: string; hint?: string; details?: Record<string, string> };
  };
  stderr: string;
}

/** A job's outcome: its exit code and its one `--json` document. */
function outcome(label: string, tag: string, result: CliResult): Outcome {
  let doc: Outcome['doc'] = {};
  try {
    doc = JSON.parse(result.stdout) as Outcome['doc'];
  } catch {
    assert.fail(`${label}: no JSON document (exit ${result.code})\n${result.stderr}`);
  }
  return { label, tag, code: result.code, doc, stderr: result.stderr };
}

/**
 * A deploy job: the built CLI as a process of its own, like a CI job (in-process, twenty jobs would
 * share one event loop with the test's API proxy, which no CI machine does).
 */
async function deploy(cluster: Fixture, env: string, tag: string): Promise<Outcome> {
  const result = await runBin(['--json', ...deployWeb(env, tag)], {
    cwd: cluster.app,
    env: cluster.env,
    timeoutMs: 600_000,
  });
  return outcome(`deploy ${env} ${tag}`, tag, result);
}

/** A write-back job, a process of its own too. */
async function bump(repo: { app: string }, env: Record<string, string | undefined>, tag: string) {
  const args = ['--json', 'bump', '--env', 'dev', '--image', `web=${REGISTRY}/web:${tag}`];
  return outcome(`bump ${tag}`, tag, await runBin(args, { cwd: repo.app, env, timeoutMs: 600_000 }));
}

function imageAt(remote: TestRemote, revision: string, env: string): string {
  return /image: (\S+)/.exec(git(remote.bare, ['show', `${revision}:envs/${env}/web.yaml`]))![1]!;
}

/**
 * Exit 0 claims the job's image runs in the revision it names; exit 6 names a newer revision,
 * containing the job's commit, in which it does not. Nothing else is allowed (no 4, no lost push).
 */
function assertTruthful(cluster: Fixture, env: string, result: Outcome): void {
  const image = `${REGISTRY}/web:${result.tag}`;
  if (result.code === 0) {
    assert.equal(
      imageAt(cluster.remote, result.doc.revision!, env),
      image,
      `${result.label}: ${result.stderr}`,
    );
    return;
  }
  assert.equal(result.code, 6, `${result.label}: exit ${result.code}\n${result.stderr}`);
  const error = result.doc.error!;
  assert.equal(error.code, 'SUPERSEDED', result.label);
  assert.match(error.message, /superseded/);
  assert.doesNotMatch(`${error.message} ${error.hint}`, /gitops rollback/);
  const { commit, revision } = error.details as { commit: string; revision: string };
  assert.notEqual(imageAt(cluster.remote, revision, env), image, `${result.label}: not in ${revision}`);
  assert.equal(imageAt(cluster.remote, commit, env), image, `${result.label}: its own commit has its image`);
  git(cluster.remote.bare, ['merge-base', '--is-ancestor', commit, revision]);
}

/** The environment runs what the branch head says: the inventory verified at the head's content. */
async function assertOnHead(cluster: Fixture, env: string): Promise<void> {
  const namespace = cluster.namespaces[env]!;
  const inventory = await inventoryData(cluster, env, namespace);
  assert.equal(inventory.phase, 'verified', env);
  git(cluster.remote.bare, ['diff', '--quiet', inventory.revision!, 'main', '--', `envs/${env}`]);
  const head = imageAt(cluster.remote, 'main', env);
  assert.equal(await liveWebImage(cluster, namespace), head, `${env} runs the head's image`);
}

/** One commit per job, and every tag on the remote as the Gitops-Image trailer of a commit. */
function assertNothingLost(remote: TestRemote, before: number, tags: string[]): void {
  const trailers = git(remote.bare, ['log', '--format=%(trailers:key=Gitops-Image,valueonly)', 'main']).split(
    '\n',
  );
  assert.equal(remote.log().length, before + tags.length, 'one commit per job');
  for (const tag of tags)
    assert.ok(trailers.includes(`web=${REGISTRY}/web:${tag}`), `${tag} is on the remote`);
}

function summary(outcomes: Outcome[]): string {
  const counts = new Map<number, number>();
  for (const each of outcomes) counts.set(each.code, (counts.get(each.code) ?? 0) + 1);
  return [...counts].map(([code, count]) => `exit ${code}: ${count}`).join(', ');
}

const seconds = (since: number) => `${Math.round((Date.now() - since) / 1000)}s`;

/**
 * Repetitions of each race. A round takes one to two minutes on two cores and loads the machine
 * for every other test file, so the suite runs each race once; `npm run test:stress` runs the
 * 3 rounds and 5 runs in a row that the ordering promise is measured by.
 */
const STRESS_ROUNDS = Number(process.env.GITOPS_TEST_STRESS_ROUNDS || 1);
const STRESS_RUNS = Number(process.env.GITOPS_TEST_STRESS_RUNS || 1);

// One after the other: each loads the machine as much as it may.
describe('concurrency', () => {
  test('15 concurrent deploys to one environment, round after round: every commit on the remote, the head live, no exit 4', async (t) => {
    const cluster = await fixture(t, ['staging']);
    assert.equal((await deploy(cluster, 'staging', '5.0.0')).code, 0);
    for (let round = 1; round <= STRESS_ROUNDS; round++) {
      const started = Date.now();
      const before = cluster.remote.log().length;
      const tags = Array.from({ length: 15 }, (_, index) => `5.${round}.${index}`);
      const outcomes = await Promise.all(tags.map((tag) => deploy(cluster, 'staging', tag)));
      for (const each of outcomes) assertTruthful(cluster, 'staging', each);
      assert.ok(
        outcomes.some((each) => each.code === 0),
        'some job deployed the head',
      );
      assertNothingLost(cluster.remote, before, tags);
      await assertOnHead(cluster, 'staging');
      t.diagnostic(`round ${round}: ${summary(outcomes)} in ${seconds(started)}`);
    }
  });

  test('20 bumps and 20 deploys of two environments at once under CPU load, run after run: nothing lost', async (t) => {
    const cluster = await fixture(t, ['staging', 'qa']);
    // The bumps write back to an env repo of their own: twenty jobs race for each repo.
    const bumped = bumpRepo(t);
    for (const env of ['staging', 'qa']) assert.equal((await deploy(cluster, env, '6.0.0')).code, 0);
    cpuLoad(t);
    for (let run = 1; run <= STRESS_RUNS; run++) {
      const started = Date.now();
      const before = [cluster.remote.log().length, bumped.remote.log().length] as const;
      const bumpTags = Array.from({ length: 20 }, (_, index) => `6.${run}.${index}`);
      const deploys = Array.from({ length: 20 }, (_, index) => ({
        env: index % 2 === 0 ? 'staging' : 'qa',
        tag: `7.${run}.${index}`,
      }));
      const [bumps, deployed] = await Promise.all([
        Promise.all(bumpTags.map((tag) => bump(bumped, cluster.env, tag))),
        Promise.all(deploys.map((job) => deploy(cluster, job.env, job.tag))),
      ]);
      for (const each of bumps) assert.equal(each.code, 0, `${each.label}: ${each.stderr}`);
      for (const [index, each] of deployed.entries()) assertTruthful(cluster, deploys[index]!.env, each);
      assertNothingLost(
        cluster.remote,
        before[0],
        deploys.map((job) => job.tag),
      );
      assertNothingLost(bumped.remote, before[1], bumpTags);
      for (const env of ['staging', 'qa']) await assertOnHead(cluster, env);
      t.diagnostic(`run ${run}: bumps ${summary(bumps)}; deploys ${summary(deployed)}; ${seconds(started)}`);
    }
  });
});
