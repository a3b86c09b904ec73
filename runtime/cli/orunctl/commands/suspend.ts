/**
 * `orunctl suspend|resume KIND NAME` (or `KIND/NAME`), and `orunctl suspend node` for the node the
 * agent runs as: like `flux suspend`, a suspended object is neither reconciled nor pruned until
 * resumed; the state survives agent restarts.
 */
import { UsageError, type Context } from '../context.ts';
import { resolveKind } from '../kinds.ts';

export async function suspend(
  ctx: Context,
  target: string,
  name: string | undefined,
  suspended: boolean,
): Promise<void> {
  const verb = suspended ? 'suspend' : 'resume';
  let kind = target;
  let objName = name;
  const slash = target.indexOf('/');
  if (slash > 0) {
    if (name !== undefined) throw new UsageError(`${verb} ${target}: give KIND/NAME or KIND NAME, not both`);
    kind = target.slice(0, slash);
    objName = target.slice(slash + 1);
  }
  const resource = resolveKind(kind);
  if (resource.kind === 'Service')
    throw new UsageError(`${verb}: services follow their Deployment; ${verb} the deployment or the node`);
  if (objName === undefined || objName === '') {
    if (resource.kind !== 'Node') throw new UsageError(`${verb} ${kind} needs a NAME`);
    objName = (await ctx.client.version()).node;
    if (objName === undefined)
      throw new UsageError(`${verb} node: the agent did not say its node name; give it`);
  }
  ctx.stdout.write(`${(await ctx.client.suspend(resource, objName, suspended)).message}\n`);
}
