// Ordering: concurrent runs against one environment never leave an older revision live, a lock that
// appears mid-run holds, and exit codes say what happened. Slowness comes from the test API
// server's proxy (latency on chosen requests) or a git wrapper, never from sleeps in gitops.
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it as test } from 'node:test';
import { runCli, tempDir } from './support/cli.js';
import { type ClusterFixture, clusterFixture } from './support/cluster.js';
import { git } from './support/git.js';
import { deployWeb, inventoryData, liveWebImage } from './support/live.js';
import { REGISTRY, WEB_IMAGE_CONFIG, webEnvironmentFiles } from './support/manifests.js';
import { descendants, pushShimDir, startBin } from './support/process.js';
import { uniqueName } from './support/test-cluster.js';

type Fixture = ClusterFixture & { ns: string };

async function fixture(t: Parameters<typeof clusterFixture>[0], extra = ''): Promise<Fixture> {
  const ns = uniqueName('staging');
  const cluster = await clusterFixture(
    t,
    webEnvironmentFiles('staging', { namespace: ns }),
    { staging: `    namespace: ${ns}\n    timeout: 3m\n${extra}` },
    WEB_IMAGE_CONFIG,
  );
  return Object.assign(cluster, { ns });
}

const image = (tag: string) => `${REGISTRY}/web:${tag}`;

/** Polls until `predicate` holds: the event a step of the race waits for. */
async function until(predicate: () => boolean | Promise<boolean>, what: string, timeoutMs = 180_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

interface Outcome {
  code: number;
  doc: {
    revision?: string;
    commit?: string;
    error?: { code: string; message: string; hint?: string; details?: Record<string, string> };
  };
  stderr: string;
}

async function run(cluster: Fixture, args: string[], env: Record<string, string> = {}): Promise<Outcome> {
  const result = await runCli(['--json', ...args], { cwd: cluster.app, env: { ...cluster.env, ...env } });
  return { code: result.code, doc: JSON.parse(result.stdout) as Outcome['doc'], stderr: result.stderr };
}

async function status(cluster: Fixture) {
  const result = await cluster.gitops(['--json', 'status', '--env', 'staging']);
  const doc = JSON.parse(result.stdout) as {
    environments: Array<{
      git: string;
      phase: string | null;
      liveRevision: string | null;
      note?: string;
      lease?: { holder: string; action?: string; revision?: string; expired: boolean } | null;
    }>;
  };
  return { code: result.code, env: doc.environments[0]!, stderr: result.stderr };
}

/** The cluster runs the branch head: inventory verified at the head, the head's image live, status 0. */
async function assertOnHead(cluster: Fixture) {
  const head = cluster.remote.head();
  const inventory = await inventoryData(cluster, 'staging', cluster.ns);
  assert.equal(inventory.revision, head, 'the inventory is at the branch head');
  assert.equal(inventory.phase, 'verified');
  const wanted = /image: (\S+)/.exec(cluster.remote.show('envs/staging/web.yaml'))![1];
  assert.equal(await liveWebImage(cluster, cluster.ns), wanted, "the head's image runs");
  const after = await status(cluster);
  assert.equal(after.code, 0, after.stderr);
  assert.equal(after.env.git, 'up-to-date');
  assert.equal(after.env.lease, null, 'nobody holds the apply lease');
}

const DEPLOYMENT_PATCH = /\/deployments\/web$/;

/** A window the test opens and closes: requests held by it wait until `open()`. */
function gate() {
  let open!: () => void;
  const closed = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { closed, open };
}

/** The apply's own PATCH of the Deployment (not the server dry run before the push). */
const isDeploymentApply = (r: { method: string; path: string; query: Record<string, string> }) =>
  r.method === 'PATCH' && DEPLOYMENT_PATCH.test(r.path) && !r.query.dryRun;

/** Holds the next apply of the Deployment (not its dry run) in the proxy until `open()`. */
function holdDeploymentApply(cluster: Fixture) {
  const apply = gate();
  cluster.server.faults.add({
    method: 'PATCH',
    pathPattern: DEPLOYMENT_PATCH,
    dryRun: false,
    hold: apply.closed,
    times: 1,
  });
  return apply;
}

/** A held request must outlast kubectl's request timeout, however long the test holds it. */
const PATIENT = { GITOPS_KUBECTL_REQUEST_TIMEOUT: '10m' };

const LEASE = /\/leases\/gitops-lease-staging-[0-9a-f]+$/;

describe('ordering', { concurrency: true }, () => {
  test('slow first apply: the second deploy waits for the lease and applies the head; status is never 0 while behind', async (t) => {
    const cluster = await fixture(t);
    assert.equal((await run(cluster, deployWeb('staging', '3.0.0'))).code, 0);
    // The first job's apply of the Deployment is held in the proxy until the test has looked.
    const apply = holdDeploymentApply(cluster);
    cluster.server.clearRequests();
    const first = run(cluster, deployWeb('staging', '3.0.1'), PATIENT);
    await until(() => cluster.server.requests.some(isDeploymentApply), "the first job's apply");
    const before = cluster.remote.head();
    const second = run(cluster, deployWeb('staging', '3.0.2'));
    await until(() => cluster.remote.head() !== before, "the second job's push");
    // The branch is ahead of the cluster: status must not say all is well.
    const behind = await status(cluster);
    assert.equal(behind.code, 1, 'status exits 1 while the cluster is behind the branch head');
    assert.equal(behind.env.git, 'pending-apply');
    assert.ok(behind.env.lease, 'status shows who holds the apply lease');
    assert.match(behind.env.note ?? '', /holds the apply lease .* it is applying now/);
    apply.open();

    const [a, b] = await Promise.all([first, second]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    assert.match(b.stderr, /wait for the apply lease/);
    assert.equal(b.doc.revision, cluster.remote.head(), 'the second job applied the head');
    assert.notEqual(a.doc.revision, b.doc.revision);
    await assertOnHead(cluster);
    assert.equal(await liveWebImage(cluster, cluster.ns), image('3.0.2'));
  });

  test('overtaken before the lease: the older job is superseded (exit 6), never applies its older revision', async (t) => {
    const cluster = await fixture(t);
    assert.equal((await run(cluster, deployWeb('staging', '3.0.0'))).code, 0);
    // The first job is slow between its push and the lease: its first read of the lease is held
    // until a whole second deploy has finished.
    const lease = gate();
    cluster.server.faults.add({ method: 'GET', pathPattern: LEASE, hold: lease.closed, times: 1 });
    cluster.server.clearRequests();
    const before = cluster.remote.head();
    const first = run(cluster, deployWeb('staging', '3.0.1'), PATIENT);
    await until(
      () => cluster.server.requests.some((r) => r.method === 'GET' && LEASE.test(r.path)),
      "the first job's lease read",
    );
    assert.notEqual(cluster.remote.head(), before, 'the first job pushed');
    const mine = cluster.remote.head();
    const second = await run(cluster, deployWeb('staging', '3.0.2'));
    assert.equal(second.code, 0, second.stderr);
    lease.open();
    const a = await first;
    assert.equal(a.code, 6, a.stderr);
    assert.equal(a.doc.error?.code, 'SUPERSEDED');
    assert.equal(a.doc.error?.details?.commit, mine);
    assert.equal(a.doc.error?.details?.revision, cluster.remote.head());
    assert.match(a.doc.error?.message ?? '', /superseded/);
    assert.doesNotMatch(`${a.doc.error?.message}\n${a.doc.error?.hint}`, /gitops rollback/);
    assert.match(a.doc.error?.hint ?? '', /nothing to roll back/);
    const patches = cluster.server.requests.filter(
      (r) => isDeploymentApply(r) && r.fieldManager === 'gitops',
    );
    assert.equal(patches.length, 1, 'only the newer revision was applied');
    await assertOnHead(cluster);
    assert.equal(await liveWebImage(cluster, cluster.ns), image('3.0.2'));
  });

  test('a rollback racing deploys: the final state is the head, and no job claims what is not live', async (t) => {
    const cluster = await fixture(t);
    const v1 = await run(cluster, deployWeb('staging', '1.0.0'));
    assert.equal(v1.code, 0, v1.stderr);
    assert.equal((await run(cluster, deployWeb('staging', '2.0.0'))).code, 0);
    const jobs = [
      { kind: 'rollback' as const, args: ['rollback', v1.doc.revision!.slice(0, 12), '--env', 'staging'] },
      ...['4.0.0', '4.0.1', '4.0.2', '4.0.3'].map((tag) => ({
        kind: 'deploy' as const,
        tag,
        args: deployWeb('staging', tag),
      })),
    ];
    const outcomes = await Promise.all(jobs.map((job) => run(cluster, job.args)));
    for (const [index, outcome] of outcomes.entries()) {
      const job = jobs[index]!;
      assert.ok(
        [0, 6].includes(outcome.code),
        `${job.args.join(' ')}: exit ${outcome.code}\n${outcome.stderr}`,
      );
      const claimed = outcome.code === 0 ? outcome.doc.revision! : outcome.doc.error!.details!.revision!;
      const claimedImage = /image: (\S+)/.exec(
        git(cluster.remote.bare, ['show', `${claimed}:envs/staging/web.yaml`]),
      )![1];
      if (job.kind === 'deploy') {
        // Exit 0 claims this job's image ran in the revision it names; exit 6 that it did not.
        assert.equal(claimedImage === image(job.tag!), outcome.code === 0, `${job.tag}: ${outcome.stderr}`);
      } else {
        assert.equal(claimedImage === image('1.0.0'), outcome.code === 0, `rollback: ${outcome.stderr}`);
      }
      if (outcome.code === 6) {
        assert.equal(outcome.doc.error?.code, 'SUPERSEDED');
        assert.doesNotMatch(outcome.doc.error?.hint ?? '', /gitops rollback/);
      }
    }
    const log = git(cluster.remote.bare, ['log', '--format=%s', 'main']);
    assert.equal(log.split('\n').length, 3 + jobs.length, 'every job committed');
    await assertOnHead(cluster);
  });

  test('a lock committed between the lock check and the push: nothing pushed on top of it, exit 5', async (t) => {
    const cluster = await fixture(t);
    assert.equal((await run(cluster, deployWeb('staging', '1.0.0'))).code, 0);
    const shim = pushShimDir(tempDir(t, 'gitops-push-gate-'));
    const gate = join(tempDir(t, 'gitops-gate-'), 'open');
    const gated = (args: string[]) =>
      runCli(['--json', ...args], {
        cwd: cluster.app,
        env: { ...cluster.env, PATH: `${shim}:${cluster.env.PATH}`, GITOPS_TEST_PUSH_GATE: gate },
      });
    cluster.server.clearRequests();
    const deploy = gated(deployWeb('staging', '2.0.0'));
    await until(() => existsSync(`${gate}.waiting`), 'the deploy at its push');
    const lock = await cluster.gitops(['lock', 'staging', '--reason', 'incident 42']);
    assert.equal(lock.code, 0, lock.stderr);
    const locked = cluster.remote.head();
    writeFileSync(gate, '');
    const result = await deploy;
    assert.equal(result.code, 5, result.stderr);
    const doc = JSON.parse(result.stdout) as { error: { code: string; message: string } };
    assert.equal(doc.error.code, 'ENVIRONMENT_LOCKED');
    assert.match(doc.error.message, /locked by .*incident 42/);
    assert.equal(cluster.remote.head(), locked, 'nothing was pushed on top of the lock');
    assert.equal(cluster.server.requests.filter(isDeploymentApply).length, 0, 'nothing was applied');
    assert.equal(await liveWebImage(cluster, cluster.ns), image('1.0.0'));

    // With --force --reason the same race pushes, and the commit records the override.
    const gate2 = join(tempDir(t, 'gitops-gate-'), 'open');
    const forced = runCli(
      ['--json', '--verbose', ...deployWeb('staging', '2.0.0'), '--force', '--reason', 'hotfix'],
      {
        cwd: cluster.app,
        env: { ...cluster.env, PATH: `${shim}:${cluster.env.PATH}`, GITOPS_TEST_PUSH_GATE: gate2 },
      },
    );
    await until(() => existsSync(`${gate2}.waiting`), 'the forced deploy at its push');
    assert.equal((await cluster.gitops(['unlock', 'staging'])).code, 0);
    assert.equal((await cluster.gitops(['lock', 'staging', '--reason', 'incident 43'])).code, 0);
    writeFileSync(gate2, '');
    const pushed = await forced;
    assert.equal(pushed.code, 0, pushed.stderr);
    const trailers = git(cluster.remote.bare, [
      'log',
      '-1',
      '--format=%(trailers:key=Gitops-Override,valueonly)',
      'main',
    ]);
    assert.match(
      trailers,
      /incident 43/,
      `the override of the lock that appeared is recorded:\n${git(cluster.remote.bare, ['log', '-3', 'main'])}\n${pushed.stderr}`,
    );
  });

  test('a crashed deploy: its lease expires, status shows the holder, the next deploy takes over and finishes', async (t) => {
    const cluster = await fixture(t, '    lease:\n      duration: 3s\n');
    assert.equal((await run(cluster, deployWeb('staging', '1.0.0'))).code, 0);
    // The apply is held until the run is killed: it dies inside the apply, holding the lease.
    const apply = holdDeploymentApply(cluster);
    t.after(() => apply.open());
    cluster.server.clearRequests();
    const crashing = startBin(deployWeb('staging', '2.0.0'), {
      cwd: cluster.app,
      env: { ...cluster.env, ...PATIENT },
    });
    await crashing.waitForStderr(() => cluster.server.requests.some(isDeploymentApply), 180_000);
    // The CI runner dies: gitops and its kubectl, at once, without any clean-up.
    for (const child of descendants(crashing.pid)) process.kill(child.pid, 'SIGKILL');
    crashing.child.kill('SIGKILL');
    await crashing.done;
    cluster.server.faults.clear();
    apply.open();

    const crashed = await status(cluster);
    assert.equal(crashed.code, 1, crashed.stderr);
    assert.equal(crashed.env.phase, 'applying');
    assert.equal(crashed.env.lease?.action, 'deploy', 'status shows the holder');
    assert.equal(crashed.env.lease?.revision, cluster.remote.head());
    assert.match(crashed.env.note ?? '', /holds the apply lease/);
    const text = await cluster.gitops(['status', '--env', 'staging']);
    assert.match(text.stderr, /apply lease: deploy of [0-9a-f]{12}/);

    const next = await cluster.gitops(deployWeb('staging', '2.0.0'));
    assert.equal(next.code, 0, next.stderr);
    assert.match(next.stderr, /took over the apply lease .* not renewed for 3s/);
    assert.match(next.stderr, /interrupted while applying/);
    await assertOnHead(cluster);
    assert.equal(await liveWebImage(cluster, cluster.ns), image('2.0.0'));
  });

  test('the API server gone after the push: exit 3, nothing applied, advice to re-run; the re-run finds the push', async (t) => {
    const cluster = await fixture(t);
    assert.equal((await run(cluster, deployWeb('staging', '1.0.0'))).code, 0);
    const before = await inventoryData(cluster, 'staging', cluster.ns);
    cluster.server.faults.add({ pathPattern: LEASE, reset: true });
    cluster.server.faults.add({ pathPattern: /\/leases$/, reset: true });
    cluster.server.clearRequests();
    const gone = await run(cluster, deployWeb('staging', '2.0.0'));
    assert.equal(gone.code, 3, gone.stderr);
    assert.equal(gone.doc.error?.code, 'NOTHING_APPLIED');
    assert.match(gone.stderr, /nothing was applied to staging/);
    assert.match(gone.doc.error?.hint ?? '', /re-run/);
    assert.doesNotMatch(gone.stderr, /gitops rollback|pushed, not healthy/);
    assert.match(cluster.remote.show('envs/staging/web.yaml'), /web:2\.0\.0/, 'the commit is on the branch');
    assert.deepEqual(
      await inventoryData(cluster, 'staging', cluster.ns),
      before,
      'the inventory is untouched',
    );
    assert.equal(await liveWebImage(cluster, cluster.ns), image('1.0.0'));
    cluster.server.faults.clear();

    const again = await cluster.gitops(deployWeb('staging', '2.0.0'));
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /earlier push of this change/);
    await assertOnHead(cluster);
  });

  test('a push whose connection broke after the remote took it: "may have landed", and the next run finds it', async (t) => {
    const cluster = await fixture(t);
    assert.equal((await run(cluster, deployWeb('staging', '1.0.0'))).code, 0);
    const shim = pushShimDir(tempDir(t, 'gitops-push-hangup-'));
    const broken = await runCli(['--json', ...deployWeb('staging', '2.0.0')], {
      cwd: cluster.app,
      env: { ...cluster.env, PATH: `${shim}:${cluster.env.PATH}`, GITOPS_TEST_PUSH_HANGUP: '1' },
    });
    assert.equal(broken.code, 3, broken.stderr);
    const doc = JSON.parse(broken.stdout) as { error: { code: string; message: string; hint: string } };
    assert.equal(doc.error.code, 'PUSH_MAY_HAVE_LANDED');
    assert.match(doc.error.message, /may have landed/);
    assert.match(doc.error.hint, /re-run/);
    assert.match(cluster.remote.show('envs/staging/web.yaml'), /web:2\.0\.0/, 'the push did land');
    assert.equal(await liveWebImage(cluster, cluster.ns), image('1.0.0'), 'nothing was applied');

    const next = await cluster.gitops(deployWeb('staging', '2.0.0'));
    assert.equal(next.code, 0, next.stderr);
    assert.match(next.stderr, /earlier push of this change/);
    assert.equal(
      git(cluster.remote.bare, ['log', '--format=%s', 'main']).split('\n').length,
      3,
      'no second commit',
    );
    await assertOnHead(cluster);
  });

  test('verify tells another gitops run from a person: a newer revision applied meanwhile is "superseded" (exit 6)', async (t) => {
    const cluster = await fixture(t);
    assert.equal((await run(cluster, deployWeb('staging', '1.0.0'))).code, 0);
    cluster.server.clearRequests();
    // Pods of a "stuck" image never become ready: the run waits for its rollout until another
    // run applies a newer image over it, whose pods do.
    const slow = run(cluster, deployWeb('staging', '2.0.0-stuck'));
    await until(() => cluster.server.requests.some(isDeploymentApply), "the first run's apply");
    // A run that does not take the lease (an older gitops, a script) bumps and applies the head.
    const bump = await cluster.gitops(['bump', '--env', 'staging', '--image', `web=${image('3.0.0')}`]);
    assert.equal(bump.code, 0, bump.stderr);
    await cluster.apply('staging');
    const outcome = await slow;
    assert.equal(outcome.code, 6, outcome.stderr);
    assert.equal(outcome.doc.error?.code, 'SUPERSEDED');
    assert.match(
      outcome.doc.error?.message ?? '',
      /another gitops run .* applied [0-9a-f]{12}, which is newer/,
    );
    assert.doesNotMatch(outcome.stderr, /gitops rollback|a webhook, a controller or a person/);
    assert.equal(await liveWebImage(cluster, cluster.ns), image('3.0.0'));
  });
});
