import { randomUUID } from 'node:crypto';
import type { Observable, Subscription } from 'rxjs';
import { OrunError } from '../../apis/errors.ts';
import { objectKey, splitKey } from '../../apis/run.orcra.dev/v0alpha/meta.ts';
import { realClock, type Clock } from '../clock/index.ts';
import { reconcileLogger, silentLogger, type Logger } from '../log/index.ts';
import type { StoreEvent } from '../store/index.ts';
import {
  noopQueueMetricsProvider,
  RateLimitingQueue,
  defaultControllerRateLimiter,
  type QueueMetricsProvider,
  type RateLimiter,
} from '../workqueue/index.ts';
import {
  noopControllerMetricsProvider,
  type ControllerMetrics,
  type ControllerMetricsProvider,
} from './metrics.ts';
import { TerminalError, type ReconcileResult, type Reconciler } from './reconcile.ts';

/** Anything that can be watched like the store: list-then-watch events for some kinds. */
export interface WatchSource {
  watch(opts?: { kinds?: readonly string[] }): Observable<StoreEvent>;
}

/** Maps an event to the keys to reconcile. Default: the object's own `Kind/name`. */
export type MapFunc = (ev: StoreEvent) => readonly string[];
/** Decides whether an event enqueues anything. */
export type Predicate = (ev: StoreEvent) => boolean;

/** The default predicate: everything except status-only writes (they never re-trigger a spec reconcile). */
export const ignoreStatusOnly: Predicate = (ev) => !ev.statusOnly;
/** Only adds, deletes and spec changes (controller-runtime's GenerationChangedPredicate). */
export const specChanged: Predicate = (ev) => ev.specChanged;

export interface ControllerWatchOptions {
  /** Default: the object's own key. */
  map?: MapFunc;
  /** Default: `ignoreStatusOnly`. */
  predicate?: Predicate;
}

export interface ControllerOptions {
  /** Label of every metric and log line; also the work queue's name. */
  name: string;
  reconciler: Reconciler;
  /** Concurrent reconciles (different keys only). Default: 1. */
  workers?: number;
  /** Default: `defaultControllerRateLimiter(clock)`. */
  rateLimiter?: RateLimiter<string>;
  /** Default: the real clock. */
  clock?: Clock;
  /** Usually a RuntimeMetrics. Default: records nothing. */
  metrics?: QueueMetricsProvider & ControllerMetricsProvider;
  /** Default: silent. */
  logger?: Logger;
  /** How long `start` waits for in-flight reconciles after abort. Default: 30 000 ms. */
  drainTimeoutMs?: number;
  /** Default: random UUIDs. */
  newReconcileID?: () => string;
  /** Keys it returns true for are skipped, not reconciled (suspended objects). Default: none. */
  gate?: Gate;
}

/** True when `key` must not be reconciled now; the key is dropped (re-enqueue it on resume). */
export type Gate = (key: string) => boolean;

/**
 * N workers taking keys off a rate-limited work queue and calling the reconciler, with
 * controller-runtime's result semantics (see reconcileHandler).
 */
export class Controller {
  readonly name: string;
  readonly queue: RateLimitingQueue<string>;
  readonly #reconciler: Reconciler;
  readonly #workers: number;
  readonly #clock: Clock;
  readonly #metrics: ControllerMetrics;
  readonly #log: Logger;
  /** The logger given, without this controller's fields (a reconcile's child adds them once). */
  readonly #baseLog: Logger;
  readonly #drainTimeoutMs: number;
  readonly #newID: () => string;
  readonly #watches: { source: WatchSource; kind: string; opts: ControllerWatchOptions }[] = [];
  readonly #channels: { channel: Observable<unknown>; keys: () => readonly string[] }[] = [];
  readonly #subscriptions: Subscription[] = [];
  #gate: Gate | undefined;
  #started = false;

  constructor(opts: ControllerOptions) {
    this.name = opts.name;
    this.#reconciler = opts.reconciler;
    this.#workers = Math.max(1, opts.workers ?? 1);
    this.#clock = opts.clock ?? realClock;
    this.#metrics = (opts.metrics ?? noopControllerMetricsProvider).forController(opts.name);
    this.#baseLog = opts.logger ?? silentLogger();
    this.#log = this.#baseLog.child({ controller: opts.name });
    this.#drainTimeoutMs = opts.drainTimeoutMs ?? 30_000;
    this.#newID = opts.newReconcileID ?? randomUUID;
    this.#gate = opts.gate;
    this.queue = new RateLimitingQueue<string>({
      name: opts.name,
      clock: this.#clock,
      metrics: opts.metrics ?? noopQueueMetricsProvider,
      rateLimiter: opts.rateLimiter ?? defaultControllerRateLimiter<string>(this.#clock),
    });
    this.#metrics.setMaxConcurrentReconciles(this.#workers);
  }

  /**
   * Enqueues keys for events of `kind` from `source` (list, then watch). Takes effect when
   * the controller starts (at once if it already has).
   */
  watch(source: WatchSource, kind: string, mapOrOpts?: MapFunc | ControllerWatchOptions): void {
    const opts = typeof mapOrOpts === 'function' ? { map: mapOrOpts } : (mapOrOpts ?? {});
    const w = { source, kind, opts };
    this.#watches.push(w);
    if (this.#started) this.#subscribe(w);
  }

  /** Sets the gate (see ControllerOptions.gate); for wiring that builds the gate after the controller. */
  setGate(gate: Gate | undefined): void {
    this.#gate = gate;
  }

  /**
   * Enqueues `keys()` on every emission of `channel` (controller-runtime's source.Channel), e.g.
   * the informer's applied revisions. Takes effect when the controller starts.
   */
  watchChannel(channel: Observable<unknown>, keys: () => readonly string[]): void {
    const c = { channel, keys };
    this.#channels.push(c);
    if (this.#started) this.#subscribeChannel(c);
  }

  /** Enqueues a key (`Kind/name`) now. */
  enqueue(key: string): void {
    this.queue.add(key);
  }

  enqueueAfter(key: string, ms: number): void {
    this.queue.addAfter(key, ms);
  }

  /**
   * Runs the workers until `signal` aborts, then stops taking keys, lets in-flight reconciles
   * return (their signal is aborted too) for at most `drainTimeoutMs`, and resolves.
   */
  async start(signal: AbortSignal): Promise<void> {
    if (this.#started)
      throw new OrunError('controller.already_started', `controller ${this.name}: start: already started`);
    this.#started = true;
    for (const w of this.#watches) this.#subscribe(w);
    for (const c of this.#channels) this.#subscribeChannel(c);
    this.#log.info({ workers: this.#workers }, 'Starting workers');
    const workers = Array.from({ length: this.#workers }, () => this.#worker(signal));
    await new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      else signal.addEventListener('abort', () => resolve(), { once: true });
    });
    this.#log.info('Shutdown signal received, waiting for all workers to finish');
    for (const s of this.#subscriptions.splice(0)) s.unsubscribe();
    this.queue.shutDown();
    const timeout = new AbortController();
    const finished = await Promise.race([
      Promise.all(workers).then(() => true),
      this.#clock.sleep(this.#drainTimeoutMs, timeout.signal).then(() => false),
    ]);
    timeout.abort();
    if (finished) this.#log.info('All workers finished');
    else
      this.#log.warn(
        { drainTimeoutMs: this.#drainTimeoutMs },
        'Workers did not finish within the drain timeout',
      );
  }

  #subscribe(w: { source: WatchSource; kind: string; opts: ControllerWatchOptions }): void {
    const predicate = w.opts.predicate ?? ignoreStatusOnly;
    const map = w.opts.map ?? ((ev: StoreEvent) => [objectKey(ev.object.kind, ev.object.metadata.name)]);
    const sub = w.source.watch({ kinds: [w.kind] }).subscribe({
      next: (ev) => {
        try {
          if (!predicate(ev)) return;
          for (const key of map(ev)) this.queue.add(key);
        } catch (err) {
          this.#log.error({ err, kind: w.kind }, 'Event handler failed');
        }
      },
      error: (err: unknown) => this.#log.error({ err, kind: w.kind }, 'Watch failed'),
    });
    this.#subscriptions.push(sub);
  }

  #subscribeChannel(c: { channel: Observable<unknown>; keys: () => readonly string[] }): void {
    const sub = c.channel.subscribe({
      next: () => {
        try {
          for (const key of c.keys()) this.queue.add(key);
        } catch (err) {
          this.#log.error({ err }, 'Channel handler failed');
        }
      },
      error: (err: unknown) => this.#log.error({ err }, 'Channel failed'),
    });
    this.#subscriptions.push(sub);
  }

  async #worker(signal: AbortSignal): Promise<void> {
    for (;;) {
      const r = await this.queue.get();
      if (r.shutdown) return;
      if (signal.aborted) {
        // Shutting down: drop queued keys instead of starting new work.
        this.queue.done(r.item);
        continue;
      }
      if (this.#gate?.(r.item) === true) {
        this.#log.debug({ key: r.item }, 'Suspended; not reconciled');
        this.queue.forget(r.item);
        this.queue.done(r.item);
        continue;
      }
      this.#metrics.addActiveWorkers(1);
      try {
        await this.#reconcileHandler(r.item, signal);
      } finally {
        this.#metrics.addActiveWorkers(-1);
        this.queue.done(r.item);
      }
    }
  }

  async #reconcileHandler(key: string, signal: AbortSignal): Promise<void> {
    const started = this.#clock.now();
    const reconcileID = this.#newID();
    const { kind, name } = splitKey(key);
    const log = reconcileLogger(this.#baseLog, { controller: this.name, kind, name, reconcileID });
    let result: ReconcileResult;
    try {
      log.debug('Reconciling');
      result = (await this.#reconciler.reconcile({ key, signal, log, reconcileID })) ?? {};
    } catch (err) {
      this.#metrics.reconcileTime((this.#clock.now() - started) / 1000);
      this.#metrics.reconcileError();
      this.#metrics.reconcileTotal('error');
      if (err instanceof TerminalError) {
        // No retry fixes it: the key waits for a new event (spec change, a person asking).
        this.#metrics.reconcileTerminal();
        this.queue.forget(key);
        log.warn({ err: err.cause }, 'Reconciler error is terminal; not requeued');
        return;
      }
      this.queue.addRateLimited(key);
      if (!(err instanceof Error)) this.#metrics.reconcilePanic();
      const ignored = requeueAfterOf(err);
      if (ignored !== undefined) {
        log.info(
          { requeueAfter: ignored },
          'Reconcile failed and asked for requeueAfter: it is ignored, the key is retried with backoff',
        );
      }
      log.error({ err, requeues: this.queue.numRequeues(key) }, 'Reconciler error');
      return;
    }
    this.#metrics.reconcileTime((this.#clock.now() - started) / 1000);
    if (result.requeueAfter !== undefined && result.requeueAfter > 0) {
      log.debug({ requeueAfter: result.requeueAfter }, 'Reconcile done, requeueing after');
      this.queue.forget(key);
      this.queue.addAfter(key, result.requeueAfter);
      this.#metrics.reconcileTotal('requeue_after');
    } else if (result.requeue) {
      log.debug('Reconcile done, requeueing');
      this.queue.addRateLimited(key);
      this.#metrics.reconcileTotal('requeue');
    } else {
      log.debug('Reconcile successful');
      this.queue.forget(key);
      this.#metrics.reconcileTotal('success');
    }
  }
}

/** A thrown error may carry a requeueAfter (own property or OrunError context); it is ignored, but logged. */
function requeueAfterOf(err: unknown): number | undefined {
  if (err === null || typeof err !== 'object') return undefined;
  const own = (err as { requeueAfter?: unknown }).requeueAfter;
  const ctx = (err as { context?: { requeueAfter?: unknown } }).context?.requeueAfter;
  const v = own ?? ctx;
  return typeof v === 'number' ? v : undefined;
}
