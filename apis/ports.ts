/**
 * The one port grammar, shared by every layer: a TCP/UDP port is an integer 1–65535, written as
 * decimal digits. Manifests (apis fields.ts `Port`), probe targets, Orchfile PUBLISH, `orun start`
 * and `orun bootstrap` flags, the Caddy config and the manager's listen address all check it here.
 */

export const MIN_PORT = 1;
export const MAX_PORT = 65_535;

/** True for an integer 1–65535. */
export function isPort(n: number): boolean {
  return Number.isInteger(n) && n >= MIN_PORT && n <= MAX_PORT;
}

/** The port `text` writes in decimal digits (nothing else, not even spaces), or undefined. */
export function portFromText(text: string | undefined): number | undefined {
  if (text === undefined || !/^\d+$/.test(text)) return undefined;
  const n = Number(text);
  return isPort(n) ? n : undefined;
}
