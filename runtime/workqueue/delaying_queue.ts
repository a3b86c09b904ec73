import type { Timer } from '../clock/index.ts';
import { MinHeap, type HeapEntry } from './heap.ts';
import { WorkQueue, type QueueOptions } from './queue.ts';

/**
 * A work queue that can add an item later (client-go DelayingInterface). Waiting items sit in
 * a min-heap by due time; one clock timer is armed for the earliest. Adding an item that is
 * already waiting keeps the earlier due time.
 */
export class DelayingQueue<T = string> extends WorkQueue<T> {
  readonly #heap = new MinHeap<T>();
  readonly #waiting = new Map<T, HeapEntry<T>>();
  #timer: Timer | undefined;
  #timerDue = Infinity;

  constructor(opts: QueueOptions = {}) {
    super(opts);
  }

  /** Adds `item` after `delayMs` (0 or less: now). Ignored after shutdown. */
  addAfter(item: T, delayMs: number): void {
    if (this.shuttingDown()) return;
    this.countRetry();
    if (delayMs <= 0) {
      this.add(item);
      return;
    }
    const due = this.clock.now() + delayMs;
    const existing = this.#waiting.get(item);
    if (existing) {
      if (due < existing.due) {
        existing.due = due;
        this.#heap.fix(existing);
      }
    } else {
      const e: HeapEntry<T> = { item, due, index: -1 };
      this.#heap.push(e);
      this.#waiting.set(item, e);
    }
    this.#arm();
  }

  /** Items waiting for their due time. */
  waitingLen(): number {
    return this.#heap.size;
  }

  override shutDown(): void {
    this.#stop();
    super.shutDown();
  }

  override shutDownWithDrain(): Promise<void> {
    this.#stop();
    return super.shutDownWithDrain();
  }

  #stop(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#timerDue = Infinity;
    this.#heap.clear();
    this.#waiting.clear();
  }

  #arm(): void {
    const head = this.#heap.peek();
    if (!head) return;
    if (this.#timer && this.#timerDue <= head.due) return;
    this.#timer?.cancel();
    this.#timerDue = head.due;
    this.#timer = this.clock.setTimer(head.due - this.clock.now(), () => this.#fire());
  }

  #fire(): void {
    this.#timer = undefined;
    this.#timerDue = Infinity;
    const now = this.clock.now();
    for (let head = this.#heap.peek(); head && head.due <= now; head = this.#heap.peek()) {
      this.#heap.pop();
      this.#waiting.delete(head.item);
      this.add(head.item);
    }
    this.#arm();
  }
}
