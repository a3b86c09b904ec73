/**
 * The Node controller: this node's Node status (revision, GitSynced, ManifestsValid, Ready,
 * source errors) and live settings from its manifest.
 *
 * @example
 * const nodes = new NodeController({ nodeName, store, gitStatus: () => source.status(), lastApplied: () => informer.lastResult(), applied$: informer.applied$, events: recorder.for('node-controller'), clock });
 * manager.addController(nodes);
 */
export { NODE_CONTROLLER, NodeController, type NodeControllerOptions } from './controller.ts';
export { NodeReconciler, type NodeReconcilerDeps } from './reconciler.ts';
export {
  environmentOf,
  GIT_SYNCED,
  MANIFESTS_VALID,
  NodeReason,
  nodeStatus,
  RUNTIME_READY,
  STATE_SAVED,
  type AppliedView,
  type EngineView,
  type GitStatusView,
} from './status.ts';
