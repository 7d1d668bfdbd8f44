import type { View } from '../../core/reporter.js';
import type { DeployEnding } from '../../operations/views.js';
import type { Palette } from '../color.js';
import { formatDrift } from './drift.js';

/** How a view looks: text for stderr, a warning, and Markdown for the GitHub step summary. */
export interface RenderedView {
  text?: string;
  warning?: string;
  summary?: string;
}

const ENDINGS: Record<Exclude<DeployEnding, 'failed'>, string> = {
  deployed: '✓ deployed',
  superseded: 'superseded by a newer revision',
  'rolled-back': 'rolled back',
  'rollback-unhealthy': '✗ rollback did not become healthy',
};

/** The deploy's row(s) of the GitHub step summary. */
export function deploySummary(view: Extract<View, { kind: 'deploy-summary' }>): string {
  const result = view.ending === 'failed' ? `✗ ${view.code ?? 'failed'}` : ENDINGS[view.ending];
  const tail = `${view.revision?.slice(0, 12) ?? '—'} | ${(view.durationMs / 1000).toFixed(1)}s | ${result} |`;
  const rows = view.images.length
    ? view.images.map(
        (image) => `| ${view.environment} | ${image.name}: ${image.old ?? '—'} → ${image.new} | ${tail}`,
      )
    : [`| ${view.environment} | (no image change) | ${tail}`];
  return `### gitops deploy\n\n| environment | image | env sha | duration | result |\n|---|---|---|---|---|\n${rows.join('\n')}`;
}

export function renderView(view: View, color: Palette): RenderedView {
  switch (view.kind) {
    case 'drift':
      return {
        text: formatDrift(view.report, color),
        ...(view.decision === 'warn'
          ? { warning: `${view.report.environment} has drifted; deploying anyway (--on-drift warn)` }
          : {}),
      };
    case 'diff':
      return { text: view.text };
    case 'deploy-summary':
      return { summary: deploySummary(view) };
  }
}
