import { describe, expect, it } from 'vitest';
import { FakeClock } from '../clock/index.ts';
import {
  BucketRateLimiter,
  defaultControllerRateLimiter,
  ItemExponentialFailureRateLimiter,
  MaxOfRateLimiter,
} from './rate_limiters.ts';
import { RateLimitingQueue } from './rate_limiting_queue.ts';

describe('rate limiters', () => {
  it('ItemExponentialFailureRateLimiter doubles per failure, caps, and forget resets', () => {
    const rl = new ItemExponentialFailureRateLimiter(5, 1_000_000);
    const delays = Array.from({ length: 5 }, () => rl.when('a'));
    expect(delays).toEqual([5, 10, 20, 40, 80]);
    expect(rl.numRequeues('a')).toBe(5);
    expect(rl.when('b')).toBe(5);
    for (let i = 0; i < 40; i++) rl.when('a');
    expect(rl.when('a')).toBe(1_000_000);
    rl.forget('a');
    expect(rl.numRequeues('a')).toBe(0);
    expect(rl.when('a')).toBe(5);
  });

  it('BucketRateLimiter allows a burst, then paces at qps and refills over time', () => {
    const clock = new FakeClock();
    const rl = new BucketRateLimiter({ qps: 10, burst: 100, clock });
    for (let i = 0; i < 100; i++) expect(rl.when(`k${i}`)).toBe(0);
    expect(rl.when('x')).toBeCloseTo(100);
    expect(rl.when('y')).toBeCloseTo(200);
    clock.step(10_000);
    expect(rl.when('z')).toBe(0);
  });

  it('MaxOf returns the longest delay and forgets everywhere', () => {
    const a = new ItemExponentialFailureRateLimiter(5, 1000);
    const b = new ItemExponentialFailureRateLimiter(50, 1000);
    const rl = new MaxOfRateLimiter(a, b);
    expect([rl.when('k'), rl.when('k')]).toEqual([50, 100]);
    expect(rl.numRequeues('k')).toBe(2);
    rl.forget('k');
    expect([a.numRequeues('k'), b.numRequeues('k')]).toEqual([0, 0]);
  });

  it('the default limiter starts at 5 ms and is bounded by the bucket after the burst', () => {
    const clock = new FakeClock();
    const rl = defaultControllerRateLimiter(clock);
    expect(rl.when('a')).toBe(5);
    expect(rl.when('a')).toBe(10);
    for (let i = 0; i < 98; i++) rl.when(`k${i}`);
    expect(rl.when('fresh')).toBeCloseTo(100);
  });
});

describe('RateLimitingQueue', () => {
  it('backs off with growing delays until forget resets it', () => {
    const clock = new FakeClock();
    const q = new RateLimitingQueue({ clock, rateLimiter: new ItemExponentialFailureRateLimiter(5, 1000) });
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      const start = clock.now();
      q.addRateLimited('a');
      while (q.len() === 0) clock.step(1);
      delays.push(clock.now() - start);
      const r = q.tryGet();
      if (r && !r.shutdown) q.done(r.item);
    }
    expect(delays).toEqual([5, 10, 20, 40]);
    expect(q.numRequeues('a')).toBe(4);
    q.forget('a');
    expect(q.numRequeues('a')).toBe(0);
    q.addRateLimited('a');
    expect(clock.nextTimerIn()).toBe(5);
  });
});
