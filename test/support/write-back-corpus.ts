// The write-back corpus (test/fixtures/write-back): its cases and how a case's env repo is laid out.
import { cpSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './cli.js';

export interface WriteBackCase {
  /** Which peer behaviour the case mirrors (also in the README's table). */
  peer: string;
  images: string[];
  /** The config's images, when the case needs others than web and api (shared repositories). */
  config?: Array<{ name: string; repository: string }>;
  /** The environment directory inside in/ (default: in/ itself). */
  env?: string;
  /** Charts of test/fixtures/write-back/_charts copied to <tmp>/charts/<name>. */
  charts?: string[];
  chart?: string;
  helmValues?: string[];
  changes?: number;
  /** Reasons that must be among the seen references (substrings). */
  seen?: string[];
  /** A refusal mentioning this: nothing written. */
  refused?: string;
  /** Not editable, with a place whose reason mentions this: nothing written. */
  notEditable?: string;
  notFound?: string[];
  /** false: the layout does not render offline (a remote base, helmCharts, a refused layout). */
  render?: false | { unchanged?: string[]; expect?: Record<string, string> };
}

export const corpus = join(repoRoot, 'test', 'fixtures', 'write-back');

/** The images of the gitops.yaml the cases assume unless they say otherwise. */
export const DEFAULT_CONFIG = [
  { name: 'web', repository: 'ghcr.io/acme/web' },
  { name: 'api', repository: 'ghcr.io/acme/api' },
];

export const cases = readdirSync(corpus, { withFileTypes: true })
  .filter((entry) => entry.isDirectory() && !entry.name.startsWith('_'))
  .map((entry) => entry.name)
  .sort();

export function readCase(name: string): WriteBackCase {
  return JSON.parse(readFileSync(join(corpus, name, 'case.json'), 'utf8')) as WriteBackCase;
}

/** Copies a case's in/ (and the charts it renders with, to charts/<name>) into `dir`. */
export function copyCase(name: string, spec: WriteBackCase, dir: string): void {
  cpSync(join(corpus, name, 'in'), dir, { recursive: true });
  for (const chart of spec.charts ?? []) {
    cpSync(join(corpus, '_charts', chart), join(dir, 'charts', chart), { recursive: true });
  }
}
