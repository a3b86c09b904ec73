/**
 * An unbounded push → pull queue: producers `push`, one consumer iterates with `for await`.
 * Used by the fake engine for events and followed logs. `close()` ends the iteration after the
 * buffered items; an aborted signal ends it at once.
 */
export class Channel<T> implements AsyncIterable<T> {
  #items: T[] = [];
  #closed = false;
  #wake: (() => void) | undefined;

  push(item: T): void {
    if (this.#closed) return;
    this.#items.push(item);
    this.#wakeUp();
  }

  close(): void {
    this.#closed = true;
    this.#wakeUp();
  }

  get closed(): boolean {
    return this.#closed;
  }

  #wakeUp(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  async *iterate(signal?: AbortSignal): AsyncGenerator<T> {
    const onAbort = (): void => this.close();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      for (;;) {
        if (signal?.aborted) return;
        const item = this.#items.shift();
        if (item !== undefined) {
          yield item;
          continue;
        }
        if (this.#closed) return;
        await new Promise<void>((resolve) => (this.#wake = resolve));
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      this.close();
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return this.iterate();
  }
}
