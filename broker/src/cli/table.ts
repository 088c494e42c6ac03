/** Plain-text tables for admin output: left-aligned text, right-aligned numbers, two-space gutters. */

export type Cell = string | number | boolean | undefined | null;

function cellText(c: Cell): string {
  return c === undefined || c === null ? '-' : String(c);
}

export function formatTable(headers: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const texts = rows.map((r) => headers.map((_, i) => cellText(r[i])));
  const widths = headers.map((h, i) => Math.max(h.length, ...texts.map((t) => t[i]!.length)));
  const numeric = headers.map((_, i) => rows.length > 0 && rows.every((r) => typeof r[i] === 'number' || r[i] === undefined || r[i] === null));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line([...headers]), ...texts.map(line)].join('\n');
}

/** `key: value` lines with aligned colons, for single-record views. */
export function formatKeyValues(pairs: readonly (readonly [string, Cell])[]): string {
  const width = Math.max(0, ...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${k.padEnd(width)} : ${cellText(v)}`).join('\n');
}
