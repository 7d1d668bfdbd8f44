import { createRequire } from 'node:module';
import type * as YamlModule from 'yaml';

// The `yaml` package is CommonJS: require() skips the ESM wrapper's CJS analysis of its modules,
// which made importing it take a third longer on Node 20 (as for commander in cli/main.ts). Types
// are imported from 'yaml' itself; they load nothing.
const yaml = createRequire(import.meta.url)('yaml') as typeof YamlModule;

export const {
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  parse,
  parseAllDocuments,
  parseDocument,
} = yaml;
export type LineCounter = YamlModule.LineCounter;
