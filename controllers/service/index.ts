/**
 * The Service controller: publishes Services through the supervised Caddy, with automatic HTTPS
 * for `ingress.ssl: true`, and reports url, certificate and conditions in each Service's status.
 *
 * Wiring (cmd/orun):
 * ```ts
 * const supervisor = newCaddySupervisor({ dataDir, caddyPath, logger, registry });
 * const caddy = gateCaddy({ supervisor, caddyPath, httpPort, httpsPort, clock, logger });
 * manager.addServer(caddy.runnable);            // nothing waits for Caddy
 * const services = newServiceController({
 *   store, caddy, clock, registry, logger,
 *   events: recorder.for('service-controller'),
 *   branch: () => trackedBranch(),               // read at every reconcile
 *   httpPort, httpsPort,                         // --http-port / --https-port (80 / 443)
 *   acme: { ca: acmeCA, email: acmeEmail },      // --acme-ca / --acme-email
 *   controllerMetrics: runtimeMetrics,
 * });
 * manager.addController(services);
 * ```
 */
export {
  newServiceController,
  routingChanged,
  SERVICE_CONTROLLER,
  ServiceController,
  type ServiceControllerOptions,
} from './controller.ts';
export { INGRESS_KEY, IngressReconciler } from './reconciler.ts';
export { planIngress, Reason, type IngressPlan, type ServicePlan } from './plan.ts';
export type {
  CertificateChecker,
  EventType,
  IngressCaddy,
  IngressSettings,
  RecordEvent,
  ServiceReconcilerDeps,
} from './deps.ts';
export { ingressMetrics, type IngressMetrics } from './metrics.ts';
