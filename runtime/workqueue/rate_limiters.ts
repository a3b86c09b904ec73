import { realClock, type Clock } from '../clock/index.ts';

/**
 * How long an item waits before it is retried (client-go RateLimiter). Durations in ms.
 * Callers MUST call `forget(item)` once the item succeeds, or its delay keeps growing.
 */
export interface RateLimiter<T = string> {
  /** The delay before `item` may be retried; counts a failure for per-item limiters. */
  when(item: T): number;
  /** Stops tracking `item` (resets its failure count). */
  forget(item: T): void;
  /** Failures counted for `item` since it was last forgotten. */
  numRequeues(item: T): number;
}

/** `baseDelayMs * 2^failures`, capped at `maxDelayMs`. Defaults: 5 ms doubling to 1000 s. */
export class ItemExponentialFailureRateLimiter<T = string> implements RateLimiter<T> {
  readonly #failures = new Map<T, number>();
  readonly #base: number;
  readonly #max: number;

  constructor(baseDelayMs = 5, maxDelayMs = 1_000_000) {
    this.#base = baseDelayMs;
    this.#max = maxDelayMs;
  }

  when(item: T): number {
    const exp = this.#failures.get(item) ?? 0;
    this.#failures.set(item, exp + 1);
    const backoff = this.#base * 2 ** exp;
    return Number.isFinite(backoff) && backoff < this.#max ? backoff : this.#max;
  }

  forget(item: T): void {
    this.#failures.delete(item);
  }

  numRequeues(item: T): number {
    return this.#failures.get(item) ?? 0;
  }
}

/**
 * An overall token bucket (golang.org/x/time/rate semantics): `burst` tokens, refilled at `qps`
 * per second; each `when` reserves one token and returns how long until it is available.
 * Defaults: 10/s, burst 100. Not per item: `forget` and `numRequeues` are no-ops.
 */
export class BucketRateLimiter<T = string> implements RateLimiter<T> {
  readonly #qps: number;
  readonly #burst: number;
  readonly #clock: Clock;
  #tokens: number;
  #last: number;

  constructor(opts: { qps?: number; burst?: number; clock?: Clock } = {}) {
    this.#qps = opts.qps ?? 10;
    this.#burst = opts.burst ?? 100;
    this.#clock = opts.clock ?? realClock;
    this.#tokens = this.#burst;
    this.#last = this.#clock.now();
  }

  when(_item: T): number {
    const now = this.#clock.now();
    if (now > this.#last) {
      this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#last) / 1000) * this.#qps);
      this.#last = now;
    }
    this.#tokens -= 1;
    return this.#tokens >= 0 ? 0 : (-this.#tokens / this.#qps) * 1000;
  }

  forget(_item: T): void {}

  numRequeues(_item: T): number {
    return 0;
  }
}

/** The worst (longest) delay of several limiters; every limiter sees every call. */
export class MaxOfRateLimiter<T = string> implements RateLimiter<T> {
  readonly #limiters: RateLimiter<T>[];

  constructor(...limiters: RateLimiter<T>[]) {
    this.#limiters = limiters;
  }

  when(item: T): number {
    let max = 0;
    for (const l of this.#limiters) max = Math.max(max, l.when(item));
    return max;
  }

  forget(item: T): void {
    for (const l of this.#limiters) l.forget(item);
  }

  numRequeues(item: T): number {
    let max = 0;
    for (const l of this.#limiters) max = Math.max(max, l.numRequeues(item));
    return max;
  }
}

/** client-go's default: max(per-item 5 ms → 1000 s, bucket 10/s burst 100). */
export function defaultControllerRateLimiter<T = string>(clock: Clock = realClock): RateLimiter<T> {
  return new MaxOfRateLimiter<T>(
    new ItemExponentialFailureRateLimiter<T>(5, 1_000_000),
    new BucketRateLimiter<T>({ qps: 10, burst: 100, clock }),
  );
}
