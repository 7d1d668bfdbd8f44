/**
 * Value equality as the API means it, so the same intent written two ways is not drift:
 * quantities (`500m` = `0.5`, `1Gi` = `1024Mi`), numbers and numeric strings (int-or-string
 * fields such as targetPort), and nothing else.
 */
const QUANTITY = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(?:(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E)|[eE]([+-]?\d+))?$/;
const SUFFIX: Record<string, number> = {
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** The value of a Kubernetes resource.Quantity, or undefined when the text is not one. */
export function quantityValue(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value !== 'string') return undefined;
  const match = QUANTITY.exec(value.trim());
  if (!match) return undefined;
  const base = Number(match[1]);
  if (match[2]) return base * SUFFIX[match[2]]!;
  if (match[3]) return base * 10 ** Number(match[3]);
  return base;
}

export function scalarEqual(desired: unknown, live: unknown, inQuantityField: boolean): boolean {
  if (desired === live) return true;
  if (desired === null || live === null || desired === undefined || live === undefined) return false;
  const types = new Set([typeof desired, typeof live]);
  if (inQuantityField && [...types].every((type) => type === 'string' || type === 'number')) {
    const a = quantityValue(desired);
    const b = quantityValue(live);
    if (a !== undefined && b !== undefined) return Math.abs(a - b) <= Math.abs(a) * 1e-9;
  }
  if (types.has('number') && types.has('string')) return String(desired) === String(live);
  return false;
}

export function isEmptyValue(value: unknown): boolean {
  if (value === null || value === undefined) return true;
  if (Array.isArray(value)) return value.length === 0;
  if (typeof value === 'object') return Object.keys(value).length === 0;
  return false;
}
