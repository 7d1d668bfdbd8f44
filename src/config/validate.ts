import type { Document, LineCounter, Node } from 'yaml';
import type { SourceLocation } from '../core/errors.js';
import { isAlias, isMap, isScalar, isSeq } from '../core/yaml.js';
import type { Spec } from './spec.js';
import { closest } from './suggest.js';

export interface ConfigProblem {
  /** Dotted key path, e.g. `environments.staging.path`. */
  path: string;
  message: string;
  location: SourceLocation;
  suggestion?: string;
}

interface Walk {
  doc: Document;
  file: string;
  lines: LineCounter;
  env: Record<string, string | undefined>;
  problems: ConfigProblem[];
}

/** `${VAR}` and `${VAR:-default}`; `$${…}` stays literal. */
const VARIABLE_REFERENCE = /\$(\$)?\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

function locate(walk: Walk, node: Node | null | undefined): SourceLocation {
  const offset = node?.range?.[0];
  if (offset === undefined) return { file: walk.file };
  const { line, col } = walk.lines.linePos(offset);
  return { file: walk.file, line, column: col };
}

function join(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path ? `${path}.${key}` : key;
}

function typeName(node: Node | null | undefined): string {
  if (node === null || node === undefined) return 'nothing';
  if (isMap(node)) return 'a map';
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) {
    if (node.value === null) return 'null';
    return `${typeof node.value} ${JSON.stringify(node.value)}`;
  }
  return 'something else';
}

function interpolate(walk: Walk, text: string, path: string, node: Node): string {
  return text.replace(
    VARIABLE_REFERENCE,
    (whole, escaped: string | undefined, name: string, fallback?: string) => {
      if (escaped) return whole.slice(1);
      const value = walk.env[name];
      if (value !== undefined && value !== '') return value;
      if (fallback !== undefined) return fallback;
      walk.problems.push({
        path,
        message: `environment variable ${name} is not set (referenced as \${${name}})`,
        location: locate(walk, node),
        suggestion: `set ${name}, or write \${${name}:-default} for a fallback`,
      });
      return '';
    },
  );
}

/** An absent object with a default gets every nested field's default, not just `{}`. */
function defaultsOf(spec: Extract<Spec, { type: 'object' }>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...(structuredClone(spec.default) as Record<string, unknown>) };
  for (const [key, field] of Object.entries(spec.fields)) {
    if (key in out) continue;
    if (field.type === 'object' && field.default !== undefined) out[key] = defaultsOf(field);
    else if (field.default !== undefined) out[key] = structuredClone(field.default);
  }
  return out;
}

function resolve(walk: Walk, node: Node | null | undefined): Node | null | undefined {
  return node && isAlias(node) ? (node.resolve(walk.doc) as Node | undefined) : node;
}

function check(
  walk: Walk,
  spec: Spec,
  raw: Node | null | undefined,
  path: string,
  parentForLocation: Node | null | undefined,
): unknown {
  const node = resolve(walk, raw);
  const problem = (
    message: string,
    suggestion?: string,
    at: Node | null | undefined = node ?? parentForLocation,
  ) => {
    walk.problems.push({ path, message, location: locate(walk, at), ...(suggestion ? { suggestion } : {}) });
    return undefined;
  };
  if (node === undefined || node === null || (isScalar(node) && node.value === null)) {
    if (spec.required) return problem(`${path} is required: ${spec.doc}`);
    if (spec.type === 'object' && spec.default !== undefined) return defaultsOf(spec);
    return structuredClone(spec.default);
  }
  switch (spec.type) {
    case 'string': {
      if (!isScalar(node) || typeof node.value === 'object')
        return problem(`${path} must be a string, found ${typeName(node)}`);
      const text = interpolate(walk, String(node.value), path, node);
      if (spec.pattern && !spec.pattern.test(text)) {
        return problem(`${path} "${text}" is not valid: expected ${spec.patternHint ?? spec.pattern.source}`);
      }
      return text;
    }
    case 'boolean':
      if (!isScalar(node) || typeof node.value !== 'boolean')
        return problem(`${path} must be true or false, found ${typeName(node)}`);
      return node.value;
    case 'integer': {
      if (!isScalar(node) || typeof node.value !== 'number' || !Number.isInteger(node.value)) {
        return problem(`${path} must be a whole number, found ${typeName(node)}`);
      }
      if (
        (spec.min !== undefined && node.value < spec.min) ||
        (spec.max !== undefined && node.value > spec.max)
      ) {
        return problem(`${path} must be between ${spec.min} and ${spec.max}, found ${node.value}`);
      }
      return node.value;
    }
    case 'enum': {
      const value = isScalar(node) ? String(node.value) : undefined;
      if (value === undefined || !spec.values.includes(value)) {
        const nearest = value === undefined ? undefined : closest(value, spec.values);
        return problem(
          `${path} must be one of ${spec.values.join(', ')}, found ${typeName(node)}`,
          nearest ? `did you mean "${nearest}"?` : undefined,
        );
      }
      return value;
    }
    case 'array': {
      if (!isSeq(node)) return problem(`${path} must be a list, found ${typeName(node)}`);
      return node.items.map((item, index) => check(walk, spec.items, item as Node, join(path, index), node));
    }
    case 'map':
    case 'object': {
      if (!isMap(node)) return problem(`${path || 'the config'} must be a map, found ${typeName(node)}`);
      const out: Record<string, unknown> = {};
      for (const pair of node.items) {
        const keyNode = pair.key as Node;
        const key = isScalar(keyNode) ? String(keyNode.value) : undefined;
        if (key === undefined) {
          problem(`${path || 'the config'} has a key that is not a string`, undefined, keyNode);
          continue;
        }
        const childPath = join(path, key);
        if (spec.type === 'object') {
          const fieldSpec = spec.fields[key];
          if (!fieldSpec) {
            const nearest = closest(key, Object.keys(spec.fields));
            walk.problems.push({
              path: childPath,
              message: `unknown key "${key}"${path ? ` in ${path}` : ''}`,
              location: locate(walk, keyNode),
              suggestion: nearest
                ? `did you mean "${nearest}"?`
                : `known keys: ${Object.keys(spec.fields).join(', ')}`,
            });
            continue;
          }
          out[key] = check(walk, fieldSpec, pair.value as Node, childPath, keyNode);
        } else {
          if (spec.keyPattern && !spec.keyPattern.test(key)) {
            walk.problems.push({
              path: childPath,
              message: `name "${key}" in ${path} is not valid: expected ${spec.keyHint ?? spec.keyPattern.source}`,
              location: locate(walk, keyNode),
            });
            continue;
          }
          out[key] = check(walk, spec.values, pair.value as Node, childPath, keyNode);
        }
      }
      if (spec.type === 'object') {
        for (const [key, fieldSpec] of Object.entries(spec.fields)) {
          if (key in out) continue;
          if (fieldSpec.required) {
            walk.problems.push({
              path: join(path, key),
              message: `${join(path, key)} is required: ${fieldSpec.doc}`,
              location: locate(walk, node),
            });
          } else if (fieldSpec.default !== undefined) {
            out[key] = check(walk, fieldSpec, undefined, join(path, key), node);
          }
        }
      }
      return out;
    }
  }
}

/** Validates a parsed YAML document against a spec; returns the typed value and every problem found. */
export function validateDocument(
  spec: Spec,
  doc: Document,
  options: { file: string; lines: LineCounter; env: Record<string, string | undefined> },
): { value: unknown; problems: ConfigProblem[] } {
  const walk: Walk = { doc, file: options.file, lines: options.lines, env: options.env, problems: [] };
  const value = check(walk, spec, doc.contents as Node | null, '', doc.contents as Node | null);
  return { value, problems: walk.problems };
}
