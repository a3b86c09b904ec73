import { realClock, type Clock } from '../clock/index.ts';

/**
 * The metrics provider contract of client-go: the queue never imports Prometheus. A provider
 * hands out one metric per queue `name`; runtime/metrics implements it with prom-client.
 */
export interface GaugeMetric {
  inc(): void;
  dec(): void;
}
export interface SettableGaugeMetric {
  set(value: number): void;
}
export interface CounterMetric {
  inc(): void;
}
export interface HistogramMetric {
  /** Seconds. */
  observe(value: number): void;
}

export interface QueueMetricsProvider {
  newDepthMetric(name: string): GaugeMetric;
  newAddsMetric(name: string): CounterMetric;
  newLatencyMetric(name: string): HistogramMetric;
  newWorkDurationMetric(name: string): HistogramMetric;
  newUnfinishedWorkSecondsMetric(name: string): SettableGaugeMetric;
  newLongestRunningProcessorSecondsMetric(name: string): SettableGaugeMetric;
  newRetriesMetric(name: string): CounterMetric;
}

const noop = { inc() {}, dec() {}, set() {}, observe() {} };

/** Records nothing. The default, so the queue costs nothing when nobody scrapes it. */
export const noopQueueMetricsProvider: QueueMetricsProvider = {
  newDepthMetric: () => noop,
  newAddsMetric: () => noop,
  newLatencyMetric: () => noop,
  newWorkDurationMetric: () => noop,
  newUnfinishedWorkSecondsMetric: () => noop,
  newLongestRunningProcessorSecondsMetric: () => noop,
  newRetriesMetric: () => noop,
};

// The real clock read at most once per run of synchronous code (until the next microtask): a
// busy queue reads it three times per item, and on a VM whose clock source has no vDSO each read
// is a system call that cost more than the queue itself. Date.now() has 1 ms resolution, so
// a reading shared by one synchronous run loses nothing.
let cachedNow: number | undefined;
const forgetNow = (): void => {
  cachedNow = undefined;
};
function coarseNow(): number {
  if (cachedNow === undefined) {
    cachedNow = realClock.now();
    queueMicrotask(forgetNow);
  }
  return cachedNow;
}

/** Per-queue bookkeeping, as client-go's defaultQueueMetrics: times are kept per item. */
export class QueueMetrics<T> {
  readonly #clock: Pick<Clock, 'now'>;
  readonly #depth: GaugeMetric;
  readonly #adds: CounterMetric;
  readonly #latency: HistogramMetric;
  readonly #workDuration: HistogramMetric;
  readonly #unfinished: SettableGaugeMetric;
  readonly #longest: SettableGaugeMetric;
  readonly #retries: CounterMetric;
  readonly #addTimes = new Map<T, number>();
  readonly #processingStart = new Map<T, number>();

  constructor(name: string, provider: QueueMetricsProvider, clock: Clock) {
    this.#clock = clock === realClock ? { now: coarseNow } : clock;
    this.#depth = provider.newDepthMetric(name);
    this.#adds = provider.newAddsMetric(name);
    this.#latency = provider.newLatencyMetric(name);
    this.#workDuration = provider.newWorkDurationMetric(name);
    this.#unfinished = provider.newUnfinishedWorkSecondsMetric(name);
    this.#longest = provider.newLongestRunningProcessorSecondsMetric(name);
    this.#retries = provider.newRetriesMetric(name);
  }

  add(item: T): void {
    this.#adds.inc();
    this.#depth.inc();
    // The queue counts an add only for an item not already waiting, so none has a time yet.
    this.#addTimes.set(item, this.#clock.now());
  }

  get(item: T): void {
    this.#depth.dec();
    const now = this.#clock.now();
    this.#processingStart.set(item, now);
    const added = this.#addTimes.get(item);
    if (added !== undefined) {
      this.#latency.observe((now - added) / 1000);
      this.#addTimes.delete(item);
    }
  }

  done(item: T): void {
    const start = this.#processingStart.get(item);
    if (start !== undefined) {
      this.#workDuration.observe((this.#clock.now() - start) / 1000);
      this.#processingStart.delete(item);
    }
  }

  retry(): void {
    this.#retries.inc();
  }

  updateUnfinishedWork(): void {
    const now = this.#clock.now();
    let total = 0;
    let oldest = 0;
    for (const start of this.#processingStart.values()) {
      const age = (now - start) / 1000;
      total += age;
      if (age > oldest) oldest = age;
    }
    this.#unfinished.set(total);
    this.#longest.set(oldest);
  }
}
