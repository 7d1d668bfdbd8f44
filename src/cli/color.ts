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

/** A style: the text wrapped in its colour's escape codes, or the text as it is. */
export type Style = (text: string) => string;

/** The styles gitops' output uses. A chalk instance is one; plain output needs no chalk. */
export interface Palette {
  bold: Style;
  cyan: Style;
  dim: Style;
  green: Style;
  red: Style;
  yellow: Style;
}

const unstyled: Style = (text) => text;

/** What chalk does at level 0: every style returns the text as it is. */
export const PLAIN: Palette = {
  bold: unstyled,
  cyan: unstyled,
  dim: unstyled,
  green: unstyled,
  red: unstyled,
  yellow: unstyled,
};

/**
 * The palette for a colour level; chalk is loaded only when there is colour to show. Importing it
 * reads every getter of `process` (supports-color imports node:process), which costs plain output
 * (CI logs, pipes, most runs that end in an error) more than the rest of an error report.
 */
export async function loadPalette(level: ColorLevel): Promise<Palette> {
  if (level === 0) return PLAIN;
  const { Chalk } = await import('chalk');
  return new Chalk({ level });
}
