import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Context } from '../cli/context.js';
import type { ExecOptions, ExecResult } from '../core/exec.js';

/**
 * Environment every git call gets: never prompt (CI has no one to answer), C locale so
 * messages can be classified, and SSH in batch mode unless the user set their own command.
 */
export function gitEnv(base: Record<string, string | undefined>): Record<string, string | undefined> {
  return {
    GIT_TERMINAL_PROMPT: '0',
    LC_ALL: 'C',
    LANGUAGE: 'C',
    ...(base.GIT_SSH_COMMAND || base.GIT_SSH ? {} : { GIT_SSH_COMMAND: 'ssh -o BatchMode=yes' }),
  };
}

/**
 * Writes an askpass helper that hands git the HTTPS token from the environment variable
 * GITOPS_ASKPASS_TOKEN: the token never appears on a command line, in a URL or in a file.
 * git calls it with a prompt: "Username for …" or "Password for …".
 */
export function writeAskpass(dir: string): string {
  const file = join(dir, 'gitops-askpass.sh');
  writeFileSync(
    file,
    '#!/bin/sh\ncase "$1" in\n  Username*) printf \'%s\\n\' "${GITOPS_ASKPASS_USER:-x-access-token}" ;;\n  *) printf \'%s\\n\' "$GITOPS_ASKPASS_TOKEN" ;;\nesac\n',
  );
  chmodSync(file, 0o700);
  return file;
}

/** Runs git in one repository through the context's exec wrapper (masking, timeouts, dry-run). */
export class Git {
  constructor(
    private readonly ctx: Context,
    readonly dir: string,
    private readonly extraEnv: Record<string, string | undefined> = {},
  ) {}

  run(args: readonly string[], options: Partial<ExecOptions> = {}): Promise<ExecResult> {
    return this.ctx.exec.run('git', args, {
      ...options,
      cwd: options.cwd ?? this.dir,
      env: { ...gitEnv(this.ctx.env), ...this.extraEnv, ...options.env },
    });
  }

  /** stdout of a read-only git command, trimmed. */
  async output(args: readonly string[], options: Partial<ExecOptions> = {}): Promise<string> {
    return (await this.run(args, options)).stdout.trim();
  }

  /** Like output(), but undefined when git exits non-zero (e.g. a missing config key). */
  async tryOutput(args: readonly string[]): Promise<string | undefined> {
    const result = await this.run(args, { allowFailure: true });
    return result.exitCode === 0 ? result.stdout.trim() : undefined;
  }

  /** The same runner for another directory (e.g. a fresh clone). */
  at(dir: string): Git {
    return new Git(this.ctx, dir, this.extraEnv);
  }
}
