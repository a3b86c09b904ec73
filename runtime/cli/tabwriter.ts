/**
 * Go's text/tabwriter, which kubectl prints through: cells are tab-separated, the last cell of a
 * line is not aligned, and a column block is a run of consecutive lines that have that column.
 * Widths count visible characters, so ANSI colours do not shift columns.
 */

export interface TabwriterOptions {
  /** Minimal cell width including padding. kubectl get: 6, describe: 0. */
  minWidth: number;
  /** Spaces added to the widest cell of a column. kubectl get: 3, describe: 2. */
  padding: number;
}

/** kubectl get's table writer settings. */
export const GET_TABLE: TabwriterOptions = { minWidth: 6, padding: 3 };
/** kubectl describe's settings. */
export const DESCRIBE: TabwriterOptions = { minWidth: 0, padding: 2 };

// ESC [ ... m, built from the char code (no control characters in a regex literal).
const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');

/** `text` without ANSI colour codes. */
export function stripAnsi(text: string): string {
  return text.replace(ANSI, '');
}

export function visibleWidth(text: string): number {
  // Most cells have no escape and no surrogate pair: their width is their length.
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 27 || (c >= 0xd800 && c <= 0xdfff)) return [...stripAnsi(text)].length;
  }
  return text.length;
}

/** Formats `lines` (each a list of cells) like tabwriter. `remembered` widths only grow (watch). */
export function formatCells(
  lines: readonly (readonly string[])[],
  options: TabwriterOptions,
  remembered?: number[],
): string {
  const cells = (n: number): number => lines[n]?.length ?? 0;
  const assigned: number[][] = lines.map(() => []);
  const walk = (column: number, line0: number, line1: number): void => {
    for (let i = line0; i < line1; i++) {
      if (column >= cells(i) - 1) continue;
      // A column block: consecutive lines that have a (tab-terminated) cell in this column.
      let width = Math.max(options.minWidth, remembered?.[column] ?? 0);
      let end = i;
      for (; end < line1 && column < cells(end) - 1; end++) {
        width = Math.max(width, visibleWidth(lines[end]?.[column] ?? '') + options.padding);
      }
      if (remembered !== undefined) remembered[column] = width;
      for (let n = i; n < end; n++) (assigned[n] ?? [])[column] = width;
      walk(column + 1, i, end);
      i = end - 1;
    }
  };
  walk(0, 0, lines.length);
  return lines
    .map((row, n) => {
      const text = row.map((cell, j) => {
        if (j === row.length - 1) return cell;
        return cell + ' '.repeat(Math.max(0, (assigned[n]?.[j] ?? 0) - visibleWidth(cell)));
      });
      return text.join('') + '\n';
    })
    .join('');
}

/** Formats tab-separated text (one line per `\n`) like tabwriter. */
export function tabwrite(text: string, options: TabwriterOptions): string {
  const body = text.endsWith('\n') ? text.slice(0, -1) : text;
  return formatCells(
    body.split('\n').map((l) => l.split('\t')),
    options,
  );
}
