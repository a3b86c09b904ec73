/**
 * Durations are written the Go way (`5s`, `1m30s`, `250ms`, `1h`), as Flux and Kubernetes users
 * expect. Specs keep the text; callers convert with {@link parseDuration} where they need a number.
 */
const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** One or more `<number><unit>` parts, unit one of ms, s, m, h. Used by the schema and JSON Schema. */
export const DURATION_PATTERN = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h))+$/;

const PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;

/**
 * Milliseconds in a duration string, or undefined when it is not one.
 *
 * @example parseDuration('1m30s') // 90000
 */
export function parseDuration(text: string): number | undefined {
  if (!DURATION_PATTERN.test(text)) return undefined;
  let ms = 0;
  for (const m of text.matchAll(PART)) ms += Number(m[1]) * (UNIT_MS[m[2] ?? ''] ?? 0);
  return Math.round(ms);
}

/**
 * The shortest `1h2m3s`-style text for a number of milliseconds (sub-second rest as `ms`), first
 * rounded to `resolutionMs` (messages use 1000: whole seconds).
 *
 * @example formatDuration(90000) // '1m30s'
 * @example formatDuration(3_720_400, 1000) // '1h2m'
 */
export function formatDuration(ms: number, resolutionMs = 1): string {
  let rest = Math.round(ms / resolutionMs) * resolutionMs;
  if (rest <= 0) return '0s';
  let out = '';
  for (const [unit, size] of [
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
    ['ms', 1],
  ] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) out += `${n}${unit}`;
    rest -= n * size;
  }
  return out;
}
