/**
 * Time as the git source sees it: wall-clock timestamps and one-shot timers. Injected so unit
 * tests step a FakeClock instead of sleeping.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Calls `fn` once after `ms`; the returned function cancels it. */
  setTimer(ms: number, fn: () => void): () => void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(ms, fn) {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
};

/** A clock that only moves when told to. Timers fire, in due order, inside `advance`. */
export class FakeClock implements Clock {
  #now: number;
  #timers: { due: number; seq: number; fn: () => void }[] = [];
  #seq = 0;

  constructor(start = Date.UTC(2025, 0, 1)) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimer(ms: number, fn: () => void): () => void {
    const timer = { due: this.#now + Math.max(0, ms), seq: this.#seq++, fn };
    this.#timers.push(timer);
    return () => {
      this.#timers = this.#timers.filter((t) => t !== timer);
    };
  }

  /** Number of timers waiting to fire. */
  get pending(): number {
    return this.#timers.length;
  }

  /** Due time of the earliest pending timer, relative to now (undefined when none). */
  nextDelay(): number | undefined {
    const next = this.#sorted()[0];
    return next === undefined ? undefined : next.due - this.#now;
  }

  advance(ms: number): void {
    const until = this.#now + ms;
    for (;;) {
      const next = this.#sorted()[0];
      if (next === undefined || next.due > until) break;
      this.#timers = this.#timers.filter((t) => t !== next);
      this.#now = next.due;
      next.fn();
    }
    this.#now = until;
  }

  #sorted(): { due: number; seq: number; fn: () => void }[] {
    return [...this.#timers].sort((a, b) => a.due - b.due || a.seq - b.seq);
  }
}
