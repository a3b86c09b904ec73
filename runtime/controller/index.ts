export {
  Controller,
  ignoreStatusOnly,
  specChanged,
  type ControllerOptions,
  type Gate,
  type MapFunc,
  type Predicate,
  type ControllerWatchOptions,
  type WatchSource,
} from './controller.ts';
export { controllerFor, ControllerBuilder, type ControllerCommon } from './builder.ts';
export {
  reconcilerFunc,
  TERMINAL_ERROR,
  TerminalError,
  terminalError,
  type ReconcileContext,
  type ReconcileResult,
  type Reconciler,
} from './reconcile.ts';
export {
  noopControllerMetricsProvider,
  type ControllerMetrics,
  type ControllerMetricsProvider,
  type ReconcileResultLabel,
} from './metrics.ts';
