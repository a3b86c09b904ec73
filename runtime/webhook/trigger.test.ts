import { describe, expect, it } from 'vitest';
import { PollTrigger } from './trigger.ts';
import { ReplayGuard } from './replay.ts';
import { FakeClock } from '../clock/fake.ts';

/** A poll that stays in flight until released. */
function gatedPolls(): { poll: () => Promise<void>; started: () => number; release: () => void } {
  let count = 0;
  const waiting: (() => void)[] = [];
  return {
    poll: () => {
      count++;
      return new Promise((r) => waiting.push(r));
    },
    started: () => count,
    release: () => waiting.shift()?.(),
  };
}

describe('PollTrigger', () => {
  it('runs at most one poll in flight plus one queued, however many triggers arrive', async () => {
    const g = gatedPolls();
    const t = new PollTrigger(g.poll);
    const results = Array.from({ length: 100 }, () => t.trigger());
    expect(results[0]).toBe('started');
    expect(results[1]).toBe('queued');
    expect(results.slice(2).every((r) => r === 'coalesced')).toBe(true);
    expect(g.started()).toBe(1);
    g.release();
    await new Promise((r) => setImmediate(r));
    expect(g.started()).toBe(2); // the queued one
    g.release();
    await t.idle();
    expect(g.started()).toBe(2);
    expect(t.trigger()).toBe('started');
    g.release();
    await t.idle();
  });

  it('keeps going after a failed poll and reports the error', async () => {
    const errors: unknown[] = [];
    let n = 0;
    const t = new PollTrigger(
      () => (n++ === 0 ? Promise.reject(new Error('boom')) : Promise.resolve()),
      (e) => errors.push(e),
    );
    t.trigger();
    t.trigger();
    await t.idle();
    expect(n).toBe(2);
    expect(errors).toHaveLength(1);
  });
});

describe('ReplayGuard', () => {
  it('refuses a repeated id within the TTL, forgets it after', () => {
    const clock = new FakeClock();
    const g = new ReplayGuard({ clock, ttlMs: 1000 });
    expect(g.seen(['a', 'fp1'])).toBe(false);
    expect(g.seen(['a', 'fp2'])).toBe(true);
    expect(g.seen([undefined, 'fp1'])).toBe(true);
    clock.step(1001);
    expect(g.seen(['a', 'fp1'])).toBe(false);
  });

  it('keeps at most `capacity` entries', () => {
    const g = new ReplayGuard({ clock: new FakeClock(), capacity: 3 });
    for (const id of ['1', '2', '3', '4']) g.seen([id]);
    expect(g.size).toBe(3);
    expect(g.seen(['1'])).toBe(false); // evicted, oldest first
  });
});
