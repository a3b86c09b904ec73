/** Result label values of controller_runtime_reconcile_total. */
export type ReconcileResultLabel = 'success' | 'error' | 'requeue' | 'requeue_after';

/** What a controller records about itself; runtime/metrics implements it with prom-client. */
export interface ControllerMetrics {
  reconcileTotal(result: ReconcileResultLabel): void;
  reconcileError(): void;
  /** A reconcile threw something that is not an Error (the closest thing to a Go panic). */
  reconcilePanic(): void;
  /** A reconcile failed with a TerminalError (not requeued). */
  reconcileTerminal(): void;
  reconcileTime(seconds: number): void;
  setMaxConcurrentReconciles(n: number): void;
  addActiveWorkers(delta: number): void;
}

export interface ControllerMetricsProvider {
  /** Metrics labelled `controller=<name>`, with every series initialised to 0. */
  forController(name: string): ControllerMetrics;
}

const noop: ControllerMetrics = {
  reconcileTotal() {},
  reconcileError() {},
  reconcilePanic() {},
  reconcileTerminal() {},
  reconcileTime() {},
  setMaxConcurrentReconciles() {},
  addActiveWorkers() {},
};

export const noopControllerMetricsProvider: ControllerMetricsProvider = { forController: () => noop };
