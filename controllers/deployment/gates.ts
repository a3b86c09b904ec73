/**
 * Holds back a Deployment whose last attempt failed in a way that retrying at once cannot fix
 * (image pull, port conflict, bad mount). Until the gate opens, reconciles triggered by anything
 * else (resync, engine events) report the same verdict without touching the engine; a spec change
 * (new hash) opens it at once. This is what keeps a stalled Deployment out of a hot loop.
 */
import type { Verdict } from './status.ts';

interface Gate {
  hash: string;
  attempts: number;
  until: number;
  verdict: Verdict;
}

export class Gates {
  readonly #byKey = new Map<string, Gate>();

  /** The held verdict and the time left, or undefined when `key` may act. */
  check(key: string, hash: string, now: number): { verdict: Verdict; remainingMs: number } | undefined {
    const g = this.#byKey.get(key);
    if (g === undefined || g.hash !== hash || now >= g.until) return undefined;
    return { verdict: g.verdict, remainingMs: g.until - now };
  }

  /** Closes the gate for `delay(attempt)` ms, attempt counting failures of the same hash from 0. */
  hold(key: string, hash: string, verdict: Verdict, now: number, delay: (attempt: number) => number): number {
    const prev = this.#byKey.get(key);
    const attempts = prev?.hash === hash ? prev.attempts + 1 : 0;
    const ms = delay(attempts);
    this.#byKey.set(key, { hash, attempts, until: now + ms, verdict });
    return ms;
  }

  clear(key: string): void {
    this.#byKey.delete(key);
  }
}
