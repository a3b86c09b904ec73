/**
 * `orun start --ingress caddy`: the supervised Caddy behind its gate (servers group; nothing
 * waits for it, see runtime/caddy/gate.ts) and the Service controller (controllers group), which
 * reads the tracked branch at every reconcile. See docs/design/ingress.md.
 */
import type { Registry } from 'prom-client';
import { newServiceController, type ServiceController } from '../../controllers/service/index.ts';
import { gateCaddy, newCaddySupervisor } from '../../runtime/caddy/index.ts';
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
  const services = newServiceController({
    store: p.store,
    caddy,
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
  return { caddy: caddy.runnable, services };
}
