// The render path reads manifests with js-yaml and falls back to the `yaml` document model for
// whatever js-yaml could read differently or is wrong: parseDocuments must give exactly what the
// document model alone gives (objects, lines, `# Source:` comments, refusals with their words and
// positions) on tricky scalars, on every shape found where the two parsers part, and on generated
// streams; and the usual rendered output must still be read by js-yaml, not all by the fallback.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import jsYaml from 'js-yaml';
import { stringify } from 'yaml';
import { controlProblem } from '../src/core/input-guards.js';
import { textProblem } from '../src/render/input-check.js';
import {
  manifestsOf,
  parseDocuments,
  parseDocumentsWithDocumentModel,
  parseManifests,
  readAgreeingDocuments,
  readByJsYaml,
} from '../src/render/parse.js';

const settings = { numRuns: 150, ...(process.env.FC_SEED ? { seed: Number(process.env.FC_SEED) } : {}) };

type Outcome = { objects: unknown } | { code: string; message: string; location: unknown };

function outcome(read: () => unknown): Outcome {
  try {
    return { objects: read() };
  } catch (error) {
    const { code, message, location } = error as { code?: string; message: string; location?: unknown };
    if (!code) throw error;
    return { code, message, location };
  }
}

/** parseDocuments and parseManifests give what the document model alone gives. */
function assertSameAsDocumentModel(text: string): void {
  const expected = outcome(() => parseDocumentsWithDocumentModel(text, 'envs/staging/all.yaml'));
  assert.deepStrictEqual(
    outcome(() => parseDocuments(text, 'envs/staging/all.yaml')),
    expected,
    JSON.stringify(text),
  );
  const manifests =
    'objects' in expected
      ? {
          objects: (expected.objects as Array<{ object: unknown; line: number }>).map(({ object, line }) => ({
            object,
            source: { file: 'envs/staging/all.yaml', line },
          })),
        }
      : expected;
  assert.deepStrictEqual(
    outcome(() => parseManifests(text, 'envs/staging/all.yaml')),
    manifests,
    JSON.stringify(text),
  );
  // The render input check takes js-yaml's reading of a guarded text (no raw control characters)
  // as proof that the document model refuses nothing, and the plain reader takes its objects from
  // it: both must hold for every such text.
  const agreeing = controlProblem(text) === undefined ? readAgreeingDocuments(text) : undefined;
  if (agreeing) {
    assert.equal(textProblem(text), undefined, JSON.stringify(text));
    assert.deepStrictEqual(
      outcome(() => manifestsOf(agreeing, 'envs/staging/all.yaml')),
      manifests,
      JSON.stringify(text),
    );
  }
}

const configMap = (data: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\ndata:\n${data}`;

/** Scalars the YAML 1.1 and 1.2 resolvers (and js-yaml's own schemas) disagree on, as the document model reads them. */
const SCALARS: Record<string, unknown> = {
  '0777': 777,
  '0o17': 15,
  '0x1F': 31,
  '0X1F': '0X1F',
  '0b101': '0b101',
  '1_000': '1_000',
  '-0': -0,
  '+12': 12,
  '1e3': 1000,
  '1.': 1,
  '.5': 0.5,
  '.inf': Number.POSITIVE_INFINITY,
  '-.Inf': Number.NEGATIVE_INFINITY,
  '.NaN': Number.NaN,
  NaN: 'NaN',
  '12345678901234567890': Number.parseInt('12345678901234567890', 10),
  on: 'on',
  yes: 'yes',
  Y: 'Y',
  off: 'off',
  True: true,
  FALSE: false,
  tRue: 'tRue',
  '~': null,
  Null: null,
  '': null,
  '2024-01-01': '2024-01-01',
  '2001-12-14t21:59:43.10-05:00': '2001-12-14t21:59:43.10-05:00',
  '1:20:30': '1:20:30',
  '=': '=',
  '<<': '<<',
  '1,000': '1,000',
  'v1.2': 'v1.2',
};

test('tricky scalars read as the YAML 1.2 core schema of the document model, by js-yaml', () => {
  for (const [text, value] of Object.entries(SCALARS)) {
    // In a flow sequence too, unless the text means something else there (`[]`, `[1,000]`).
    const flow = text !== '' && !text.includes(',');
    const manifest = configMap(`  plain: ${text}\n${flow ? `  flow: [${text}]\n` : ''}  key${text}: x\n`);
    assertSameAsDocumentModel(manifest);
    assert.ok(readByJsYaml(manifest), `js-yaml reads ${JSON.stringify(text)}`);
    const data = parseDocuments(manifest, 'all.yaml')[0]!.object.data as Record<string, unknown>;
    assert.deepStrictEqual(data.plain, value, JSON.stringify(text));
    if (flow) assert.deepStrictEqual(data.flow, [value], JSON.stringify(text));
    // As a key, the value's string form (`1e3: x` is the key "1000"), as JavaScript objects have it.
    const keyed = configMap(`  ${text || '""'}: x\n`);
    assertSameAsDocumentModel(keyed);
  }
});

test('shapes js-yaml reads differently from the document model are read as the document model reads them', () => {
  const shapes = [
    // An empty item then a less indented one: js-yaml carries on with the inner sequence.
    configMap('  list:\n    - \n  - b\n'),
    configMap('  list:\n    - - \n    - b\n'),
    '- - \n- b\n',
    // Tabs, under-indented quoted scalars and flow collections, comments glued to quotes.
    '\tTrue\n',
    configMap('  a: "x\n\ty"\n'),
    configMap('  tag: "\n- 1.1.0"\n'),
    configMap('  a: "x\n  y"\n'),
    configMap('  a: "x\n   y"\n'),
    configMap('  a: [\n  1]\n'),
    configMap('  a: [\n    1]\n'),
    configMap("  a: 'x'#c\n"),
    configMap('  a: [x]#c\n'),
    configMap("  a: 'trail  '#\n"),
    '---a: 1\n',
    // Keys that are null, collections or explicit.
    configMap('  ~: a\n'),
    configMap('  null: a\n'),
    configMap('  : a\n'),
    configMap('  {b: 1}: a\n'),
    configMap('  [b]: a\n'),
    configMap('  ? b\n  : a\n'),
    configMap('  a: {[b, c]}\n  d: {{e: 1}}\n'),
    // A template nobody rendered: a flow map whose key is a flow map.
    configMap('  image: {{ .Values.image }}\n'),
    configMap('  1: a\n  "1": b\n'),
    // Tags.
    configMap('  a: !\n'),
    configMap('  a: !!map\n'),
    configMap('  a: !!float 5\n'),
    configMap('  a: !!int 1_0\n'),
    configMap('  a: !!binary aGk=\n'),
    configMap('  a: !custom x\n'),
    `!!map\n${configMap('  a: 1\n')}`,
    // YAML 1.1 by directive; document end markers; line breaks and byte order marks.
    `%YAML 1.1\n---\n${configMap('  a: on\n  b: 0777\n')}`,
    `${configMap('  a: 1\n')}...\n# Source: c/templates/b.yaml\n---\n${configMap('  b: 1\n').replace('web', 'b')}`,
    configMap('  a: x\r  b: y\r'),
    `\uFEFF${configMap('  a: 1\n')}`,
    `${configMap('  a: 1\n')}---\n\uFEFF${configMap('  b: 1\n').replace('web', 'b')}`,
    configMap(`  ${'k'.repeat(1100)}: v\n`),
    // Anchors, aliases, merge keys, an alias bomb.
    configMap('  a: &x 1\n  b: *x\n'),
    configMap('  base: &base {k: v}\n  merged:\n    <<: *base\n'),
    configMap(
      '  a: &a ["x","x","x","x","x","x","x","x","x","x"]\n  b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n  c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n  d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n  e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\n  f: [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n',
    ),
    // Escaped control characters, nesting past js-yaml's default and past the guard, duplicates.
    configMap('  a: "\\x07"\n'),
    configMap('  "\\x1b[31m": red\n'),
    configMap(`  a: ${'['.repeat(150)}${']'.repeat(150)}\n`),
    configMap(`  a: ${'['.repeat(300)}${']'.repeat(300)}\n`),
    configMap('  a: 1\n  a: 2\n'),
    // Not valid YAML at all.
    configMap('  a: "open\n'),
    configMap('  a: b: c\n'),
    'apiVersion: v1\nkind: ConfigMap\n  metadata: {}\n',
  ];
  for (const text of shapes) assertSameAsDocumentModel(text);
});

test("the comment before each document, Helm's `# Source:`, in the shapes around document markers", () => {
  const second = (comment: string) =>
    `${configMap('  a: 1\n')}${comment}${configMap('  b: 1\n').replace('web', 'api')}`;
  const shapes = [
    `---\n# Source: chart/templates/web.yaml\n${configMap('  a: 1\n')}`,
    `# Source: chart/templates/web.yaml\n${configMap('  a: 1\n')}`,
    `# Source: chart/templates/web.yaml\n\n${configMap('  a: 1\n')}`,
    `# before\n---\n# after\n${configMap('  a: 1\n')}`,
    `--- # on the marker\n${configMap('  a: 1\n')}`,
    `---\n\n# after a blank line\n\n${configMap('  a: 1\n')}`,
    `---\n#\n# Source: chart/templates/web.yaml\n#  spaced  \n${configMap('  a: 1\n')}`,
    `---\r\n# Source: chart/templates/web.yaml\r\n${configMap('  a: 1\n').replaceAll('\n', '\r\n')}`,
    `---\n# Source: chart/templates/web.yaml\n{apiVersion: v1, kind: ConfigMap, metadata: {name: web}}\n`,
    `---\n  # indented\n${configMap('  a: 1\n')}`,
    second('---\n# Source: chart/templates/api.yaml\n'),
    second('# trailing\n---\n# Source: chart/templates/api.yaml\n'),
    second('\n# trailing\n\n---\n'),
    second('---\n# empty\n---\n# Source: chart/templates/api.yaml\n'),
    `--- |\n  text\n# trailing\n---\n# x\n${configMap('  a: 1\n')}`,
  ];
  for (const text of shapes) assertSameAsDocumentModel(text);
  const helm = `---\n# Source: chart/templates/web.yaml\n${configMap('  a: 1\n')}---\n# Source: chart/templates/api.yaml\n${configMap('  b: 1\n').replace('web', 'api')}`;
  assert.ok(readByJsYaml(helm));
  assert.deepStrictEqual(
    parseDocuments(helm, 'out').map(({ line, comment }) => ({ line, comment })),
    [
      { line: 3, comment: ' Source: chart/templates/web.yaml' },
      { line: 11, comment: ' Source: chart/templates/api.yaml' },
    ],
  );
});

const word = fc.constantFrom(
  ...Object.keys(SCALARS),
  'a',
  'b c',
  'x: y',
  '#',
  'a #b',
  '- a',
  '"q"',
  "it's",
  '[',
  '{',
);
const { tree } = fc.letrec((tie) => ({
  tree: fc.oneof(
    { depthSize: 'small' },
    word,
    fc.string({ maxLength: 6 }),
    fc.integer(),
    tie('list'),
    tie('map'),
  ),
  list: fc.array(tie('tree'), { maxLength: 3 }),
  map: fc.dictionary(fc.oneof(word, fc.string({ maxLength: 5 })), tie('tree'), { maxKeys: 3 }),
}));
const object = fc
  .tuple(fc.constantFrom('ConfigMap', 'Secret', 'List'), fc.stringMatching(/^[a-z][a-z0-9-]{0,8}$/), tree)
  .map(([kind, name, data]) =>
    kind === 'List'
      ? { apiVersion: 'v1', kind, items: [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data }] }
      : { apiVersion: 'v1', kind, metadata: { name }, data },
  );
/** An object as one of the YAML writers around would print it. */
const printed = fc.oneof(
  fc
    .tuple(
      object,
      fc.record({
        defaultStringType: fc.constantFrom(
          'PLAIN',
          'QUOTE_DOUBLE',
          'QUOTE_SINGLE',
          'BLOCK_LITERAL',
          'BLOCK_FOLDED',
        ),
        collectionStyle: fc.constantFrom('any', 'block', 'flow'),
        indent: fc.integer({ min: 1, max: 4 }),
        indentSeq: fc.boolean(),
        lineWidth: fc.constantFrom(0, 20, 80),
      }),
    )
    .map(([value, options]) => stringify(value, options as never)),
  fc
    .tuple(object, fc.integer({ min: -1, max: 3 }), fc.boolean(), fc.boolean())
    .map(([value, flowLevel, forceQuotes, noArrayIndent]) =>
      jsYaml.dump(value, { flowLevel, forceQuotes, noArrayIndent, lineWidth: 30 }),
    ),
);
const before = fc.constantFrom(
  '',
  '---\n',
  '---\n# Source: chart/templates/x.yaml\n',
  '# c\n---\n',
  '\n---\n#\n',
);
const edit = fc.tuple(
  fc.nat(),
  fc.constantFrom(
    ' ',
    '\t',
    '- ',
    '#',
    '"',
    "'",
    '[',
    ']',
    ': ',
    '?',
    '|',
    '\n',
    '\n  ',
    '&a ',
    '*a',
    '!',
    '\\',
  ),
  fc.boolean(),
);

test('generated streams, and streams one or two characters off, read as the document model reads them', () => {
  const stream = fc
    .array(fc.tuple(before, printed), { minLength: 1, maxLength: 4 })
    .map((parts) => parts.flat().join(''));
  fc.assert(
    fc.property(stream, fc.array(edit, { maxLength: 2 }), (text, edits) => {
      assertSameAsDocumentModel(text);
      let edited = text;
      for (const [at, insert, remove] of edits) {
        const where = at % (edited.length + 1);
        edited = edited.slice(0, where) + (remove ? '' : insert) + edited.slice(where + (remove ? 1 : 0));
      }
      assertSameAsDocumentModel(edited);
    }),
    settings,
  );
});

test('what renderers print is read by js-yaml', () => {
  const deployment = (name: string) =>
    `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: ${name}\n  labels:\n    app.kubernetes.io/name: "${name}"\nspec:\n  replicas: 2\n  template:\n    spec:\n      containers:\n        - name: app\n          image: ghcr.io/acme/${name}:1.0.0\n          args: ["--port=8080", '--log=json']\n          command:\n          - sh\n          - -c\n          - |\n            echo "starting *.conf" && exec app --flag=!x\n          env:\n            - name: EMPTY\n              value: ""\n          resources: {}\n      description: >-\n        a long text over\n        two lines\n`;
  const helm = ['web', 'api', 'worker'].map(
    (name) => `---\n# Source: chart/templates/${name}.yaml\n${deployment(name)}`,
  );
  assert.ok(readByJsYaml(helm.join('')));
  assert.ok(readByJsYaml(['web', 'api'].map(deployment).join('---\n')));
  assert.ok(
    readByJsYaml(
      jsYaml.dump({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' }, data: SCALARS }),
    ),
  );
  assertSameAsDocumentModel(helm.join(''));
});
