import { describe, expect, it } from 'vitest';
import { FakeClock } from '../clock/index.ts';
import { DelayingQueue } from './delaying_queue.ts';

function drain(q: DelayingQueue): string[] {
  const out: string[] = [];
  for (let r = q.tryGet(); r && !r.shutdown; r = q.tryGet()) {
    out.push(r.item);
    q.done(r.item);
  }
  return out;
}

describe('DelayingQueue', () => {
  it('adds items when they are due, in due order', () => {
    const clock = new FakeClock();
    const q = new DelayingQueue({ clock });
    q.addAfter('c', 300);
    q.addAfter('a', 100);
    q.addAfter('b', 200);
    q.addAfter('now', 0);
    expect(drain(q)).toEqual(['now']);
    clock.step(99);
    expect(drain(q)).toEqual([]);
    clock.step(1);
    expect(drain(q)).toEqual(['a']);
    clock.step(250);
    expect(drain(q)).toEqual(['b', 'c']);
    expect(clock.pendingTimers()).toBe(0);
  });

  it.each([
    { name: 'earlier re-add wins', first: 500, second: 100, due: 100 },
    { name: 'later re-add is ignored', first: 100, second: 500, due: 100 },
  ])('keeps the earliest due time: $name', ({ first, second, due }) => {
    const clock = new FakeClock();
    const q = new DelayingQueue({ clock });
    q.addAfter('a', first);
    q.addAfter('a', second);
    expect(q.waitingLen()).toBe(1);
    clock.step(due - 1);
    expect(drain(q)).toEqual([]);
    clock.step(1);
    expect(drain(q)).toEqual(['a']);
    clock.step(1000);
    expect(drain(q)).toEqual([]);
  });

  it('drops waiting items and its timer on shutdown', () => {
    const clock = new FakeClock();
    const q = new DelayingQueue({ clock });
    q.addAfter('a', 100);
    q.shutDown();
    q.addAfter('b', 10);
    expect(clock.pendingTimers()).toBe(0);
    clock.step(1000);
    expect(q.tryGet()).toEqual({ shutdown: true });
  });
});
