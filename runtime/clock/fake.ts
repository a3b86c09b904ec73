import { sleepWith, type Clock, type Timer } from './clock.ts';

interface FakeTimer {
  due: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/** 2025-01-01T00:00:00Z: a fixed, readable start so timestamps in tests are stable. */
export const FAKE_CLOCK_START = Date.UTC(2025, 0, 1);

/**
 * A clock that only moves when a test steps it. Timers fire in due order (ties: creation
 * order), each with `now()` equal to its due time.
 */
export class FakeClock implements Clock {
  #now: number;
  #seq = 0;
  #timers: FakeTimer[] = [];

  constructor(start: number = FAKE_CLOCK_START) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimer(ms: number, fn: () => void): Timer {
    const t: FakeTimer = { due: this.#now + Math.max(0, ms), seq: this.#seq++, fn, cancelled: false };
    this.#timers.push(t);
    return {
      cancel: () => {
        t.cancelled = true;
        this.#timers = this.#timers.filter((x) => x !== t);
      },
    };
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return sleepWith(this, ms, signal);
  }

  /** Number of timers not yet fired or cancelled. */
  pendingTimers(): number {
    return this.#timers.length;
  }

  /** Due time of the next timer, in ms from now; undefined when none is pending. */
  nextTimerIn(): number | undefined {
    const next = this.#next();
    return next === undefined ? undefined : next.due - this.#now;
  }

  /** Moves time forward by `ms`, firing due timers synchronously. */
  step(ms: number): void {
    const target = this.#now + ms;
    for (let t = this.#popDue(target); t; t = this.#popDue(target)) {
      this.#now = Math.max(this.#now, t.due);
      t.fn();
    }
    this.#now = target;
  }

  /**
   * Like `step`, but lets promise continuations run after each timer, so async workers
   * woken by a timer make progress before the next one fires.
   */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    await flushMicrotasks();
    for (let t = this.#popDue(target); t; t = this.#popDue(target)) {
      this.#now = Math.max(this.#now, t.due);
      t.fn();
      await flushMicrotasks();
    }
    this.#now = target;
    await flushMicrotasks();
  }

  #next(): FakeTimer | undefined {
    let best: FakeTimer | undefined;
    for (const t of this.#timers) {
      if (!best || t.due < best.due || (t.due === best.due && t.seq < best.seq)) best = t;
    }
    return best;
  }

  #popDue(target: number): FakeTimer | undefined {
    const t = this.#next();
    if (!t || t.due > target) return undefined;
    this.#timers = this.#timers.filter((x) => x !== t);
    return t;
  }
}

/** Lets pending promise continuations (and their follow-ups) run. Uses a real macrotask turn. */
export function flushMicrotasks(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
