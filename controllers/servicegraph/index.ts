/**
 * The ServiceGraph controller: runs each ServiceGraph's Orchfile graph on this node (what
 * `orch up` does, supervised for the agent's lifetime) and reports it per service in status.
 *
 * Wiring (cmd/orun), as one runnable in the manager's `controllers` group:
 * ```ts
 * const graphs = newServiceGraphController({
 *   store, engine, clock, registry, logger,
 *   processes: new NodeProcessRunner(),
 *   events: recorder.for('servicegraph-controller'),
 *   checkout: () => informer.appliedCheckout(), // { dir, commit } of the applied revision
 *   revisions$: informer.applied$,              // Orchfile changes re-reconcile every graph
 *   dataDir: settings.dataDir, nodeName: settings.node,
 *   controllerMetrics: runtimeMetrics,
 * });
 * manager.addController(graphs);                // { name, start(signal) }
 * ```
 */
export {
  newServiceGraphController,
  SERVICEGRAPH_CONTROLLER,
  ServiceGraphController,
  type ServiceGraphControllerOptions,
} from './controller.ts';
export { eventFor, ServiceGraphReconciler } from './reconciler.ts';
export { serviceGraphLogs, type GraphLogOptions } from './logs.ts';
export type { EventType, RecordEvent, ServiceGraphDeps } from './deps.ts';
export {
  containerName,
  graphDir,
  graphSelector,
  Label,
  loadDesired,
  MANAGED_BY,
  nodeSelector,
  projectName,
  type Checkout,
  type DesiredGraph,
} from './desired.ts';
export { buildStatus, isReady, Reason, serviceRows, verdictOf } from './status.ts';
export { planTakeover, type TakeoverPlan } from './takeover.ts';
