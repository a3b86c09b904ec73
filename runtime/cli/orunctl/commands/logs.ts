/** `orunctl logs DEPLOYMENT [-f] [--tail N]`: the container's log lines, via the agent. */
import type { Context } from '../context.ts';
import { UsageError } from '../context.ts';

export async function logs(
  ctx: Context,
  name: string,
  options: { follow?: boolean; tail?: string },
): Promise<void> {
  let tailLines: number | undefined;
  if (options.tail !== undefined && options.tail !== '-1') {
    tailLines = Number(options.tail);
    if (!Number.isInteger(tailLines) || tailLines < 0)
      throw new UsageError(`--tail must be a non-negative integer, got "${options.tail}"`);
  }
  const lines = ctx.client.logs(name, { follow: options.follow === true, tailLines, signal: ctx.signal });
  for await (const line of lines) ctx.stdout.write(line + '\n');
}
