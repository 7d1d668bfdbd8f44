// Hostile render inputs, as an untrusted env-repo author would write them: symlinks that lead out
// of the repo (a chart's `.Files.Get`, a values file, a kustomize generator's file) and files the
// edit path refuses (not UTF-8, control characters, too much text in all, alias bombs, absurd
// nesting). The corpus below lists every case with its exit code; each runs through `gitops diff`
// and `gitops deploy` against a real control plane and must end with that exit code and message,
// a secret of the run's environment in no output and nowhere in the cluster (raw or base64),
// nothing applied and nothing pushed. Add a row for every new finding.
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { type CliResult, runCli, tempDir } from './support/cli.js';
import { clusterFixture } from './support/cluster.js';
import { git, type TestRemote } from './support/git.js';
import { uniqueName } from './support/test-cluster.js';

/** Planted in the environment of every run: a leak of the runner's environment would carry them. */
const CANARY = 'canary-9f1e27c4b8d35a60e2f4c1b7a9d0e3f6';
const AWS_SECRET = 'aws-secret-4c2d9e7f1a8b3c5d6e0f2a4b6c8d0e1f';

/** The secret raw and base64-encoded at each of the three byte alignments inside a longer text. */
function needles(secret: string): string[] {
  const out = [secret];
  for (const pad of ['', 'x', 'xx']) {
    const encoded = Buffer.from(`${pad}${secret}`).toString('base64');
    // The first group holds the padding's bits, the last one those of what follows.
    out.push(encoded.slice(pad ? 4 : 0, -4));
  }
  return out;
}

const MB = 1024 * 1024;

const CONFIG_MAP = (name: string, extra = '') =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata:\n  greeting: hello\n${extra}`;

interface HostileCase {
  name: string;
  /** Files of the env repo (text, or bytes). */
  files: Record<string, string | Buffer>;
  /** Symlinks committed to the env repo: path → target; `<outside>` is a directory outside. */
  links?: Record<string, string>;
  /** Files written outside the repo (under `<outside>`). */
  outside?: Record<string, string>;
  /** The environment's extra config lines. */
  environment?: string;
  exitCode: number;
  message: RegExp;
}

const helmChart = (template: string): Record<string, string> => ({
  'charts/leak/Chart.yaml': 'apiVersion: v2\nname: leak\nversion: 1.0.0\n',
  'charts/leak/values.yaml': 'token: none\n',
  'charts/leak/templates/config.yaml': template,
});
const HELM = '    chart: ../../charts/leak\n';

/** Every hostile render input found so far, with the exit code it must end with. */
const corpus: HostileCase[] = [
  {
    name: 'a chart file linked to /proc/self/environ, read with .Files.Get',
    files: {
      ...helmChart(
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: leak\ndata:\n  env: {{ .Files.Get "files/env" | b64enc | quote }}\n',
      ),
      'envs/staging/.keep': '',
    },
    links: { 'charts/leak/files/env': '/proc/self/environ' },
    environment: HELM,
    exitCode: 2,
    message: /charts\/leak\/files\/env: a symlink to \/proc\/self\/environ, outside the env repo/,
  },
  {
    name: 'a Helm values file linked outside the repo',
    files: {
      ...helmChart(
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: leak\ndata:\n  token: {{ .Values.token | quote }}\n',
      ),
      'envs/staging/.keep': '',
    },
    outside: { 'values.yaml': `token: ${CANARY}\n` },
    links: { 'envs/staging/values.yaml': '<outside>/values.yaml' },
    environment: `${HELM}    helmValues: [values.yaml]\n`,
    exitCode: 2,
    message: /envs\/staging\/values\.yaml: a symlink to .*\/values\.yaml, outside the env repo/,
  },
  {
    name: "a kustomize configMapGenerator's file linked to /proc/self/environ",
    files: {
      'envs/staging/kustomization.yaml':
        'configMapGenerator:\n  - name: leak\n    files:\n      - env\ngeneratorOptions:\n  disableNameSuffixHash: true\n',
    },
    links: { 'envs/staging/env': '/proc/self/environ' },
    exitCode: 2,
    message: /envs\/staging\/env: a symlink to \/proc\/self\/environ, outside the env repo/,
  },
  {
    name: 'a plain manifest linked outside the repo through a directory',
    files: { 'envs/staging/ok.yaml': CONFIG_MAP('ok') },
    outside: { 'leak.yaml': CONFIG_MAP('leak', `  token: ${CANARY}\n`) },
    links: { 'envs/staging/base': '<outside>' },
    exitCode: 2,
    message: /envs\/staging\/base: a symlink to .*, outside the env repo/,
  },
  {
    name: 'a directory symlink looping back to the environment',
    files: { 'envs/staging/ok.yaml': CONFIG_MAP('ok') },
    links: { 'envs/staging/nested/loop': '../..' },
    exitCode: 2,
    message: /envs\/staging\/nested\/loop: a symlink to \.\.\/\.\., a directory that holds the link itself/,
  },
  {
    name: 'a chart directory symlink looping back to the chart',
    files: {
      ...helmChart('apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: leak\ndata:\n  a: b\n'),
      'envs/staging/.keep': '',
    },
    links: { 'charts/leak/files/self': '..' },
    environment: HELM,
    exitCode: 2,
    message: /charts\/leak\/files\/self: a symlink to \.\., a directory that holds the link itself/,
  },
  {
    name: 'a kustomize remote resource (the runner would fetch any URL)',
    files: {
      'envs/staging/kustomization.yaml': 'resources:\n  - ok.yaml\n  - https://example.invalid/leak.yaml\n',
      'envs/staging/ok.yaml': CONFIG_MAP('ok'),
    },
    exitCode: 2,
    message:
      /envs\/staging\/kustomization\.yaml:3: .*names the remote resource https:\/\/example\.invalid\/leak\.yaml/,
  },
  {
    name: 'a manifest that is not UTF-8',
    files: {
      'envs/staging/ok.yaml': CONFIG_MAP('ok'),
      'envs/staging/latin1.yaml': Buffer.concat([
        Buffer.from(CONFIG_MAP('latin1')),
        Buffer.from('  note: caf'),
        Buffer.from([0xe9]),
        Buffer.from('\n'),
      ]),
    },
    exitCode: 2,
    message: /envs\/staging\/latin1\.yaml:7: not valid UTF-8 at line 7 \(byte 0xe9\)/,
  },
  {
    name: 'a raw NUL in a scalar',
    files: {
      'envs/staging/ok.yaml': CONFIG_MAP('ok'),
      'envs/staging/nul.yaml': CONFIG_MAP('nul', '  note: "a\u0000b"\n'),
    },
    exitCode: 2,
    message: /envs\/staging\/nul\.yaml:7: control character U\+0000 at line 7/,
  },
  {
    name: 'an escaped NUL in a scalar',
    files: {
      'envs/staging/ok.yaml': CONFIG_MAP('ok'),
      'envs/staging/nul.yaml': CONFIG_MAP('nul', '  note: "a\\0b"\n'),
    },
    exitCode: 2,
    message: /envs\/staging\/nul\.yaml:7: control character U\+0000 in a value at line 7/,
  },
  {
    name: 'a NUL in a Helm values file',
    files: {
      ...helmChart(
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: leak\ndata:\n  token: {{ .Values.token | quote }}\n',
      ),
      'envs/staging/values.yaml': 'token: "a\\u0000b"\n',
    },
    environment: `${HELM}    helmValues: [values.yaml]\n`,
    exitCode: 2,
    message: /envs\/staging\/values\.yaml:1: control character U\+0000 in a value at line 1/,
  },
  {
    name: 'an alias bomb',
    files: {
      'envs/staging/ok.yaml': CONFIG_MAP('ok'),
      'envs/staging/bomb.yaml': `${CONFIG_MAP('bomb')}  a: &a ["x","x","x","x","x","x","x","x","x","x"]\n  b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n  c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n  d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n  e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\n  f: [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n`,
    },
    exitCode: 2,
    message: /envs\/staging\/bomb\.yaml:\d+: aliases expand this document by more than 100000 nodes/,
  },
  {
    name: 'nesting 300 levels deep',
    files: {
      'envs/staging/ok.yaml': CONFIG_MAP('ok'),
      'envs/staging/deep.yaml': `${CONFIG_MAP('deep')}  deep: ${'['.repeat(300)}${']'.repeat(300)}\n`,
    },
    exitCode: 2,
    message: /envs\/staging\/deep\.yaml:7: nested more than 256 levels deep at line 7/,
  },
  {
    name: 'a duplicate key',
    files: {
      'envs/staging/ok.yaml': CONFIG_MAP('ok'),
      'envs/staging/twice.yaml': CONFIG_MAP('twice', '  greeting: again\n'),
    },
    exitCode: 2,
    message: /envs\/staging\/twice\.yaml:7: duplicate key "greeting" at line 7/,
  },
  {
    name: 'one manifest over the per-file budget',
    files: {
      'envs/staging/ok.yaml': CONFIG_MAP('ok'),
      'envs/staging/big.yaml': CONFIG_MAP('big', `  big: "${'x'.repeat(9 * MB)}"\n`),
    },
    exitCode: 2,
    message:
      /envs\/staging\/big\.yaml: the file is 9\.0 MB, larger than the 8\.0 MB gitops reads from one file/,
  },
  {
    name: 'nine manifests under the per-file budget, over the total',
    files: Object.fromEntries([
      ['envs/staging/ok.yaml', CONFIG_MAP('ok')],
      ...Array.from({ length: 9 }, (_, i) => [
        `envs/staging/part-${i}.yaml`,
        CONFIG_MAP(`part-${i}`, `  big: "${'x'.repeat(7.5 * MB)}"\n`),
      ]),
    ]),
    exitCode: 2,
    message:
      /envs\/staging\/part-8\.yaml: with this file, what is read comes to 67\.5 MB, more than the 64\.0 MB/,
  },
];

/** Commits bytes and symlinks to the remote (createRemote writes text only, no links). */
function commitHostile(
  remote: TestRemote,
  files: Record<string, string | Buffer>,
  links: Record<string, string>,
) {
  const { seed } = remote;
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(seed, path)), { recursive: true });
    writeFileSync(join(seed, path), content);
  }
  for (const [path, target] of Object.entries(links)) {
    mkdirSync(dirname(join(seed, path)), { recursive: true });
    symlinkSync(target, join(seed, path));
  }
  git(seed, ['add', '-A']);
  git(seed, ['commit', '--quiet', '-m', 'hostile input']);
  git(seed, ['push', '--quiet', 'origin', 'main']);
}

function assertNoLeak(label: string, text: string): void {
  for (const secret of [CANARY, AWS_SECRET])
    for (const needle of needles(secret))
      assert.ok(!text.includes(needle), `${label} holds a planted secret (${needle})`);
}

for (const hostile of corpus) {
  for (const command of ['diff', 'deploy'] as const) {
    test(`${command}: ${hostile.name} → exit ${hostile.exitCode}, nothing read, applied or pushed`, async (t) => {
      const ns = uniqueName('hostile');
      const cluster = await clusterFixture(
        t,
        { 'envs/staging/.gitkeep': '' },
        {
          staging: `    namespace: ${ns}\n${hostile.environment ?? ''}`,
        },
      );
      const outside = tempDir(t, 'gitops-outside-');
      for (const [path, content] of Object.entries(hostile.outside ?? {}))
        writeFileSync(join(outside, path), content);
      const links = Object.fromEntries(
        Object.entries(hostile.links ?? {}).map(([path, target]) => [
          path,
          target.replace('<outside>', outside),
        ]),
      );
      commitHostile(cluster.remote, hostile.files, links);
      const before = cluster.remote.head();
      const env = { ...cluster.env, GITOPS_LEAK_CANARY: CANARY, AWS_SECRET_ACCESS_KEY: AWS_SECRET };
      const args =
        command === 'deploy' ? ['deploy', '--env', 'staging', '--skip-build'] : ['diff', '--env', 'staging'];
      const result: CliResult = await runCli(args, { cwd: cluster.app, env });

      assert.equal(result.code, hostile.exitCode, `exit ${result.code}\nstderr:\n${result.stderr}`);
      assert.match(result.stderr, /^error: /m, result.stderr);
      assert.match(result.stderr, hostile.message, result.stderr);
      assert.doesNotMatch(
        result.stderr,
        /^\s+at .+[:(]\d+:\d+\)?$/m,
        `a stack trace leaked:\n${result.stderr}`,
      );
      assertNoLeak('stdout', result.stdout);
      assertNoLeak('stderr', result.stderr);
      assert.equal(cluster.remote.head(), before, 'nothing pushed');
      const configMaps = await cluster.server.listObjects('v1', 'ConfigMap');
      const secrets = await cluster.server.listObjects('v1', 'Secret');
      assertNoLeak('the cluster', JSON.stringify([configMaps, secrets]));
      assert.deepEqual(
        configMaps.filter((item) => (item.metadata as { namespace?: string }).namespace === ns),
        [],
        'nothing applied',
      );
    });
  }
}
