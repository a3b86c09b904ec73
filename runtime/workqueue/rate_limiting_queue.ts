import { DelayingQueue } from './delaying_queue.ts';
import type { QueueOptions } from './queue.ts';
import { defaultControllerRateLimiter, type RateLimiter } from './rate_limiters.ts';

export interface RateLimitingQueueOptions<T> extends QueueOptions {
  /** Default: `defaultControllerRateLimiter(clock)`. */
  rateLimiter?: RateLimiter<T>;
}

/**
 * A delaying queue whose retries are paced by a rate limiter (client-go
 * RateLimitingInterface). Call `forget(item)` when an item succeeds, or its backoff grows forever.
 */
export class RateLimitingQueue<T = string> extends DelayingQueue<T> {
  readonly rateLimiter: RateLimiter<T>;

  constructor(opts: RateLimitingQueueOptions<T> = {}) {
    super(opts);
    this.rateLimiter = opts.rateLimiter ?? defaultControllerRateLimiter<T>(this.clock);
  }

  /** Adds `item` once the rate limiter says it may be retried. */
  addRateLimited(item: T): void {
    this.addAfter(item, this.rateLimiter.when(item));
  }

  /** Resets `item`'s failure count; it is not removed from the queue. */
  forget(item: T): void {
    this.rateLimiter.forget(item);
  }

  numRequeues(item: T): number {
    return this.rateLimiter.numRequeues(item);
  }
}
