/**
 * Replacing a running version, the way `spec.strategy` says (see README "Deploying without
 * downtime"). Each function is one step of a level-based state machine: it looks at what exists,
 * acts once, and returns when to look again; no step sleeps.
 *
 * RollingUpdate (start-first), with an old container O serving and the new one N:
 *   create + start N beside O → probe N (O keeps serving; status names O)
 *   → N ready: status names N (the ingress points the route's upstream name at N: no Caddy reload)
 *   → the ingress can no longer pick O (`upstreamsOf` names only N; or `switchTimeoutMs` passed)
 *   → drain `drainMs` → stop O gracefully.
 *   N not ready within the progress deadline: N is removed, O keeps serving, Stalled /
 *   ProgressDeadlineExceeded with N's last probe failure, and that rollout is not retried until the
 *   spec or the source commit changes.
 * Recreate (stop-first): create N → stop O gracefully (the status keeps naming O until it has
 *   stopped, so the route never answers 503 while O runs) → start N while O is removed → probe N.
 */
import type { ContainerInfo } from '../../runtime/docker/engine.ts';
import { sourceCommit } from './desired.ts';
import {
  createAndStart,
  createDesired,
  isAlive,
  removeStopped,
  retire,
  startExisting,
  stopAlive,
} from './rollout.ts';
import { formatDuration } from '../../apis/run.orcra.dev/v0alpha/duration.ts';
import type { Outcome, Run } from './run.ts';
import { Reason, type Verdict } from './status.ts';
import { containerIP, progressDeadlineMs, supervise } from './supervise.ts';

/** While the ingress has not switched yet, look again this soon. */
const SWITCH_RECHECK_MS = 100;

/** The id of the rollout in progress: a failed one is retried only once this changes. */
export function rolloutID(run: Run): string {
  return `${run.desired.hash}@${sourceCommit(run.obj)}`;
}

/** The old container traffic goes to: the running one, newest first. */
export function bestOld(old: readonly ContainerInfo[]): ContainerInfo | undefined {
  return [...old]
    .filter(isAlive)
    .sort(
      (a, b) =>
        (a.state === 'running' ? 0 : 1) - (b.state === 'running' ? 0 : 1) ||
        b.createdAt.localeCompare(a.createdAt),
    )[0];
}

/**
 * A rollout that missed its deadline for this very spec and commit: keep supervising the old
 * container and keep saying why, without trying the new version again.
 */
export async function keepAfterFailedRollout(run: Run, old: ContainerInfo): Promise<Outcome | undefined> {
  const failed = run.mem.failedRollouts.get(run.key);
  if (failed === undefined || failed.id !== rolloutID(run)) return undefined;
  const o = await supervise(run, old);
  return { ...o, verdict: failed.verdict, container: old, serving: old };
}

/**
 * Recreate: create the new container while the old ones still serve (a spec the engine refuses,
 * or a name a stranger holds, leaves them running), stop them (the route is kept until they have
 * stopped), then start the new one while the stopped ones are removed: create and remove are not
 * part of the outage.
 */
export async function recreate(
  run: Run,
  old: readonly ContainerInfo[],
  announce: (o: Outcome) => Promise<void>,
): Promise<Outcome> {
  const created = await createDesired(run);
  if (typeof created !== 'string') return created;
  const alive = old.filter(isAlive);
  const why = `replaced by ${run.desired.name} (Recreate)`;
  if (alive.length > 0) {
    const names = alive.map((c) => c.name).join(', ');
    run.event('Normal', 'Recreating', `Recreate: stopping ${names} before starting ${run.desired.name}`);
    await stopAlive(run, alive, why);
    // Only now does the route stop pointing at the old container.
    await announce({
      verdict: {
        kind: 'progressing',
        reason: Reason.Recreating,
        message: `old container stopped; starting ${run.desired.name}`,
      },
    });
  }
  // The stopped ones are removed while the new one starts: neither waits for the other.
  const [started, removed] = await Promise.allSettled([
    startExisting(run, created),
    removeStopped(run, old, why),
  ]);
  if (started.status === 'rejected') throw started.reason;
  if (removed.status === 'rejected') throw removed.reason;
  const r = started.value;
  if ('verdict' in r) return r;
  await run.deps.secretFiles?.prune(run.name, run.desired.hash);
  return supervise(run, r);
}

/** RollingUpdate, first step: start the new container beside the old one. */
export async function startBeside(run: Run, old: readonly ContainerInfo[]): Promise<Outcome> {
  const serving = bestOld(old);
  run.event(
    'Normal',
    'RollingUpdate',
    `Starting ${run.desired.name} beside ${serving?.name ?? 'the old container'} (RollingUpdate); the old one serves until the new one is ready`,
  );
  const r = await createAndStart(run);
  if ('verdict' in r) return { ...r, ...(serving === undefined ? {} : { serving }) };
  return progress(run, r, old);
}

/** RollingUpdate, later steps: probe the new container, then switch, drain, stop the old one. */
export async function progress(
  run: Run,
  current: ContainerInfo,
  old: readonly ContainerInfo[],
): Promise<Outcome> {
  const now = run.deps.clock.now();
  const serving = bestOld(old);
  if (serving === undefined) return supervise(run, current);
  if (!run.mem.rolloutSince.has(current.id)) run.mem.rolloutSince.set(current.id, now);
  const o = await supervise(run, current);
  const fresh = o.container ?? current;
  if (o.verdict.kind === 'ready') return switchAndDrain(run, fresh, old, o);

  const deadline = progressDeadlineMs(run);
  const elapsed = now - (run.mem.rolloutSince.get(current.id) ?? now);
  if (elapsed >= deadline) return giveUp(run, fresh, serving, deadline);
  const requeue = Math.max(1, Math.min(o.requeueAfter ?? deadline - elapsed, deadline - elapsed));
  return {
    verdict: {
      kind: 'progressing',
      reason: Reason.RollingUpdate,
      message: `new container ${fresh.name} not ready yet (${o.verdict.message}); ${serving.name} keeps serving`,
    },
    container: fresh,
    serving,
    requeueAfter: requeue,
  };
}

async function giveUp(
  run: Run,
  fresh: ContainerInfo,
  serving: ContainerInfo,
  deadlineMs: number,
): Promise<Outcome> {
  const last = run.mem.probes.get(fresh.id)?.last;
  const why = last === undefined ? '' : `; last probe: ${last.message}`;
  const message = `new container ${fresh.name} was not ready within the progress deadline (${formatDuration(deadlineMs, 1000)})${why}; removed it, ${serving.name} keeps serving. The next change in Git tries again`;
  run.event('Warning', 'ProgressDeadlineExceeded', message);
  await run.deps.engine.stopContainer(fresh.id, { timeoutSeconds: run.desired.stopGraceSeconds });
  await run.deps.engine.removeContainer(fresh.id);
  run.alive.delete(fresh.id);
  run.mem.forgetContainer(fresh.id);
  const verdict: Verdict = { kind: 'stalled', reason: Reason.ProgressDeadlineExceeded, message };
  run.mem.failedRollouts.set(run.key, { id: rolloutID(run), verdict });
  run.log.warn({ containerID: fresh.id }, 'rollout missed its progress deadline; kept the old container');
  return { verdict, container: serving, serving, requeueAfter: 1 };
}

/** The new container is ready: it serves now; once the ingress routes to it, drain and stop the old. */
async function switchAndDrain(
  run: Run,
  fresh: ContainerInfo,
  old: readonly ContainerInfo[],
  ready: Outcome,
): Promise<Outcome> {
  const { clock, ingress, drainMs, switchTimeoutMs, networkName } = run.deps;
  const now = clock.now();
  const sw = run.mem.switches.get(fresh.id) ?? { readyAt: now };
  run.mem.switches.set(fresh.id, sw);
  const oldNames = old
    .filter(isAlive)
    .map((c) => c.name)
    .join(', ');
  if (sw.switchedAt === undefined) {
    const ip = containerIP(fresh, networkName);
    const upstreams = ingress?.upstreamsOf(run.name) ?? [];
    const switched = ip !== undefined && upstreams.every((u) => u.startsWith(`${ip}:`));
    const waited = now - sw.readyAt;
    if (!switched && waited < switchTimeoutMs) {
      return {
        verdict: {
          kind: 'progressing',
          reason: Reason.SwitchingTraffic,
          message: `new container ${fresh.name} is ready; switching the ingress to it from ${oldNames}`,
        },
        container: fresh,
        serving: fresh,
        requeueAfter: SWITCH_RECHECK_MS,
      };
    }
    sw.switchedAt = now;
    if (switched)
      run.event(
        'Normal',
        'TrafficSwitched',
        `Traffic now goes to ${fresh.name}; draining ${oldNames} for ${formatDuration(drainMs, 1000)}`,
      );
    else
      run.event(
        'Warning',
        'TrafficSwitched',
        `The ingress did not route to ${fresh.name} within ${formatDuration(switchTimeoutMs, 1000)} (still ${upstreams.join(', ')}); draining ${oldNames} anyway`,
      );
  }
  const left = sw.switchedAt + drainMs - now;
  if (left > 0) {
    return {
      verdict: {
        kind: 'progressing',
        reason: Reason.Draining,
        message: `traffic moved to ${fresh.name}; draining ${oldNames} (${formatDuration(left, 1000)} left) before stopping it`,
      },
      container: fresh,
      serving: fresh,
      requeueAfter: left,
    };
  }
  await retire(run, old, `replaced by ${fresh.name} (RollingUpdate)`);
  // Only now: the old container read its secret files until it stopped.
  await run.deps.secretFiles?.prune(run.name, run.desired.hash);
  run.mem.switches.delete(fresh.id);
  run.mem.rolloutSince.delete(fresh.id);
  run.mem.failedRollouts.delete(run.key);
  run.event('Normal', 'RolloutComplete', `Rolled out ${fresh.name}; ${oldNames} stopped`);
  return ready;
}
