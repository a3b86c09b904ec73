/**
 * `orun start --ingress caddy`: the supervised Caddy behind its gate (servers group; nothing
 * waits for it, see runtime/caddy/gate.ts) with the upstream DNS it resolves routes through, and
 * the Service controller (controllers group), which reads the tracked branch at every reconcile.
 * See docs/design/ingress.md.
 */
import type { Registry } from 'prom-client';
import { newServiceController, type ServiceController } from '../../controllers/service/index.ts';
import { gateCaddy, newCaddySupervisor, UpstreamDNS } from '../../runtime/caddy/index.ts';
import type { Clock } from '../../runtime/clock/index.ts';
import type { EventRecorder } from '../../runtime/events/index.ts';
import type { Logger } from '../../runtime/log/index.ts';
import type { Runnable } from '../../runtime/manager/index.ts';
import type { RuntimeMetrics } from '../../runtime/metrics/index.ts';
import type { Store } from '../../runtime/store/index.ts';
import type { AgentSettings } from '../../runtime/config/settings.ts';

export interface IngressParts {
  settings: AgentSettings;
  store: Store;
  recorder: EventRecorder;
  clock: Clock;
  registry: Registry;
  metrics: RuntimeMetrics;
  logger: Logger;
  /** The branch the node tracks now. */
  branch: () => string;
}

export function buildIngress(p: IngressParts): { caddy: Runnable; services: ServiceController } {
  const { settings: s, logger, clock, registry } = p;
  const supervisor = newCaddySupervisor({ dataDir: s.dataDir, caddyPath: s.caddyPath, logger, registry });
  const caddy = gateCaddy({
    supervisor,
    caddyPath: s.caddyPath,
    httpPort: s.httpPort,
    httpsPort: s.httpsPort,
    clock,
    logger,
  });
  // Upstreams by name: a rollout switches a route without reloading Caddy (no connection reset).
  const upstreams = new UpstreamDNS({ clock });
  const services = newServiceController({
    store: p.store,
    caddy,
    upstreams,
    events: p.recorder.for('service-controller'),
    clock,
    registry,
    logger,
    controllerMetrics: p.metrics,
    branch: p.branch,
    httpPort: s.httpPort,
    httpsPort: s.httpsPort,
    acme: {
      ca: s.acmeCa,
      ...(s.acmeEmail === undefined ? {} : { email: s.acmeEmail }),
      ...(s.acmeCaRoot === undefined ? {} : { trustedRootsPemFiles: s.acmeCaRoot }),
    },
  });
  // The DNS outlives Caddy: it closes only after Caddy stopped (Caddy keeps serving while orun stops).
  const runnable: Runnable = {
    name: caddy.runnable.name,
    start: async (signal) => {
      await upstreams.address();
      try {
        await caddy.runnable.start(signal);
      } finally {
        await upstreams.close();
      }
    },
  };
  return { caddy: runnable, services };
}
