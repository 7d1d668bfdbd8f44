import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { dump } from 'js-yaml';
import { findConfigFile, getEnvironment, readConfig } from '../config/load.js';
import type { Context } from '../core/context.js';
import { alreadyLocked, describeLock, type LockRecord, lockPath, readLock } from '../gates/lock.js';
import { commitMessage } from '../git/message.js';
import { type Provenance, readProvenance } from '../git/provenance.js';
import { authorEnv, type EditOutcome, writeAndPush } from '../git/write.js';
import { runSteps, type Step } from '../pipeline/step.js';
import { type EnvRepoState, getEnvRepoStep } from './steps.js';

export interface LockOptions {
  env: string;
  /** Why: shown to everyone who is refused, and in the commit. */
  reason?: string;
}

export interface LockResult {
  environment: string;
  locked: boolean;
  dryRun?: true;
  commit?: string | null;
  lock?: LockRecord;
  previous?: LockRecord | null;
}

interface LockState extends EnvRepoState {
  provenance?: Provenance;
  actor?: string;
  commit?: string;
}

function openState(ctx: Context, envName: string): LockState {
  const config = readConfig(findConfigFile(ctx.cwd, ctx.configPath), ctx.env);
  return { ctx, session: { config, environment: getEnvironment(config, envName) }, overrides: [] };
}

/** Who locks: CI's user, else the app repo's git user, else the commit author. */
async function identify(state: LockState): Promise<{ provenance: Provenance; actor: string }> {
  const { ctx, session } = state;
  const provenance = await readProvenance(ctx, session.config.dir);
  const actor =
    provenance.actor ?? (await authorEnv(ctx, state.checkout!, session.config.envRepo)).GIT_AUTHOR_NAME!;
  return { provenance: { ...provenance, actor }, actor };
}

/** A commit to the env repo that changes gitops' own files: the lock, or its removal. */
function writeStep(
  title: string,
  edit: (state: LockState) => Promise<EditOutcome>,
  preview: (state: LockState) => Promise<string>,
  unchanged: string,
): Step<LockState> {
  return {
    title,
    dryRun: 'preview',
    async run(state, step) {
      const { ctx, session } = state;
      const result = await writeAndPush(ctx, state.checkout!, session.config.envRepo, {
        push: true,
        edit: () => edit(state),
      });
      if (result.commit) state.commit = result.commit;
      step.detail(result.commit ? result.commit.slice(0, 12) : unchanged);
    },
    async preview(state, step) {
      step.skip(await preview(state));
    },
  };
}

/** `gitops lock <env> --reason`: commits `.gitops/locks/<env>.yaml` (who, when, why) to the env repo. */
export async function runLock(ctx: Context, options: LockOptions & { reason: string }): Promise<LockResult> {
  const state = openState(ctx, options.env);
  const { environment } = state.session;
  const file = lockPath(environment.name);
  const refuseWhenLocked = async () => {
    const existing = await readLock(state.checkout!, environment.name);
    if (existing) throw alreadyLocked(environment.name, existing);
  };
  await runSteps(ctx, [getEnvRepoStep<LockState>()], state);
  const { provenance, actor } = await identify(state);
  state.provenance = provenance;
  state.actor = actor;
  const record: LockRecord = {
    environment: environment.name,
    lockedBy: actor,
    lockedAt: new Date().toISOString(),
    reason: options.reason,
  };
  await runSteps(
    ctx,
    [
      writeStep(
        'commit and push the lock',
        async (current) => {
          await refuseWhenLocked();
          const absolute = join(current.checkout!.dir, file);
          mkdirSync(dirname(absolute), { recursive: true });
          writeFileSync(absolute, dump(record, { lineWidth: -1 }));
          return {
            changed: true,
            files: [file],
            message: commitMessage({
              environment: environment.name,
              action: 'lock',
              changes: [],
              images: {},
              provenance: current.provenance!,
              subject: `lock(${environment.name}): ${options.reason}`.slice(0, 72),
              body: `Locked by ${current.actor}: ${options.reason}`,
            }),
          };
        },
        async () => {
          await refuseWhenLocked();
          return `dry run: ${file} not committed`;
        },
        'nothing to commit',
      ),
    ],
    state,
  );
  if (ctx.dryRun) {
    ctx.reporter.success(`dry run: would lock ${environment.name} (${options.reason}); nothing was pushed`);
    return { environment: environment.name, locked: true, dryRun: true, lock: record };
  }
  ctx.reporter.success(
    `${environment.name} is locked (${options.reason}); deploy, promote and rollback refuse until gitops unlock ${environment.name}`,
  );
  return { environment: environment.name, locked: true, commit: state.commit ?? null, lock: record };
}

/** `gitops unlock <env>`: removes the lock file in a commit; nothing to do when not locked. */
export async function runUnlock(ctx: Context, options: LockOptions): Promise<LockResult> {
  const state = openState(ctx, options.env);
  const { environment } = state.session;
  const file = lockPath(environment.name);
  await runSteps(ctx, [getEnvRepoStep<LockState>()], state);
  const previous = await readLock(state.checkout!, environment.name);
  if (!previous) {
    ctx.reporter.success(`${environment.name} is not locked; nothing to do`);
    return { environment: environment.name, locked: false, commit: null, previous: null };
  }
  const { provenance, actor } = await identify(state);
  const because = options.reason ? `: ${options.reason}` : '';
  await runSteps(
    ctx,
    [
      writeStep(
        'commit and push the unlock',
        async (current) => {
          const lock = await readLock(current.checkout!, environment.name);
          if (!lock) return { changed: false, files: [], message: '' };
          rmSync(join(current.checkout!.dir, file), { force: true });
          return {
            changed: true,
            files: [file],
            message: commitMessage({
              environment: environment.name,
              action: 'unlock',
              changes: [],
              images: {},
              provenance,
              subject: `unlock(${environment.name})${because}`.slice(0, 72),
              body: `Unlocked by ${actor}${because}\nWas ${describeLock(lock)}`,
            }),
          };
        },
        async () => `dry run: the removal of ${file} not committed`,
        'already unlocked on the remote',
      ),
    ],
    state,
  );
  if (ctx.dryRun) {
    ctx.reporter.success(`dry run: would unlock ${environment.name} (${describeLock(previous)})`);
    return { environment: environment.name, locked: false, dryRun: true, previous };
  }
  ctx.reporter.success(`${environment.name} is unlocked (was ${describeLock(previous)})`);
  return { environment: environment.name, locked: false, commit: state.commit ?? null, previous };
}
