/**
 * `reconcile(ServiceGraph/<name>)`: desired graph (Orchfiles at the applied revision) → compare
 * its config hash with the running executor's → keep (status only) | take over and restart what
 * changed | stop and remove (deleted) → status, events, metrics, run state on disk.
 *
 * One long-lived GraphExecutor per ServiceGraph is owned here; supervision (restarts, health,
 * REQUIRES) is the executor's. `detachAll()` at shutdown leaves every service running and
 * records it, so the next orun adopts instead of restarting.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { errorMessage, isOrunError } from '../../apis/errors.ts';
import { objectKey, splitKey } from '../../apis/run.orcra.dev/v0alpha/meta.ts';
import type { ServiceGraph, ServiceGraphStatus } from '../../apis/run.orcra.dev/v0alpha/servicegraph.ts';
import type { ReconcileContext, ReconcileResult, Reconciler } from '../../runtime/controller/index.ts';
import { DockerErrorCode } from '../../runtime/docker/engine.ts';
import {
  defaultNetworkName,
  GraphExecutor,
  hostLogTarget,
  LABELS,
  prepareService,
  isSameProcess,
  processIdentity,
  readRunState,
  removeMarker,
  removeRunState,
  serviceRecords,
  writeRunState,
  type RunState,
  type ServiceRecord,
  type GraphEvent,
  type LogTarget,
  type ServiceStatus,
} from '../../runtime/graph/index.ts';
import { silentLogger, type Logger } from '../../runtime/log/index.ts';
import { stopProcessGroup } from '../../runtime/process/index.ts';
import type { StoredObject } from '../../runtime/store/index.ts';
import type { ServiceGraphDeps } from './deps.ts';
import {
  containerName,
  graphDir,
  graphSelector,
  Label,
  loadDesired,
  MANAGED_BY,
  projectName,
  type DesiredGraph,
} from './desired.ts';
import { GraphMetrics } from './metrics.ts';
import {
  buildStatus,
  engineUnavailableStatus,
  Reason,
  serviceRows,
  verdictOf,
  type Verdict,
} from './status.ts';
import { planTakeover } from './takeover.ts';

/** While the engine does not answer, look again this often (its return also enqueues every graph). */
const ENGINE_RECHECK_MS = 10_000;

interface RunningGraph {
  readonly executor: GraphExecutor;
  readonly desired: DesiredGraph;
  /** Resolves once every service settled the first time (or on stop/detach); never rejects. */
  readonly started: Promise<void>;
  /** Services handed over for adoption whose first `running` is still to come (event reason). */
  readonly adopting: Set<string>;
  ready: boolean;
  lastState?: string;
}

export class ServiceGraphReconciler implements Reconciler {
  readonly #d: ServiceGraphDeps;
  readonly #runs = new Map<string, RunningGraph>();
  readonly #metrics: GraphMetrics;
  readonly #log: Logger;
  readonly #identity: (pid: number) => string | undefined;
  readonly #readFile: (path: string) => string;
  /** Graphs whose ONESHOTs a person asked to run again (next reconcile). */
  readonly #rerun = new Set<string>();

  constructor(deps: ServiceGraphDeps) {
    this.#d = deps;
    this.#metrics = new GraphMetrics(deps.registry);
    this.#log = (deps.logger ?? silentLogger()).child({ controller: 'servicegraph' });
    this.#identity = deps.processIdentity ?? processIdentity;
    this.#readFile = deps.readFile ?? ((p) => readFileSync(p, 'utf8'));
  }

  /** The next reconcile of `name` re-applies it and runs its ONESHOTs again. */
  rerunOneshots(name: string): void {
    this.#rerun.add(name);
  }

  /**
   * Where each service's output is, in start order: the running graph's services, else those of
   * the last recorded run (orun restarted, graph stalled on a bad Orchfile). Undefined: none here.
   */
  logTargets(name: string): LogTarget[] | undefined {
    const logDir = join(this.#dir(name), 'logs');
    const run = this.#runs.get(name);
    if (run === undefined) {
      const recorded = readRunState(this.#stateFile(name));
      return recorded?.services.map((r) =>
        r.mode === 'container'
          ? { service: r.name, container: r.containerName ?? containerName(name, r.name) }
          : hostLogTarget(r.name, logDir),
      );
    }
    const { desired } = run;
    return desired.services.map((service) => {
      const spec = desired.graph.services.find((s) => s.name === service)!;
      if (spec.mode === 'container')
        return { service, container: containerName(name, service, desired.vars.CONTAINER_PREFIX ?? '') };
      let files;
      try {
        files = prepareService(spec, { vars: desired.vars, readFile: this.#readFile });
      } catch {
        files = undefined; // an unreadable ENV_FILE: STDOUT/STDERR are still the defaults
      }
      return hostLogTarget(service, logDir, files);
    });
  }

  /** Names of the graphs with a running executor. */
  running(): string[] {
    return [...this.#runs.keys()];
  }

  async reconcile(ctx: ReconcileContext): Promise<ReconcileResult | void> {
    try {
      return await this.#reconcile(ctx);
    } catch (err) {
      if (isOrunError(err, DockerErrorCode.Unavailable))
        return this.#engineUnavailable(ctx, errorMessage(err));
      throw err;
    }
  }

  async #reconcile(ctx: ReconcileContext): Promise<ReconcileResult | void> {
    const { name } = splitKey(ctx.key);
    const obj = this.#d.store.getByKey<ServiceGraph>(ctx.key);
    if (obj === undefined) {
      // An empty store at boot must not stop anything.
      if (this.#d.store.hasSynced()) await this.#remove(name, ctx.log);
      return;
    }
    const run = this.#runs.get(name);
    const engine = this.#d.engineStatus?.();
    // The executor's view of a container cannot be checked while the engine is away: say so.
    if (engine?.available === false && run !== undefined && usesEngine(run.desired))
      return this.#engineUnavailable(ctx, engine.message);
    const checkout = this.#d.checkout();
    if (checkout === undefined) {
      // Between a checkout and its snapshot: a running graph's status stays as it is (no flapping).
      if (run !== undefined) return { requeueAfter: this.#d.checkoutRetryMs ?? 1000 };
      this.#status(obj, run, {
        kind: 'progressing',
        reason: Reason.WaitingForCheckout,
        message: 'waiting for the checkout of the applied revision',
      });
      return { requeueAfter: this.#d.checkoutRetryMs ?? 1000 };
    }
    const result = loadDesired(
      {
        name,
        spec: obj.spec,
        ...(obj.metadata.annotations === undefined ? {} : { annotations: obj.metadata.annotations }),
      },
      checkout,
      { dataDir: this.#d.dataDir, readFile: this.#readFile },
    );
    // A newer commit was checked out while reading: its snapshot enqueues this key again.
    if (this.#d.checkout()?.commit !== checkout.commit) return { requeueAfter: 100 };
    if (!result.ok) {
      const message = result.errors.join('\n');
      ctx.log.warn({ errors: result.errors }, 'Orchfile errors; running services left as they are');
      this.#d.recordEvent(name, 'Warning', Reason.OrchfileInvalid, message);
      this.#status(obj, run, { kind: 'stalled', reason: Reason.OrchfileInvalid, message });
      return;
    }
    let current = run;
    const rerun = this.#rerun.delete(name);
    if (rerun) {
      for (const s of result.desired.graph.services)
        if (s.oneshot) removeMarker(this.#readyDir(name), s.name);
    }
    if (rerun || current?.desired.hash !== result.desired.hash)
      current = await this.#apply(name, result.desired, run, ctx.log);
    this.#status(obj, current, verdictOf(current.executor.status()));
    this.#persist(name, current);
  }

  /** Leaves every service running and records it for the next orun. Call once workers are done. */
  async detachAll(): Promise<void> {
    for (const [name, run] of this.#runs) {
      const left = await run.executor.detach();
      await run.started;
      try {
        writeRunState(this.#stateFile(name), this.#record(name, run.desired, left));
      } catch (err) {
        this.#log.error({ servicegraph: name, err: errorMessage(err) }, 'recording the run state failed');
      }
    }
    this.#runs.clear();
  }

  /**
   * The engine does not answer: nothing is started, stopped or taken over; the status says
   * Ready=Unknown/EngineUnavailable over the last known services, and the key is looked at again
   * later (and at once when the engine answers: the controller's engineChanged$ watch).
   */
  #engineUnavailable(ctx: ReconcileContext, why: string): ReconcileResult {
    const obj = this.#d.store.getByKey<ServiceGraph>(ctx.key);
    if (obj !== undefined) {
      const message = `the container engine does not answer (${why}); the last known state is shown and nothing is changed until it answers`;
      this.#d.store.updateStatus<ServiceGraphStatus>('ServiceGraph', obj.metadata.name, (previous) =>
        engineUnavailableStatus(previous, message, this.#d.clock.now()),
      );
    }
    ctx.log.debug({ err: why }, 'engine unavailable; nothing changed');
    return { requeueAfter: this.#d.engineRecheckMs ?? ENGINE_RECHECK_MS };
  }

  // ---- applying a new desired graph -------------------------------------------------------------

  /** Takes over what the previous run left (in memory or on disk), stops what changed, starts the rest. */
  async #apply(
    name: string,
    desired: DesiredGraph,
    old: RunningGraph | undefined,
    log: Logger,
  ): Promise<RunningGraph> {
    let previous: RunState | undefined;
    if (old !== undefined) {
      const left = await old.executor.detach();
      await old.started;
      previous = this.#record(name, old.desired, left);
    } else {
      previous = readRunState(this.#stateFile(name));
    }
    const plan = planTakeover(previous, desired, (r) => this.#owned(r));
    for (const { record, remove } of plan.stop) await this.#stopLeftover(record, remove, log);
    await this.#removeStrangers(name, desired, log);

    const key = objectKey('ServiceGraph', name);
    const adopting = new Set(Object.keys(plan.adopt));
    const self: { run?: RunningGraph } = {};
    const executor = new GraphExecutor({
      graph: desired.graph,
      project: desired.project,
      vars: desired.vars,
      services: desired.services,
      processes: this.#d.processes,
      engine: this.#d.engine,
      clock: this.#d.clock,
      readFile: this.#readFile,
      ...(this.#d.baseEnv === undefined ? {} : { baseEnv: this.#d.baseEnv }),
      logDir: join(this.#dir(name), 'logs'),
      readyDir: this.#readyDir(name),
      containerName: (s) => containerName(name, s, desired.vars.CONTAINER_PREFIX ?? ''),
      managedBy: MANAGED_BY,
      labels: { [Label.servicegraph]: name, [Label.node]: this.#d.nodeName },
      replaceStale: true,
      adopt: plan.adopt,
      ...(this.#d.adoptPollMs === undefined ? {} : { adoptPollMs: this.#d.adoptPollMs }),
      ...(this.#d.healthChecker === undefined ? {} : { healthChecker: this.#d.healthChecker }),
      ...(this.#d.healthIntervalMs === undefined ? {} : { healthIntervalMs: this.#d.healthIntervalMs }),
      onEvent: (e) => {
        this.#onGraphEvent(name, self.run, e);
        this.#d.enqueue(key);
      },
    });
    const run: RunningGraph = {
      executor,
      desired,
      adopting,
      ready: false,
      started: executor.start().catch((err: unknown) => {
        this.#log.error({ servicegraph: name, err: errorMessage(err) }, 'starting the graph failed');
      }),
    };
    self.run = run;
    this.#runs.set(name, run);
    const restarted = plan.stop.map((s) => s.record.name);
    const what =
      previous === undefined
        ? `starting ${desired.services.join(', ')}`
        : `config ${desired.hash}: adopting ${list(Object.keys(plan.adopt))}; (re)starting ${list(
            desired.services.filter((s) => plan.adopt[s] === undefined),
          )}${restarted.length === 0 ? '' : `; stopped ${restarted.join(', ')}`}`;
    log.info({ config: desired.hash, adopt: Object.keys(plan.adopt), stopped: restarted }, 'starting graph');
    const reason = previous === undefined ? 'Starting' : old === undefined ? 'Adopting' : 'Updating';
    this.#d.recordEvent(name, 'Normal', reason, what);
    return run;
  }

  /** Stops a previous instance that is not taken over; its container is removed when not reused. */
  async #stopLeftover(r: ServiceRecord, remove: boolean, log: Logger): Promise<void> {
    if (r.pid !== undefined) {
      // The old Orchfile's STOP command may be gone with it: SIGTERM to the group, then SIGKILL.
      await stopProcessGroup(this.#d.processes, this.#d.clock, r.pid, { timeoutMs: r.stopTimeoutMs });
      log.info({ service: r.name, pid: r.pid }, 'stopped previous process');
    }
    if (r.containerId !== undefined) {
      await this.#dropContainer(r.containerId, Math.ceil(r.stopTimeoutMs / 1000), remove);
      log.info({ service: r.name, container: r.containerId, removed: remove }, 'stopped previous container');
    }
  }

  /**
   * This graph's containers on this node for services no longer selected (run state lost or
   * stale), or labelled with another project (made before the project was the graph's name).
   */
  async #removeStrangers(name: string, desired: DesiredGraph, log: Logger): Promise<void> {
    const wanted = new Set(desired.services);
    for (const c of await this.#d.engine.listContainers(graphSelector(name, this.#d.nodeName))) {
      if (wanted.has(c.labels[LABELS.service] ?? '') && c.labels[LABELS.project] === desired.project)
        continue;
      await this.#dropContainer(c.id, 10, true);
      log.info({ container: c.name }, 'removed container of a service no longer in the graph');
    }
  }

  async #dropContainer(id: string, timeoutSeconds: number, remove: boolean): Promise<void> {
    await this.#d.engine.stopContainer(id, { timeoutSeconds });
    if (remove) await this.#d.engine.removeContainer(id);
  }

  /** A host record's pid is ours when it is still the recorded process (runstate.ts). */
  #owned(r: ServiceRecord): boolean {
    if (r.pid === undefined) return true;
    return isSameProcess(
      { pid: r.pid, ...(r.pidIdentity === undefined ? {} : { identity: r.pidIdentity }) },
      { alive: (pid) => this.#d.processes.alive(pid), identify: this.#identity },
    );
  }

  // ---- deletion -------------------------------------------------------------------------------------

  /** Stops the graph (dependants first) and removes its containers; volumes, logs and data stay. */
  async #remove(name: string, log: Logger): Promise<void> {
    const run = this.#runs.get(name);
    if (run !== undefined) {
      await run.executor.stop();
      await run.started;
      this.#runs.delete(name);
    } else {
      const previous = readRunState(this.#stateFile(name));
      for (const r of [...(previous?.services ?? [])].reverse()) {
        if (r.pid !== undefined && this.#owned(r)) await this.#stopLeftover(r, false, log);
      }
    }
    const containers = await this.#d.engine.listContainers(graphSelector(name, this.#d.nodeName));
    for (const c of containers) await this.#dropContainer(c.id, 10, true);
    await this.#removeNetwork(name, log);
    const hadSomething =
      run !== undefined || containers.length > 0 || readRunState(this.#stateFile(name)) !== undefined;
    removeRunState(this.#stateFile(name));
    this.#metrics.delete(name);
    if (hadSomething) {
      log.info(
        { containers: containers.length },
        'ServiceGraph deleted: services stopped, containers removed',
      );
      this.#d.recordEvent(
        name,
        'Normal',
        'Stopped',
        `ServiceGraph deleted: services stopped, ${containers.length} container(s) removed (volumes and data kept)`,
      );
    }
  }

  /** The graph's network, when this node made it (an `orch up` of the same project keeps its own). */
  async #removeNetwork(name: string, log: Logger): Promise<void> {
    const network = defaultNetworkName(projectName(name));
    const info = await this.#d.engine.inspectNetwork(network);
    if (info?.labels[LABELS.managedBy] !== MANAGED_BY || info.labels[Label.node] !== this.#d.nodeName) return;
    try {
      await this.#d.engine.removeNetwork(network);
    } catch (err) {
      log.warn({ network, err: errorMessage(err) }, 'network not removed (still in use)');
    }
  }

  // ---- status, events, run state ------------------------------------------------------------------

  #status(obj: StoredObject<ServiceGraph>, run: RunningGraph | undefined, verdict: Verdict): void {
    const services = run?.executor.status();
    const name = obj.metadata.name;
    this.#d.store.updateStatus<ServiceGraphStatus>('ServiceGraph', name, (previous) =>
      buildStatus({
        generation: obj.metadata.generation,
        verdict,
        services: services === undefined ? undefined : serviceRows(services),
        previous,
        now: this.#d.clock.now(),
      }),
    );
    if (services !== undefined)
      this.#metrics.set(
        name,
        services.map((s) => s.state),
      );
    if (run === undefined) return;
    const ready = verdict.kind === 'ready';
    if (ready && !run.ready) this.#d.recordEvent(name, 'Normal', 'Ready', verdict.message);
    run.ready = ready;
  }

  #persist(name: string, run: RunningGraph): void {
    const state = this.#record(name, run.desired, run.executor.status());
    const text = JSON.stringify(state.services);
    if (text === run.lastState) return;
    writeRunState(this.#stateFile(name), state);
    run.lastState = text;
  }

  #record(name: string, desired: DesiredGraph, services: readonly ServiceStatus[]): RunState {
    return {
      project: name,
      configHash: desired.hash,
      updatedAt: this.#d.clock.now(),
      services: serviceRecords(services, desired.graph, {
        order: desired.services,
        hashes: desired.serviceHashes,
        identify: this.#identity,
      }),
    };
  }

  #onGraphEvent(name: string, run: RunningGraph | undefined, e: GraphEvent): void {
    this.#log.info(
      { servicegraph: name, service: e.service, state: e.state, message: e.message, warning: e.warning },
      'service event',
    );
    const ev = eventFor(e, run?.adopting.has(e.service) === true);
    if (e.state === 'running' || e.state === 'failed') run?.adopting.delete(e.service);
    if (ev !== undefined) this.#d.recordEvent(name, ev.type, ev.reason, ev.message);
  }

  #dir(name: string): string {
    return graphDir(this.#d.dataDir, name);
  }

  /** `<dataDir>/servicegraphs/<name>/run.json` (runtime/graph runstate.ts). */
  #stateFile(name: string): string {
    return join(this.#dir(name), 'run.json');
  }

  /** ONESHOT ready markers: kept when the graph is deleted, like its data. */
  #readyDir(name: string): string {
    return join(this.#dir(name), 'ready');
  }
}

/** Executor event → Kubernetes event (undefined: not worth one, e.g. pending/starting). */
export function eventFor(
  e: GraphEvent,
  adopting: boolean,
): { type: 'Normal' | 'Warning'; reason: string; message: string } | undefined {
  const msg = (what: string): string => `${e.service}: ${what}${e.message === '' ? '' : ` (${e.message})`}`;
  if (e.warning === true)
    return { type: 'Warning', reason: 'ServiceWarning', message: `${e.service}: ${e.message}` };
  if (e.health === 'unhealthy')
    return { type: 'Warning', reason: 'Unhealthy', message: `${e.service}: ${e.message}` };
  if (e.health !== undefined)
    return { type: 'Normal', reason: 'Healthy', message: `${e.service}: ${e.message}` };
  switch (e.state) {
    case 'running':
      return adopting
        ? { type: 'Normal', reason: 'Adopted', message: msg('left running by the previous orun, taken over') }
        : { type: 'Normal', reason: 'Started', message: msg('running') };
    case 'restarting':
      return { type: 'Warning', reason: 'Restarted', message: msg('exited, restarting') };
    case 'gave-up':
      return { type: 'Warning', reason: 'GaveUp', message: msg('gave up') };
    case 'failed':
    case 'blocked':
    case 'exited':
      return { type: 'Warning', reason: 'Failed', message: msg(e.state) };
    case 'completed':
      return { type: 'Normal', reason: 'Completed', message: msg('completed') };
    case 'stopped':
      return { type: 'Normal', reason: 'Stopped', message: msg('stopped') };
    default:
      return undefined;
  }
}

/** Whether any selected service of the graph runs in a container. */
function usesEngine(desired: DesiredGraph): boolean {
  const selected = new Set(desired.services);
  return desired.graph.services.some((s) => s.mode === 'container' && selected.has(s.name));
}

function list(names: readonly string[]): string {
  return names.length === 0 ? 'none' : names.join(', ');
}
