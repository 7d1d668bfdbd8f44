import { dump } from 'js-yaml';
import { unifiedDiff } from '../../core/diff.js';
import { type Difference, secretDigests } from '../../drift/compare.js';
import type { DriftReport, ObjectDrift } from '../../drift/detect.js';
import { managerLabel } from '../../drift/managed-fields.js';
import { itemKey, listKeysFor, type Segment, sameKey } from '../../drift/paths.js';
import { ANNOTATION_REVISION, LABEL_ENVIRONMENT } from '../../kube/objects.js';
import { ANNOTATION_OWNER } from '../../kube/ownership.js';
import type { Palette } from '../color.js';

const SECRET_MARK = '(secret)';
const SECRET_DIFFERS = '(secret: differs from git)';

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** The live object cut down to what git declares, so the diff shows intent, not server defaults. */
function project(desired: unknown, live: unknown, field: string | undefined): unknown {
  if (Array.isArray(desired) && Array.isArray(live)) {
    const keys = listKeysFor(field, desired);
    if (!keys) return live;
    const out: unknown[] = [];
    for (const item of desired) {
      const key = itemKey(item, keys);
      const match = key
        ? live.find((candidate) => {
            const k = itemKey(candidate, keys);
            return k !== undefined && sameKey(k, key);
          })
        : undefined;
      if (match !== undefined) out.push(project(item, match, undefined));
    }
    return out;
  }
  if (isObject(desired) && isObject(live)) {
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(desired)) {
      if (key in live) out[key] = project(value, live[key], key);
    }
    return out;
  }
  return live;
}

/** Sets a value at a path, creating maps and keyed list items as needed. */
function setAt(root: Record<string, unknown>, path: readonly Segment[], value: unknown): void {
  let node: unknown = root;
  path.forEach((segment, index) => {
    const last = index === path.length - 1;
    const next = path[index + 1];
    const fresh = () => (next && 'field' in next ? {} : []);
    if ('field' in segment && isObject(node)) {
      if (last) node[segment.field] = value;
      else node = node[segment.field] ??= fresh();
    } else if ('key' in segment && Array.isArray(node)) {
      let item = node.find(
        (candidate) =>
          isObject(candidate) &&
          Object.entries(segment.key).every(([k, v]) => String(candidate[k]) === String(v)),
      );
      if (!item) {
        item = last && isObject(value) ? value : { ...segment.key };
        node.push(item);
      } else if (last) Object.assign(item as object, value);
      node = item;
    } else if ('index' in segment && Array.isArray(node)) {
      if (last) node[segment.index] = value;
      else node = node[segment.index] ??= fresh();
    }
  });
}

function stripOurMetadata(object: Record<string, unknown>): void {
  const metadata = object.metadata as
    | { labels?: Record<string, string>; annotations?: Record<string, string> }
    | undefined;
  if (!metadata) return;
  for (const [field, key] of [
    ['labels', LABEL_ENVIRONMENT],
    ['annotations', ANNOTATION_REVISION],
    ['annotations', ANNOTATION_OWNER],
  ] as const) {
    const map = metadata[field];
    if (!map) continue;
    delete map[key];
    if (Object.keys(map).length === 0) delete metadata[field];
  }
}

/** Secret values replaced by markers on both sides: compared by hash, never shown. */
function maskSecrets(desired: Record<string, unknown>, live: Record<string, unknown> | undefined): void {
  const wanted = secretDigests(desired);
  const actual = live ? secretDigests(live) : new Map<string, string>();
  desired.data = Object.fromEntries([...wanted.keys()].sort().map((key) => [key, SECRET_MARK]));
  delete desired.stringData;
  if (live) {
    live.data = Object.fromEntries(
      [...actual.keys()]
        .sort()
        .map((key) => [key, wanted.get(key) === actual.get(key) ? SECRET_MARK : SECRET_DIFFERS]),
    );
    delete live.stringData;
  }
}

const yaml = (value: unknown) => dump(value, { lineWidth: -1, noRefs: true });

/**
 * Unified diff of normalised YAML for one object: git on the left, the cluster on the right. Only
 * for objects on both sides: a whole object that exists on one side only is named, not printed
 * (a first diff of 35 objects is 35 lines, not hundreds; an extra object's server fields, uid,
 * resourceVersion, status, say nothing about what git wants).
 */
export function objectDiff(drift: ObjectDrift): string {
  if (!drift.desired || !drift.live) return '';
  const label = { from: `git: ${drift.display}`, to: `cluster: ${drift.display}` };
  const desired = drift.desired ? (structuredClone(drift.desired) as Record<string, unknown>) : undefined;
  const live = drift.live ? (structuredClone(drift.live) as Record<string, unknown>) : undefined;
  if (desired) stripOurMetadata(desired);
  let projected: Record<string, unknown> | undefined;
  if (live) {
    stripOurMetadata(live);
    delete (live.metadata as Record<string, unknown>).managedFields;
    projected = desired ? (project(desired, live, undefined) as Record<string, unknown>) : live;
    for (const difference of drift.differences) {
      if (difference.kind !== 'changed' && !difference.secret)
        setAt(projected, difference.path, difference.live);
    }
  }
  const isSecret = drift.kind === 'Secret';
  // git may say stringData where the cluster says data: keep the cluster's keys for the markers.
  if (isSecret && projected && live) projected.data = live.data;
  if (isSecret && desired) maskSecrets(desired, projected);
  else if (isSecret && projected) maskSecrets({}, projected);
  return unifiedDiff(desired ? yaml(desired) : '', projected ? yaml(projected) : '', label);
}

function when(time: string | undefined): string {
  return time ? ` at ${time.replace('T', ' ').replace(/\.\d+Z$|Z$/, ' UTC')}` : '';
}

function describe(difference: Difference): string {
  const who = difference.managers[0];
  const by = who ? ` by ${managerLabel(who)}${when(who.time)}` : '';
  if (difference.secret)
    return `${difference.display} ${difference.kind === 'extra' ? 'added in the cluster' : 'differs'}${by}`;
  const show = (value: unknown) => {
    if (value === undefined) return '(absent)';
    const text = typeof value === 'object' ? JSON.stringify(value) : String(value);
    // One line per field: a multi-line value (a config file in a ConfigMap) is summarised; the
    // YAML diff below shows it whole.
    const lines = text.split('\n');
    const first = lines[0]!.length > 60 ? `${lines[0]!.slice(0, 60)}…` : lines[0]!;
    return lines.length > 1 ? `${JSON.stringify(`${first}…`)} (${lines.length} lines)` : first;
  };
  switch (difference.kind) {
    case 'changed':
      return `${difference.display}: ${show(difference.desired)} → ${show(difference.live)}${by}`;
    case 'extra':
      return `${difference.display}: ${show(difference.live)} added${by}`;
    default:
      return `${difference.display}: ${show(difference.live)} is not in git (applied by gitops from an earlier revision)`;
  }
}

const STATE_TEXT: Record<ObjectDrift['state'], string> = {
  'in-sync': 'in sync',
  modified: 'modified',
  missing: 'missing in cluster',
  extra: 'extra in cluster',
  unmanaged: 'present, not managed',
  foreign: 'owned by another',
};

/** Human report: a summary table, then per changed object its differences and a YAML diff. */
export function formatDrift(
  report: DriftReport,
  color: Palette,
  options: { showInSync?: boolean } = {},
): string {
  const rows = report.objects.filter((object) => options.showInSync || object.state !== 'in-sync');
  const lines: string[] = [];
  if (rows.length > 0) {
    const width = Math.max(6, ...rows.map((row) => row.display.length));
    const stateWidth = Math.max(...rows.map((row) => STATE_TEXT[row.state].length));
    lines.push(`${'OBJECT'.padEnd(width)}  ${'STATE'.padEnd(stateWidth)}  MANAGER`);
    for (const row of rows) {
      const paint =
        row.state === 'in-sync' ? color.green : row.state === 'modified' ? color.yellow : color.red;
      let manager = [...new Set(row.managers.map(managerLabel))].join(', ');
      if (row.state === 'extra')
        manager = row.prunable
          ? 'gitops (next deploy prunes it)'
          : row.adopted
            ? 'adopted (next deploy releases it)'
            : 'kept (prune.protect, pruning off, or not created by gitops)';
      if (row.state === 'foreign') manager = row.owner ?? manager;
      lines.push(
        `${row.display.padEnd(width)}  ${paint(STATE_TEXT[row.state].padEnd(stateWidth))}  ${manager}`,
      );
    }
  }
  const absent = rows.filter((row) => row.state === 'missing');
  for (const row of rows) {
    // Objects not yet in the cluster are the table's rows; no block each (see objectDiff).
    if (row.state === 'in-sync' || row.state === 'missing') continue;
    lines.push(
      '',
      color.bold(
        `${row.display} — ${STATE_TEXT[row.state]}${row.source ? ` (${row.source.file}:${row.source.line})` : ''}`,
      ),
    );
    for (const difference of row.differences) lines.push(`  ${describe(difference)}`);
    if (row.state === 'extra')
      lines.push(
        `  in the cluster with this environment's label${row.liveRevision ? ` (applied from ${row.liveRevision.slice(0, 12)})` : ''}, but not in git${row.prunable ? '; the next deploy deletes it' : ''}`,
      );

    if (row.state === 'unmanaged')
      lines.push(
        `  in the cluster without an owner (applied by hand or by a script); the next deploy adopts it${row.differences.length ? ' and sets the fields above' : ''}`,
      );
    if (row.state === 'foreign')
      lines.push(
        `  owned by ${row.owner}: the next deploy refuses to change it (deploy --adopt takes it over)`,
      );
    const diff = objectDiff(row);
    if (diff) {
      lines.push(
        ...diff
          .trimEnd()
          .split('\n')
          .map((line) =>
            line.startsWith('+') && !line.startsWith('+++')
              ? color.green(line)
              : line.startsWith('-') && !line.startsWith('---')
                ? color.red(line)
                : line.startsWith('@@')
                  ? color.cyan(line)
                  : line,
          ),
      );
    }
  }
  if (absent.length > 0)
    lines.push(
      '',
      `${absent.length} object(s) declared in git are not in the cluster (never applied, or deleted by hand): the next deploy creates them`,
    );
  const { counts } = report;
  lines.push(
    '',
    report.inSync
      ? color.green(`${report.environment}: in sync (${counts['in-sync']} object(s))`)
      : color.yellow(
          `${report.environment}: ${counts.modified} modified, ${counts.missing} missing, ${counts.extra} extra, ${[
            counts.unmanaged ? `${counts.unmanaged} not managed, ` : '',
            counts.foreign ? `${counts.foreign} owned by others, ` : '',
          ].join('')}${counts['in-sync']} in sync`,
        ),
  );
  return lines.join('\n');
}

/** Markdown for the GitHub step summary. */
export function driftSummary(report: DriftReport): string {
  const rows = report.objects.filter((object) => object.state !== 'in-sync');
  if (rows.length === 0)
    return `### Drift: ${report.environment}\n\nIn sync (${report.counts['in-sync']} objects).`;
  const table = rows.map(
    (row) =>
      `| ${row.display} | ${STATE_TEXT[row.state]} | ${row.differences.map((d) => describe(d).replace(/\|/g, '\\|')).join('<br>') || ''} |`,
  );
  const diffs = rows
    .map((row) => objectDiff(row))
    .filter(Boolean)
    .join('\n');
  return `### Drift: ${report.environment}\n\n| object | state | what |\n|---|---|---|\n${table.join('\n')}\n\n<details><summary>diff</summary>\n\n\`\`\`diff\n${diffs}\`\`\`\n</details>`;
}
