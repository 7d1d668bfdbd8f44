/** Commander argument parser for repeatable options (`--image a --image b` → ['a', 'b']). */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}
