/**
 * A project's lifecycle outside the process that runs it: what `orch status` and `orch down`
 * do, from the run state (runstate.ts), the engine's labels and the process table. The
 * supervising `orch up` (foreground or `-d`) keeps the run state; these read it.
 */
import { errorMessage } from '../../apis/errors.ts';
import { durationSeconds, type OrchGraph, type OrchService } from '../../apis/orchfile/index.ts';
import type { Clock } from '../clock/index.ts';
import type { ContainerEngine, ContainerInfo } from '../docker/engine.ts';
import { stopProcessGroup, stringEnv, type ProcessRunner } from '../process/index.ts';
import { defaultHealthChecker } from './health.ts';
import { defaultNetworkName, LABELS, MANAGED_BY, projectSelector } from './labels.ts';
import { prepareService } from './prepare.ts';
import { startOrder, stateFile, type ProjectLocation } from './project.ts';
import {
  isSameProcess,
  readRunState,
  removeRunState,
  type RunState,
  type ServiceRecord,
} from './runstate.ts';
import { TERMINAL_STATES } from './types.ts';

export interface ProjectContext {
  readonly graph: OrchGraph;
  readonly loc: ProjectLocation;
  /** Built-in variables as the run had them (ORCH_PROJECT, ORCH_STATE_DIR, PORT_OFFSET ...). */
  readonly vars: Readonly<Record<string, string>> & { readonly ORCH_PROJECT: string };
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly readFile: (path: string) => string;
  readonly runner: ProcessRunner;
  readonly clock: Clock;
  /** The engine, made only when containers are involved. */
  readonly engine: () => ContainerEngine;
  /** Default: /proc (runstate.ts processIdentity). */
  readonly identify?: (pid: number) => string | undefined;
  /** Progress lines for people (`orch: web: stopped (pid 42)`). */
  readonly log: (line: string) => void;
}

/** The run state and whether its supervising `orch up` still runs (same process, not a reused pid). */
export function supervision(ctx: Pick<ProjectContext, 'loc' | 'runner' | 'identify'>): {
  state: RunState | undefined;
  supervised: boolean;
} {
  const state = readRunState(stateFile(ctx.loc));
  const supervised =
    state?.owner !== undefined &&
    state.owner.pid !== process.pid &&
    isSameProcess(state.owner, {
      alive: (pid) => pidAlive(pid),
      ...(ctx.identify === undefined ? {} : { identify: ctx.identify }),
    });
  return { state, supervised };
}

/** One `orch status` row: the executor's words (runtime/graph types.ts ServiceState) in both modes. */
export interface StatusRow {
  service: string;
  mode: string;
  state: string;
  target: string;
  health: string;
  restarts: number;
}

/**
 * `orch status`: the supervisor's own view while one runs (foreground or `-d`: the same words).
 * Without one: recorded host pids are checked (identity included), containers are found by label,
 * running services get one HEALTHCHECK.
 */
export async function projectStatus(given: ProjectContext): Promise<{ rows: StatusRow[]; ok: boolean }> {
  const { state, supervised } = supervision(given);
  const ctx = withRecordedVars(given, state);
  const recorded = new Map<string, ServiceRecord>((state?.services ?? []).map((s) => [s.name, s]));
  let ok = true;
  let containers: ContainerInfo[] = [];
  if (!supervised && ctx.graph.services.some((s) => s.mode === 'container')) {
    try {
      containers = await ctx.engine().listContainers(projectSelector(ctx.loc.name));
    } catch (err) {
      ctx.log(`error: container engine: ${errorMessage(err)}`);
      ok = false;
    }
  }
  const rows = await Promise.all(
    ctx.graph.services.map(async (s): Promise<StatusRow> => {
      const r = recorded.get(s.name);
      const base = { service: s.name, mode: s.mode, restarts: r?.restarts ?? 0 };
      const idle = r?.state ?? (s.disabled ? 'disabled' : 'not-started');
      if (supervised && r !== undefined) {
        return { ...base, state: r.state, target: target(r), health: r.health };
      }
      if (s.mode === 'host') {
        if (r?.pid === undefined) return { ...base, state: idle, target: '', health: '' };
        const alive = isSameProcess(
          { pid: r.pid, ...(r.pidIdentity === undefined ? {} : { identity: r.pidIdentity }) },
          {
            alive: (pid) => ctx.runner.alive(pid),
            ...(ctx.identify === undefined ? {} : { identify: ctx.identify }),
          },
        );
        if (!alive)
          return {
            ...base,
            state: TERMINAL_STATES.has(r.state) ? r.state : 'exited',
            target: '',
            health: '',
          };
        return { ...base, state: 'running', target: String(r.pid), health: await health(ctx, s) };
      }
      const c = containers.find((x) => x.labels[LABELS.service] === s.name);
      if (c === undefined) return { ...base, state: idle, target: '', health: '' };
      if (c.state === 'running')
        return { ...base, state: 'running', target: c.name, health: await health(ctx, s) };
      return { ...base, state: exitedState(s, c.exitCode, r), target: c.name, health: '' };
    }),
  );
  return { rows, ok };
}

/** The executor's word for a container that is not running: its recorded end, else from the exit code. */
function exitedState(s: OrchService, code: number, r: ServiceRecord | undefined): string {
  if (r !== undefined && TERMINAL_STATES.has(r.state)) return r.state;
  if (s.oneshot) return code === 0 ? 'completed' : 'failed';
  return code === 0 ? 'exited' : 'failed';
}

function target(r: ServiceRecord): string {
  return r.pid?.toString() ?? r.containerName ?? '';
}

async function health(ctx: ProjectContext, s: OrchService): Promise<string> {
  if (s.healthcheck === undefined) return '';
  try {
    const p = prepareService(s, { vars: ctx.vars, readFile: ctx.readFile });
    const r = await defaultHealthChecker(ctx.runner)(p.healthcheck!, {
      env: { ...stringEnv(ctx.env), ...p.env },
      cwd: s.mode === 'host' ? p.workdir : ctx.loc.dir,
      timeoutMs: 2000,
      signal: new AbortController().signal,
    });
    return r.ok ? 'healthy' : 'unhealthy';
  } catch {
    return 'unhealthy';
  }
}

/**
 * `orch down`: the supervising `orch up` is asked to stop (SIGTERM; it stops every service in
 * reverse dependency order) and waited for; host processes still recorded get their STOP command /
 * SIGTERM, SIGKILL after TIMEOUT_STOP — only when they are still the recorded process; the
 * project's containers (by label) are stopped and removed, dependants first; then its network.
 * Volumes and ONESHOT markers are kept. Resolves false when the engine failed (state kept).
 */
export async function downProject(given: ProjectContext, o: { waitMs?: number } = {}): Promise<boolean> {
  const seen = supervision(given);
  const ctx = withRecordedVars(given, seen.state);
  const { graph, loc, clock } = ctx;
  let state = seen.state;
  if (seen.supervised) {
    const owner = state!.owner!;
    ctx.log(`orch: asking the orch up supervising ${loc.name} (pid ${owner.pid}) to stop`);
    process.kill(owner.pid, 'SIGTERM');
    const deadline = clock.now() + (o.waitMs ?? 300_000);
    while (pidAlive(owner.pid) && clock.now() < deadline) await clock.sleep(100);
    state = readRunState(stateFile(loc));
  }
  const order = startOrder(graph).reverse();
  const rank = (name: string): number => order.indexOf(name);
  const specs = new Map(graph.services.map((s) => [s.name, s]));
  const hosts = (state?.services ?? [])
    .filter((s) => s.pid !== undefined)
    .sort((a, b) => rank(a.name) - rank(b.name));
  for (const s of hosts) await stopRecordedHost(ctx, s, specs.get(s.name));

  const needsEngine =
    graph.services.some((s) => s.mode === 'container') || (state?.services ?? []).some((s) => s.containerId);
  if (needsEngine) {
    try {
      await removeContainers(ctx, rank, specs);
    } catch (err) {
      ctx.log(`error: container engine: ${errorMessage(err)}`);
      return false;
    }
  }
  removeRunState(stateFile(loc));
  return true;
}

async function stopRecordedHost(
  ctx: ProjectContext,
  s: ServiceRecord,
  spec: OrchService | undefined,
): Promise<void> {
  const pid = s.pid!;
  const ref = { pid, ...(s.pidIdentity === undefined ? {} : { identity: s.pidIdentity }) };
  if (
    !isSameProcess(ref, {
      alive: (p) => ctx.runner.alive(p),
      ...(ctx.identify === undefined ? {} : { identify: ctx.identify }),
    })
  ) {
    if (ctx.runner.alive(pid)) ctx.log(`orch: ${s.name}: pid ${pid} is another process now; left alone`);
    return;
  }
  let opts: Parameters<typeof stopProcessGroup>[3] = { timeoutMs: s.stopTimeoutMs };
  if (spec !== undefined) {
    try {
      const p = prepareService(spec, { vars: ctx.vars, readFile: ctx.readFile });
      opts = {
        stopCommand: p.stopCommand,
        timeoutMs: p.stopTimeoutMs,
        env: { ...stringEnv(ctx.env), ...p.env },
        cwd: p.workdir,
      };
    } catch (err) {
      ctx.log(`orch: ${s.name}: ${errorMessage(err)}; stopping with SIGTERM`);
    }
  }
  const outcome = await stopProcessGroup(ctx.runner, ctx.clock, pid, opts);
  ctx.log(`orch: ${s.name}: stopped (pid ${pid}${outcome === 'kill' ? ', killed after TIMEOUT_STOP' : ''})`);
}

async function removeContainers(
  ctx: ProjectContext,
  rank: (name: string) => number,
  specs: Map<string, OrchService>,
): Promise<void> {
  const engine = ctx.engine();
  const containers = await engine.listContainers(projectSelector(ctx.loc.name));
  containers.sort((a, b) => rank(a.labels[LABELS.service] ?? '') - rank(b.labels[LABELS.service] ?? ''));
  for (const c of containers) {
    const service = c.labels[LABELS.service] ?? c.name;
    const stop = specs.get(service)?.timeouts.stop;
    const seconds = stop === undefined ? undefined : durationSeconds(stop);
    await engine.stopContainer(c.id, seconds === undefined ? {} : { timeoutSeconds: seconds });
    await engine.removeContainer(c.id);
    ctx.log(`orch: ${service}: removed container ${c.name}`);
  }
  const network = defaultNetworkName(ctx.loc.name);
  const net = await engine.inspectNetwork(network);
  if (net?.labels[LABELS.managedBy] === MANAGED_BY && net.labels[LABELS.project] === ctx.loc.name) {
    await engine.removeNetwork(network);
    ctx.log(`orch: removed network ${network}`);
  }
}

/** The built-in variables the run recorded (its PORT_OFFSET ...) win over this command's. */
function withRecordedVars(ctx: ProjectContext, state: RunState | undefined): ProjectContext {
  return state?.vars === undefined ? ctx : { ...ctx, vars: { ...ctx.vars, ...state.vars } };
}

/** `kill(pid, 0)`: alive, or alive under another user (EPERM). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
