import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { repoRoot } from './cli.js';

const ajv = new Ajv2020({ allErrors: true, strict: false, validateFormats: false });

/** Validates a `--json` document against schemas/<name>.schema.json; throws with Ajv's errors. */
export function assertMatchesSchema(name: string, document: unknown): void {
  const schema = JSON.parse(readFileSync(join(repoRoot, 'schemas', `${name}.schema.json`), 'utf8')) as {
    $id: string;
  };
  const validate = ajv.getSchema(schema.$id) ?? ajv.compile(schema);
  if (!validate(document)) {
    throw new Error(
      `${name} --json does not match schemas/${name}.schema.json: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(document, null, 2).slice(0, 2000)}`,
    );
  }
}
