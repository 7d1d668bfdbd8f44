export type ColorLevel = 0 | 1 | 2 | 3;

/**
 * Colour level from the conventions users expect: NO_COLOR (https://no-color.org) and
 * `--no-color` switch colour off; FORCE_COLOR forces it on even when piped; otherwise colour
 * only on a terminal that is not "dumb".
 */
export function colorLevel(
  env: Record<string, string | undefined>,
  isTTY: boolean,
  flag: boolean | undefined,
): ColorLevel {
  if (flag === false) return 0;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return 0;
  const force = env.FORCE_COLOR;
  if (force !== undefined) {
    if (force === '' || force === 'true') return 1;
    if (force === 'false' || force === '0') return 0;
    const level = Number.parseInt(force, 10);
    if (level >= 1 && level <= 3) return level as ColorLevel;
  }
  if (!isTTY || env.TERM === 'dumb') return 0;
  return env.COLORTERM === 'truecolor' ? 3 : 2;
}
