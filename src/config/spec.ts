/**
 * A small schema language for gitops.yaml. One description drives validation (with
 * file:line:column and typo suggestions), defaults, and the generated reference in docs/config.md.
 */
interface Common {
  doc: string;
  required?: boolean;
  /** Shown in the docs; applied when the key is absent. */
  default?: unknown;
  example?: string;
}

export type Spec =
  | (Common & { type: 'string'; pattern?: RegExp; patternHint?: string })
  | (Common & { type: 'boolean' })
  | (Common & { type: 'integer'; min?: number; max?: number })
  | (Common & { type: 'enum'; values: readonly string[] })
  | (Common & { type: 'array'; items: Spec })
  | (Common & { type: 'object'; fields: Record<string, Spec> })
  | (Common & { type: 'map'; values: Spec; keyPattern?: RegExp; keyHint?: string });

export function describeType(spec: Spec): string {
  switch (spec.type) {
    case 'enum':
      return spec.values.map((value) => `\`${value}\``).join(' \\| ');
    case 'array':
      return `list of ${describeType(spec.items)}`;
    case 'map':
      return `map of name → ${describeType(spec.values)}`;
    default:
      return spec.type;
  }
}
