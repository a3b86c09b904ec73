/** `orunctl version`: this client's version, then the agent's. */
import { VERSION } from '../../../version/index.ts';
import type { Context } from '../context.ts';

export const CLIENT_VERSION: string = VERSION;

export async function version(ctx: Context, options: { client?: boolean }): Promise<void> {
  ctx.stdout.write(`Client Version: ${CLIENT_VERSION}\n`);
  if (options.client === true) return;
  const v = await ctx.client.version();
  ctx.stdout.write(`Server Version: ${v.version}\nAPI Version: ${v.apiVersion}\n`);
  if (v.node !== undefined) ctx.stdout.write(`Node: ${v.node}\n`);
}
