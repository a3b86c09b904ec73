/**
 * The service-graph executor: runs an Orchfile graph's services (containers and host processes)
 * in dependency order and supervises them, the way systemd treats units:
 *
 * - REQUIRES x: x must be running (healthy, when it has a HEALTHCHECK) or, for a ONESHOT, have
 *   exited 0 before this service starts; if x fails or gives up first, this service is `blocked`.
 *   If x restarts while this one runs, this one is stopped and waits for x again; if x ends for
 *   good, this one keeps running (systemd's Requires=, docs/design/orch-systemd.md).
 * - AFTER x: ordering only; waits until x's first start attempt has settled, whatever its outcome.
 * - Independent services start in parallel.
 * - RESTART no | always | on-failure, RESTART_DELAY between attempts; more than
 *   START_LIMIT_BURST starts within START_LIMIT_INTERVAL → `gave-up`.
 * - HEALTHCHECK gates readiness, then is re-checked while the service runs (every 30 s; 3 failures
 *   in a row → `unhealthy`, one pass → `healthy` again), as Docker's HEALTHCHECK does: it is
 *   reported (status, events), and neither restarts the service nor stops its dependants.
 * - `stop()` stops services in reverse dependency order (dependants first).
 *
 * All waiting goes through the injected Clock; every loop ends when `stop()`/`detach()` aborts
 * the executor's signal, and both await every task they started.
 *
 * @example
 * const ex = new GraphExecutor({ graph, project: 'demo', vars: { ORCH_PROJECT: '/srv/demo' },
 *   processes: new NodeProcessRunner(), engine: new DockerEngine(), onEvent: console.log });
 * await ex.start();        // every service settled (running, completed, failed, blocked ...)
 * await ex.stop();         // reverse order
 */
import { readFileSync } from 'node:fs';
import { errorMessage, OrunError } from '../../apis/errors.ts';
import type { OrchGraph, OrchService } from '../../apis/orchfile/index.ts';
import { realClock, type Clock } from '../clock/index.ts';
import type { ContainerEngine } from '../docker/engine.ts';
import { stopProcessGroup, stringEnv, type ProcessRunner } from '../process/index.ts';
import { ContainerDriver } from './container.ts';
import { defaultHealthChecker, type HealthChecker } from './health.ts';
import { adoptHost, hostEnv, startHost, type OutputSink } from './host.ts';
import { defaultContainerName } from './labels.ts';
import { readMarker, removeMarker, serviceHash, writeMarker } from './marker.ts';
import { prepareService, selectServices, type PreparedService } from './prepare.ts';
import {
  TERMINAL_STATES,
  type AdoptRecord,
  type GraphEvent,
  type HealthState,
  type Instance,
  type ServiceState,
  type ServiceStatus,
} from './types.ts';

export interface GraphExecutorOptions {
  readonly graph: OrchGraph;
  /** Project name: container names (`<project>-<service>`) and the `orch.project` label. */
  readonly project: string;
  /**
   * Built-in variable values. ORCH_PROJECT is required and absolute (relative WORKDIR, ENV_FILE,
   * STDOUT/STDERR and `./` volumes resolve against it; host services run in it by default).
   * Other defaults as `orch render`: ORCH_DATA `${ORCH_PROJECT}/.orch/data`, ORCH_STATE_DIR
   * `${ORCH_PROJECT}/.orch/state`, PORT_OFFSET `0`, CONTAINER_PREFIX `''`.
   */
  readonly vars: Readonly<Record<string, string>> & { readonly ORCH_PROJECT: string };
  /** Services to run (DISABLED ones included). Default: every service not DISABLED. Their REQUIRES come along. */
  readonly services?: readonly string[];
  readonly processes: ProcessRunner;
  /** Required when the graph has container services that are selected. */
  readonly engine?: ContainerEngine;
  /** Default: the wall clock. */
  readonly clock?: Clock;
  /** Reads ENV_FILE files. Default: fs.readFileSync (utf8). */
  readonly readFile?: (path: string) => string;
  /** Environment host services (and command health checks) start from. Default: process.env. */
  readonly baseEnv?: Readonly<Record<string, string | undefined>>;
  /** Honour USER (needs root). Default: true when running as root. */
  readonly switchUser?: boolean;
  /** Output lines of every service (foreground). Default: dropped. */
  readonly output?: OutputSink;
  /** Host services write `<logDir>/<service>.log|.err` instead (detached runs). Default: none. */
  readonly logDir?: string;
  /** Default `<project>-<service>`. */
  readonly containerName?: (service: string) => string;
  /**
   * The network containers join, each with its service name as a DNS alias (so `postgres` resolves
   * to the postgres service's container). Default `<project>_default`, as Compose names it.
   */
  readonly network?: string;
  /** Default: probeHTTP for URLs, `sh -c` for commands. */
  readonly healthChecker?: HealthChecker;
  /** Longest pause between failed readiness checks (they start at 25 ms and double up to it). Default 500. */
  readonly healthIntervalMs?: number;
  /** Time between HEALTHCHECKs of a running service. Default 30 000 (Docker's default interval). */
  readonly healthRecheckMs?: number;
  /** Failed re-checks in a row that make a running service `unhealthy`. Default 3 (Docker's retries). */
  readonly healthRetries?: number;
  /** State changes and warnings. Default: dropped. */
  readonly onEvent?: (event: GraphEvent) => void;
  /**
   * Instances an earlier executor left running (`detach()`), by service: on its first start a
   * service takes its record's live process group / running container (same config hash) over
   * instead of starting anew; it still waits for its dependencies and passes its HEALTHCHECK
   * first. A record that cannot be taken over (gone, blocked) is started fresh or stopped.
   * Default: none.
   */
  readonly adopt?: Readonly<Record<string, AdoptRecord>>;
  /** How often an adopted host process (not this process's child) is checked for life. Default 1000. */
  readonly adoptPollMs?: number;
  /** The `run.orcra.dev/managed-by` value of containers (see ContainerDriverOptions). Default `orch`. */
  readonly managedBy?: string;
  /** Extra container labels (not in the config hash). Default none. */
  readonly labels?: Readonly<Record<string, string>>;
  /** Replace a container whose config hash differs even under RECREATE never. Default false. */
  readonly replaceStale?: boolean;
  /**
   * Where ONESHOT ready markers live (marker.ts). A ONESHOT whose marker holds its current
   * definition hash is `completed` without running (after waiting for its dependencies, so order
   * holds); one that exits 0 writes its marker. Default: none (every start runs ONESHOTs).
   */
  readonly readyDir?: string;
  /** Run ONESHOTs even when their marker matches (`orch up --force`). Default false. */
  readonly force?: boolean;
}

interface Node {
  readonly spec: OrchService;
  readonly requires: string[];
  readonly after: string[];
  readonly dependants: string[];
  state: ServiceState;
  health: HealthState;
  message: string;
  /** Its first start attempt has finished (AFTER dependants may go). */
  settled: boolean;
  instance?: Instance;
  /** Where ENV/workdir of the current instance came from (health checks, reload). */
  prepared?: PreparedService;
  restarts: number;
  /** Start times within the start-limit window. */
  starts: number[];
  exitCode?: number;
  /** Epoch ms of the last state change. */
  since?: number;
  /** The message of the last failure (kept across restarts). */
  lastError?: string;
  /** What an earlier executor left running, until the first start takes it over or drops it. */
  adopt?: AdoptRecord;
  /** `restart()` stopped the current instance: start again at once, whatever RESTART says. */
  restartRequested?: boolean;
  /** `restart()` of a ONESHOT: run it even when its ready marker matches. */
  forceRun?: boolean;
}

const ABORTED = Symbol('aborted');
type Aborted = typeof ABORTED;

type Outcome =
  | { kind: 'completed' }
  | { kind: 'ended'; failed: boolean; message: string }
  | { kind: 'dependency-lost'; message: string };

export class GraphExecutor {
  readonly #o: GraphExecutorOptions;
  readonly #clock: Clock;
  readonly #nodes = new Map<string, Node>();
  readonly #ac = new AbortController();
  /** The container event pump outlives supervision: stopping containers waits on their `die`. */
  readonly #pump = new AbortController();
  readonly #tasks: Promise<void>[] = [];
  readonly #background: Promise<void>[] = [];
  readonly #containers: ContainerDriver | undefined;
  readonly #checker: HealthChecker;
  readonly #baseEnv: Record<string, string>;
  #changed = deferred();
  #started = false;
  #stopping: Promise<void> | undefined;

  /** Rejects `UnknownService` for a named service the graph lacks, `EngineRequired` when containers need an engine. */
  constructor(options: GraphExecutorOptions) {
    this.#o = options;
    this.#clock = options.clock ?? realClock;
    this.#checker = options.healthChecker ?? defaultHealthChecker(options.processes);
    this.#baseEnv = stringEnv(options.baseEnv ?? process.env);
    const selected = selectServices(options.graph, options.services);
    const names = new Set(selected.map((s) => s.name));
    for (const s of selected) {
      this.#nodes.set(s.name, {
        spec: s,
        requires: [...s.requires],
        after: s.after.filter((a) => names.has(a) && !s.requires.includes(a)),
        dependants: [],
        state: 'pending',
        health: '',
        message: '',
        settled: false,
        since: this.#clock.now(),
        restarts: options.adopt?.[s.name]?.restarts ?? 0,
        starts: [],
        ...(options.adopt?.[s.name] === undefined ? {} : { adopt: options.adopt[s.name] }),
      });
    }
    for (const n of this.#nodes.values()) {
      for (const d of [...n.requires, ...n.after]) this.#nodes.get(d)!.dependants.push(n.spec.name);
    }
    const needsEngine = selected.some((s) => s.mode === 'container');
    if (needsEngine && options.engine === undefined) {
      throw new OrunError('EngineRequired', 'orch: container services need a container engine', {
        context: { services: selected.filter((s) => s.mode === 'container').map((s) => s.name) },
      });
    }
    this.#containers =
      needsEngine && options.engine !== undefined
        ? new ContainerDriver({
            engine: options.engine,
            clock: this.#clock,
            project: options.project,
            containerName: options.containerName ?? ((s) => defaultContainerName(options.project, s)),
            ...(options.network === undefined ? {} : { network: options.network }),
            output: options.logDir === undefined ? options.output : undefined,
            warn: (service, message) => this.#warn(service, message),
            ...(options.managedBy === undefined ? {} : { managedBy: options.managedBy }),
            ...(options.labels === undefined ? {} : { labels: options.labels }),
            ...(options.replaceStale === undefined ? {} : { replaceStale: options.replaceStale }),
          })
        : undefined;
  }

  /** Names of the services this executor runs, in file order. */
  get services(): string[] {
    return [...this.#nodes.keys()];
  }

  /**
   * Starts every selected service in dependency order. Resolves once each has settled (running,
   * completed, failed, blocked, restarting ...); supervision goes on until `stop()` or `detach()`.
   */
  async start(): Promise<void> {
    if (this.#started) throw new OrunError('AlreadyStarted', 'orch: the graph executor was already started');
    this.#started = true;
    const signal = this.#ac.signal;
    if (this.#containers !== undefined)
      this.#background.push(this.#containers.watchEvents(this.#pump.signal));
    for (const n of this.#nodes.values()) {
      this.#tasks.push(
        this.#supervise(n, signal).catch((err: unknown) => {
          this.#set(n, 'failed', `internal error: ${errorMessage(err)}`);
        }),
      );
    }
    await this.#until(() =>
      [...this.#nodes.values()].every((n) => n.settled || TERMINAL_STATES.has(n.state)),
    );
  }

  /** Resolves when no service is running or will start again (all completed/exited/failed/...), or on stop. */
  async idle(): Promise<void> {
    await this.#until(() => [...this.#nodes.values()].every((n) => TERMINAL_STATES.has(n.state)));
  }

  /** True when a service failed, gave up or was blocked. */
  get failed(): boolean {
    return [...this.#nodes.values()].some((n) => ['failed', 'gave-up', 'blocked'].includes(n.state));
  }

  /** Ends supervision and stops every running service, dependants before their dependencies. Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= this.#stopAll();
    return this.#stopping;
  }

  /**
   * Ends supervision but leaves services running (`orch up --detach`); resolves with their status
   * (pids, container ids) for the state file.
   */
  async detach(): Promise<ServiceStatus[]> {
    this.#ac.abort();
    await Promise.all(this.#tasks);
    for (const n of this.#nodes.values()) await n.instance?.release();
    this.#pump.abort();
    await this.#containers?.drain();
    await Promise.all(this.#background);
    return this.status();
  }

  /**
   * `orch restart SERVICE`: stops its current instance (if any) and starts it again at once,
   * whatever its RESTART policy; one that had ended (completed, exited, failed, gave up, blocked)
   * is supervised anew, a ONESHOT runs again. Its start-limit window starts over. Services that
   * REQUIRE it are stopped and wait for it, as on any restart. Rejects `UnknownService`, or
   * `NotRunning` once the executor is stopping.
   */
  async restart(service: string): Promise<void> {
    const n = this.#nodes.get(service);
    if (n === undefined) {
      throw new OrunError('UnknownService', `no service named '${service}' in this run`, {
        context: { service },
      });
    }
    const signal = this.#ac.signal;
    if (signal.aborted || !this.#started) {
      throw new OrunError('NotRunning', `cannot restart ${service}: the graph is not running`, {
        context: { service },
      });
    }
    n.starts = [];
    if (TERMINAL_STATES.has(n.state)) {
      n.forceRun = true;
      this.#set(n, 'pending', 'restart requested');
      this.#tasks.push(
        this.#supervise(n, signal).catch((err: unknown) => {
          this.#set(n, 'failed', `internal error: ${errorMessage(err)}`);
        }),
      );
      return;
    }
    if (n.instance !== undefined) {
      n.restartRequested = true;
      this.#set(n, 'stopping', 'restart requested');
      await this.#stopInstance(n);
    }
  }

  /** Runs the host service's RELOAD command (with MAINPID). Rejects `ReloadUnsupported` otherwise. */
  async reload(service: string): Promise<void> {
    const n = this.#nodes.get(service);
    const p = n?.prepared;
    if (n?.instance?.pid === undefined || p?.reloadCommand === undefined) {
      throw new OrunError(
        'ReloadUnsupported',
        `orch: reload ${service}: not a running host service with RELOAD`,
        {
          context: { service },
        },
      );
    }
    const r = await this.#o.processes.exec(p.reloadCommand, {
      env: { ...hostEnv(p, { baseEnv: this.#baseEnv }), MAINPID: String(n.instance.pid) },
      cwd: p.workdir,
      timeoutMs: p.stopTimeoutMs,
    });
    if (r.code !== 0) {
      throw new OrunError(
        'ReloadFailed',
        `orch: reload ${service}: RELOAD exited with ${r.code ?? r.signal}`,
        {
          context: { service, output: r.output },
        },
      );
    }
  }

  status(): ServiceStatus[] {
    return [...this.#nodes.values()].map((n) => ({
      name: n.spec.name,
      mode: n.spec.mode,
      state: n.state,
      health: n.health,
      // A process not yet taken over is still reported, so a detach right away does not lose it.
      ...((n.instance?.pid ?? n.adopt?.pid) === undefined ? {} : { pid: n.instance?.pid ?? n.adopt?.pid }),
      ...(n.instance?.containerId === undefined
        ? {}
        : { containerId: n.instance.containerId, containerName: n.instance.containerName }),
      restarts: n.restarts,
      ...(n.exitCode === undefined ? {} : { exitCode: n.exitCode }),
      message: n.message,
      ...(n.instance === undefined ? {} : { startedAt: n.instance.startedAt }),
      ...(n.since === undefined ? {} : { since: n.since }),
      ...(n.lastError === undefined ? {} : { lastError: n.lastError }),
    }));
  }

  // ---- supervision ------------------------------------------------------------------------------

  async #supervise(n: Node, signal: AbortSignal): Promise<void> {
    for (;;) {
      const gate = await this.#waitForDependencies(n, signal);
      if (gate === ABORTED) return;
      if (gate !== undefined) {
        await this.#dropAdoptable(n);
        this.#set(n, 'blocked', gate);
        return;
      }
      if (n.spec.oneshot && this.#alreadyCompleted(n)) {
        this.#set(n, 'completed', 'completed before with this definition; not run again');
        return;
      }
      // About to run: a failure must not leave an older success standing.
      if (n.spec.oneshot && this.#o.readyDir !== undefined) removeMarker(this.#o.readyDir, n.spec.name);
      const outcome = await this.#attempt(n, signal);
      if (outcome === ABORTED) return;
      if (n.restartRequested === true) {
        n.restartRequested = false;
        this.#set(n, 'restarting', 'restart requested');
        continue;
      }
      if (outcome.kind === 'completed') {
        this.#markCompleted(n);
        this.#set(n, 'completed', 'exited 0');
        return;
      }
      if (outcome.kind === 'dependency-lost') {
        this.#set(n, 'pending', outcome.message);
        continue;
      }
      if (outcome.failed) n.lastError = outcome.message;
      const policy = n.spec.restart.policy;
      if (!(policy === 'always' || (policy === 'on-failure' && outcome.failed))) {
        this.#set(n, outcome.failed ? 'failed' : 'exited', outcome.message);
        return;
      }
      const p = this.#prepared(n);
      const now = this.#clock.now();
      n.starts = n.starts.filter((t) => now - t < p.interval);
      if (n.starts.length >= p.burst) {
        this.#set(
          n,
          'gave-up',
          `start limit hit (${p.burst} starts within ${p.interval / 1000}s), not restarting; last: ${outcome.message}`,
        );
        return;
      }
      this.#set(n, 'restarting', `${outcome.message}; restarting in ${p.delay / 1000}s`);
      await this.#clock.sleep(p.delay, signal);
      if (signal.aborted) return;
      n.restarts++;
    }
  }

  #alreadyCompleted(n: Node): boolean {
    const dir = this.#o.readyDir;
    if (n.forceRun === true) {
      n.forceRun = false;
      return false;
    }
    if (dir === undefined || this.#o.force === true) return false;
    return readMarker(dir, n.spec.name)?.hash === serviceHash(n.spec, this.#o.vars);
  }

  #markCompleted(n: Node): void {
    const dir = this.#o.readyDir;
    if (dir === undefined) return;
    try {
      writeMarker(dir, n.spec.name, {
        hash: serviceHash(n.spec, this.#o.vars),
        completedAt: this.#clock.now(),
      });
    } catch (err) {
      this.#warn(n.spec.name, `ready marker not written (it will run again): ${errorMessage(err)}`);
    }
  }

  /** Restart knobs, from the spec directly so they are known even when preparing failed. */
  #prepared(n: Node): { burst: number; interval: number; delay: number } {
    const p = n.prepared;
    return {
      burst: p?.startLimitBurst ?? n.spec.restart.startLimitBurst ?? 5,
      interval: p?.startLimitIntervalMs ?? 10_000,
      delay: p?.restartDelayMs ?? 1_000,
    };
  }

  /** One start: create/spawn, readiness (or ONESHOT completion), then run until it exits. */
  async #attempt(n: Node, signal: AbortSignal): Promise<Outcome | Aborted> {
    n.starts.push(this.#clock.now());
    this.#set(n, 'starting', n.restarts > 0 ? `restart ${n.restarts}` : '');
    let p: PreparedService;
    let inst: Instance;
    try {
      p = prepareService(n.spec, {
        vars: this.#o.vars,
        readFile: this.#o.readFile ?? ((path) => readFileSync(path, 'utf8')),
      });
      n.prepared = p;
      inst = this.#adoptHost(n, p) ?? (await this.#launch(p, this.#takeAdopt(n)?.containerId));
    } catch (err) {
      return { kind: 'ended', failed: true, message: `start failed: ${errorMessage(err)}` };
    }
    n.instance = inst;
    if (signal.aborted) return ABORTED;

    if (n.spec.oneshot) {
      const exit = await this.#race(inst.exited, signal, p.startTimeoutMs);
      if (exit === ABORTED) return ABORTED;
      if (exit === 'timeout') {
        await this.#stopInstance(n);
        return {
          kind: 'ended',
          failed: true,
          message: `did not finish within TIMEOUT_START ${p.startTimeoutMs! / 1000}s`,
        };
      }
      n.instance = undefined;
      n.exitCode = exit.code ?? undefined;
      if (exit.code === 0) return { kind: 'completed' };
      return { kind: 'ended', failed: true, message: exitMessage(exit.code) };
    }

    const ready = await this.#waitReady(n, p, inst, signal);
    if (ready === ABORTED) return ABORTED;
    if (ready !== undefined) {
      n.health = 'unhealthy';
      await this.#stopInstance(n);
      return { kind: 'ended', failed: true, message: ready };
    }
    this.#set(n, 'running', p.healthcheck === undefined ? '' : 'healthy');

    const lost = new AbortController();
    const onAbort = (): void => lost.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    const watching = this.#watchHealth(n, p, lost.signal);
    try {
      const ended = await this.#race(
        Promise.race([
          inst.exited.then((e) => ({ exit: e })),
          this.#dependencyLost(n, lost.signal).then((why) => ({ lost: why })),
        ]),
        signal,
      );
      if (ended === ABORTED || ended === 'timeout') return ABORTED;
      if ('lost' in ended) {
        if (ended.lost === undefined) return ABORTED;
        this.#set(n, 'stopping', ended.lost);
        await this.#stopInstance(n);
        return { kind: 'dependency-lost', message: ended.lost };
      }
      n.instance = undefined;
      n.health = p.healthcheck === undefined ? '' : 'unhealthy';
      n.exitCode = ended.exit.code ?? undefined;
      return { kind: 'ended', failed: ended.exit.code !== 0, message: exitMessage(ended.exit.code) };
    } finally {
      lost.abort();
      signal.removeEventListener('abort', onAbort);
      await watching;
    }
  }

  /**
   * Re-runs a running service's HEALTHCHECK until `signal` aborts (the instance ended or is being
   * stopped): `healthRetries` failures in a row make it `unhealthy`, one pass `healthy` again.
   * Reported only (status and a health event); RESTART and dependants are not involved.
   */
  async #watchHealth(n: Node, p: PreparedService, signal: AbortSignal): Promise<void> {
    if (p.healthcheck === undefined) return;
    const every = this.#o.healthRecheckMs ?? 30_000;
    const retries = this.#o.healthRetries ?? 3;
    let failures = 0;
    for (;;) {
      await this.#clock.sleep(every, signal);
      if (signal.aborted) return;
      const r = await this.#checker(p.healthcheck, {
        env: hostEnv(p, { baseEnv: this.#baseEnv }),
        cwd: p.spec.mode === 'host' ? p.workdir : this.#o.vars.ORCH_PROJECT,
        timeoutMs: Math.min(5000, every),
        signal,
      });
      if (signal.aborted) return;
      if (r.ok) {
        failures = 0;
        if (n.health === 'unhealthy') this.#setHealth(n, 'healthy', 'healthy again');
      } else if (++failures >= retries && n.health !== 'unhealthy') {
        this.#setHealth(
          n,
          'unhealthy',
          `unhealthy: HEALTHCHECK failed ${failures} times in a row: ${r.message}`,
        );
      }
    }
  }

  /** A running service's health changed: its state stays, status and listeners hear of it. */
  #setHealth(n: Node, health: HealthState, message: string): void {
    n.health = health;
    n.message = message;
    if (health === 'unhealthy') n.lastError = message;
    this.#o.onEvent?.({ time: this.#clock.now(), service: n.spec.name, state: n.state, message, health });
    const changed = this.#changed;
    this.#changed = deferred();
    changed.resolve();
  }

  /** The adopt record, once: only the first start may take anything over. */
  #takeAdopt(n: Node): AdoptRecord | undefined {
    const a = n.adopt;
    n.adopt = undefined;
    return a;
  }

  #adoptHost(n: Node, p: PreparedService): Instance | undefined {
    const pid = n.adopt?.pid;
    if (p.spec.mode !== 'host' || pid === undefined || !this.#o.processes.alive(pid)) return undefined;
    this.#takeAdopt(n);
    return adoptHost(p, pid, {
      runner: this.#o.processes,
      clock: this.#clock,
      baseEnv: this.#baseEnv,
      pollMs: this.#o.adoptPollMs ?? 1000,
    });
  }

  /** A process left running that will not be taken over (blocked, or stopped first): SIGTERM/SIGKILL. */
  async #dropAdoptable(n: Node): Promise<void> {
    const pid = this.#takeAdopt(n)?.pid;
    if (pid === undefined || !this.#o.processes.alive(pid)) return;
    let opts = {};
    try {
      const p = prepareService(n.spec, {
        vars: this.#o.vars,
        readFile: this.#o.readFile ?? ((path) => readFileSync(path, 'utf8')),
      });
      opts = {
        stopCommand: p.stopCommand,
        timeoutMs: p.stopTimeoutMs,
        env: hostEnv(p, { baseEnv: this.#baseEnv }),
        cwd: p.workdir,
      };
    } catch {
      // Cannot prepare it (ENV_FILE gone): plain SIGTERM, then SIGKILL.
    }
    await stopProcessGroup(this.#o.processes, this.#clock, pid, opts);
  }

  #launch(p: PreparedService, adoptContainer?: string): Promise<Instance> {
    if (p.spec.mode === 'container') return this.#containers!.start(p, adoptContainer);
    const root = process.getuid?.() === 0;
    const switchUser = this.#o.switchUser ?? root;
    if (p.spec.user !== undefined && !switchUser) {
      this.#warn(
        p.name,
        `USER ${p.spec.user} ignored: only root can switch users; running as the current user`,
      );
    }
    return startHost(p, {
      runner: this.#o.processes,
      clock: this.#clock,
      baseEnv: this.#baseEnv,
      switchUser,
      logDir: this.#o.logDir,
      output: this.#o.output,
    });
  }

  /** Undefined when healthy; a reason when it exited or stayed unhealthy past READINESS_TIMEOUT. */
  async #waitReady(
    n: Node,
    p: PreparedService,
    inst: Instance,
    signal: AbortSignal,
  ): Promise<string | undefined | Aborted> {
    if (p.healthcheck === undefined) return undefined;
    n.health = 'starting';
    let exited: number | null | undefined;
    const exitSeen = inst.exited.then((e) => {
      exited = e.code;
    });
    const deadline = this.#clock.now() + p.readinessTimeoutMs;
    let last: string;
    let checks = 0;
    for (;;) {
      if (exited !== undefined) return `${exitMessage(exited)} before becoming healthy`;
      const left = deadline - this.#clock.now();
      const r = await this.#checker(p.healthcheck, {
        env: hostEnv(p, { baseEnv: this.#baseEnv }),
        cwd: p.spec.mode === 'host' ? p.workdir : this.#o.vars.ORCH_PROJECT,
        timeoutMs: Math.max(1000, Math.min(5000, left)),
        signal,
      });
      if (signal.aborted) return ABORTED;
      if (r.ok) {
        n.health = 'healthy';
        return undefined;
      }
      last = r.message;
      if (this.#clock.now() >= deadline) {
        return `not healthy within READINESS_TIMEOUT ${p.readinessTimeoutMs / 1000}s: ${last}`;
      }
      const wait = new AbortController();
      const onAbort = (): void => wait.abort();
      signal.addEventListener('abort', onAbort, { once: true });
      // Fast at first, then back off to the interval: a service ready in 120 ms is seen at ~150 ms,
      // not at the next 500 ms tick (a fixed poll would add up along a REQUIRES chain).
      const interval = this.#o.healthIntervalMs ?? 500;
      const pause = Math.min(interval, 25 * 2 ** checks++);
      await Promise.race([this.#clock.sleep(pause, wait.signal), exitSeen]);
      wait.abort();
      signal.removeEventListener('abort', onAbort);
      if (signal.aborted) return ABORTED;
    }
  }

  /** Undefined to go ahead, a reason when a required service will not come up, or ABORTED. */
  async #waitForDependencies(n: Node, signal: AbortSignal): Promise<string | undefined | Aborted> {
    for (;;) {
      if (signal.aborted) return ABORTED;
      let waiting = false;
      for (const r of n.requires) {
        const d = this.#nodes.get(r)!;
        if (d.state === 'running' || d.state === 'completed') continue;
        if (TERMINAL_STATES.has(d.state))
          return `required service ${r} ${d.state}${d.message === '' ? '' : ` (${d.message})`}`;
        waiting = true;
      }
      for (const a of n.after) if (!this.#nodes.get(a)!.settled) waiting = true;
      if (!waiting) return undefined;
      if (n.message === '') this.#set(n, 'pending', `waiting for ${[...n.requires, ...n.after].join(', ')}`);
      if ((await this.#nextChange(signal)) === ABORTED) return ABORTED;
    }
  }

  /**
   * Resolves with a reason once a required (non-ONESHOT) service leaves `running` to come back
   * (restarting, stopping, starting again): systemd's Requires= restarts a dependant with its
   * dependency. One that ended for good (exited, failed, gave up) leaves the dependant running,
   * as Requires= does (docs/design/orch-systemd.md). Undefined on abort.
   */
  async #dependencyLost(n: Node, signal: AbortSignal): Promise<string | undefined> {
    for (;;) {
      for (const r of n.requires) {
        const d = this.#nodes.get(r)!;
        if (!d.spec.oneshot && d.state !== 'running' && !TERMINAL_STATES.has(d.state))
          return `required service ${r} is ${d.state}`;
      }
      if ((await this.#nextChange(signal)) === ABORTED) return undefined;
    }
  }

  // ---- stopping -----------------------------------------------------------------------------------

  async #stopAll(): Promise<void> {
    this.#ac.abort();
    await Promise.all(this.#tasks);
    const stops = new Map<string, Promise<void>>();
    const stopOne = (name: string): Promise<void> => {
      let p = stops.get(name);
      if (p === undefined) {
        const n = this.#nodes.get(name)!;
        p = Promise.all(n.dependants.map(stopOne)).then(() => this.#stopNode(n));
        stops.set(name, p);
      }
      return p;
    };
    await Promise.all([...this.#nodes.keys()].map(stopOne));
    this.#pump.abort();
    await this.#containers?.drain();
    await Promise.all(this.#background);
  }

  async #stopNode(n: Node): Promise<void> {
    await this.#dropAdoptable(n);
    if (n.instance !== undefined) {
      this.#set(n, 'stopping', '');
      await this.#stopInstance(n);
      n.health = '';
      this.#set(n, 'stopped', n.exitCode === undefined ? '' : exitMessage(n.exitCode));
    } else if (!TERMINAL_STATES.has(n.state)) {
      this.#set(n, 'stopped', 'never started');
    }
  }

  async #stopInstance(n: Node): Promise<void> {
    const inst = n.instance;
    if (inst === undefined) return;
    try {
      await inst.stop();
      const exit = await inst.exited;
      n.exitCode = exit.code ?? undefined;
    } catch (err) {
      this.#warn(n.spec.name, `stop failed: ${errorMessage(err)}`);
    }
    n.instance = undefined;
  }

  // ---- plumbing -----------------------------------------------------------------------------------

  #set(n: Node, state: ServiceState, message: string): void {
    if (state !== n.state || n.since === undefined) n.since = this.#clock.now();
    if (state === 'failed' || state === 'blocked' || state === 'gave-up') n.lastError = message;
    n.state = state;
    n.message = message;
    if (state !== 'pending' && state !== 'starting') n.settled = true;
    this.#o.onEvent?.({ time: this.#clock.now(), service: n.spec.name, state, message });
    const changed = this.#changed;
    this.#changed = deferred();
    changed.resolve();
  }

  #warn(service: string, message: string): void {
    const n = this.#nodes.get(service);
    this.#o.onEvent?.({
      time: this.#clock.now(),
      service,
      state: n?.state ?? 'pending',
      message,
      warning: true,
    });
  }

  async #nextChange(signal: AbortSignal): Promise<void | Aborted> {
    const r = await this.#race(this.#changed.promise, signal);
    return r === 'timeout' ? undefined : r;
  }

  async #until(done: () => boolean): Promise<void> {
    while (!done() && !this.#ac.signal.aborted) await this.#nextChange(this.#ac.signal);
  }

  /** `p`, or ABORTED when `signal` aborts first, or 'timeout' after `timeoutMs` (if given). */
  async #race<T>(p: Promise<T>, signal: AbortSignal, timeoutMs?: number): Promise<T | Aborted | 'timeout'> {
    if (signal.aborted) return ABORTED;
    const cleanup = new AbortController();
    const aborted = new Promise<Aborted>((resolve) => {
      signal.addEventListener('abort', () => resolve(ABORTED), { once: true, signal: cleanup.signal });
    });
    const racers: Promise<T | Aborted | 'timeout'>[] = [p, aborted];
    if (timeoutMs !== undefined) {
      racers.push(this.#clock.sleep(timeoutMs, cleanup.signal).then(() => 'timeout' as const));
    }
    try {
      return await Promise.race(racers);
    } finally {
      cleanup.abort();
    }
  }
}

function exitMessage(code: number | null): string {
  return code === null ? 'killed by a signal' : `exited with code ${code}`;
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}
