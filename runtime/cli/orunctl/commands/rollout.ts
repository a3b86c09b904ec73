/**
 * `orunctl rollout status deploy/NAME [--revision SHA] [--timeout 5m]`: waits until a rollout is
 * done, as `kubectl rollout status` does, reading the object's kstatus conditions (Ready,
 * Reconciling, Stalled) and observedGeneration. A GitOps push is not applied at once: with
 * `--revision` (e.g. `$(git rev-parse HEAD)`) it first asks the agent to poll Git and waits until
 * the node applied that commit, so `git push && orunctl rollout status … --revision …` waits for
 * the pushed version, not the one already running. Exit 0 rolled out, 1 failed (Stalled, e.g.
 * ProgressDeadlineExceeded), suspended or timed out.
 */
import { OrunError } from '../../../../apis/errors.ts';
import { parseDuration } from '../../../../apis/run.orcra.dev/v0alpha/duration.ts';
import type { Condition } from '../../../../apis/run.orcra.dev/v0alpha/meta.ts';
import { RESOURCES, type ResourceType } from '../../../api/resources.ts';
import type { WireObject } from '../../../api/types.ts';
import { UsageError, type Context } from '../context.ts';
import { resolveKind } from '../kinds.ts';

export interface RolloutStatusOptions {
  revision?: string;
  timeout?: string;
}

/** Why `rollout status` ended without success (exit 1). */
export class RolloutError extends OrunError {
  constructor(message: string) {
    super('orunctl.rollout_failed', message);
    this.name = 'RolloutError';
  }
}

/** What an object's status says of its rollout: done, failed, or a line to show while waiting. */
export type RolloutVerdict =
  { state: 'done' } | { state: 'failed'; message: string } | { state: 'waiting'; message: string };

function condition(o: WireObject, type: string): Condition | undefined {
  return o.status?.conditions?.find((c) => c.type === type);
}

/** kstatus read of one object: current when observed, Ready and not Reconciling; Stalled fails. */
export function rolloutVerdict(o: WireObject): RolloutVerdict {
  const what = `${o.kind.toLowerCase()} "${o.metadata.name}"`;
  if (o.status?.suspended === true)
    return { state: 'failed', message: `${what} is suspended (orunctl resume to roll it out)` };
  const generation = o.metadata.generation ?? 0;
  const observed = o.status?.observedGeneration ?? 0;
  if (observed < generation)
    return {
      state: 'waiting',
      message: `Waiting for ${what} rollout to finish: generation ${generation} not observed yet...`,
    };
  const stalled = condition(o, 'Stalled');
  if (stalled?.status === 'True')
    return {
      state: 'failed',
      message: `${what} rollout failed: ${stalled.reason}${stalled.message ? `: ${stalled.message}` : ''}`,
    };
  const reconciling = condition(o, 'Reconciling');
  const ready = condition(o, 'Ready');
  if (reconciling?.status === 'True')
    return {
      state: 'waiting',
      message: `Waiting for ${what} rollout to finish: ${reconciling.reason}${reconciling.message ? `: ${reconciling.message}` : ''}`,
    };
  if (ready?.status === 'True') return { state: 'done' };
  return {
    state: 'waiting',
    message: `Waiting for ${what} rollout to finish: ${ready === undefined ? 'not ready yet' : `${ready.reason}${ready.message ? `: ${ready.message}` : ''}`}`,
  };
}

/** `kind/name` or `kind name`, as suspend takes them. */
function target(arg: string, name: string | undefined): { resource: ResourceType; name: string } {
  const slash = arg.indexOf('/');
  const [kind, objName] = slash > 0 ? [arg.slice(0, slash), arg.slice(slash + 1)] : [arg, name];
  if (slash > 0 && name !== undefined)
    throw new UsageError(`rollout status ${arg}: give KIND/NAME or KIND NAME, not both`);
  const resource = resolveKind(kind);
  if (resource.kind !== 'Deployment' && resource.kind !== 'ServiceGraph')
    throw new UsageError(`rollout status: deployments and servicegraphs only, not ${resource.plural}`);
  if (objName === undefined || objName === '') throw new UsageError(`rollout status ${kind} needs a NAME`);
  return { resource, name: objName };
}

export async function rolloutStatus(
  ctx: Context,
  arg: string,
  name: string | undefined,
  opts: RolloutStatusOptions,
): Promise<void> {
  const t = target(arg, name);
  const revision = opts.revision?.toLowerCase();
  if (revision !== undefined && !/^[0-9a-f]{4,40}$/.test(revision))
    throw new UsageError(`--revision: expected a commit sha (4 to 40 hex digits), got "${opts.revision}"`);
  const timeoutMs = opts.timeout === undefined ? 0 : parseDuration(opts.timeout);
  if (timeoutMs === undefined)
    throw new UsageError(`--timeout: expected a duration like 5m, got "${opts.timeout}"`);
  const timer = new AbortController();
  const signal = AbortSignal.any([ctx.signal, timer.signal]);
  const handle = timeoutMs > 0 ? setTimeout(() => timer.abort(), timeoutMs) : undefined;
  try {
    if (revision !== undefined) await waitForRevision(ctx, revision, signal);
    await waitForRollout(ctx, t.resource, t.name, signal);
  } catch (err) {
    if (!signal.aborted) throw err;
  } finally {
    clearTimeout(handle);
  }
  // A watch cut by the timeout or Ctrl-C ends without a verdict: not a success.
  if (timer.signal.aborted)
    throw new RolloutError(
      `timed out after ${opts.timeout ?? ''} waiting for ${t.resource.singular} "${t.name}"`,
    );
  if (ctx.signal.aborted) throw new RolloutError('interrupted');
}

/** Polls Git now, then waits until the node's status.revision is `revision`. */
async function waitForRevision(ctx: Context, revision: string, signal: AbortSignal): Promise<void> {
  const nodes = RESOURCES.find((r) => r.kind === 'Node');
  if (nodes === undefined) return;
  await ctx.client.syncSource();
  let last = '';
  for await (const event of ctx.client.watch(nodes, { signal })) {
    const rev = (event.object as WireObject).status?.revision;
    const applied = typeof rev === 'string' ? rev : '';
    const sha = applied.slice(applied.lastIndexOf(':') + 1);
    if (sha.startsWith(revision)) {
      ctx.stdout.write(`node applied revision ${applied}\n`);
      // A file that fails to decode keeps its last good objects (or none, if new): say so here,
      // or a Deployment the commit added reads as NotFound without a reason.
      const manifests = condition(event.object as WireObject, 'ManifestsValid');
      if (manifests?.status === 'False') ctx.stderr.write(`warning: ${manifests.message}\n`);
      return;
    }
    if (applied !== last)
      ctx.stdout.write(`Waiting for the node to apply ${revision} (at ${applied || 'none'})...\n`);
    last = applied;
  }
  if (!signal.aborted) throw new RolloutError('the agent closed the watch');
}

/** Waits on the object's watch until its status says done (exit 0) or failed (RolloutError). */
async function waitForRollout(
  ctx: Context,
  resource: ResourceType,
  name: string,
  signal: AbortSignal,
): Promise<void> {
  await ctx.client.get(resource, name); // NotFound at once, as kubectl says it
  let last = '';
  for await (const event of ctx.client.watch(resource, { name, signal })) {
    if (event.type === 'DELETED') throw new RolloutError(`${resource.singular} "${name}" was deleted`);
    const v = rolloutVerdict(event.object as WireObject);
    if (v.state === 'done') {
      ctx.stdout.write(`${resource.singular} "${name}" successfully rolled out\n`);
      return;
    }
    if (v.state === 'failed') throw new RolloutError(v.message);
    if (v.message !== last) ctx.stdout.write(`${v.message}\n`);
    last = v.message;
  }
  if (!signal.aborted) throw new RolloutError('the agent closed the watch');
}
