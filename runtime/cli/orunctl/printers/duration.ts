/**
 * Ages as kubectl prints them: k8s.io/apimachinery/pkg/util/duration.HumanDuration, ~2-3
 * significant figures (`90s`, `5m3s`, `3h20m`, `2d4h`, `3y12d`).
 */

/** `ms` milliseconds as kubectl's HumanDuration prints it. */
export function humanDuration(ms: number): string {
  // Go truncates toward zero; up to 2s in the future counts as now (clock skew).
  const seconds = Math.trunc(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 60 * 2) return `${seconds}s`;
  const minutes = Math.trunc(seconds / 60);
  if (minutes < 10) return withRest(minutes, 'm', seconds % 60, 's');
  if (minutes < 60 * 3) return `${minutes}m`;
  const hours = Math.trunc(minutes / 60);
  if (hours < 8) return withRest(hours, 'h', minutes % 60, 'm');
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) return withRest(Math.trunc(hours / 24), 'd', hours % 24, 'h');
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24)}d`;
  if (hours < 24 * 365 * 8)
    return withRest(Math.trunc(hours / 24 / 365), 'y', Math.trunc(hours / 24) % 365, 'd');
  return `${Math.trunc(hours / 24 / 365)}y`;
}

function withRest(n: number, unit: string, rest: number, restUnit: string): string {
  return rest === 0 ? `${n}${unit}` : `${n}${unit}${rest}${restUnit}`;
}

/** The age of an RFC 3339 `timestamp` at `now`, or `<unknown>` when there is none (as kubectl). */
export function age(timestamp: string | undefined, now: Date): string {
  if (timestamp === undefined || timestamp === '') return '<unknown>';
  const t = Date.parse(timestamp);
  if (Number.isNaN(t)) return '<invalid>';
  return humanDuration(now.getTime() - t);
}

/** `Wed, 01 Jan 2025 11:58:30 +0000` (RFC 1123 with numeric zone, in UTC), as describe prints times. */
export function describeTime(timestamp: string | undefined): string {
  if (timestamp === undefined || timestamp === '') return '<unset>';
  const d = new Date(timestamp);
  if (Number.isNaN(d.getTime())) return timestamp;
  return d.toUTCString().replace(/GMT$/, '+0000');
}
