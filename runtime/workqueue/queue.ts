import { realClock, type Clock, type Timer } from '../clock/index.ts';
import { noopQueueMetricsProvider, QueueMetrics, type QueueMetricsProvider } from './metrics.ts';

export interface QueueOptions {
  /** Label value of the `name` label on workqueue_* metrics. Default: `''`. */
  name?: string;
  /** Default: the real clock. */
  clock?: Clock;
  /** Default: records nothing. */
  metrics?: QueueMetricsProvider;
  /** How often unfinished-work gauges are refreshed while items are processing. Default: 500 ms. */
  unfinishedWorkUpdatePeriodMs?: number;
}

export type GetResult<T> = { item: T; shutdown: false } | { item?: undefined; shutdown: true };

/**
 * The basic work queue of client-go (see docs/design/runtime.md):
 * - fair: items are handed out in the order they were added;
 * - stingy: an item added many times before it is handed out is handed out once;
 * - one item is never processed by two workers at once: an item re-added while it is
 *   processing is queued again only when `done(item)` is called;
 * - shutdown: `shutDown()` stops accepting adds; `get()` still hands out what is queued and
 *   then returns `{ shutdown: true }`.
 * Callers MUST call `done(item)` for every item `get()` returned.
 */
export class WorkQueue<T = string> {
  readonly name: string;
  protected readonly clock: Clock;
  // Every element of #queue is in #dirty and not in #processing.
  #queue: T[] = [];
  #head = 0;
  readonly #dirty = new Set<T>();
  readonly #processing = new Set<T>();
  readonly #waiters: ((r: GetResult<T>) => void)[] = [];
  #drainWaiters: (() => void)[] = [];
  #shuttingDown = false;
  readonly #metrics: QueueMetrics<T> | undefined;
  readonly #updatePeriodMs: number;
  #updateTimer: Timer | undefined;

  constructor(opts: QueueOptions = {}) {
    this.name = opts.name ?? '';
    this.clock = opts.clock ?? realClock;
    const provider = opts.metrics ?? noopQueueMetricsProvider;
    this.#metrics =
      provider === noopQueueMetricsProvider
        ? undefined
        : new QueueMetrics<T>(this.name, provider, this.clock);
    this.#updatePeriodMs = opts.unfinishedWorkUpdatePeriodMs ?? 500;
  }

  /** Marks `item` as needing processing. Ignored after shutdown. */
  add(item: T): void {
    if (this.#shuttingDown || this.#dirty.has(item)) return;
    this.#metrics?.add(item);
    this.#dirty.add(item);
    if (this.#processing.has(item)) return;
    this.#queue.push(item);
    this.#handOut();
  }

  /** Items waiting to be handed out (not counting those in flight). */
  len(): number {
    return this.#queue.length - this.#head;
  }

  /** Resolves with the next item, or `{ shutdown: true }` once shut down and empty. */
  get(): Promise<GetResult<T>> {
    const r = this.tryGet();
    if (r) return Promise.resolve(r);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** `get()` without waiting: undefined when nothing is queued and the queue is open. */
  tryGet(): GetResult<T> | undefined {
    if (this.len() > 0) return { item: this.#take(), shutdown: false };
    if (this.#shuttingDown) return { shutdown: true };
    return undefined;
  }

  /** Marks `item` finished; if it was re-added meanwhile, it is queued again now. */
  done(item: T): void {
    this.#metrics?.done(item);
    this.#processing.delete(item);
    if (this.#dirty.has(item)) {
      this.#queue.push(item);
      this.#handOut();
    } else if (this.#processing.size === 0) {
      // The gauges read 0 now; the update timer ends at its next tick (cancelling and re-arming
      // it for every item of a busy queue cost more than the rest of the metrics together).
      this.#metrics?.updateUnfinishedWork();
      if (this.#shuttingDown) this.#stopUpdating();
      const waiters = this.#drainWaiters;
      this.#drainWaiters = [];
      for (const w of waiters) w();
    }
  }

  /** True when `item` is queued or processing. */
  has(item: T): boolean {
    return this.#dirty.has(item) || this.#processing.has(item);
  }

  isProcessing(item: T): boolean {
    return this.#processing.has(item);
  }

  /** Ignores new adds; waiting `get()` calls return shutdown once the queue is empty. */
  shutDown(): void {
    this.#shuttingDown = true;
    this.#handOut();
    // Nothing will be handed out any more: release drain waiters too (ShutDown after
    // ShutDownWithDrain forces termination, as in client-go).
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const w of waiters) w();
    if (this.#processing.size === 0) this.#stopUpdating();
  }

  /**
   * Like `shutDown`, then resolves once every item handed out has been `done()`. Workers must
   * keep calling `done`, or this never resolves.
   */
  shutDownWithDrain(): Promise<void> {
    this.#shuttingDown = true;
    this.#handOut();
    if (this.#processing.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  #take(): T {
    const item = this.#queue[this.#head] as T;
    this.#head++;
    // Compact occasionally: shift() is O(n), a moving head is O(1).
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    this.#metrics?.get(item);
    this.#processing.add(item);
    this.#dirty.delete(item);
    this.#startUpdating();
    return item;
  }

  #handOut(): void {
    while (this.#waiters.length > 0) {
      const r = this.tryGet();
      if (!r) return;
      this.#waiters.shift()?.(r);
    }
  }

  #startUpdating(): void {
    if (!this.#metrics || this.#updateTimer || this.#shuttingDown) return;
    const tick = (): void => {
      this.#metrics?.updateUnfinishedWork();
      this.#updateTimer =
        this.#processing.size > 0 && !this.#shuttingDown
          ? this.clock.setTimer(this.#updatePeriodMs, tick)
          : undefined;
    };
    this.#updateTimer = this.clock.setTimer(this.#updatePeriodMs, tick);
  }

  #stopUpdating(): void {
    this.#updateTimer?.cancel();
    this.#updateTimer = undefined;
    this.#metrics?.updateUnfinishedWork();
  }

  /** For subclasses: counts a retry on the retries metric. */
  protected countRetry(): void {
    this.#metrics?.retry();
  }
}
