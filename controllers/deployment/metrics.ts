/**
 * The controller's own metrics (DESIGN.md §3 `orun_*`). Registered on the injected Registry; a
 * second controller on the same registry reuses the first one's metrics instead of throwing.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface DeploymentMetrics {
  ready: Gauge<'deployment'>;
  restarts: Counter<'deployment'>;
  probeDuration: Histogram<'deployment' | 'probe'>;
  probeFailures: Counter<'deployment' | 'probe'>;
  /** Drops a deleted Deployment's series. */
  forget(deployment: string): void;
}

export function deploymentMetrics(registry?: Registry): DeploymentMetrics {
  const registers = registry === undefined ? [] : [registry];
  const reuse = <T>(name: string, make: () => T): T =>
    (registry?.getSingleMetric(name) as T | undefined) ?? make();
  const ready = reuse(
    'orun_deployment_ready',
    () =>
      new Gauge({
        name: 'orun_deployment_ready',
        help: '1 when the Deployment container is running and ready, else 0.',
        labelNames: ['deployment'],
        registers,
      }),
  );
  const restarts = reuse(
    'orun_deployment_restarts_total',
    () =>
      new Counter({
        name: 'orun_deployment_restarts_total',
        help: 'Container restarts by orun (crash back-off or failed liveness).',
        labelNames: ['deployment'],
        registers,
      }),
  );
  const probeDuration = reuse(
    'orun_probe_duration_seconds',
    () =>
      new Histogram({
        name: 'orun_probe_duration_seconds',
        help: 'HTTP probe duration.',
        labelNames: ['deployment', 'probe'],
        buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
        registers,
      }),
  );
  const probeFailures = reuse(
    'orun_probe_failures_total',
    () =>
      new Counter({
        name: 'orun_probe_failures_total',
        help: 'Failed HTTP probes.',
        labelNames: ['deployment', 'probe'],
        registers,
      }),
  );
  return {
    ready,
    restarts,
    probeDuration,
    probeFailures,
    forget(deployment) {
      ready.remove({ deployment });
      restarts.remove({ deployment });
      for (const probe of ['readiness', 'liveness']) {
        probeDuration.remove({ deployment, probe });
        probeFailures.remove({ deployment, probe });
      }
    },
  };
}
