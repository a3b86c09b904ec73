/**
 * The Deployment controller: keeps one Docker container per Deployment equal to the store's
 * desired state, and reports what it did (status, events, metrics).
 *
 * Wiring (cmd/orun):
 * ```ts
 * const reconciler = newDeploymentReconciler({
 *   engine,                                   // runtime/docker ContainerEngine
 *   store: deploymentStoreOf(store),          // runtime/store Store
 *   recordEvent: (key, type, reason, msg) => recorder.record(...),
 *   clock, registry, codeDir: node.spec.codeDir,
 *   hasSynced: () => store.hasSynced(),       // never prune from an empty boot-time store
 * });
 * // queue keys from store events on kind Deployment (skip statusOnly), from
 * // watchContainerEvents(engine, signal, enqueue), and once synced from managedDeploymentKeys(engine).
 * ```
 */
import type { DeploymentDeps } from './deps.ts';
import { DeploymentReconciler } from './reconciler.ts';

export { DeploymentReconciler, pickCurrent } from './reconciler.ts';
export type {
  Clock,
  DeploymentDeps,
  DeploymentEngine,
  DeploymentStore,
  EventType,
  HttpProber,
  Logger,
  ReconcileContext,
  ReconcileResult,
  RecordEvent,
} from './deps.ts';
export { deploymentStoreOf } from './store-adapter.ts';
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
  type DesiredContainer,
  type SecretResolver,
} from './desired.ts';
export { backoffDelay, defaultBackoffPolicy, type BackoffPolicy } from './backoff.ts';
export { Reason } from './status.ts';
export type { DeploymentStatusView, DeploymentView } from './spec.ts';

/** The controller's name (logs, metrics `controller` label). */
export const DEPLOYMENT_CONTROLLER = 'deployment';

/** A reconciler for `Deployment/<name>` keys. One per process: it holds probe and back-off memory. */
export function newDeploymentReconciler(deps: DeploymentDeps): DeploymentReconciler {
  return new DeploymentReconciler(deps);
}
