import { OrunError, errorMessage } from '../../apis/errors.ts';
import { realClock, type Clock } from '../clock/index.ts';
import { silentLogger, type Logger } from '../log/index.ts';
import type { Registry } from '../metrics/index.ts';
import type { Checker } from './healthz.ts';
import { GROUP_ORDER, type Runnable, type RunnableGroup, type SyncingRunnable } from './runnable.ts';
import { ProbeServer } from './server.ts';

export interface ManagerOptions {
  /** Default: silent. */
  logger?: Logger;
  /** Default: the real clock. */
  clock?: Clock;
  /** Total time runnables get to stop after the signal aborts. Default: 30 000 ms. */
  gracePeriodMs?: number;
  /** How long a group may take to sync before start fails. Default: 120 000 ms. */
  syncTimeoutMs?: number;
  /** How often `hasSynced()` is polled. Default: 100 ms. */
  syncPollMs?: number;
}

interface Running {
  runnable: Runnable;
  group: RunnableGroup;
  stop: AbortController;
  done: Promise<void>;
}

/**
 * Owns every runnable: starts the groups in order (servers, sources until synced,
 * controllers), and on abort stops them in reverse within one grace period. A runnable that
 * fails stops the whole manager, which then rejects with `manager.runnable_failed`.
 */
export class Manager {
  readonly healthChecks = new Map<string, Checker>();
  readonly readyChecks = new Map<string, Checker>();
  readonly #groups = new Map<RunnableGroup, Runnable[]>(GROUP_ORDER.map((g) => [g, []]));
  readonly #reconcilers = new Map<string, (name: string) => boolean>();
  readonly #log: Logger;
  readonly #baseLog: Logger;
  readonly #clock: Clock;
  readonly #grace: number;
  readonly #syncTimeout: number;
  readonly #syncPoll: number;
  #phase: 'new' | 'starting' | 'running' | 'stopping' | 'stopped' = 'new';

  constructor(opts: ManagerOptions = {}) {
    this.#baseLog = opts.logger ?? silentLogger();
    this.#log = this.#baseLog.child({ component: 'manager' });
    this.#clock = opts.clock ?? realClock;
    this.#grace = opts.gracePeriodMs ?? 30_000;
    this.#syncTimeout = opts.syncTimeoutMs ?? 120_000;
    this.#syncPoll = opts.syncPollMs ?? 100;
    this.readyChecks.set('manager', () => {
      if (this.#phase !== 'running')
        throw new Error(this.#phase === 'stopping' ? 'shutting down' : 'starting');
    });
  }

  add(runnable: Runnable | SyncingRunnable, group: RunnableGroup): void {
    if (this.#phase !== 'new')
      throw new OrunError('manager.started', `manager: add ${runnable.name}: already started`);
    this.#groups.get(group)?.push(runnable);
  }

  addServer(r: SyncingRunnable): void {
    this.add(r, 'servers');
  }

  /** A source is waited for (`hasSynced`/`synced`) before controllers start. */
  addSource(r: SyncingRunnable): void {
    this.add(r, 'sources');
  }

  addController(r: Runnable): void {
    this.add(r, 'controllers');
  }

  /**
   * Registers what "reconcile `kind`/NAME now" does (the local API's `reconcile`): usually the
   * kind's controller enqueueing the key. The last registration for a kind wins.
   */
  handleReconcile(kind: string, enqueue: (name: string) => boolean): void {
    this.#reconcilers.set(kind, enqueue);
  }

  /** Enqueues `kind/name` in the controller registered for `kind`; false when none is (yet). */
  reconcileNow(kind: string, name: string): boolean {
    return this.#reconcilers.get(kind)?.(name) ?? false;
  }

  addHealthCheck(name: string, check: Checker): void {
    this.healthChecks.set(name, check);
  }

  addReadyCheck(name: string, check: Checker): void {
    this.readyChecks.set(name, check);
  }

  /** Adds the /healthz, /readyz, /metrics server on `address` (`host:port`) to the servers group. */
  serveProbes(address: string, registry?: Registry): ProbeServer {
    const server = new ProbeServer({
      address,
      registry,
      healthChecks: this.healthChecks,
      readyChecks: this.readyChecks,
      // The parent's logger: the probe server names its own component (a key appears once per line).
      logger: this.#baseLog,
    });
    this.addServer(server);
    return server;
  }

  /** Runs until `signal` aborts (or a runnable fails), then stops everything. */
  async start(signal: AbortSignal): Promise<void> {
    if (this.#phase !== 'new') throw new OrunError('manager.started', 'manager: start: already started');
    this.#phase = 'starting';
    const stopAll = new AbortController();
    const onAbort = (): void => stopAll.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    if (signal.aborted) stopAll.abort();
    let failure: unknown;
    const fail = (err: unknown): void => {
      failure ??= err;
      stopAll.abort();
    };
    const running: Running[] = [];
    for (const group of GROUP_ORDER) {
      if (stopAll.signal.aborted) break;
      const members = this.#groups.get(group) ?? [];
      for (const runnable of members) running.push(this.#run(runnable, group, stopAll.signal, fail));
      if (group !== 'controllers') {
        for (const r of members) await this.#waitSynced(r, group, stopAll.signal, fail);
      }
      this.#log.info({ group, runnables: members.map((r) => r.name) }, 'Started group');
    }
    if (!stopAll.signal.aborted) this.#phase = 'running';
    await new Promise<void>((resolve) => {
      if (stopAll.signal.aborted) resolve();
      else stopAll.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    signal.removeEventListener('abort', onAbort);
    this.#phase = 'stopping';
    const stuck = await this.#stop(running);
    this.#phase = 'stopped';
    if (failure !== undefined) {
      throw new OrunError('manager.runnable_failed', `manager: ${errorMessage(failure)}`, { cause: failure });
    }
    if (stuck.length > 0) {
      throw new OrunError(
        'manager.shutdown_timeout',
        `manager: stop: ${stuck.join(', ')} did not stop within ${this.#grace} ms`,
        {
          context: { runnables: stuck },
        },
      );
    }
  }

  #run(runnable: Runnable, group: RunnableGroup, all: AbortSignal, fail: (err: unknown) => void): Running {
    const stop = new AbortController();
    const done = Promise.resolve()
      .then(() => runnable.start(stop.signal))
      .then(
        () => {
          if (!stop.signal.aborted) this.#log.info({ runnable: runnable.name }, 'Runnable finished');
        },
        (err: unknown) => {
          this.#log.error({ err, runnable: runnable.name }, 'Runnable failed');
          if (!all.aborted)
            fail(
              new OrunError('manager.runnable_failed', `${runnable.name}: ${errorMessage(err)}`, {
                cause: err,
              }),
            );
        },
      );
    return { runnable, group, stop, done };
  }

  async #waitSynced(
    r: SyncingRunnable,
    group: RunnableGroup,
    all: AbortSignal,
    fail: (err: unknown) => void,
  ): Promise<void> {
    if (!r.synced && !r.hasSynced) return;
    const deadline = this.#clock.now() + this.#syncTimeout;
    let synced = false;
    void r.synced?.then(() => (synced = true));
    const wake = new AbortController();
    void r.synced?.then(() => wake.abort());
    const onAll = (): void => wake.abort();
    all.addEventListener('abort', onAll, { once: true });
    try {
      while (!all.aborted && !synced && !r.hasSynced?.()) {
        const left = deadline - this.#clock.now();
        if (left <= 0) {
          fail(
            new OrunError('manager.sync_timeout', `${r.name}: not synced within ${this.#syncTimeout} ms`, {
              context: { group },
            }),
          );
          return;
        }
        await this.#clock.sleep(r.hasSynced ? Math.min(this.#syncPoll, left) : left, wake.signal);
      }
    } finally {
      all.removeEventListener('abort', onAll);
    }
  }

  /** Stops groups in reverse order within one grace period; returns the names that did not stop. */
  async #stop(running: Running[]): Promise<string[]> {
    const deadline = this.#clock.now() + this.#grace;
    const stuck: string[] = [];
    for (const group of [...GROUP_ORDER].reverse()) {
      const members = running.filter((r) => r.group === group);
      if (members.length === 0) continue;
      this.#log.info({ group }, 'Stopping group');
      for (const m of members) m.stop.abort();
      const finished = new Set<Running>();
      const timer = new AbortController();
      await Promise.race([
        Promise.all(members.map((m) => m.done.then(() => finished.add(m)))),
        this.#clock.sleep(Math.max(0, deadline - this.#clock.now()), timer.signal),
      ]);
      timer.abort();
      for (const m of members) if (!finished.has(m)) stuck.push(m.runnable.name);
    }
    if (stuck.length > 0)
      this.#log.error({ runnables: stuck }, 'Runnables did not stop within the grace period');
    else this.#log.info('All runnables stopped');
    return stuck;
  }
}
