/** `orunctl reconcile KIND NAME` (reconcile one object now) or `orunctl reconcile source` (poll Git now). */
import { UsageError, type Context } from '../context.ts';
import { resolveKind } from '../kinds.ts';

export async function reconcile(ctx: Context, target: string, name: string | undefined): Promise<void> {
  if (target === 'source') {
    if (name !== undefined) throw new UsageError('reconcile source takes no NAME');
    ctx.stdout.write(`${(await ctx.client.syncSource()).message}\n`);
    return;
  }
  const resource = resolveKind(target);
  if (name === undefined)
    throw new UsageError(`reconcile ${target} needs a NAME (or use "reconcile source" to poll Git)`);
  ctx.stdout.write(`${(await ctx.client.reconcile(resource, name)).message}\n`);
}
