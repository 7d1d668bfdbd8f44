import type { Provenance } from './provenance.js';

export type GitopsAction = 'bump' | 'deploy' | 'rollback' | 'promote' | 'lock' | 'unlock';

export interface MessageChange {
  /** Image name as the user knows it (config name or repository). */
  image: string;
  old: string;
  new: string;
  file: string;
  line: number;
}

export interface CommitMessageInput {
  environment: string;
  action: GitopsAction;
  changes: MessageChange[];
  /** Final reference per image name, for `Gitops-Image` trailers. */
  images: Record<string, string>;
  provenance: Provenance;
  /** Extra trailers, e.g. Gitops-Reverts or Gitops-Rollback-To. */
  extraTrailers?: Array<[string, string]>;
  /** Replaces the generated subject (rollback, lock). */
  subject?: string;
  body?: string;
}

/** Trailer keys, documented in the README ("Commit trailers"). */
export const TRAILER = {
  environment: 'Gitops-Environment',
  action: 'Gitops-Action',
  image: 'Gitops-Image',
  sourceCommit: 'Gitops-Source-Commit',
  sourceRepo: 'Gitops-Source-Repo',
  buildUrl: 'Gitops-Build-Url',
  actor: 'Gitops-Actor',
  reverts: 'Gitops-Reverts',
  rollbackTo: 'Gitops-Rollback-To',
  promotedFrom: 'Gitops-Promoted-From',
} as const;

const SUBJECT_MAX = 72;

/** The part of a reference a reviewer recognises: the tag, else a short digest. */
export function shortVersion(reference: string): string {
  const digest = /@([a-z0-9]+):([0-9a-f]{12})[0-9a-f]*$/.exec(reference);
  const withoutDigest = reference.replace(/@[^@]*$/, '');
  const lastSlash = withoutDigest.lastIndexOf('/');
  const colon = withoutDigest.indexOf(':', lastSlash + 1);
  const tag = colon >= 0 ? withoutDigest.slice(colon + 1) : undefined;
  if (tag) return tag;
  if (digest) return `${digest[1]}:${digest[2]}`;
  return reference;
}

function fit(subject: string): string {
  return subject.length <= SUBJECT_MAX ? subject : `${subject.slice(0, SUBJECT_MAX - 1)}…`;
}

export function commitSubject(input: Pick<CommitMessageInput, 'environment' | 'changes' | 'action'>): string {
  // The subject says what ran: `bump(staging): …` for gitops bump, `promote(production): …` for a promotion.
  const prefix = `${input.action}(${input.environment}): `;
  const byImage = new Map<string, { old: string; new: string }>();
  for (const change of input.changes) {
    if (!byImage.has(change.image)) byImage.set(change.image, { old: change.old, new: change.new });
  }
  if (byImage.size === 1) {
    const [[image, change]] = [...byImage.entries()] as [[string, { old: string; new: string }]];
    return fit(`${prefix}${image} ${shortVersion(change.old)} → ${shortVersion(change.new)}`);
  }
  const list = [...byImage.entries()]
    .map(([image, change]) => `${image} ${shortVersion(change.new)}`)
    .join(', ');
  return fit(`${prefix}${byImage.size} images: ${list}`);
}

/** Subject, a body listing every change, and `git interpret-trailers`-readable trailers. */
export function commitMessage(input: CommitMessageInput): string {
  const subject = input.subject ?? commitSubject(input);
  const lines = input.changes.map(
    (change) => `- ${change.image}: ${change.old} → ${change.new} (${change.file}:${change.line})`,
  );
  const body = [input.body, lines.length ? lines.join('\n') : undefined].filter(Boolean).join('\n\n');
  const trailers: Array<[string, string]> = [
    [TRAILER.environment, input.environment],
    [TRAILER.action, input.action],
    ...Object.entries(input.images)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, reference]): [string, string] => [TRAILER.image, `${name}=${reference}`]),
    ...(input.extraTrailers ?? []),
  ];
  const { provenance } = input;
  if (provenance.sourceCommit) trailers.push([TRAILER.sourceCommit, provenance.sourceCommit]);
  if (provenance.sourceRepo) trailers.push([TRAILER.sourceRepo, provenance.sourceRepo]);
  if (provenance.buildUrl) trailers.push([TRAILER.buildUrl, provenance.buildUrl]);
  if (provenance.actor) trailers.push([TRAILER.actor, provenance.actor]);
  // Trailer values are single lines: a newline would end the trailer block or forge another trailer.
  const trailerBlock = trailers.map(([key, value]) => `${key}: ${value.replace(/[\r\n]+/g, ' ')}`).join('\n');
  return `${subject}\n\n${body ? `${body}\n\n` : ''}${trailerBlock}\n`;
}

/** Parses trailers as `git interpret-trailers --parse` prints them ("Key: value" lines). */
export function parseTrailers(text: string): Array<[string, string]> {
  return text
    .split('\n')
    .map((line) => /^([A-Za-z0-9-]+):\s?(.*)$/.exec(line))
    .filter((match): match is RegExpExecArray => match !== null)
    .map((match) => [match[1]!, match[2]!]);
}
