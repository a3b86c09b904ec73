/**
 * Keeping the current container healthy: start it if only created, restart it after a crash with
 * back-off, and run its readiness/liveness probes. A liveness failure stops the container and the
 * same crash back-off decides when it starts again (as the kubelet does), so an app that passes
 * readiness but always fails liveness settles into CrashLoopBackOff instead of a restart storm. A running container with the right hash is
 * never stopped or started here unless a probe or a crash says so; that is what adoption is.
 */
import { errorMessage } from '../../apis/errors.ts';
import { describeProbe, probeAction } from '../../apis/run.orcra.dev/v0alpha/probe.ts';
import type { ContainerInfo } from '../../runtime/docker/engine.ts';
import { containerProbeAddress } from '../../runtime/probe/http.ts';
import {
  nextProbe,
  recordProbe,
  type ProbeResult,
  type ProbeSpecs,
  type ProbeState,
  type ProbeType,
} from './probes.ts';
import { startExisting } from './rollout.ts';
import { formatDuration } from '../../apis/run.orcra.dev/v0alpha/duration.ts';
import type { Outcome, Run } from './run.ts';
import type { ProbeSpec } from './spec.ts';
import { Reason } from './status.ts';

/** Retry soon while the engine is mid-transition (paused, restarting, removing). */
const TRANSITION_RECHECK_MS = 2_000;

export async function supervise(run: Run, c: ContainerInfo): Promise<Outcome> {
  switch (c.state) {
    case 'running':
      return watchRunning(run, c);
    case 'created':
      return started(run, await startExisting(run, c.id));
    case 'exited':
    case 'dead':
      return restartAfterCrash(run, c);
    case 'paused':
      return unpause(run, c);
    default:
      return {
        verdict: { kind: 'progressing', reason: Reason.Starting, message: `container is ${c.state}` },
        container: c,
        requeueAfter: TRANSITION_RECHECK_MS,
      };
  }
}

/** Drift: someone paused the container (`docker pause`); thaw it, as compose up would recreate it. */
async function unpause(run: Run, c: ContainerInfo): Promise<Outcome> {
  await run.deps.engine.unpauseContainer(c.id);
  run.event('Normal', 'Unpaused', `Container ${c.name} was paused outside orun; unpaused it`);
  run.log.info({ containerID: c.id }, 'unpaused a paused container');
  return watchRunning(run, { ...c, state: 'running' });
}

/** After a (re)start: probe right away (readiness may already pass), else report the failure. */
async function started(run: Run, r: ContainerInfo | Outcome): Promise<Outcome> {
  return 'verdict' in r ? r : watchRunning(run, r);
}

async function restartAfterCrash(run: Run, c: ContainerInfo): Promise<Outcome> {
  const { clock } = run.deps;
  run.mem.probes.forget(c.id);
  const decision = run.mem.crash.observeExit(c.id, clock.now());
  const exit = run.mem.livenessKills.has(c.id)
    ? 'was killed after failing its liveness probe'
    : c.oomKilled
      ? 'was OOM-killed'
      : `exited with code ${c.exitCode}`;
  if (decision.action === 'wait') {
    const message = `container ${exit}; back-off ${formatDuration(decision.delayMs, 1000)} restarting failed container`;
    if (decision.firstSeen)
      run.event(
        'Warning',
        'BackOff',
        `Back-off ${formatDuration(decision.delayMs, 1000)} restarting failed container (${exit})`,
      );
    return {
      verdict: { kind: 'stalled', reason: Reason.CrashLoopBackOff, message },
      container: c,
      requeueAfter: decision.remainingMs,
    };
  }
  const r = await startExisting(run, c.id);
  if ('verdict' in r) return r;
  run.mem.livenessKills.delete(c.id);
  countRestart(run, c.id);
  return watchRunning(run, r);
}

/** One restart more for this container (status + metric). */
function countRestart(run: Run, id: string): void {
  run.mem.restarts.set(id, (run.mem.restarts.get(id) ?? 0) + 1);
  run.mem.metrics.restarts.inc({ deployment: run.name });
}

async function watchRunning(run: Run, c: ContainerInfo): Promise<Outcome> {
  const { clock, resyncMs } = run.deps;
  const specs: ProbeSpecs = run.obj.spec.health ?? {};
  run.mem.crash.observeRunning(c.id, clock.now());
  const s = run.mem.probes.observe(c.id, specs, clock.now());
  const step = nextProbe(s, specs, clock.now());
  if (step.kind === 'probe') {
    const result = await probeOnce(run, c, step.type, step.spec, step.timings.timeoutMs);
    const out = recordProbe(s, specs, result, run.deps.readinessTimeoutMs);
    if (!result.ok) run.mem.metrics.probeFailures.inc({ deployment: run.name, probe: step.type });
    if (out.livenessFailures > 0) {
      run.event('Warning', 'Unhealthy', `Liveness probe failed: ${result.message}`);
    }
    if (out.restart) return killUnhealthy(run, c, out.livenessFailures);
  }
  const wait = nextProbe(s, specs, clock.now());
  const requeueAfter = wait.kind === 'wait' ? wait.ms : wait.kind === 'probe' ? 1 : resyncMs;
  return { ...runningVerdict(run, s, specs), container: c, requeueAfter: Math.min(requeueAfter, resyncMs) };
}

function runningVerdict(run: Run, s: ProbeState, specs: ProbeSpecs): Pick<Outcome, 'verdict'> {
  const last = s.last === undefined ? '' : `; last probe: ${s.last.message}`;
  if (s.ready) {
    const failing = s.livenessFailures > 0 ? ` (liveness failing ${s.livenessFailures}x${last})` : '';
    return {
      verdict: { kind: 'ready', reason: Reason.Ready, message: `container running and ready${failing}` },
    };
  }
  const target = specs.readiness === undefined ? '' : describeProbe(specs.readiness);
  if (s.readinessTimedOut) {
    const message = `not ready ${formatDuration(run.deps.clock.now() - s.runningSince, 1000)} after start (progress deadline ${formatDuration(progressDeadlineMs(run), 1000)}): readiness probe ${target} keeps failing${last}`;
    return { verdict: { kind: 'stalled', reason: Reason.ProgressDeadlineExceeded, message } };
  }
  return {
    verdict: {
      kind: 'progressing',
      reason: Reason.WaitingForReadiness,
      message: `waiting for readiness probe ${target}${last}`,
    },
  };
}

/** Stops a container that failed liveness; from here on it is an exited container like a crash. */
async function killUnhealthy(run: Run, c: ContainerInfo, failures: number): Promise<Outcome> {
  const { engine } = run.deps;
  run.event(
    'Normal',
    'Killed',
    `Container ${c.name} failed liveness probe ${failures} times, will be restarted`,
  );
  await engine.stopContainer(c.id, { timeoutSeconds: run.desired.stopGraceSeconds });
  run.mem.livenessKills.add(c.id);
  const info = (await engine.inspectContainer(c.id)) ?? { ...c, state: 'exited' as const };
  return restartAfterCrash(run, info);
}

/** The progress deadline in force for this Deployment. */
export function progressDeadlineMs(run: Run): number {
  return run.desired.progressDeadlineMs ?? run.deps.readinessTimeoutMs;
}

async function probeOnce(
  run: Run,
  c: ContainerInfo,
  type: ProbeType,
  spec: ProbeSpec,
  timeoutMs: number,
): Promise<ProbeResult> {
  const { clock } = run.deps;
  const time = clock.now();
  const t0 = performance.now();
  const r = await runProbe(run, c, spec, timeoutMs);
  run.mem.metrics.probeDuration.observe(
    { deployment: run.name, probe: type },
    (performance.now() - t0) / 1000,
  );
  run.log.debug({ probe: type, ok: r.ok, message: r.message }, 'probe');
  return {
    type,
    ok: r.ok,
    message: r.message,
    time,
    ...(r.statusCode === undefined ? {} : { statusCode: r.statusCode }),
  };
}

/** One probe of whichever kind the spec names (the one grammar in apis parsed it). */
async function runProbe(
  run: Run,
  c: ContainerInfo,
  spec: ProbeSpec,
  timeoutMs: number,
): Promise<{ ok: boolean; statusCode?: number; message: string }> {
  const action = probeAction(spec);
  const signal = run.signal;
  switch (action?.kind) {
    case undefined:
      return { ok: false, message: `probe ${describeProbe(spec)}: not a valid probe` };
    case 'exec': {
      try {
        const r = await run.deps.engine.execContainer(c.id, action.command, { timeoutMs, signal });
        const cmd = action.command.join(' ');
        if (r.timedOut) return { ok: false, message: `exec ${cmd}: timeout after ${timeoutMs}ms` };
        const out = r.output.trim().split('\n').slice(-1)[0]?.slice(0, 200) ?? '';
        const tail = out === '' ? '' : `: ${out}`;
        return { ok: r.exitCode === 0, message: `exec ${cmd}: exit code ${r.exitCode}${tail}` };
      } catch (err) {
        return { ok: false, message: errorMessage(err) };
      }
    }
    case 'tcp': {
      const at = probeAddress(action.target, c);
      if (at === undefined) return { ok: false, message: unreachable(`tcp ${spec.tcp ?? ''}`) };
      return run.deps.tcpProbe({ host: at.host, port: at.port, timeoutMs, signal });
    }
    case 'http': {
      const at = probeAddress(action.target, c);
      if (at === undefined) return { ok: false, message: unreachable(spec.http ?? '') };
      const { scheme, path } = action.target;
      return run.deps.probe({ scheme, host: at.host, port: at.port, path, timeoutMs, signal });
    }
  }
}

function unreachable(what: string): string {
  return `cannot reach ${what}: container has no IP and the port is not published`;
}

/**
 * A target written from the container's own view (`localhost:80`) → the container's IP (on the
 * node network when it has one), same port; another host is kept as written. A container without
 * an IP is tried via its published host port on 127.0.0.1.
 */
export function probeAddress(
  target: { host: string; port: number },
  c: Pick<ContainerInfo, 'ipAddress' | 'ports' | 'networks'>,
): { host: string; port: number } | undefined {
  const ip = containerIP(c);
  if (ip !== undefined) return containerProbeAddress({ host: target.host, port: target.port }, ip);
  const published = c.ports.find((p) => p.containerPort === target.port && p.protocol === 'tcp');
  return published === undefined ? undefined : { host: '127.0.0.1', port: published.hostPort };
}

/** The container's IP: its first network's (the node network's) address, else the bridge's. */
export function containerIP(
  c: Pick<ContainerInfo, 'ipAddress' | 'networks'>,
  network?: string,
): string | undefined {
  const onNetwork = network === undefined ? undefined : c.networks?.[network]?.ipAddress;
  const ip = onNetwork ?? c.ipAddress;
  return ip === undefined || ip === '' ? undefined : ip;
}
