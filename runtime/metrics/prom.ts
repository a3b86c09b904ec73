import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type {
  ControllerMetrics,
  ControllerMetricsProvider,
  ReconcileResultLabel,
} from '../controller/metrics.ts';
import type { QueueMetricsProvider } from '../workqueue/metrics.ts';

/** A fresh registry. There is no global one: whoever serves /metrics passes it around. */
export function newRegistry(): Registry {
  return new Registry();
}

export type { Registry } from 'prom-client';

// client-go / controller-runtime buckets, so dashboards built for them read ours the same.
const QUEUE_BUCKETS = Array.from({ length: 12 }, (_, i) => 1e-8 * 10 ** i);
const RECONCILE_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.25,
  1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60,
];
const RESULTS: ReconcileResultLabel[] = ['success', 'error', 'requeue', 'requeue_after'];

/**
 * The workqueue_* (label `name`) and controller_runtime_* (label `controller`) metrics of
 * client-go and controller-runtime, registered in the given registry. One instance per
 * registry: pass it to every queue and controller as their metrics provider.
 */
export class RuntimeMetrics implements QueueMetricsProvider, ControllerMetricsProvider {
  readonly registry: Registry;
  /** Per queue name: plain numbers the hot path bumps; prom-client reads them at scrape time. */
  readonly #queues = new Map<string, QueueCounts>();
  readonly #reconcileTotal: Counter<'controller' | 'result'>;
  readonly #reconcileErrors: Counter<'controller'>;
  readonly #reconcilePanics: Counter<'controller'>;
  readonly #reconcileTerminal: Counter<'controller'>;
  readonly #reconcileTime: Histogram<'controller'>;
  readonly #maxConcurrent: Gauge<'controller'>;
  readonly #activeWorkers: Gauge<'controller'>;

  constructor(registry: Registry) {
    this.registry = registry;
    registerQueueMetrics(registry, this.#queues);
    const registers = [registry];
    const c = { labelNames: ['controller'] as const, registers };
    this.#reconcileTotal = new Counter({
      name: 'controller_runtime_reconcile_total',
      help: 'Total number of reconciliations per controller',
      labelNames: ['controller', 'result'] as const,
      registers,
    });
    this.#reconcileErrors = new Counter({
      name: 'controller_runtime_reconcile_errors_total',
      help: 'Total number of reconciliation errors per controller',
      ...c,
    });
    this.#reconcilePanics = new Counter({
      name: 'controller_runtime_reconcile_panics_total',
      help: 'Total number of reconciliation panics per controller',
      ...c,
    });
    this.#reconcileTerminal = new Counter({
      name: 'controller_runtime_terminal_reconcile_errors_total',
      help: 'Total number of terminal reconciliation errors per controller',
      ...c,
    });
    this.#reconcileTime = new Histogram({
      name: 'controller_runtime_reconcile_time_seconds',
      help: 'Length of time per reconciliation per controller',
      buckets: RECONCILE_BUCKETS,
      ...c,
    });
    this.#maxConcurrent = new Gauge({
      name: 'controller_runtime_max_concurrent_reconciles',
      help: 'Maximum number of concurrent reconciles per controller',
      ...c,
    });
    this.#activeWorkers = new Gauge({
      name: 'controller_runtime_active_workers',
      help: 'Number of currently used workers per controller',
      ...c,
    });
  }

  #counts(name: string): QueueCounts {
    let c = this.#queues.get(name);
    if (c === undefined) {
      c = {
        depth: 0,
        adds: 0,
        retries: 0,
        unfinished: 0,
        longest: 0,
        latency: newBuckets(),
        work: newBuckets(),
      };
      this.#queues.set(name, c);
    }
    return c;
  }
  newDepthMetric(name: string) {
    const c = this.#counts(name);
    return {
      inc: () => {
        c.depth++;
      },
      dec: () => {
        c.depth--;
      },
    };
  }
  newAddsMetric(name: string) {
    const c = this.#counts(name);
    return {
      inc: () => {
        c.adds++;
      },
    };
  }
  newLatencyMetric(name: string) {
    const b = this.#counts(name).latency;
    return { observe: (v: number) => observe(b, v) };
  }
  newWorkDurationMetric(name: string) {
    const b = this.#counts(name).work;
    return { observe: (v: number) => observe(b, v) };
  }
  newUnfinishedWorkSecondsMetric(name: string) {
    const c = this.#counts(name);
    return {
      set: (v: number) => {
        c.unfinished = v;
      },
    };
  }
  newLongestRunningProcessorSecondsMetric(name: string) {
    const c = this.#counts(name);
    return {
      set: (v: number) => {
        c.longest = v;
      },
    };
  }
  newRetriesMetric(name: string) {
    const c = this.#counts(name);
    return {
      inc: () => {
        c.retries++;
      },
    };
  }

  forController(name: string): ControllerMetrics {
    for (const r of RESULTS) this.#reconcileTotal.labels(name, r).inc(0);
    this.#reconcileErrors.labels(name).inc(0);
    this.#reconcilePanics.labels(name).inc(0);
    this.#reconcileTerminal.labels(name).inc(0);
    this.#activeWorkers.labels(name).set(0);
    return {
      reconcileTotal: (result) => this.#reconcileTotal.labels(name, result).inc(),
      reconcileError: () => this.#reconcileErrors.labels(name).inc(),
      reconcilePanic: () => this.#reconcilePanics.labels(name).inc(),
      reconcileTerminal: () => this.#reconcileTerminal.labels(name).inc(),
      reconcileTime: (s) => this.#reconcileTime.labels(name).observe(s),
      setMaxConcurrentReconciles: (n) => this.#maxConcurrent.labels(name).set(n),
      addActiveWorkers: (d) => this.#activeWorkers.labels(name).inc(d),
    };
  }
}

/** What prom-client's Registry reads of a metric when it renders /metrics. */
interface CollectedValue {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}
interface Collected {
  name: string;
  help: string;
  type: string;
  aggregator: string;
  values: CollectedValue[];
}

interface Buckets {
  /** Non-cumulative counts per bucket of QUEUE_BUCKETS, then +Inf. */
  counts: Float64Array;
  sum: number;
  count: number;
}

/**
 * client-go's workqueue_* metrics (label `name`) of the queues. The hot path (add/get/done of
 * every item) only bumps numbers in queues; these metrics copy them when scraped (collect), so a
 * queue with metrics stays about as fast as one without. Same names, labels, buckets and
 * exposition as the prom-client ones they replace.
 */
function registerQueueMetrics(registry: Registry, queues: Map<string, QueueCounts>): void {
  const registers = [registry];
  const gauge = (name: string, help: string, read: (c: QueueCounts) => number): void => {
    new Gauge({
      name,
      help,
      labelNames: ['name'] as const,
      registers,
      collect() {
        for (const [n, c] of queues) this.set({ name: n }, read(c));
      },
    });
  };
  const counter = (name: string, help: string, read: (c: QueueCounts) => number): void => {
    registry.registerMetric(new CollectedCounter(name, help, queues, read) as never);
  };
  gauge('workqueue_depth', 'Current depth of workqueue', (c) => c.depth);
  counter('workqueue_adds_total', 'Total number of adds handled by workqueue', (c) => c.adds);
  registry.registerMetric(
    new BucketHistogram(
      'workqueue_queue_duration_seconds',
      'How long in seconds an item stays in workqueue before being requested',
      queues,
      (c) => c.latency,
    ) as never,
  );
  registry.registerMetric(
    new BucketHistogram(
      'workqueue_work_duration_seconds',
      'How long in seconds processing an item from workqueue takes.',
      queues,
      (c) => c.work,
    ) as never,
  );
  gauge(
    'workqueue_unfinished_work_seconds',
    "How many seconds of work has been done that is in progress and hasn't been observed by work_duration. " +
      'Large values indicate stuck threads. One can deduce the number of stuck threads by observing the rate at which this increases.',
    (c) => c.unfinished,
  );
  gauge(
    'workqueue_longest_running_processor_seconds',
    'How many seconds has the longest running processor for workqueue been running.',
    (c) => c.longest,
  );
  counter('workqueue_retries_total', 'Total number of retries handled by workqueue', (c) => c.retries);
}

interface QueueCounts {
  depth: number;
  adds: number;
  retries: number;
  unfinished: number;
  longest: number;
  latency: Buckets;
  work: Buckets;
}

function newBuckets(): Buckets {
  return { counts: new Float64Array(QUEUE_BUCKETS.length + 1), sum: 0, count: 0 };
}

function observe(b: Buckets, v: number): void {
  let i = 0;
  while (i < QUEUE_BUCKETS.length && v > QUEUE_BUCKETS[i]!) i++;
  b.counts[i]!++;
  b.sum += v;
  b.count++;
}

/** A counter per queue name whose values are read from QueueCounts when scraped. */
class CollectedCounter {
  readonly type = 'counter' as const;
  readonly aggregator = 'sum' as const;
  readonly name: string;
  readonly help: string;
  readonly #queues: Map<string, QueueCounts>;
  readonly #read: (c: QueueCounts) => number;
  constructor(
    name: string,
    help: string,
    queues: Map<string, QueueCounts>,
    read: (c: QueueCounts) => number,
  ) {
    this.name = name;
    this.help = help;
    this.#queues = queues;
    this.#read = read;
  }
  get(): Promise<Collected> {
    const values = [...this.#queues].map(([name, c]) => ({ value: this.#read(c), labels: { name } }));
    return Promise.resolve({
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values,
    });
  }
  reset(): void {}
}

/** A histogram per queue name (QUEUE_BUCKETS) whose counts are read from QueueCounts when scraped. */
class BucketHistogram {
  readonly type = 'histogram' as const;
  readonly aggregator = 'sum' as const;
  readonly name: string;
  readonly help: string;
  readonly #queues: Map<string, QueueCounts>;
  readonly #read: (c: QueueCounts) => Buckets;
  constructor(
    name: string,
    help: string,
    queues: Map<string, QueueCounts>,
    read: (c: QueueCounts) => Buckets,
  ) {
    this.name = name;
    this.help = help;
    this.#queues = queues;
    this.#read = read;
  }
  get(): Promise<Collected> {
    const values: CollectedValue[] = [];
    for (const [name, c] of this.#queues) {
      const b = this.#read(c);
      let acc = 0;
      QUEUE_BUCKETS.forEach((le, i) => {
        acc += b.counts[i]!;
        values.push({ value: acc, labels: { le, name }, metricName: `${this.name}_bucket` });
      });
      values.push({ value: b.count, labels: { le: '+Inf', name }, metricName: `${this.name}_bucket` });
      values.push({ value: b.sum, labels: { name }, metricName: `${this.name}_sum` });
      values.push({ value: b.count, labels: { name }, metricName: `${this.name}_count` });
    }
    return Promise.resolve({
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values,
    });
  }
  reset(): void {}
}
