import { OrunError } from '../../apis/errors.ts';
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

/** The code of a {@link TerminalError}. */
export const TERMINAL_ERROR = 'ReconcileTerminal';

/**
 * A failure no retry can fix (controller-runtime's `reconcile.TerminalError`): the controller
 * counts and logs it, then forgets the key instead of requeueing it with backoff. The key is
 * reconciled again only when something enqueues it (a spec change, a person asking). The
 * reconciler writes the status that says so (kstatus `Stalled=True` with the reason) before
 * throwing. `cause` is the typed error; the code to branch on stays the cause's.
 */
export class TerminalError extends OrunError {
  constructor(cause: unknown) {
    super(TERMINAL_ERROR, cause instanceof Error ? cause.message : String(cause), { cause });
    this.name = 'TerminalError';
  }
}

/** Wraps `err` so the controller does not retry it (see {@link TerminalError}). */
export function terminalError(err: unknown): TerminalError {
  return err instanceof TerminalError ? err : new TerminalError(err);
}
