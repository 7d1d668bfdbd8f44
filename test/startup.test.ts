// What start-up loads: --version, help and config errors are answered by a few modules; git,
// kubectl, the drift engine, builds and subprocesses load only once a command is past its config.
// No timings here (speed lives in bench/): the modules a run loaded are the thing asserted.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { PassThrough } from 'node:stream';
import { type TestContext, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type HelpCache, pipedHelp } from '../src/cli/help-cache.js';
import { buildProgram } from '../src/cli/main.js';
import { baseEnv, repoRoot, runBin, tempDir } from './support/cli.js';

const recorder = fileURLToPath(new URL('./support/record-modules.mjs', import.meta.url));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  /** Repository files (`dist/cli/main.js`) and packages (`commander`) the run loaded. */
  modules: string[];
}

/** `node path/to/module` → its package, a repository file → its path; built-ins are left out. */
function moduleName(url: string): string | undefined {
  if (!url.startsWith('file:')) return undefined;
  const path = fileURLToPath(url);
  const parts = path.split(sep);
  const packages = parts.lastIndexOf('node_modules');
  if (packages >= 0) {
    const scoped = parts[packages + 1]!.startsWith('@');
    return parts.slice(packages + 1, packages + (scoped ? 3 : 2)).join('/');
  }
  return relative(repoRoot, path).split(sep).join('/');
}

/** Runs the built CLI as a child process and records every module it loads. */
async function runRecorded(
  t: TestContext,
  args: string[],
  cwd: string,
  env: Record<string, string> = {},
  bin?: string,
): Promise<Run> {
  const record = join(tempDir(t), 'modules.txt');
  writeFileSync(record, '');
  const { code, stdout, stderr } = await runBin(args, {
    cwd,
    env: baseEnv({ CI: 'true', ...env, GITOPS_RECORD_MODULES: record }),
    nodeArgs: ['--import', recorder],
    ...(bin ? { bin } : {}),
  });
  const urls = readFileSync(record, 'utf8').split('\n').filter(Boolean);
  const modules = [...new Set(urls.map(moduleName).filter((name) => name !== undefined))].sort();
  return { code, stdout, stderr, modules };
}

/**
 * What only a running operation needs: the layers below src/cli that talk to git, the cluster, a
 * registry or the render tools, the subprocess wrapper and the packages behind them.
 */
const OPERATION_MODULES = [
  /^dist\/(operations|pipeline|gates|bump|build|drift|render|cluster|git|manifests|kube)\//,
  /^dist\/core\/(exec|vendor\/execa)\.js$/,
  /^(execa|ora)$/,
];
/** The YAML parsers: for reading a config file, not for finding that there is none. */
const YAML_MODULES = [/^(yaml|js-yaml)$/, /^dist\/core\/vendor\/yaml\.js$/];

/** execa and the packages it imports: in the built CLI they are one file, dist/core/vendor/execa.js. */
const EXECA_PACKAGES = [
  'execa',
  'cross-spawn',
  'get-stream',
  'npm-run-path',
  'signal-exit',
  'human-signals',
  'strip-final-newline',
  'figures',
  'pretty-ms',
  'is-stream',
  'yoctocolors',
  '@sindresorhus/merge-streams',
];

function loadedOf(run: Run, patterns: readonly RegExp[]): string[] {
  return run.modules.filter((name) => patterns.some((pattern) => pattern.test(name)));
}

const VALID_CONFIG = `version: 1
envRepo:
  url: ../environments
environments:
  staging:
    path: envs/staging
  production:
    path: envs/production
    promoteFrom: staging
images:
  - name: web
    repository: registry.example.com/acme/web
    context: .
`;

test('--version is answered by bin/gitops.cjs alone', async (t) => {
  const run = await runRecorded(t, ['--version'], tempDir(t));
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /^\d+\.\d+\.\d+/);
  assert.deepEqual(run.modules, ['bin/gitops.cjs']);
});

test('gitops --help to a pipe is answered by bin/ alone: the text commander prints, kept by the build', async (t) => {
  for (const args of [['--help'], ['-h']]) {
    const run = await runRecorded(t, args, tempDir(t));
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, await pipedHelp(), args.join(' '));
    assert.equal(run.stderr, '');
    assert.deepEqual(run.modules, ['bin/gitops.cjs', 'bin/help-cache.cjs'], args.join(' '));
  }
});

test('a help text kept by an older build is not used: main.js rebuilt since, or another version', async (t) => {
  // A copy of the built tree, so its files can change without touching the one other tests run.
  const copy = tempDir(t, 'gitops-help-cache-');
  for (const part of ['bin', 'dist', 'package.json'])
    cpSync(join(repoRoot, part), join(copy, part), { recursive: true });
  symlinkSync(join(repoRoot, 'node_modules'), join(copy, 'node_modules'), 'dir');
  const bin = join(copy, 'bin', 'gitops.cjs');
  const cacheFile = join(copy, 'dist', 'cli', 'help.json');
  // A marked text proves which of the two answered.
  const cache = JSON.parse(readFileSync(cacheFile, 'utf8')) as HelpCache;
  writeFileSync(cacheFile, JSON.stringify({ ...cache, text: 'kept help\n' }));
  const cached = await runRecorded(t, ['--help'], copy, {}, bin);
  assert.equal(cached.stdout, 'kept help\n', 'copied as built: the kept text answers');
  assert.ok(!cached.modules.includes('commander'));

  const mainJs = join(copy, 'dist', 'cli', 'main.js');
  writeFileSync(
    mainJs,
    readFileSync(mainJs, 'utf8').replace("'print the version'", "'print the version (rebuilt)'"),
  );
  const rebuilt = await runRecorded(t, ['--help'], copy, {}, bin);
  assert.equal(rebuilt.code, 0, rebuilt.stderr);
  assert.match(rebuilt.stdout, /print the version \(rebuilt\)/, 'main.js changed since: commander answers');
  assert.ok(rebuilt.modules.includes('commander'));

  cpSync(join(repoRoot, 'dist', 'cli', 'main.js'), mainJs);
  const pkg = JSON.parse(readFileSync(join(copy, 'package.json'), 'utf8')) as { version: string };
  writeFileSync(join(copy, 'package.json'), JSON.stringify({ ...pkg, version: '99.0.0' }));
  const otherVersion = await runRecorded(t, ['--help'], copy, {}, bin);
  assert.equal(otherVersion.stdout, await pipedHelp(), 'kept by another version: commander answers');
  assert.ok(otherVersion.modules.includes('commander'));
});

test('gitops help and a bare gitops load commander and main.js, and no command module', async (t) => {
  for (const args of [['help'], []]) {
    const run = await runRecorded(t, args, tempDir(t));
    assert.match(run.stdout + run.stderr, /Commands:\n {2}init \[options\] \[ci-provider\]/, args.join(' '));
    assert.deepEqual(run.modules, ['bin/gitops.cjs', 'commander', 'dist/cli/main.js'], args.join(' '));
  }
});

test("a command's help loads that command's module, and nothing an operation needs", async (t) => {
  for (const args of [
    ['deploy', '--help'],
    ['help', 'rollback'],
  ]) {
    const run = await runRecorded(t, args, tempDir(t));
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /Global Options:/);
    const commandModules = run.modules.filter((name) => name.startsWith('dist/cli/commands/'));
    assert.deepEqual(commandModules, [
      `dist/cli/commands/${args.includes('help') ? 'rollback' : 'deploy'}.js`,
    ]);
    assert.deepEqual(loadedOf(run, [...OPERATION_MODULES, ...YAML_MODULES]), [], args.join(' '));
  }
});

test('no gitops.yaml: every command that reads it says so before loading git, kubectl, builds or a YAML parser', async (t) => {
  const commands = [
    ['deploy', '--env', 'staging'],
    ['rollback', '--env', 'staging'],
    ['promote', '--to', 'production'],
    ['diff', '--env', 'staging'],
    ['status'],
    ['history', '--env', 'staging'],
    ['lock', 'staging', '--reason', 'release freeze'],
    ['unlock', 'staging'],
    ['bump', '--env', 'staging', '--image', 'web=registry.example.com/acme/web:1.0.0'],
    ['build'],
  ];
  for (const args of commands) {
    const run = await runRecorded(t, args, tempDir(t));
    assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
    assert.match(run.stderr, /error: no gitops\.yaml found in /, args.join(' '));
    assert.deepEqual(loadedOf(run, [...OPERATION_MODULES, ...YAML_MODULES]), [], args.join(' '));
  }
});

test('an invalid gitops.yaml or an unknown --env is reported with file:line before anything an operation needs loads', async (t) => {
  const invalid = tempDir(t);
  writeFileSync(
    join(invalid, 'gitops.yaml'),
    'version: 1\nenvRepo:\n  url: ../environments\nenvironments:\n  staging:\n    pth: envs/staging\n',
  );
  const schema = await runRecorded(t, ['deploy', '--env', 'staging'], invalid);
  assert.equal(schema.code, 2, schema.stderr);
  assert.match(schema.stderr, /gitops\.yaml:6:5: .*unknown key "pth" in environments\.staging/);
  assert.deepEqual(loadedOf(schema, OPERATION_MODULES), []);

  const valid = tempDir(t);
  writeFileSync(join(valid, 'gitops.yaml'), VALID_CONFIG);
  const unknown = await runRecorded(t, ['diff', '--env', 'stagign'], valid);
  assert.equal(unknown.code, 2, unknown.stderr);
  assert.match(unknown.stderr, /environment "stagign" is not defined/);
  assert.match(unknown.stderr, /did you mean --env staging\?/);
  assert.deepEqual(loadedOf(unknown, OPERATION_MODULES), []);
  // gitops.yaml was read with the `yaml` package as the build bundled it: one file, not the package's.
  assert.ok(unknown.modules.includes('dist/core/vendor/yaml.js'), unknown.modules.join(' '));
  assert.ok(!unknown.modules.includes('yaml'), unknown.modules.join(' '));
});

test("plain output is written without chalk; coloured output has chalk's colours", async (t) => {
  const cwd = tempDir(t);
  const plain = await runRecorded(t, ['deploy', '--env', 'staging'], cwd);
  assert.match(plain.stderr, /^error: no gitops\.yaml found/);
  assert.ok(!plain.modules.includes('chalk'), plain.modules.join(' '));
  const coloured = await runRecorded(t, ['deploy', '--env', 'staging'], cwd, { FORCE_COLOR: '1' });
  assert.match(coloured.stderr, /^\u001b\[31merror:\u001b\[39m no gitops\.yaml found/);
  assert.match(coloured.stderr, /\n\u001b\[2mhint:\u001b\[22m run `gitops init`/);
  assert.ok(coloured.modules.includes('chalk'));
});

test('the list of commands in --help is the same whether their modules are loaded or not', async () => {
  const help = async (complete: (name: string) => boolean) => {
    const io = { cwd: repoRoot, env: {}, stdout: new PassThrough(), stderr: new PassThrough(), isTTY: false };
    return (await buildProgram(io, { exitCode: 0 }, complete)).helpInformation();
  };
  const listed = await help(() => false);
  assert.match(listed, /deploy \[options\] {2,}build, bump the env repo/);
  assert.equal(listed, await help(() => true));
});

test("the exec wrapper loads execa on its first run, as one bundled file, not when git or the API client import its rules, nor for git's direct calls", async (t) => {
  const dist = (path: string) => JSON.stringify(pathToFileURL(join(repoRoot, 'dist', path)).href);
  const modulesOf = (script: string) => {
    const record = join(tempDir(t), 'modules.txt');
    writeFileSync(record, '');
    const result = spawnSync(process.execPath, ['--import', recorder, '--input-type=module', '-e', script], {
      env: baseEnv({ GITOPS_RECORD_MODULES: record }),
      encoding: 'utf8',
    });
    assert.equal(result.status, 0, result.stderr);
    return readFileSync(record, 'utf8').split('\n').filter(Boolean).map(moduleName);
  };
  const imported = `const { Exec } = await import(${dist('core/exec.js')});\nconst { Masker } = await import(${dist('core/mask.js')});\n`;
  const before = modulesOf(imported);
  assert.ok(!before.includes('dist/core/vendor/execa.js'), before.join(' '));
  const ran = modulesOf(
    `${imported}await new Exec({ env: process.env, masker: new Masker(), dryRun: false, defaultTimeoutMs: 10_000 }).run(process.execPath, ['-e', ''], { cwd: '.' });`,
  );
  // The build's bundle of execa, and none of the ~140 modules of the packages it was made from.
  assert.ok(ran.includes('dist/core/vendor/execa.js'), ran.join(' '));
  assert.deepEqual(
    ran.filter((name) => name !== undefined && EXECA_PACKAGES.includes(name)),
    [],
  );
  const direct = modulesOf(
    `${imported}await new Exec({ env: process.env, masker: new Masker(), dryRun: false, defaultTimeoutMs: 10_000 }).runDirect(process.execPath, ['-e', ''], { cwd: '.' });`,
  );
  assert.ok(!direct.includes('dist/core/vendor/execa.js'), direct.join(' '));
});
