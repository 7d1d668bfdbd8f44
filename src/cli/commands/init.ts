import type { Command } from 'commander';
import type { ActionFactory } from '../action.js';
import type { CliContext as Context } from '../context.js';
import { loadOperation } from '../operation.js';
import { collect } from '../options.js';

interface InitOptions {
  force?: boolean;
  envRepo?: string;
  branch?: string;
  environments?: string;
  image: string[];
  actionRef?: string;
  yes?: boolean;
  ciTemplate?: string;
}

/** Answers for `gitops init`, from flags or prompts. */
interface InitAnswers {
  envRepo: string;
  environments: string;
  images: string[];
  ci?: 'github' | 'jenkins';
}

/**
 * Prompting is for people at a terminal: stdin must be a TTY, and neither CI nor `--json` nor
 * `--yes` may be in play. (`--ci github` also turns on CI output mode — the global `--ci` flag —
 * so for init the CI facts come from the environment, not from that flag.)
 */
function shouldPrompt(ctx: Context, options: InitOptions & { json?: boolean }, ciByFlag: boolean): boolean {
  const stdinIsTTY = (ctx.stdin as { isTTY?: boolean } | undefined)?.isTTY === true;
  return stdinIsTTY && !ciByFlag && !options.yes && !options.json;
}

interface PromptRequest {
  envRepo?: string;
  environments?: string;
  images?: string[];
  ci?: 'github' | 'jenkins';
  validateEnvironments(text: string): unknown;
  validateImage(pair: string): unknown;
}

/**
 * Asks for what no flag gave, one question per line on stderr (through the reporter, so masked),
 * answers read line by line from ctx.stdin; an empty answer takes the default in brackets. A
 * wrong answer is asked again, up to three times; end of input cancels (exit 2).
 */
async function askInitQuestions(ctx: Context, given: PromptRequest): Promise<InitAnswers> {
  const [{ createInterface }, { INIT_DEFAULTS }, { usageError, isGitopsError }, ci] = await Promise.all([
    import('node:readline/promises'),
    import('../../operations/init.js'),
    import('../../core/errors.js'),
    import('../../ci-templates/index.js'),
  ]);
  // No `output`: readline leaves the terminal in cooked mode and the terminal echoes what is typed.
  const rl = createInterface({ input: ctx.stdin!, terminal: false });
  // The iterator buffers lines that arrive before a question is asked (piped or pasted answers).
  const lines = rl[Symbol.asyncIterator]();
  const ask = async <T>(question: string, fallback: string, check: (answer: string) => T): Promise<T> => {
    for (let attempt = 1; ; attempt += 1) {
      ctx.reporter.print(`? ${question} [${fallback}]`);
      const next = await lines.next();
      if (next.done) {
        throw usageError(
          'INIT_CANCELLED',
          'init was cancelled: input ended before every question was answered',
          {
            hint: 'answer the questions, or pass --yes (and flags) to skip them',
          },
        );
      }
      const answer = next.value.trim() || fallback;
      try {
        return check(answer);
      } catch (error) {
        if (!isGitopsError(error) || attempt >= 3) throw error;
        ctx.reporter.warn(error.message);
      }
    }
  };
  try {
    ctx.reporter.info('gitops init: a few questions; press Enter to take the default in brackets');
    const envRepo =
      given.envRepo ??
      (await ask('Env repo: git URL or local path', INIT_DEFAULTS.envRepo, (answer) => answer));
    const environments =
      given.environments ??
      (await ask(
        'Environments, comma-separated, in promotion order',
        INIT_DEFAULTS.environments,
        (answer) => {
          given.validateEnvironments(answer);
          return answer;
        },
      ));
    const images =
      given.images ??
      (await ask('Images as name=repository, comma-separated (none: -)', '-', (answer) => {
        const pairs = answer === '-' ? [] : answer.split(/[,\s]+/).filter(Boolean);
        for (const pair of pairs) given.validateImage(pair);
        return pairs;
      }));
    const provider =
      given.ci ??
      (await ask(`CI files to write: ${ci.CI_PROVIDERS.join(', ')} or none`, 'none', (answer) => {
        if (answer === 'none' || ci.isCiProvider(answer)) return answer;
        throw usageError('USAGE', `"${answer}" is not one of ${ci.CI_PROVIDERS.join(', ')}, none`);
      }));
    return { envRepo, environments, images, ...(provider !== 'none' ? { ci: provider } : {}) };
  } finally {
    rl.close();
  }
}

/** `gitops init`: options, help text and action (name and description: COMMANDS in ../main.ts). */
export function defineInit(command: Command, action: ActionFactory): void {
  command
    .usage('[options] [--ci-template github|jenkins]')
    .option(
      '--ci-template <provider>',
      'also write the CI files: github (.github/workflows/gitops-*.yml) or jenkins (Jenkinsfile, Jenkinsfile.drift)',
    )
    .option('-f, --force', 'overwrite existing files')
    .option('--env-repo <url>', 'git URL or local path of the environment repo (default: ../environments)')
    .option('--branch <name>', 'branch of the environment repo (default: main)')
    .option(
      '--environments <names>',
      'comma-separated environment names, in promotion order (default: staging,production)',
    )
    .option('--image <name=repository>', 'an image to build (repeatable)', collect, [])
    .option('--action-ref <ref>', 'the gitops action in generated GitHub workflows (default: acme/gitops@v1)')
    .option('-y, --yes', 'never prompt: take flags and defaults (the behaviour in CI and without a terminal)')
    .addHelpText(
      'after',
      '\nThe CI files go to the repository root: .github/workflows/gitops-{deploy,promote,drift,rollback}.yml,\n' +
        'or Jenkinsfile and Jenkinsfile.drift. (`init --ci github` is accepted as the older spelling;\n' +
        'the global --ci alone only switches to plain CI output.)\n\n' +
        'On a terminal (outside CI) init asks for the env repo, the environments and the images that\n' +
        'no flag gave. Existing files are never overwritten without --force (exit 2).\n\n' +
        'Examples:\n' +
        '  gitops init\n' +
        '  gitops init --ci-template github --env-repo https://github.com/acme/environments.git --image web=ghcr.io/acme/web\n' +
        '  gitops init --ci-template jenkins --environments dev,staging,production --yes',
    )
    .action(
      action<InitOptions>(async (ctx, options, args) => {
        const [{ initConfig, INIT_DEFAULTS, parseEnvironmentNames, parseImagePair }, ci, { usageError }] =
          await loadOperation(ctx, () =>
            Promise.all([
              import('../../operations/init.js'),
              import('../../ci-templates/index.js'),
              import('../../core/errors.js'),
            ]),
          );
        const operand = args[0];
        if (operand !== undefined && !options.ci) {
          throw usageError('USAGE', `init takes no argument, but was given "${operand}"`, {
            hint: `to write CI files, pass --ci-template ${ci.CI_PROVIDERS.join('|')}`,
          });
        }
        const provider = options.ciTemplate ?? operand;
        if (provider !== undefined && !ci.isCiProvider(provider)) {
          throw usageError(
            'USAGE',
            `"${provider}" is not a CI provider gitops writes files for: ${ci.CI_PROVIDERS.join(', ')}`,
            {
              hint: `pass --ci-template ${ci.CI_PROVIDERS.join('|')}, or leave it out to write gitops.yaml only`,
            },
          );
        }
        if (options.ciTemplate && operand !== undefined)
          throw usageError(
            'USAGE',
            `init was given both --ci-template ${options.ciTemplate} and "${operand}"`,
            {
              hint: 'pass one --ci-template',
            },
          );
        const { detectCI } = await import('../ci.js');
        const ciByFlag = operand === undefined ? ctx.ci : detectCI(ctx.env);
        let answers: InitAnswers = {
          envRepo: options.envRepo ?? INIT_DEFAULTS.envRepo,
          environments: options.environments ?? INIT_DEFAULTS.environments,
          images: options.image,
          ...(provider ? { ci: provider } : {}),
        };
        if (shouldPrompt(ctx, options, ciByFlag)) {
          answers = await askInitQuestions(ctx, {
            ...(options.envRepo === undefined ? {} : { envRepo: options.envRepo }),
            ...(options.environments === undefined ? {} : { environments: options.environments }),
            ...(options.image.length === 0 ? {} : { images: options.image }),
            ...(provider ? { ci: provider } : {}),
            validateEnvironments: parseEnvironmentNames,
            validateImage: parseImagePair,
          });
        }
        const { readFileSync } = await import('node:fs');
        const version = (
          JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
            version: string;
          }
        ).version;
        const written = await initConfig(ctx, {
          force: Boolean(options.force),
          envRepo: answers.envRepo,
          branch: options.branch ?? INIT_DEFAULTS.branch,
          environments: answers.environments,
          images: answers.images,
          ...(answers.ci ? { ci: answers.ci } : {}),
          ...(options.actionRef ? { actionRef: options.actionRef } : {}),
          version,
        });
        for (const output of written.preview ?? []) ctx.reporter.print(`# ${output.path}\n${output.content}`);
        for (const file of written.files)
          ctx.reporter.success(`${ctx.dryRun ? 'would write' : 'wrote'} ${file}`);
        // `gitops init --ci` reads like "write the CI files" but is the global CI-mode switch: say so.
        if (options.ci && !answers.ci)
          ctx.reporter.info(
            `no CI files written: --ci only switches to plain CI output; pass --ci-template ${ci.CI_PROVIDERS.join('|')} to write them`,
          );
        ctx.reporter.info(
          answers.ci
            ? 'next: edit the images and environment paths, add the secrets the CI files name, and commit them'
            : 'next: edit the images and environment paths, then run `gitops bump` or `gitops deploy`',
        );
        return { result: { file: written.file, files: written.files } };
      }),
    );
}
