import { describe, expect, it } from 'vitest';
import { backoffDelay, CrashBackoff } from './backoff.ts';

describe('backoffDelay', () => {
  it.each([
    [0, 10_000],
    [1, 20_000],
    [2, 40_000],
    [4, 160_000],
    [5, 300_000],
    [50, 300_000],
    [5000, 300_000],
  ])('attempt %i waits %i ms', (attempt, ms) => {
    expect(backoffDelay(attempt)).toBe(ms);
  });
});

describe('CrashBackoff', () => {
  it('waits from the first sight of the exit, then restarts, doubling each time', () => {
    const b = new CrashBackoff();
    b.recordStart('c', 0);
    expect(b.observeExit('c', 1_000)).toEqual({
      action: 'wait',
      remainingMs: 10_000,
      delayMs: 10_000,
      firstSeen: true,
    });
    expect(b.observeExit('c', 6_000)).toMatchObject({ action: 'wait', remainingMs: 5_000, firstSeen: false });
    expect(b.observeExit('c', 11_000)).toEqual({ action: 'restart', attempt: 1 });
    b.recordStart('c', 11_000);
    expect(b.observeExit('c', 12_000)).toMatchObject({ delayMs: 20_000 });
  });

  it('forgets crashes after 10 minutes of running, seen either while running or at the next exit', () => {
    const seenRunning = new CrashBackoff();
    const seenAtExit = new CrashBackoff();
    for (const b of [seenRunning, seenAtExit]) {
      for (let t = 0; t < 3; t++) {
        b.observeExit('c', t);
        b.recordStart('c', t);
      }
      expect(b.observeExit('c', 10)).toMatchObject({ delayMs: 80_000 });
      b.recordStart('c', 20);
    }
    seenRunning.observeRunning('c', 600_020);
    expect(seenRunning.observeExit('c', 600_030)).toMatchObject({ delayMs: 10_000 });
    expect(seenAtExit.observeExit('c', 600_030)).toMatchObject({ delayMs: 10_000 });
  });

  it('keeps the count when it crashes again before 10 minutes', () => {
    const b = new CrashBackoff();
    b.observeExit('c', 0);
    b.recordStart('c', 10_000);
    b.observeRunning('c', 500_000);
    expect(b.observeExit('c', 500_001)).toMatchObject({ delayMs: 20_000 });
  });
});
