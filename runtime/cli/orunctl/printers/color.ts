/** ANSI colour for a terminal; a no-op palette when stdout is not a TTY. */
export interface Palette {
  green(s: string): string;
  yellow(s: string): string;
  red(s: string): string;
  bold(s: string): string;
}

const wrap =
  (code: number) =>
  (s: string): string =>
    `\x1b[${code}m${s}\x1b[0m`;

export const ANSI_PALETTE: Palette = { green: wrap(32), yellow: wrap(33), red: wrap(31), bold: wrap(1) };
export const NO_COLOR: Palette = { green: (s) => s, yellow: (s) => s, red: (s) => s, bold: (s) => s };

/** Colour when `stream` is a TTY and NO_COLOR is unset (https://no-color.org). */
export function paletteFor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): Palette {
  return stream.isTTY === true && (env['NO_COLOR'] ?? '') === '' ? ANSI_PALETTE : NO_COLOR;
}

/** Colours a status word: healthy green, in progress yellow, anything else red. */
export function statusColor(p: Palette, word: string): string {
  if (['Running', 'True', 'Ready', 'Normal'].includes(word)) return p.green(word);
  if (
    [
      'Pending',
      'Unknown',
      'Progressing',
      'Reconciling',
      'Starting',
      'Pulling',
      'Building',
      'RollingUpdate',
      'SwitchingTraffic',
      'Draining',
      'Recreating',
    ].includes(word)
  ) {
    return p.yellow(word);
  }
  return p.red(word);
}
