/**
 * `orun_ingress_*` metrics (DESIGN.md §3). Registered on the injected Registry; a second
 * controller on the same registry reuses the first one's metrics instead of throwing.
 */
import { Counter, Gauge, type Registry } from 'prom-client';

export interface IngressMetrics {
  /** Routes in the config Caddy runs. */
  routes: Gauge;
  /** Config loads by result: success | error. */
  applies: Counter<'result'>;
  /** 1 when Caddy serves a valid certificate for an ssl Service's domain, else 0. */
  certificateReady: Gauge<'service'>;
}

export function ingressMetrics(registry?: Registry): IngressMetrics {
  const registers = registry === undefined ? [] : [registry];
  const reuse = <T>(name: string, make: () => T): T =>
    (registry?.getSingleMetric(name) as T | undefined) ?? make();
  const applies = reuse(
    'orun_ingress_config_applies_total',
    () =>
      new Counter({
        name: 'orun_ingress_config_applies_total',
        help: 'Caddy config loads by result (success, error).',
        labelNames: ['result'],
        registers,
      }),
  );
  // Both series exist from the start, so rate() and alerts see a zero rather than nothing.
  applies.inc({ result: 'success' }, 0);
  applies.inc({ result: 'error' }, 0);
  return {
    routes: reuse(
      'orun_ingress_routes',
      () => new Gauge({ name: 'orun_ingress_routes', help: 'Routes in the config Caddy runs.', registers }),
    ),
    applies,
    certificateReady: reuse(
      'orun_ingress_certificate_ready',
      () =>
        new Gauge({
          name: 'orun_ingress_certificate_ready',
          help: "1 when Caddy serves a valid certificate for an ssl Service's domain, else 0.",
          labelNames: ['service'],
          registers,
        }),
    ),
  };
}
