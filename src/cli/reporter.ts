import { appendFileSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { formatLocation, isGitopsError } from '../core/errors.js';
import { ExitCode } from '../core/exit-codes.js';
import type { Masker } from '../core/mask.js';
import type { Reporter, StepControl, StepRecord, View } from '../core/reporter.js';
import type { Palette } from './color.js';
import { workflowCommand } from './github.js';
import { hintOf } from './hints.js';
import type { renderView } from './render/views.js';

/**
 * How human output on stderr looks:
 * - tty: an interactive terminal outside CI; spinners and colour.
 * - plain: piped or CI; a line when a step starts and one when it ends, no animation.
 * - github: plain plus GitHub Actions groups, annotations and the step summary.
 */
export type OutputFormat = 'tty' | 'plain' | 'github';

export interface ReporterSettings {
  stdout: Writable;
  stderr: Writable;
  env: Record<string, string | undefined>;
  masker: Masker;
  format: OutputFormat;
  json: boolean;
  verbose: boolean;
  quiet: boolean;
  /** Colours, or PLAIN (color.ts: loadPalette). */
  color: Palette;
}

/** The CLI's reporter: the core narration, plus how it is written to the terminal, a pipe or GitHub. */
export interface CliReporter extends Reporter {
  readonly format: OutputFormat;
  readonly json: boolean;
  readonly verbose: boolean;
  readonly color: Palette;
  readonly steps: readonly StepRecord[];
  /** Human-readable output of a command (tables, diffs): stderr, masked, shown even with --quiet. */
  print(text: string): void;
  error(error: unknown): void;
  /** The single `--json` document, written to stdout (masked). */
  result(document: Record<string, unknown>): void;
  /** Markdown appended to $GITHUB_STEP_SUMMARY when running in GitHub Actions. */
  summary(markdown: string): void;
  /**
   * Loads the renderers show() needs. They are not loaded with the reporter: the drift renderer
   * pulls in the drift engine, which usage and config errors must not wait for. Called before
   * an operation runs (cli/operation.ts).
   */
  loadViews(): Promise<void>;
}

/** Picks the output format from the terminal and CI facts (see OutputFormat). */
export function chooseFormat(options: { isTTY: boolean; ci: boolean; githubActions: boolean }): OutputFormat {
  if (options.githubActions) return 'github';
  if (options.isTTY && !options.ci) return 'tty';
  return 'plain';
}

export function createReporter(settings: ReporterSettings): CliReporter {
  return new StreamReporter(settings);
}

function seconds(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)}ms` : `${(ms / 1000).toFixed(1)}s`;
}

class StreamReporter implements CliReporter {
  readonly format: OutputFormat;
  readonly json: boolean;
  readonly verbose: boolean;
  readonly color: Palette;
  readonly steps: StepRecord[] = [];
  readonly progress?: (text: string) => void;
  private resultWritten = false;
  /** The spinner of the running step, for progress() (terminal only). */
  private running: { title: string; spinner: { text: string } } | undefined;
  private render: typeof renderView | undefined;

  constructor(private readonly settings: ReporterSettings) {
    this.format = settings.format;
    this.json = settings.json;
    this.verbose = settings.verbose;
    this.color = settings.color;
    // Progress (clone, fetch, push) is asked for only where a spinner can show it.
    if (this.format === 'tty' && !settings.quiet) {
      this.progress = (text) => {
        if (this.running)
          this.running.spinner.text = `${this.running.title} ${this.color.dim(this.settings.masker.mask(text))}`;
      };
    }
  }

  private writeErr(text: string): void {
    this.settings.stderr.write(`${this.settings.masker.mask(text)}\n`);
  }

  async step<T>(title: string, run: (step: StepControl) => Promise<T>): Promise<T> {
    const { color } = this;
    const started = performance.now();
    let detail: string | undefined;
    let skipped: string | undefined;
    const quiet = this.settings.quiet;
    const spinner = this.format === 'tty' && !quiet ? await this.startSpinner(title) : undefined;
    this.running = spinner ? { title, spinner } : undefined;
    if (this.format === 'github') this.writeErr(workflowCommand('group', {}, title));
    else if (this.format === 'plain' && !quiet) this.writeErr(`${color.cyan('▸')} ${title}`);

    const control: StepControl = {
      detail: (text) => {
        detail = text;
      },
      skip: (reason) => {
        skipped = reason;
      },
      log: (text) => {
        if (quiet) return;
        if (spinner) spinner.text = `${title} ${color.dim(this.settings.masker.mask(text))}`;
        else this.writeErr(`  ${text}`);
      },
    };

    const finish = (status: StepRecord['status']) => {
      if (this.running?.spinner === spinner) this.running = undefined;
      const durationMs = performance.now() - started;
      const record: StepRecord = { title, status, durationMs: Math.round(durationMs) };
      const shownDetail = status === 'skipped' ? skipped : detail;
      if (shownDetail) record.detail = this.settings.masker.mask(shownDetail);
      this.steps.push(record);
      const symbol =
        status === 'ok' ? color.green('✓') : status === 'skipped' ? color.yellow('↷') : color.red('✗');
      const line = `${symbol} ${title}${shownDetail ? ` — ${shownDetail}` : ''} ${color.dim(`(${seconds(durationMs)})`)}`;
      if (spinner) {
        if (status === 'failed') spinner.fail(this.settings.masker.mask(line.slice(2)));
        else spinner.stopAndPersist({ symbol, text: this.settings.masker.mask(line.slice(2)) });
      } else if (!quiet || status === 'failed') {
        this.writeErr(line);
      }
      if (this.format === 'github') this.writeErr(workflowCommand('endgroup', {}, ''));
    };

    try {
      const value = await run(control);
      finish(skipped === undefined ? 'ok' : 'skipped');
      return value;
    } catch (error) {
      finish('failed');
      throw error;
    }
  }

  private async startSpinner(title: string) {
    const { default: ora } = await import('ora');
    return ora({ text: title, stream: this.settings.stderr as NodeJS.WriteStream, isEnabled: true }).start();
  }

  async loadViews(): Promise<void> {
    this.render ??= (await import('./render/views.js')).renderView;
  }

  show(view: View): void {
    if (!this.render) throw new Error(`reporter.show(${view.kind}) before loadViews()`);
    const rendered = this.render(view, this.color);
    if (rendered.text !== undefined) this.print(rendered.text);
    if (rendered.warning !== undefined) this.warn(rendered.warning);
    if (rendered.summary !== undefined) this.summary(rendered.summary);
  }

  info(message: string): void {
    if (!this.settings.quiet) this.writeErr(message);
  }

  success(message: string): void {
    if (!this.settings.quiet) this.writeErr(`${this.color.green('✓')} ${message}`);
  }

  warn(message: string): void {
    if (this.format === 'github')
      this.writeErr(workflowCommand('warning', {}, this.settings.masker.mask(message)));
    else this.writeErr(`${this.color.yellow('warning:')} ${message}`);
  }

  debug(message: string): void {
    if (this.settings.verbose) this.writeErr(this.color.dim(message));
  }

  print(text: string): void {
    this.settings.stderr.write(this.settings.masker.mask(text.endsWith('\n') ? text : `${text}\n`));
  }

  error(error: unknown): void {
    const { color } = this;
    if (isGitopsError(error)) {
      const where = error.location ? `${formatLocation(error.location)}: ` : '';
      this.writeErr(`${color.red('error:')} ${where}${error.message}`);
      const hint = hintOf(error);
      if (hint) this.writeErr(`${color.dim('hint:')} ${hint}`);
      if (this.format === 'github') {
        this.writeErr(
          workflowCommand(
            'error',
            {
              title: error.code,
              file: error.location?.file,
              line: error.location?.line,
              col: error.location?.column,
            },
            this.settings.masker.mask(error.message),
          ),
        );
      }
      if (this.settings.verbose && error.stack) this.writeErr(color.dim(stackWithCauses(error)));
      return;
    }
    // Not one of ours: a bug or an unexpected failure. The stack is what a bug report needs.
    const text = error instanceof Error ? stackWithCauses(error) : String(error);
    this.writeErr(`${color.red('error:')} unexpected failure: ${text}`);
    if (this.format === 'github')
      this.writeErr(workflowCommand('error', { title: 'UNEXPECTED' }, String(error)));
  }

  result(document: Record<string, unknown>): void {
    if (!this.json || this.resultWritten) return;
    this.resultWritten = true;
    const masked = this.settings.masker.maskDeep(document);
    this.settings.stdout.write(`${JSON.stringify(masked, null, 2)}\n`);
  }

  summary(markdown: string): void {
    const file = this.settings.env.GITHUB_STEP_SUMMARY;
    if (this.format !== 'github' || !file) return;
    appendFileSync(file, `${this.settings.masker.mask(markdown.trimEnd())}\n\n`);
  }
}

function stackWithCauses(error: Error): string {
  let text = error.stack ?? String(error);
  let cause = error.cause;
  while (cause instanceof Error) {
    text += `\ncaused by: ${cause.stack ?? cause.message}`;
    cause = cause.cause;
  }
  return text;
}

/** The `--json` document for a failed command: `{ ok: false, error: { code, message, … } }`. */
export function errorDocument(error: unknown): Record<string, unknown> {
  if (isGitopsError(error)) {
    return {
      ok: false,
      error: {
        code: error.code,
        exitCode: error.exitCode,
        message: error.message,
        ...(hintOf(error) ? { hint: hintOf(error) } : {}),
        ...(error.location ? { location: error.location } : {}),
        ...(error.details ? { details: error.details } : {}),
      },
    };
  }
  return {
    ok: false,
    error: {
      code: 'UNEXPECTED',
      exitCode: ExitCode.OperationFailed,
      message: error instanceof Error ? error.message : String(error),
    },
  };
}
