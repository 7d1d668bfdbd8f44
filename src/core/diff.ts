/**
 * Unified diff of two texts, for `--dry-run` previews and drift output. Common prefix and suffix
 * are trimmed first (image edits touch a few lines of long files), then an LCS table runs on the
 * middle only.
 */
export function unifiedDiff(
  before: string,
  after: string,
  label: { from: string; to: string },
  context = 3,
): string {
  if (before === after) return '';
  const a = before.split('\n');
  const b = after.split('\n');
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  const middleA = a.slice(start, endA);
  const middleB = b.slice(start, endB);
  const ops = lcsOps(middleA, middleB);

  type Line = { kind: ' ' | '-' | '+'; text: string; aLine: number; bLine: number };
  const lines: Line[] = [];
  for (let i = 0; i < start; i++) lines.push({ kind: ' ', text: a[i]!, aLine: i, bLine: i });
  let ai = start;
  let bi = start;
  for (const op of ops) {
    if (op === '=') lines.push({ kind: ' ', text: a[ai]!, aLine: ai++, bLine: bi++ });
    else if (op === '-') lines.push({ kind: '-', text: a[ai]!, aLine: ai++, bLine: bi });
    else lines.push({ kind: '+', text: b[bi]!, aLine: ai, bLine: bi++ });
  }
  while (ai < a.length) lines.push({ kind: ' ', text: a[ai]!, aLine: ai++, bLine: bi++ });

  const out = [`--- ${label.from}`, `+++ ${label.to}`];
  let index = 0;
  while (index < lines.length) {
    if (lines[index]!.kind === ' ') {
      index++;
      continue;
    }
    const hunkStart = Math.max(0, index - context);
    let hunkEnd = index;
    let lastChange = index;
    while (hunkEnd < lines.length && hunkEnd - lastChange <= context * 2) {
      if (lines[hunkEnd]!.kind !== ' ') lastChange = hunkEnd;
      hunkEnd++;
    }
    hunkEnd = Math.min(lines.length, lastChange + context + 1);
    const hunk = lines.slice(hunkStart, hunkEnd);
    const aCount = hunk.filter((line) => line.kind !== '+').length;
    const bCount = hunk.filter((line) => line.kind !== '-').length;
    const first = hunk[0]!;
    out.push(`@@ -${first.aLine + 1},${aCount} +${first.bLine + 1},${bCount} @@`);
    for (const line of hunk) out.push(`${line.kind}${line.text}`);
    index = hunkEnd;
  }
  return `${out.join('\n')}\n`;
}

function lcsOps(a: string[], b: string[]): Array<'=' | '-' | '+'> {
  const n = a.length;
  const m = b.length;
  // Past this size the quadratic table costs more than it is worth: show a replacement.
  if (n * m > 4_000_000) return [...a.map(() => '-' as const), ...b.map(() => '+' as const)];
  const table = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      table[i]![j] =
        a[i] === b[j] ? table[i + 1]![j + 1]! + 1 : Math.max(table[i + 1]![j]!, table[i]![j + 1]!);
    }
  }
  const ops: Array<'=' | '-' | '+'> = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) {
      ops.push('=');
      i++;
      j++;
    } else if (table[i + 1]![j]! >= table[i]![j + 1]!) {
      ops.push('-');
      i++;
    } else {
      ops.push('+');
      j++;
    }
  }
  while (i++ < n) ops.push('-');
  while (j++ < m) ops.push('+');
  return ops;
}
