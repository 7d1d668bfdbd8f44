// Issue 10, item 1: faults. The env-repo remote vanishing mid-run, API server 500s, 429s, resets and
// hung requests during apply and wait, and SIGTERM during each deploy step. Each case checks the exit
// code, what was left in git and in the cluster (through the test API server), and that the next
// run explains the state and can finish it.
import assert from 'node:assert/strict';
import { readdirSync, renameSync } from 'node:fs';
import { describe, it as test } from 'node:test';
import type { FaultRule } from './control-plane/proxy.js';
import { tempDir } from './support/cli.js';
import { type ClusterFixture, clusterFixture } from './support/cluster.js';
import { REGISTRY, WEB_IMAGE_CONFIG, webEnvironmentFiles } from './support/manifests.js';
import { descendants, type ProcessInfo, slowGitDir, startBin, stillRunning } from './support/process.js';
import { uniqueName } from './support/test-cluster.js';

const IMAGES = WEB_IMAGE_CONFIG;

/** How long a hung request hangs: well past the request timeout the fixture sets. */
const HUNG_MS = 20_000;

/** gitops' --verbose echo of a list of the Deployments (drift check, apply, verify). */
const LISTS_DEPLOYMENTS = /GET \/apis\/apps\/v1\/namespaces\/[^/\s]+\/deployments\?labelSelector/;
/** gitops' --verbose echo of the rollout wait's watch. */
const WATCHES_DEPLOYMENTS = /WATCH \/apis\/apps\/v1\/namespaces\/[^/\s]+\/deployments/;

/** The inventory ConfigMap's path: its name is the environment's id (`staging-<digest>`). */
const INVENTORY = /configmaps\/gitops-inventory-staging-[0-9a-f]+$/;

type Fixture = ClusterFixture & { ns: string; deployments: RegExp };

async function fixture(t: Parameters<typeof clusterFixture>[0]): Promise<Fixture> {
  const ns = uniqueName('staging');
  const cluster = await clusterFixture(
    t,
    webEnvironmentFiles('staging', { replicas: 2, comment: 'set by gitops', namespace: ns }),
    { staging: `    namespace: ${ns}\n    timeout: 3m\n` },
    IMAGES,
  );
  // Hung requests fail after 5 s instead of the product default of 30 s: the tests stay fast, and a
  // loaded machine still answers a healthy request well within it. A "hung" request below waits
  // HUNG_MS, far beyond it.
  cluster.env.GITOPS_KUBECTL_REQUEST_TIMEOUT = '5s';
  return Object.assign(cluster, { ns, deployments: new RegExp(`/namespaces/${ns}/deployments$`) });
}

async function liveImage(cluster: Fixture): Promise<string> {
  const live = (await cluster.server.getObject({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    namespace: cluster.ns,
    name: 'web',
  })) as { spec: { template: { spec: { containers: Array<{ image: string }> } } } } | undefined;
  return live?.spec.template.spec.containers[0]?.image ?? '';
}

async function inventory(cluster: Fixture): Promise<Record<string, string>> {
  const configMaps = await cluster.server.listObjects('v1', 'ConfigMap', cluster.ns);
  const object = configMaps.find((item) => INVENTORY.test(`configmaps/${item.metadata.name}`));
  return (object?.data as Record<string, string> | undefined) ?? {};
}

function deployArgs(tag: string, ...extra: string[]): string[] {
  return ['deploy', '--env', 'staging', '--skip-build', '--image', `web=${REGISTRY}/web:${tag}`, ...extra];
}

async function deploy(cluster: Fixture, tag: string): Promise<void> {
  const result = await cluster.gitops(deployArgs(tag));
  assert.equal(result.code, 0, result.stderr);
  assert.equal(await liveImage(cluster), `${REGISTRY}/web:${tag}`);
  assert.equal((await inventory(cluster)).phase, 'verified');
}

interface StatusDoc {
  environments: Array<{ git: string; phase: string | null; liveRevision: string | null; note?: string }>;
}

async function status(cluster: Fixture): Promise<{ code: number; doc: StatusDoc['environments'][0] }> {
  const result = await cluster.gitops(['--json', 'status', '--env', 'staging']);
  assert.ok(result.code === 0 || result.code === 1, result.stderr);
  return { code: result.code, doc: (JSON.parse(result.stdout) as StatusDoc).environments[0]! };
}

/** A fresh TMPDIR for one gitops process: gitops' temp dirs must all be gone when it exits. */
function isolatedTmp(t: Parameters<typeof tempDir>[0]): string {
  return tempDir(t, 'gitops-faults-tmp-');
}

/**
 * Runs a deploy and adds `fault` once its server dry run has asked about the Deployment: the
 * fault is for the apply's own request, which follows the push (the dry run sends the same PATCH
 * with `dryRun=All`).
 */
async function afterDryRun(cluster: Fixture, args: string[], fault: FaultRule) {
  cluster.server.clearRequests();
  const running = cluster.gitops(args);
  const asked = () =>
    cluster.server.requests.some(
      (request) =>
        request.query.dryRun === 'All' && /\/deployments\/web$/.test(request.path) && request.status !== 0,
    );
  while (!asked()) await new Promise((resolve) => setTimeout(resolve, 5));
  cluster.server.faults.add(fault);
  return running;
}

// Each test has its own API server, remote and TMPDIR: they run at once to keep the file short.
describe('faults', { concurrency: true }, () => {
  test('the env-repo remote vanishes between clone and push: exit 3, nothing applied, advice to retry', async (t) => {
    const cluster = await fixture(t);
    await deploy(cluster, '1.0.0');
    const before = cluster.remote.head();
    const tmp = isolatedTmp(t);
    // The drift check's read of the Deployments is slow; while it hangs, the remote goes away.
    cluster.server.faults.add({
      method: 'GET',
      pathPattern: cluster.deployments,
      latencyMs: 1500,
      times: 1,
    });
    cluster.server.clearRequests();
    const run = startBin(['--verbose', ...deployArgs('2.0.0')], {
      cwd: cluster.app,
      env: { ...cluster.env, TMPDIR: tmp },
    });
    await run.waitForStderr((text) => /push --dry-run/.test(text) && LISTS_DEPLOYMENTS.test(text));
    const moved = `${cluster.remote.bare}.gone`;
    renameSync(cluster.remote.bare, moved);
    const result = await run.done;
    renameSync(moved, cluster.remote.bare);

    assert.equal(result.code, 3, result.stderr);
    assert.match(result.stderr, /could not be reached/);
    assert.match(result.stderr, /nothing was pushed; re-run the job when the remote is reachable/);
    assert.equal(cluster.remote.head(), before, 'nothing reached the remote');
    assert.equal(await liveImage(cluster), `${REGISTRY}/web:1.0.0`, 'the cluster is unchanged');
    assert.equal((await inventory(cluster)).phase, 'verified');
    assert.equal(
      cluster.server.requests.filter((request) => request.verb === 'patch' && request.query.dryRun !== 'All')
        .length,
      0,
      'no write reached the API server (the server dry run persists nothing)',
    );
    assert.deepEqual(readdirSync(tmp), [], 'temp dirs removed');

    // The retry the message advises works once the remote is back.
    await deploy(cluster, '2.0.0');
  });

  test('transient API faults on reads (500, 429, reset, hung request) are retried: the deploy succeeds', async (t) => {
    const cluster = await fixture(t);
    await deploy(cluster, '1.0.0');
    const { faults } = cluster.server;
    // preflight: the version probe fails twice with 500; the inventory read fails with a 500, then
    // hangs beyond the request timeout once. Three attempts per read: two faults are survived.
    faults.add({ method: 'GET', pathPattern: /^\/version$/, status: 500, times: 2 });
    faults.add({
      method: 'GET',
      pathPattern: INVENTORY,
      status: 500,
      times: 1,
    });
    faults.add({
      method: 'GET',
      pathPattern: INVENTORY,
      latencyMs: HUNG_MS,
      times: 1,
    });
    // drift check and verify: the Deployment list is throttled, then reset once.
    faults.add({ method: 'GET', pathPattern: cluster.deployments, status: 429, times: 2 });
    faults.add({ method: 'GET', pathPattern: cluster.deployments, reset: true, times: 1 });
    // rollout wait: its watch of the Deployments gets a 500, then a 503.
    faults.add({ method: 'GET', pathPattern: cluster.deployments, watch: true, status: 500, times: 1 });
    faults.add({ method: 'GET', pathPattern: cluster.deployments, watch: true, status: 503, times: 1 });
    cluster.server.clearRequests();

    const result = await cluster.gitops(['--json', ...deployArgs('2.0.0')]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal((JSON.parse(result.stdout) as { verified: boolean }).verified, true);
    assert.equal(await liveImage(cluster), `${REGISTRY}/web:2.0.0`);
    assert.equal((await inventory(cluster)).phase, 'verified');
    const faulted = cluster.server.requests.filter((request) => [0, 429, 500, 503].includes(request.status));
    assert.ok(faulted.length >= 8, `every fault was hit (${faulted.length})`);
  });

  test('API faults on writes and during the wait fail clearly (exit 4), never a false success; the next deploy finishes', async (t) => {
    const cluster = await fixture(t);
    await deploy(cluster, '1.0.0');
    const { faults } = cluster.server;

    // A 500 on the apply of the Deployment: a write is not retried.
    const write500 = await afterDryRun(cluster, deployArgs('2.0.0'), {
      method: 'PATCH',
      pathPattern: /\/deployments\/web$/,
      status: 500,
      times: 1,
    });
    assert.equal(write500.code, 4, write500.stderr);
    assert.match(write500.stderr, /applying \d+ object\(s\) failed/);
    assert.match(write500.stderr, /gitops rollback [0-9a-f]{12} --env staging/);
    assert.equal(await liveImage(cluster), `${REGISTRY}/web:1.0.0`, 'the failed write changed nothing');
    assert.equal((await inventory(cluster)).phase, 'failed');
    const afterWrite500 = await status(cluster);
    assert.equal(afterWrite500.doc.phase, 'failed');
    assert.match(afterWrite500.doc.note ?? '', /failed/);

    // The apply of the Deployment hangs beyond the request timeout: gitops gives up and fails.
    // (The server applies it late, as a real one may: the outcome of a timed-out write is unknown.)
    const writeTimeout = await afterDryRun(cluster, deployArgs('3.0.0'), {
      method: 'PATCH',
      pathPattern: /\/deployments\/web$/,
      latencyMs: HUNG_MS,
      times: 1,
    });
    assert.equal(writeTimeout.code, 4, writeTimeout.stderr);
    assert.match(writeTimeout.stderr, /applying \d+ object\(s\) failed/);
    assert.equal((await inventory(cluster)).phase, 'failed');

    // The rollout wait's watch never answers within --timeout: exit 4, not verified. (Pods of a
    // "slow" image are ready after 4 s: the list before the watch cannot see the rollout done.)
    faults.add({ method: 'GET', pathPattern: cluster.deployments, watch: true, latencyMs: HUNG_MS });
    const waitTimeout = await cluster.gitops([...deployArgs('4.0.0-slow'), '--timeout', '2s']);
    assert.equal(waitTimeout.code, 4, waitTimeout.stderr);
    assert.match(
      waitTimeout.stderr,
      new RegExp(`rollout of Deployment/${cluster.ns}/web failed: .*timed out`),
    );
    assert.equal((await inventory(cluster)).phase, 'failed');
    faults.clear();

    // Persistent 500s on the watch: bounded retries, then exit 4.
    faults.add({ method: 'GET', pathPattern: cluster.deployments, watch: true, status: 500 });
    cluster.server.clearRequests();
    const wait500 = await cluster.gitops(deployArgs('5.0.0-slow'));
    assert.equal(wait500.code, 4, wait500.stderr);
    assert.match(wait500.stderr, /InternalError|injected fault/);
    const watches = cluster.server.requests.filter(
      (request) => request.verb === 'watch' && cluster.deployments.test(request.path),
    );
    assert.equal(watches.length, 3, 'three attempts, then give up');
    faults.clear();

    // The next run finishes what the failed ones left: the branch head, applied and verified.
    const finish = await cluster.gitops(deployArgs('5.0.0'));
    assert.equal(finish.code, 0, finish.stderr);
    assert.equal(await liveImage(cluster), `${REGISTRY}/web:5.0.0`);
    assert.equal((await inventory(cluster)).phase, 'verified');
  });

  /** Steps whose slow point is a git child process. */
  const GIT_STEPS = new Set(['get the env repo', 'commit and push']);

  interface SignalCase {
    step: string;
    /** Suffix of the image tag deployed (e.g. `slow`: pods take 4 s to become ready). */
    tag?: string;
    /** Sets up the slow point; returns extra environment for the gitops process. */
    arrange(cluster: Fixture): Record<string, string>;
    /** When to send SIGTERM: gitops' --verbose output shows it is inside the slow step. */
    ready(stderr: string, cluster: Fixture): boolean;
    /** What `gitops status` must say afterwards. */
    expect: { pushed: boolean; phase: 'verified' | 'applying'; git: string };
  }

  /** A request of the run itself, not of its server dry run (`dryRun=All`, which writes nothing). */
  function sawRequest(cluster: Fixture, method: string, pattern: RegExp): boolean {
    return cluster.server.requests.some(
      (request) => request.method === method && pattern.test(request.path) && request.query.dryRun !== 'All',
    );
  }

  test('SIGTERM during each deploy step: exit 130, temp dirs removed, no orphans, the next run reports and finishes', async (t) => {
    const cluster = await fixture(t);
    await deploy(cluster, '1.0.0');
    const shim = slowGitDir(tempDir(t, 'gitops-slow-git-'));
    /** Arms a fault once the run pushes: the server dry run before the push sends the same requests. */
    function armAtPush(text: string, cluster: Fixture, key: 'namespace' | 'web', fault: FaultRule): boolean {
      if (!armed[key] && /\$ git push --quiet origin/.test(text)) {
        armed[key] = true;
        cluster.server.faults.add(fault);
      }
      return armed[key];
    }
    const cases: SignalCase[] = [
      {
        step: 'preflight',
        arrange: (c) => {
          c.server.faults.add({ method: 'GET', pathPattern: /^\/version$/, latencyMs: HUNG_MS, times: 1 });
          return {};
        },
        ready: (_text, c) => sawRequest(c, 'GET', /^\/version$/),
        expect: { pushed: false, phase: 'verified', git: 'up-to-date' },
      },
      {
        step: 'get the env repo',
        arrange: () => ({ GITOPS_TEST_SLOW_GIT: 'clone' }),
        ready: (text) => /\$ git clone/.test(text),
        expect: { pushed: false, phase: 'verified', git: 'up-to-date' },
      },
      {
        step: 'drift check',
        arrange: (c) => {
          c.server.faults.add({
            method: 'GET',
            pathPattern: cluster.deployments,
            latencyMs: HUNG_MS,
            times: 1,
          });
          return {};
        },
        ready: (text) => LISTS_DEPLOYMENTS.test(text),
        expect: { pushed: false, phase: 'verified', git: 'up-to-date' },
      },
      {
        step: 'commit and push',
        arrange: () => ({ GITOPS_TEST_SLOW_GIT: 'push' }),
        ready: (text) => /\$ git push --quiet origin/.test(text),
        expect: { pushed: false, phase: 'verified', git: 'up-to-date' },
      },
      {
        // gitops applies the Namespace first, then the inventory: stopped here, git is ahead of the cluster.
        step: 'apply and prune (before the inventory)',
        arrange: () => ({}),
        ready: (text, c) =>
          armAtPush(text, c, 'namespace', {
            method: 'PATCH',
            pathPattern: new RegExp(`^/api/v1/namespaces/${c.ns}$`),
            latencyMs: HUNG_MS,
            times: 1,
          }) && sawRequest(c, 'PATCH', new RegExp(`^/api/v1/namespaces/${c.ns}$`)),
        expect: { pushed: true, phase: 'verified', git: 'pending-apply' },
      },
      {
        step: 'apply and prune (after the inventory)',
        arrange: () => ({}),
        ready: (text, c) =>
          armAtPush(text, c, 'web', {
            method: 'PATCH',
            pathPattern: /\/deployments\/web$/,
            latencyMs: HUNG_MS,
            times: 1,
          }) && sawRequest(c, 'PATCH', /\/deployments\/web$/),
        expect: { pushed: true, phase: 'applying', git: 'up-to-date' },
      },
      {
        // Pods of an image tagged "slow" become ready after 4 s (test/control-plane/kwok-stages.yaml).
        step: 'wait for the rollout',
        tag: 'slow',
        arrange: () => ({}),
        ready: (text) => WATCHES_DEPLOYMENTS.test(text),
        expect: { pushed: true, phase: 'applying', git: 'up-to-date' },
      },
      {
        step: 'verify',
        arrange: () => ({}),
        ready: (text, c) => {
          // Once the rollout is followed, the verify read of the Deployments is made slow (the
          // next list of them: not the watch).
          if (WATCHES_DEPLOYMENTS.test(text) && !armed.verify) {
            armed.verify = true;
            c.server.faults.add({
              method: 'GET',
              pathPattern: cluster.deployments,
              watch: false,
              latencyMs: HUNG_MS,
              times: 1,
            });
          }
          // Ready once the verify step has sent that list.
          const verifying = text.indexOf('▸ verify');
          return armed.verify && verifying >= 0 && LISTS_DEPLOYMENTS.test(text.slice(verifying));
        },
        expect: { pushed: true, phase: 'applying', git: 'up-to-date' },
      },
      {
        step: 'record',
        arrange: () => ({}),
        ready: (text, c) => {
          if (WATCHES_DEPLOYMENTS.test(text) && !armed.record) {
            armed.record = true;
            armed.from = c.server.requests.length;
            c.server.faults.add({
              method: 'PATCH',
              pathPattern: INVENTORY,
              latencyMs: HUNG_MS,
              times: 1,
            });
          }
          // The apply wrote the inventory too; only a PATCH after the wait is the record step's.
          return (
            armed.record &&
            c.server.requests
              .slice(armed.from)
              .some((request) => request.method === 'PATCH' && INVENTORY.test(request.path))
          );
        },
        expect: { pushed: true, phase: 'applying', git: 'up-to-date' },
      },
    ];
    const armed = { verify: false, record: false, namespace: false, web: false, from: 0 };

    let version = 1;
    for (const item of cases) {
      version += 1;
      const tag = `${version}.0.0${item.tag ? `-${item.tag}` : ''}`;
      const previous = await liveImage(cluster);
      const head = cluster.remote.head();
      const tmp = isolatedTmp(t);
      const extra = item.arrange(cluster);
      cluster.server.clearRequests();
      const run = startBin(['--verbose', ...deployArgs(tag)], {
        cwd: cluster.app,
        env: {
          ...cluster.env,
          TMPDIR: tmp,
          PATH: `${shim}:${cluster.env.PATH}`,
          GITOPS_TEST_SLOW_SECONDS: '10',
          ...extra,
        },
      });
      // The --verbose echo is written just before the child starts (or the request is sent):
      // give it time to begin.
      await run.waitForStderr((text) => item.ready(text, cluster));
      await new Promise((resolve) => setTimeout(resolve, 300));
      const children: ProcessInfo[] = descendants(run.pid);
      // git runs as a child process; the cluster is reached in-process, with no child to stop.
      if (GIT_STEPS.has(item.step))
        assert.ok(
          children.length > 0,
          `${item.step}: a child process runs when the signal arrives\n${run.stderr()}`,
        );
      run.child.kill('SIGTERM');
      const result = await run.done;
      cluster.server.faults.clear();

      assert.equal(result.code, 130, `${item.step}: exit 130\n${result.stderr}`);
      assert.match(result.stderr, /interrupted/i, item.step);
      assert.deepEqual(stillRunning(children), [], `${item.step}: no orphan child processes`);
      assert.deepEqual(readdirSync(tmp), [], `${item.step}: temp dirs removed`);
      assert.equal(cluster.remote.head() !== head, item.expect.pushed, `${item.step}: pushed?`);
      if (!item.expect.pushed)
        assert.equal(await liveImage(cluster), previous, `${item.step}: cluster unchanged`);

      const reported = await status(cluster);
      assert.equal(reported.doc.phase, item.expect.phase, `${item.step}: status phase`);
      assert.equal(reported.doc.git, item.expect.git, `${item.step}: status git`);
      if (item.expect.phase === 'applying') {
        assert.equal(reported.code, 1, `${item.step}: status exits 1`);
        assert.match(reported.doc.note ?? '', /interrupted while applying/, item.step);
      }

      // The next run finishes it: the same deploy, verified, and the status is clean again.
      const again = await cluster.gitops(deployArgs(tag));
      assert.equal(again.code, 0, `${item.step}: the next deploy finishes\n${again.stderr}`);
      if (item.expect.phase === 'applying') assert.match(again.stderr, /interrupted while applying/);
      assert.equal(await liveImage(cluster), `${REGISTRY}/web:${tag}`);
      assert.equal((await inventory(cluster)).phase, 'verified');
    }
  });
});
