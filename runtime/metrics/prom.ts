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
  readonly #depth: Gauge<'name'>;
  readonly #adds: Counter<'name'>;
  readonly #latency: Histogram<'name'>;
  readonly #workDuration: Histogram<'name'>;
  readonly #unfinished: Gauge<'name'>;
  readonly #longest: Gauge<'name'>;
  readonly #retries: Counter<'name'>;
  readonly #reconcileTotal: Counter<'controller' | 'result'>;
  readonly #reconcileErrors: Counter<'controller'>;
  readonly #reconcilePanics: Counter<'controller'>;
  readonly #reconcileTime: Histogram<'controller'>;
  readonly #maxConcurrent: Gauge<'controller'>;
  readonly #activeWorkers: Gauge<'controller'>;

  constructor(registry: Registry) {
    this.registry = registry;
    const registers = [registry];
    const q = { labelNames: ['name'] as const, registers };
    this.#depth = new Gauge({ name: 'workqueue_depth', help: 'Current depth of workqueue', ...q });
    this.#adds = new Counter({
      name: 'workqueue_adds_total',
      help: 'Total number of adds handled by workqueue',
      ...q,
    });
    this.#latency = new Histogram({
      name: 'workqueue_queue_duration_seconds',
      help: 'How long in seconds an item stays in workqueue before being requested',
      buckets: QUEUE_BUCKETS,
      ...q,
    });
    this.#workDuration = new Histogram({
      name: 'workqueue_work_duration_seconds',
      help: 'How long in seconds processing an item from workqueue takes.',
      buckets: QUEUE_BUCKETS,
      ...q,
    });
    this.#unfinished = new Gauge({
      name: 'workqueue_unfinished_work_seconds',
      help:
        "How many seconds of work has been done that is in progress and hasn't been observed by work_duration. " +
        'Large values indicate stuck threads. One can deduce the number of stuck threads by observing the rate at which this increases.',
      ...q,
    });
    this.#longest = new Gauge({
      name: 'workqueue_longest_running_processor_seconds',
      help: 'How many seconds has the longest running processor for workqueue been running.',
      ...q,
    });
    this.#retries = new Counter({
      name: 'workqueue_retries_total',
      help: 'Total number of retries handled by workqueue',
      ...q,
    });

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

  newDepthMetric(name: string) {
    const g = this.#depth.labels(name);
    g.set(0);
    return { inc: () => g.inc(), dec: () => g.dec() };
  }
  newAddsMetric(name: string) {
    const m = this.#adds.labels(name);
    m.inc(0);
    return { inc: () => m.inc() };
  }
  newLatencyMetric(name: string) {
    const m = this.#latency.labels(name);
    return { observe: (v: number) => m.observe(v) };
  }
  newWorkDurationMetric(name: string) {
    const m = this.#workDuration.labels(name);
    return { observe: (v: number) => m.observe(v) };
  }
  newUnfinishedWorkSecondsMetric(name: string) {
    const m = this.#unfinished.labels(name);
    m.set(0);
    return { set: (v: number) => m.set(v) };
  }
  newLongestRunningProcessorSecondsMetric(name: string) {
    const m = this.#longest.labels(name);
    m.set(0);
    return { set: (v: number) => m.set(v) };
  }
  newRetriesMetric(name: string) {
    const m = this.#retries.labels(name);
    m.inc(0);
    return { inc: () => m.inc() };
  }

  forController(name: string): ControllerMetrics {
    for (const r of RESULTS) this.#reconcileTotal.labels(name, r).inc(0);
    this.#reconcileErrors.labels(name).inc(0);
    this.#reconcilePanics.labels(name).inc(0);
    this.#activeWorkers.labels(name).set(0);
    return {
      reconcileTotal: (result) => this.#reconcileTotal.labels(name, result).inc(),
      reconcileError: () => this.#reconcileErrors.labels(name).inc(),
      reconcilePanic: () => this.#reconcilePanics.labels(name).inc(),
      reconcileTime: (s) => this.#reconcileTime.labels(name).observe(s),
      setMaxConcurrentReconciles: (n) => this.#maxConcurrent.labels(name).set(n),
      addActiveWorkers: (d) => this.#activeWorkers.labels(name).inc(d),
    };
  }
}
