/**
 * `orunctl logs [deploy/]NAME [-f] [--tail N]`: a Deployment's container output;
 * `orunctl logs sg/NAME [SERVICE | -c SERVICE] [-f] [--tail N]`: a ServiceGraph's services
 * (host processes and containers), each line prefixed `[service] ` when there are several.
 * Both through the agent; `-f` follows until Ctrl-C.
 */
import { resourceByKind } from '../../../api/resources.ts';
import type { Context } from '../context.ts';
import { UsageError } from '../context.ts';
import { resolveKind } from '../kinds.ts';

export async function logs(
  ctx: Context,
  target: string,
  service: string | undefined,
  options: { follow?: boolean; tail?: string; container?: string },
): Promise<void> {
  let tailLines: number | undefined;
  if (options.tail !== undefined && options.tail !== '-1') {
    tailLines = Number(options.tail);
    if (!Number.isInteger(tailLines) || tailLines < 0)
      throw new UsageError(`--tail must be a non-negative integer, got "${options.tail}"`);
  }
  const slash = target.indexOf('/');
  const resource = slash > 0 ? resolveKind(target.slice(0, slash)) : resourceByKind('Deployment');
  const name = slash > 0 ? target.slice(slash + 1) : target;
  if (name === '') throw new UsageError(`logs ${target}: NAME is missing`);
  if (resource.kind !== 'Deployment' && resource.kind !== 'ServiceGraph')
    throw new UsageError(`logs: ${resource.plural} have no logs; use deploy/NAME or sg/NAME`);
  if (service !== undefined && options.container !== undefined && service !== options.container)
    throw new UsageError(`logs ${target}: service "${service}" and -c "${options.container}" differ`);
  const container = service ?? options.container;
  if (container !== undefined && resource.kind === 'Deployment')
    throw new UsageError(`logs ${target}: a Deployment has one container; SERVICE is for sg/NAME`);
  const lines = ctx.client.logs(resource, name, {
    follow: options.follow === true,
    tailLines,
    ...(container === undefined ? {} : { container }),
    signal: ctx.signal,
  });
  for await (const line of lines) ctx.stdout.write(line + '\n');
}
