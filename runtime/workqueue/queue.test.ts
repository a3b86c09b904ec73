import { describe, expect, it } from 'vitest';
import { FakeClock, flushMicrotasks } from '../clock/index.ts';
import { WorkQueue } from './queue.ts';

describe('WorkQueue', () => {
  it('hands items out in FIFO order and dedups items not yet handed out', async () => {
    const q = new WorkQueue();
    for (const k of ['a', 'b', 'a', 'c', 'b']) q.add(k);
    expect(q.len()).toBe(3);
    const got = [await q.get(), await q.get(), await q.get()].map((r) => r.item);
    expect(got).toEqual(['a', 'b', 'c']);
  });

  it('never hands out an item that is processing; a re-add is deferred to done()', async () => {
    const q = new WorkQueue();
    q.add('a');
    const first = await q.get();
    expect(first.item).toBe('a');
    q.add('a');
    q.add('a');
    expect(q.len()).toBe(0);
    expect(q.tryGet()).toBeUndefined();
    q.done('a');
    expect(q.len()).toBe(1);
    expect((await q.get()).item).toBe('a');
    q.done('a');
    expect(q.len()).toBe(0);
  });

  it('resolves a waiting get() when an item arrives, one waiter per item', async () => {
    const q = new WorkQueue();
    const seen: string[] = [];
    const w1 = q.get().then((r) => seen.push(`1:${r.item}`));
    const w2 = q.get().then((r) => seen.push(`2:${r.item}`));
    q.add('x');
    await flushMicrotasks();
    expect(seen).toEqual(['1:x']);
    q.add('y');
    await Promise.all([w1, w2]);
    expect(seen).toEqual(['1:x', '2:y']);
  });

  it('shutDown ignores adds, still hands out queued items, then reports shutdown', async () => {
    const q = new WorkQueue();
    q.add('a');
    const waiting = new WorkQueue();
    const pending = waiting.get();
    waiting.shutDown();
    expect(await pending).toEqual({ shutdown: true });

    q.shutDown();
    q.add('b');
    expect(q.shuttingDown()).toBe(true);
    expect((await q.get()).item).toBe('a');
    expect(await q.get()).toEqual({ shutdown: true });
  });

  it('shutDownWithDrain resolves only after in-flight items are done', async () => {
    const q = new WorkQueue();
    q.add('a');
    q.add('b');
    await q.get();
    await q.get();
    let drained = false;
    const p = q.shutDownWithDrain().then(() => (drained = true));
    q.done('a');
    await flushMicrotasks();
    expect(drained).toBe(false);
    q.done('b');
    await p;
    expect(drained).toBe(true);
  });

  it('records metrics: depth, adds, latency, work duration, unfinished work', async () => {
    const clock = new FakeClock();
    const rec: Record<string, number[]> = {};
    const push = (k: string) => (v: number) => (rec[k] ??= []).push(v);
    const q = new WorkQueue({
      name: 'q',
      clock,
      metrics: {
        newDepthMetric: () => ({ inc: () => push('depth')(1), dec: () => push('depth')(-1) }),
        newAddsMetric: () => ({ inc: () => push('adds')(1) }),
        newLatencyMetric: () => ({ observe: push('latency') }),
        newWorkDurationMetric: () => ({ observe: push('work') }),
        newUnfinishedWorkSecondsMetric: () => ({ set: push('unfinished') }),
        newLongestRunningProcessorSecondsMetric: () => ({ set: push('longest') }),
        newRetriesMetric: () => ({ inc: () => push('retries')(1) }),
      },
    });
    q.add('a');
    clock.step(2000);
    await q.get();
    clock.step(1000);
    expect(rec['unfinished']?.at(-1)).toBe(1);
    clock.step(500);
    q.done('a');
    expect(rec).toMatchObject({ depth: [1, -1], adds: [1], latency: [2], work: [1.5] });
    expect(rec['longest']?.at(-1)).toBe(0);
    // The update timer ends itself at its next tick once nothing is processing.
    clock.step(500);
    expect(clock.pendingTimers()).toBe(0);
  });
});
