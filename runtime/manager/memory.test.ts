import { describe, expect, it } from 'vitest';
import { FakeClock } from '../clock/index.ts';
import { memoryTrimRunnable, shouldTrim, type HeapSample } from './memory.ts';

const MiB = 2 ** 20;
const limits = { slackBytes: 3 * MiB, idleUtilization: 0.02 };

describe('shouldTrim', () => {
  it('trims an idle heap that grew and holds much more than is live', () => {
    expect(shouldTrim({ committed: 40 * MiB, used: 20 * MiB }, 18 * MiB, 0.001, limits)).toBe(true);
  });

  it('leaves a busy agent alone, however large its heap', () => {
    expect(shouldTrim({ committed: 40 * MiB, used: 20 * MiB }, 18 * MiB, 0.3, limits)).toBe(false);
  });

  it('leaves a heap that is nearly all live', () => {
    expect(shouldTrim({ committed: 24 * MiB, used: 22 * MiB }, 18 * MiB, 0, limits)).toBe(false);
  });

  it('leaves a heap that has not grown since the last collection', () => {
    expect(shouldTrim({ committed: 22 * MiB, used: 18 * MiB }, 21 * MiB, 0, limits)).toBe(false);
  });
});

describe('memoryTrimRunnable', () => {
  it('collects once after a burst, not again while idle, and stops on abort', async () => {
    const clock = new FakeClock();
    let heap: HeapSample = { committed: 20 * MiB, used: 18 * MiB };
    let utilization = 0.5;
    let collections = 0;
    const trim = memoryTrimRunnable({
      clock,
      intervalMs: 1000,
      heap: () => heap,
      utilization: () => utilization,
      collect: () => {
        collections++;
        heap = { committed: 22 * MiB, used: 20 * MiB };
      },
    });
    const ac = new AbortController();
    const done = trim.start(ac.signal);
    heap = { committed: 48 * MiB, used: 20 * MiB };
    await clock.advance(1000); // the burst: busy
    expect(collections).toBe(0);
    utilization = 0.001;
    await clock.advance(1000); // idle, heap grown: one collection
    expect(collections).toBe(1);
    await clock.advance(5000); // idle, heap small: none
    expect(collections).toBe(1);
    ac.abort();
    await done;
    expect(clock.pendingTimers()).toBe(0);
  });
});
