/**
 * Crash-loop back-off, kubelet style: the first restart of an exited container waits 10 s, each
 * further one doubles up to 5 min, and the count resets once the container has run for 10 min.
 * State lives in memory keyed by container id (starting an exited container keeps its id); after
 * an orun restart a crash starts again at the initial delay, which is the safe direction.
 */

export interface BackoffPolicy {
  /** Delay before the first restart. Default 10 s. */
  initialMs: number;
  /** Cap on the delay. Default 5 min. */
  maxMs: number;
  /** Running this long since the last restart forgets earlier crashes. Default 10 min. */
  resetAfterMs: number;
}

export const defaultBackoffPolicy: BackoffPolicy = {
  initialMs: 10_000,
  maxMs: 300_000,
  resetAfterMs: 600_000,
};

/** The delay before restart number `attempt + 1` (attempt 0 → initial). */
export function backoffDelay(attempt: number, policy: BackoffPolicy = defaultBackoffPolicy): number {
  // 2^attempt overflows to Infinity for large counts, and min() then caps it.
  return Math.min(policy.initialMs * 2 ** attempt, policy.maxMs);
}

interface CrashState {
  /** Restarts since the last reset. */
  attempts: number;
  /** When we last started the container (our clock). */
  lastStartAt?: number;
  /** When we first saw the current exit (our clock); cleared on restart. */
  exitSeenAt?: number;
}

/** What to do with an exited container right now. */
export type CrashDecision =
  | { action: 'restart'; attempt: number }
  | { action: 'wait'; remainingMs: number; delayMs: number; firstSeen: boolean };

export class CrashBackoff {
  readonly #policy: BackoffPolicy;
  readonly #byContainer = new Map<string, CrashState>();

  constructor(policy: BackoffPolicy = defaultBackoffPolicy) {
    this.#policy = policy;
  }

  /** A running container: forget old crashes once it has stayed up long enough. */
  observeRunning(id: string, now: number): void {
    const s = this.#byContainer.get(id);
    if (s?.lastStartAt !== undefined && now - s.lastStartAt >= this.#policy.resetAfterMs) s.attempts = 0;
    if (s !== undefined) s.exitSeenAt = undefined;
  }

  /** An exited container: restart now, or wait `remainingMs`. */
  observeExit(id: string, now: number): CrashDecision {
    let s = this.#byContainer.get(id);
    if (s === undefined) {
      s = { attempts: 0 };
      this.#byContainer.set(id, s);
    }
    const firstSeen = s.exitSeenAt === undefined;
    if (s.exitSeenAt === undefined) {
      // It may have crashed after a long healthy run that we never observed in between.
      if (s.lastStartAt !== undefined && now - s.lastStartAt >= this.#policy.resetAfterMs) s.attempts = 0;
      s.exitSeenAt = now;
    }
    const delayMs = backoffDelay(s.attempts, this.#policy);
    const remainingMs = s.exitSeenAt + delayMs - now;
    if (remainingMs <= 0) return { action: 'restart', attempt: s.attempts + 1 };
    return { action: 'wait', remainingMs, delayMs, firstSeen };
  }

  /** We just (re)started the container. */
  recordStart(id: string, now: number): void {
    const s = this.#byContainer.get(id) ?? { attempts: 0 };
    if (s.exitSeenAt !== undefined) s.attempts++;
    s.exitSeenAt = undefined;
    s.lastStartAt = now;
    this.#byContainer.set(id, s);
  }

  forget(id: string): void {
    this.#byContainer.delete(id);
  }

  /** Container ids with state, for pruning memory of containers that are gone. */
  ids(): string[] {
    return [...this.#byContainer.keys()];
  }
}
