import { readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, posix } from 'node:path';
import { type SourceLocation, usageError } from '../core/errors.js';
import { refNameProblem } from '../core/git-refs.js';
import {
  bytePosition,
  controlProblem,
  documentProblem,
  findAliasBomb,
  invalidUtf8Offset,
  MAX_ALIAS_EXPANSION,
} from '../core/input-guards.js';
import { LineCounter, parseDocument } from '../core/yaml.js';
import { derivedEnvironmentId, normaliseRepoUrl } from './identity.js';
import { configSchema, NAME_PATTERN } from './schema.js';
import type { Spec } from './spec.js';
import { closest } from './suggest.js';
import type { EnvironmentConfig, GitopsConfig } from './types.js';
import { type ConfigProblem, validateDocument } from './validate.js';

export { CONFIG_FILE_NAMES, findConfigFile } from './find.js';

/** Config files larger than this are refused before parsing: a config is a page, not a dataset. */
const MAX_CONFIG_BYTES = 1024 * 1024;

function problemsError(problems: ConfigProblem[]) {
  const [first] = problems;
  const lines = problems.map((problem) => {
    const where = `${problem.location.file}:${problem.location.line ?? '?'}:${problem.location.column ?? '?'}`;
    return `${where}: ${problem.message}${problem.suggestion ? ` (${problem.suggestion})` : ''}`;
  });
  const message =
    problems.length === 1
      ? `${first!.message}${first!.suggestion ? ` — ${first!.suggestion}` : ''}`
      : `the config has ${problems.length} problems:\n${lines.join('\n')}`;
  return usageError('CONFIG_INVALID', message, {
    location: first!.location,
    hint: 'see docs/config.md for every key of gitops.yaml',
    details: {
      problems: problems.map(({ path, message: text, location, suggestion }) => ({
        path,
        message: text,
        location,
        suggestion,
      })),
    },
  });
}

/** Reads, parses, validates and interpolates a config file. Throws exit-2 errors with file:line:column. */
/**
 * What a command needs of gitops.yaml. `images`: only the images (gitops build), so a config that
 * has no envRepo or environments yet (an app repo that only builds) is accepted.
 */
export type ConfigNeeds = 'all' | 'images';

/** The schema without the parts `images`-only commands never read. */
function schemaFor(needs: ConfigNeeds): Spec {
  if (needs === 'all' || configSchema.type !== 'object') return configSchema;
  const fields = { ...configSchema.fields };
  fields.envRepo = { ...fields.envRepo!, required: false, default: {} };
  fields.environments = { ...fields.environments!, required: false, default: {} };
  return { ...configSchema, fields };
}

export function readConfig(
  file: string,
  env: Record<string, string | undefined>,
  needs: ConfigNeeds = 'all',
): GitopsConfig {
  const size = statSync(file).size;
  if (size > MAX_CONFIG_BYTES) {
    throw usageError(
      'CONFIG_INVALID',
      `${file} is ${size} bytes; a config file is limited to ${MAX_CONFIG_BYTES}`,
      {
        location: { file },
      },
    );
  }
  const bytes = readFileSync(file);
  const invalid = invalidUtf8Offset(bytes);
  if (invalid !== undefined) {
    // Decoding with replacement would turn the bytes into U+FFFD and validate something else.
    const { line, column } = bytePosition(bytes, invalid);
    throw usageError(
      'CONFIG_ENCODING',
      `${file} is not valid UTF-8: byte 0x${bytes[invalid]!.toString(16).padStart(2, '0')} at line ${line}`,
      {
        location: { file, line, column },
        hint: 'save gitops.yaml as UTF-8 (YAML 1.2 requires a Unicode encoding)',
      },
    );
  }
  const source = bytes.toString('utf8');
  // The same guard as for env-repo YAML (core/input-guards.ts): no control characters, raw or
  // escaped, and no absurd nesting.
  const control = controlProblem(source);
  if (control) {
    throw usageError('CONFIG_ENCODING', `${file} is refused: ${control.reason}`, {
      location: { file, ...(control.line ? { line: control.line } : {}) },
      hint: 'remove the character; write it out in words if a value needs it',
    });
  }
  const lines = new LineCounter();
  // uniqueKeys: duplicate keys are an error, never "last one wins".
  const doc = parseDocument(source, { lineCounter: lines, uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    const error = doc.errors[0]!;
    const position = error.linePos?.[0];
    const location: SourceLocation = {
      file,
      ...(position ? { line: position.line, column: position.col } : {}),
    };
    const firstLine = error.message.split('\n')[0] ?? error.message;
    throw usageError('CONFIG_YAML', `${file} is not valid YAML: ${firstLine}`, {
      location,
      hint: 'fix the YAML at that position (a YAML linter such as yamllint shows the same)',
    });
  }
  // Billion laughs: the validator resolves aliases, and so would anything reading the value later.
  const bomb = findAliasBomb(doc);
  if (bomb) {
    const { line, col } = lines.linePos(bomb.offset);
    throw usageError(
      'CONFIG_YAML',
      `${file} has aliases that expand it by more than ${MAX_ALIAS_EXPANSION} nodes (an alias bomb?)`,
      {
        location: { file, line, column: col },
        hint: 'write the values out, or use fewer nested anchors and aliases',
      },
    );
  }
  const guarded = documentProblem(doc, {
    text: source,
    offset: 0,
    lineOf: (offset) => lines.linePos(offset).line,
  });
  if (guarded) {
    throw usageError('CONFIG_YAML', `${file} is refused: ${guarded.reason}`, {
      location: { file, ...(guarded.line ? { line: guarded.line } : {}) },
      hint: 'fix gitops.yaml at that line',
    });
  }
  const { value, problems } = validateDocument(schemaFor(needs), doc, { file, lines, env });
  const config = value as Omit<GitopsConfig, 'file' | 'dir'> | undefined;
  if (config) {
    const locateKey = (path: readonly (string | number)[]): SourceLocation => {
      const node = doc.getIn(path, true) as { range?: [number, number, number] } | undefined;
      const offset = node?.range?.[0];
      if (offset === undefined) return { file, line: 1, column: 1 };
      const { line, col } = lines.linePos(offset);
      return { file, line, column: col };
    };
    problems.push(...crossChecks(config, locateKey, needs));
  }
  if (problems.length > 0 || !config) throw problemsError(problems);

  const repo = config.envRepo.url ? normaliseRepoUrl(config.envRepo.url, dirname(file)) : undefined;
  for (const [name, environment] of Object.entries(config.environments)) {
    (environment as EnvironmentConfig).name = name;
    environment.id ??= repo ? derivedEnvironmentId(repo, environment) : '';
    environment.repo = repo ?? '';
  }
  return { ...config, file, dir: dirname(file) };
}

/** Rules that span several keys; each problem points at the key that breaks the rule. */
function crossChecks(
  config: Omit<GitopsConfig, 'file' | 'dir'>,
  locateKey: (path: readonly (string | number)[]) => SourceLocation,
  needs: ConfigNeeds,
): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const { envRepo } = config;
  if (envRepo?.verifyCommits) {
    const { allowedSigners, allowedKeys } = envRepo.verifyCommits;
    if (!allowedSigners && !allowedKeys?.length) {
      problems.push({
        path: 'envRepo.verifyCommits',
        message:
          'envRepo.verifyCommits names no allowed key: set allowedSigners (SSH) or allowedKeys (GPG fingerprints)',
        location: locateKey(['envRepo', 'verifyCommits']),
      });
    }
    // gitops' own commit would be unsigned, pushed, then refused by the next run: the environment
    // would be blocked for good, and no revert gitops pushes could help.
    if (envRepo.sign !== true) {
      problems.push({
        path: 'envRepo.sign',
        message:
          'envRepo.verifyCommits is set but envRepo.sign is not true: gitops would push unsigned commits that verification then refuses',
        suggestion: 'set envRepo.sign: true, with a signing key (user.signingkey) that verifyCommits allows',
        location: locateKey(envRepo.sign === undefined ? ['envRepo', 'verifyCommits'] : ['envRepo', 'sign']),
      });
    }
  }
  if (needs === 'all' && envRepo && !envRepo.url && !envRepo.sameRepo) {
    problems.push({
      path: 'envRepo.url',
      message: 'envRepo needs a url (or sameRepo: true)',
      location: locateKey(['envRepo']),
    });
  }
  if (envRepo?.branch !== undefined) {
    // The branch reaches git's argv (clone --branch, push): an option-looking or shell-looking value
    // is refused here, with its position, before any git runs.
    const problem = refNameProblem(envRepo.branch);
    if (problem) {
      problems.push({
        path: 'envRepo.branch',
        message: `envRepo.branch "${JSON.stringify(envRepo.branch).slice(1, -1)}" is not a branch name: ${problem}`,
        location: locateKey(['envRepo', 'branch']),
      });
    }
  }
  if (envRepo?.url && envRepo.sameRepo) {
    problems.push({
      path: 'envRepo',
      message: 'envRepo has both url and sameRepo: true; choose one',
      location: locateKey(['envRepo', 'sameRepo']),
    });
  }
  const environments = config.environments ?? {};
  const names = Object.keys(environments);
  for (const [name, environment] of Object.entries(environments)) {
    if (!environment) continue;
    if (
      environment.path !== undefined &&
      (isAbsolute(environment.path) || environment.path.split(/[\\/]/).includes('..'))
    ) {
      problems.push({
        path: `environments.${name}.path`,
        message: `environments.${name}.path "${environment.path}" must stay inside the env repo (relative, no "..")`,
        location: locateKey(['environments', name, 'path']),
      });
    }
    // Values files and charts may sit beside the environment (`../common/values.yaml`), but not
    // outside the env repo: they are read, and values files are written.
    const inRepo = (relativePath: string) => {
      const path = relativePath.replace(/\\/g, '/');
      if (posix.isAbsolute(path) || isAbsolute(relativePath)) return false;
      const joined = posix.normalize(posix.join((environment.path ?? '.').replace(/\\/g, '/'), path));
      return joined !== '..' && !joined.startsWith('../');
    };
    for (const [index, values] of (environment.helmValues ?? []).entries()) {
      if (!inRepo(values)) {
        problems.push({
          path: `environments.${name}.helmValues[${index}]`,
          message: `environments.${name}.helmValues "${values}" must stay inside the env repo (relative to the environment's path)`,
          location: locateKey(['environments', name, 'helmValues', index]),
        });
      }
    }
    if (environment.chart !== undefined && !isRemoteChart(environment.chart) && !inRepo(environment.chart)) {
      problems.push({
        path: `environments.${name}.chart`,
        message: `environments.${name}.chart "${environment.chart}" must stay inside the env repo (relative to the environment's path)`,
        location: locateKey(['environments', name, 'chart']),
      });
    }
    const sameId =
      environment.id && names.find((other) => other !== name && environments[other]?.id === environment.id);
    if (sameId && name > sameId) {
      problems.push({
        path: `environments.${name}.id`,
        message: `environments.${name}.id "${environment.id}" is also the id of environment ${sameId}; each environment needs its own`,
        location: locateKey(['environments', name, 'id']),
      });
    }
    if (environment.promoteFrom !== undefined && !names.includes(environment.promoteFrom)) {
      const nearest = closest(environment.promoteFrom, names);
      problems.push({
        path: `environments.${name}.promoteFrom`,
        message: `environments.${name}.promoteFrom names "${environment.promoteFrom}", which is not an environment`,
        location: locateKey(['environments', name, 'promoteFrom']),
        ...(nearest ? { suggestion: `did you mean "${nearest}"?` } : {}),
      });
    }
  }
  const seen = new Set<string>();
  for (const [index, image] of (config.images ?? []).entries()) {
    if (!image) continue;
    if (seen.has(image.name)) {
      problems.push({
        path: `images[${index}].name`,
        message: `image name "${image.name}" is used twice`,
        location: locateKey(['images', index, 'name']),
      });
    }
    seen.add(image.name);
    for (const secret of image.secretBuildArgs ?? []) {
      if (!(secret in (image.buildArgs ?? {}))) {
        problems.push({
          path: `images[${index}].secretBuildArgs`,
          message: `secretBuildArgs names "${secret}", which is not in buildArgs of image ${image.name}`,
          location: locateKey(['images', index, 'secretBuildArgs']),
        });
      }
    }
  }
  return problems;
}

/** Helm charts named by repository or OCI reference are not paths. */
function isRemoteChart(chart: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(chart);
}

/**
 * Looks up an environment by name with a "did you mean" for typos. A name that cannot be one
 * (`../prod`, `a/b`, `--upload-pack=…`) is refused as such, before it is used anywhere.
 */
export function getEnvironment(config: GitopsConfig, name: string, flag = '--env'): EnvironmentConfig {
  if (!NAME_PATTERN.test(name)) {
    throw usageError(
      'ENVIRONMENT_NAME_INVALID',
      `${flag} "${JSON.stringify(name).slice(1, -1)}" is not an environment name: names are DNS-1123 labels (lowercase letters, digits and "-"; no "/", no "..")`,
      { hint: `defined environments: ${Object.keys(config.environments).join(', ') || 'none'}` },
    );
  }
  const environment = config.environments[name];
  if (environment) return environment;
  const names = Object.keys(config.environments);
  const nearest = closest(name, names);
  throw usageError('UNKNOWN_ENVIRONMENT', `environment "${name}" is not defined in ${config.file}`, {
    hint: nearest
      ? `did you mean --env ${nearest}? (defined: ${names.join(', ')})`
      : `defined environments: ${names.join(', ') || 'none'}`,
  });
}
