import { configSchema } from './schema.js';
import { describeType, type Spec } from './spec.js';

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function defaultText(spec: Spec): string {
  if (spec.required) return '**required**';
  if (spec.default === undefined) return '';
  if (typeof spec.default === 'object') {
    return Object.keys(spec.default as object).length === 0 ? '' : `\`${JSON.stringify(spec.default)}\``;
  }
  return `\`${String(spec.default)}\``;
}

function rows(spec: Spec, path: string, out: string[]): void {
  if (spec.type === 'object') {
    for (const [key, field] of Object.entries(spec.fields)) {
      const fieldPath = path ? `${path}.${key}` : key;
      out.push(
        `| \`${fieldPath}\` | ${cell(describeType(field))} | ${defaultText(field)} | ${cell(field.doc)}${field.example ? ` Example: \`${field.example}\`.` : ''} |`,
      );
      rows(field, fieldPath, out);
    }
  } else if (spec.type === 'array') {
    rows(spec.items, `${path}[]`, out);
  } else if (spec.type === 'map') {
    rows(spec.values, `${path}.<name>`, out);
  }
}

/** docs/config.md, generated from the schema so the reference cannot drift from the validator. */
export function renderConfigReference(): string {
  const out = [
    '# gitops.yaml reference',
    '',
    '<!-- Generated from src/config/schema.ts by `UPDATE_DOCS=1 node test/run.mjs config-docs`. Do not edit by hand. -->',
    '',
    'gitops looks for `gitops.yaml` (or `gitops.yml`) in the working directory and its parents up to the',
    'repository root; `--config <path>` names another file. Relative paths are relative to the config file.',
    '',
    'Any string value may reference environment variables as `${VAR}` or `${VAR:-default}` (`$${…}` for a',
    'literal). An unset variable without a default is an error naming the file and line.',
    '',
    'Unknown keys are errors, with the nearest valid key suggested (`enviroments` → `environments`).',
    'Environment and image names are DNS-1123 labels: lowercase letters, digits and `-`.',
    '',
    '| key | type | default | meaning |',
    '|---|---|---|---|',
  ];
  rows(configSchema, '', out);
  return `${out.join('\n')}\n`;
}
