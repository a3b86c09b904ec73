import type { Logger } from '../log/index.ts';

/** What one reconcile gets. `key` is `Kind/name`; `log` already carries controller, kind, name, reconcileID. */
export interface ReconcileContext {
  key: string;
  /** Aborts when the controller shuts down: stop early, the key is reconciled again after restart. */
  signal: AbortSignal;
  log: Logger;
  reconcileID: string;
}

/**
 * What a reconcile asks for next. Return nothing for "done". Throw for "failed": the key is
 * retried with backoff, and any requeueAfter is ignored.
 */
export interface ReconcileResult {
  /** Reconcile again after this many ms (resets the backoff). */
  requeueAfter?: number;
  /** Reconcile again after the rate-limited backoff (without an error). */
  requeue?: boolean;
}

/**
 * Drives one object toward its desired state. Re-reads current state each time (level-based),
 * never sleeps or retries itself: retry policy lives in the controller.
 */
export interface Reconciler {
  reconcile(ctx: ReconcileContext): Promise<ReconcileResult | void>;
}

/** Turns a plain function into a Reconciler. */
export function reconcilerFunc(fn: (ctx: ReconcileContext) => Promise<ReconcileResult | void>): Reconciler {
  return { reconcile: fn };
}
