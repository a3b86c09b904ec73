/**
 * Replay memory: the delivery ids and proof fingerprints of accepted requests, each kept for
 * `ttlMs`, at most `capacity` of them (the oldest go first). A request repeating either is a
 * replay. The fingerprint matters because a signature covers the body only, not the delivery
 * header: a captured GitHub request resent with a new `X-GitHub-Delivery` repeats its signature.
 */
import type { Clock } from '../clock/index.ts';

export interface ReplayGuardOptions {
  clock: Pick<Clock, 'now'>;
  /** How long an accepted request is remembered. Default 24 h. */
  ttlMs?: number;
  /** At most this many entries. Default 10000. */
  capacity?: number;
}

export class ReplayGuard {
  readonly #clock: Pick<Clock, 'now'>;
  readonly #ttl: number;
  readonly #capacity: number;
  /** Insertion-ordered: the first entry is the oldest. */
  readonly #seen = new Map<string, number>();

  constructor(o: ReplayGuardOptions) {
    this.#clock = o.clock;
    this.#ttl = o.ttlMs ?? 24 * 3_600_000;
    this.#capacity = o.capacity ?? 10_000;
  }

  /** True when any of `ids` was accepted before (within the TTL); otherwise remembers them all. */
  seen(ids: readonly (string | undefined)[]): boolean {
    const now = this.#clock.now();
    this.#expire(now);
    const keys = ids.filter((id): id is string => id !== undefined);
    if (keys.some((k) => this.#seen.has(k))) return true;
    for (const k of keys) this.#seen.set(k, now + this.#ttl);
    while (this.#seen.size > this.#capacity) {
      const oldest = this.#seen.keys().next().value;
      if (oldest === undefined) break;
      this.#seen.delete(oldest);
    }
    return false;
  }

  get size(): number {
    return this.#seen.size;
  }

  #expire(now: number): void {
    for (const [k, until] of this.#seen) {
      if (until > now) break;
      this.#seen.delete(k);
    }
  }
}
