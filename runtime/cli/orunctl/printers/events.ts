/** Event tables: `orunctl events` (kubectl get events) and describe's Events section. */
import type { EventRecord } from '../../../api/types.ts';
import { NO_COLOR, type Palette } from './color.ts';
import { age } from './duration.ts';
import { GET_TABLE, formatCells } from '../../tabwriter.ts';

/** `60s (x3 over 5m)` for a repeated event, else its age (as kubectl describe). */
export function eventAge(e: EventRecord, now: Date): string {
  const last = age(e.lastTimestamp, now);
  return e.count > 1 ? `${last} (x${e.count} over ${age(e.firstTimestamp, now)})` : last;
}

function typeCell(p: Palette, type: string): string {
  return type === 'Warning' ? p.yellow(type) : type;
}

/** describe's Events rows (tab-separated, for the describe tabwriter), or `<none>`. */
export function describeEvents(events: readonly EventRecord[], now: Date, p: Palette = NO_COLOR): string {
  if (events.length === 0) return 'Events:\t<none>\n';
  const rows = events.map(
    (e) => `  ${typeCell(p, e.type)}\t${e.reason}\t${eventAge(e, now)}\t${e.source}\t${e.message}`,
  );
  return (
    ['Events:', '  Type\tReason\tAge\tFrom\tMessage', '  ----\t------\t----\t----\t-------', ...rows].join(
      '\n',
    ) + '\n'
  );
}

export const EVENT_HEADERS = ['LAST SEEN', 'TYPE', 'REASON', 'OBJECT', 'MESSAGE'];

/** One `orunctl events` row. */
export function eventCells(e: EventRecord, now: Date, p: Palette = NO_COLOR): string[] {
  const object = `${e.involvedObject.kind.toLowerCase()}/${e.involvedObject.name}`;
  const seen =
    e.count > 1
      ? `${age(e.lastTimestamp, now)} (x${e.count} over ${age(e.firstTimestamp, now)})`
      : age(e.lastTimestamp, now);
  return [seen, typeCell(p, e.type), e.reason, object, e.message];
}

/** `orunctl events`: like `kubectl get events`, oldest first. */
export function printEvents(
  events: readonly EventRecord[],
  now: Date,
  p: Palette = NO_COLOR,
  widths?: number[],
): string {
  return formatCells([EVENT_HEADERS, ...events.map((e) => eventCells(e, now, p))], GET_TABLE, widths);
}
