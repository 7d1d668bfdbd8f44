import { LineCounter, parseAllDocuments } from 'yaml';
import { usageError } from '../core/errors.js';
import {
  controlProblem,
  documentProblem,
  type InputProblem,
  MAX_TOTAL_BYTES,
  megabytes,
} from '../core/input-guards.js';
import type { DesiredObject, KubeObject } from '../kube/objects.js';

function asObjects(value: unknown, where: { file: string; line?: number }): KubeObject[] {
  if (value === null || value === undefined) return [];
  const object = value as Partial<KubeObject> & { items?: unknown[] };
  const problem = (message: string) =>
    usageError('MANIFEST_INVALID', message, {
      location: { file: where.file, ...(where.line ? { line: where.line } : {}) },
      hint: 'every YAML document in an environment must be a Kubernetes object (apiVersion, kind, metadata.name)',
    });
  if (typeof value !== 'object' || Array.isArray(value))
    throw problem('document is not a Kubernetes object (a map)');
  if (typeof object.kind === 'string' && object.kind.endsWith('List') && Array.isArray(object.items)) {
    return object.items.flatMap((item) => asObjects(item, where));
  }
  if (typeof object.apiVersion !== 'string' || typeof object.kind !== 'string') {
    throw problem('document has no apiVersion/kind');
  }
  if (!object.metadata || typeof object.metadata.name !== 'string' || object.metadata.name === '') {
    throw problem(`${object.kind} has no metadata.name`);
  }
  return [object as KubeObject];
}

function guardError(code: 'MANIFEST_YAML' | 'MANIFEST_ENCODING', file: string, problem: InputProblem) {
  return usageError(code, problem.reason, {
    location: {
      file,
      ...(problem.line ? { line: problem.line } : {}),
      ...(problem.line && problem.column ? { column: problem.column } : {}),
    },
    hint: 'fix the file at that line; gitops refuses the same input when it edits',
  });
}

/** Parses a multi-document YAML text into objects with their starting line. */
export function parseManifests(text: string, file: string): DesiredObject[] {
  return parseDocuments(text, file).map(({ object, line }) => ({ object, source: { file, line } }));
}

/** Objects of a multi-document YAML text, each with its line and the comment before its document. */
export function parseDocuments(
  text: string,
  file: string,
): Array<{ object: KubeObject; line: number; comment?: string }> {
  // The input guard of the edit path (core/input-guards.ts), with the same words: for a file of
  // the environment and for what a renderer printed.
  if (text.length > MAX_TOTAL_BYTES) {
    throw usageError(
      'MANIFEST_TOO_LARGE',
      `${file} is ${megabytes(text.length)}, more than the ${megabytes(MAX_TOTAL_BYTES)} gitops reads for one environment`,
      { location: { file }, hint: 'split the environment, or keep large data out of the env repo' },
    );
  }
  const control = controlProblem(text);
  if (control) throw guardError('MANIFEST_ENCODING', file, control);
  const lines = new LineCounter();
  const documents = parseAllDocuments(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: true });
  const source = { text, offset: 0, lineOf: (offset: number) => lines.linePos(offset).line };
  const out: Array<{ object: KubeObject; line: number; comment?: string }> = [];
  for (const document of Array.isArray(documents) ? documents : [documents]) {
    const problem = documentProblem(document, source);
    if (problem) throw guardError('MANIFEST_YAML', file, problem);
    const start = document.contents?.range?.[0];
    const line = start === undefined ? 1 : lines.linePos(start).line;
    let value: unknown;
    try {
      // maxAliasCount bounds "billion laughs" expansion.
      value = document.toJS({ maxAliasCount: 100 });
    } catch (cause) {
      throw usageError('MANIFEST_YAML', `cannot expand YAML document: ${(cause as Error).message}`, {
        location: { file, line },
        cause,
      });
    }
    // A comment right above the first key belongs to the document's root node, not the document.
    const comment = document.commentBefore ?? document.contents?.commentBefore ?? undefined;
    for (const object of asObjects(value, { file, line }))
      out.push({ object, line, ...(comment ? { comment } : {}) });
  }
  return out;
}
