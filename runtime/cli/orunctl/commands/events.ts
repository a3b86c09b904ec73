/** `orunctl events [-w]`: like `kubectl get events`, oldest first. */
import type { EventRecord } from '../../../api/types.ts';
import type { Context } from '../context.ts';
import { eventCells, printEvents } from '../printers/events.ts';
import { GET_TABLE, formatCells } from '../../tabwriter.ts';

export async function events(ctx: Context, options: { watch?: boolean }): Promise<void> {
  const listed = await ctx.client.events();
  const widths: number[] = [];
  if (listed.length === 0) ctx.stderr.write('No resources found.\n');
  else ctx.stdout.write(printEvents(listed, ctx.now(), ctx.palette, widths));
  if (options.watch !== true) return;
  const shown = new Set(listed.map(identity));
  let headerShown = listed.length > 0;
  for await (const { object } of ctx.client.watchEvents({ signal: ctx.signal })) {
    if (shown.has(identity(object))) continue;
    shown.add(identity(object));
    if (!headerShown) {
      ctx.stdout.write(printEvents([object], ctx.now(), ctx.palette, widths));
      headerShown = true;
    } else ctx.stdout.write(formatCells([eventCells(object, ctx.now(), ctx.palette)], GET_TABLE, widths));
  }
}

function identity(e: EventRecord): string {
  return JSON.stringify([e.involvedObject, e.reason, e.message, e.count, e.lastTimestamp]);
}
