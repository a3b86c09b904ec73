/** `orunctl describe KIND [NAME]`: one object, or every object of the kind. */
import type { WireObject } from '../../../api/types.ts';
import type { Context } from '../context.ts';
import { resolveKind } from '../kinds.ts';
import { describeObject } from '../printers/describe.ts';

export async function describe(ctx: Context, kindArg: string, name: string | undefined): Promise<void> {
  const resource = resolveKind(kindArg);
  const objects = (
    name === undefined ? (await ctx.client.list(resource)).items : [await ctx.client.get(resource, name)]
  ) as WireObject[];
  if (objects.length === 0) {
    ctx.stderr.write('No resources found.\n');
    return;
  }
  const texts = await Promise.all(
    objects.map(async (obj) => {
      const events = await ctx.client.events({ resource, name: obj.metadata.name });
      return describeObject(obj, events, { now: ctx.now(), palette: ctx.palette });
    }),
  );
  ctx.stdout.write(texts.join('\n\n'));
}
