/**
 * The Deployment controller: keeps one Docker container per Deployment equal to the store's
 * desired state, and reports what it did (status, conditions, events, metrics).
 *
 * Wiring (cmd/orun), as one runnable in the manager's `controllers` group:
 * ```ts
 * const deployments = newDeploymentController({
 *   engine,                                      // runtime/docker ContainerEngine
 *   store,                                       // runtime/store Store
 *   events: recorder.for('deployment-controller'),
 *   clock, registry, logger,
 *   codeDir: () => node()?.spec.codeDir,         // build contexts, read at every reconcile
 *   controllerMetrics: runtimeMetrics,           // workqueue_* / controller_runtime_*
 * });
 * manager.addController(deployments);           // { name, start(signal) }
 * ```
 * Or use `newDeploymentReconciler(deps)` with your own Controller and key sources
 * (`watchContainerEvents`, `managedDeploymentKeys`).
 */
import type { DeploymentDeps } from './deps.ts';
import { DeploymentReconciler } from './reconciler.ts';

export { DeploymentReconciler, pickCurrent } from './reconciler.ts';
export type {
  Clock,
  DeploymentDeps,
  DeploymentEngine,
  DeploymentStore,
  HttpProber,
  IngressView,
} from './deps.ts';
export { deploymentStoreOf } from './store-adapter.ts';
export {
  DEPLOYMENT_CONTROLLER,
  DeploymentController,
  deploymentKey,
  newDeploymentController,
  type DeploymentControllerOptions,
} from './controller.ts';
export {
  deploymentKeyForEvent,
  managedDeploymentKeys,
  watchContainerEvents,
  WATCHED_ACTIONS,
} from './engine-events.ts';
export {
  containerName,
  deploymentSelector,
  desiredContainer,
  Label,
  MANAGED_BY,
  managedSelector,
  nodeNetworkName,
  type DesiredContainer,
  type SecretResolver,
} from './desired.ts';
export { backoffDelay, defaultBackoffPolicy, type BackoffPolicy } from './backoff.ts';
export { deploymentLogs, type ContainerLogOptions } from './logs.ts';
export { Reason } from './status.ts';
export type { DeploymentStatusView, DeploymentView } from './spec.ts';

/** A reconciler for `Deployment/<name>` keys. One per process: it holds probe and back-off memory. */
export function newDeploymentReconciler(deps: DeploymentDeps): DeploymentReconciler {
  return new DeploymentReconciler(deps);
}
