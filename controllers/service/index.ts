/**
 * The Service controller: publishes Services through the supervised Caddy, with automatic HTTPS
 * for `ingress.ssl: true`, and reports url, certificate and conditions in each Service's status.
 *
 * Wiring (cmd/orun):
 * ```ts
 * const caddy = newCaddySupervisor({ dataDir: node.spec.dataDir, logger, registry });
 * manager.add('servers', caddy);
 * manager.addReadyCheck('caddy', caddy.check);
 * const services = newServiceController({
 *   store, caddy, clock, registry, logger,
 *   events: recorder.for('service-controller'),
 *   branch: node.spec.gitBranch,
 *   httpPort, httpsPort,                         // --http-port / --https-port (80 / 443)
 *   acme: { ca: acmeCA, email: acmeEmail },      // --acme-ca / --acme-email
 *   controllerMetrics: runtimeMetrics,
 * });
 * manager.add('controllers', services);
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
