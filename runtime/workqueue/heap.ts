/** A binary min-heap keyed by `due`, tracking each entry's index so it can be re-keyed. */
export interface HeapEntry<T> {
  item: T;
  due: number;
  index: number;
}

export class MinHeap<T> {
  readonly #a: HeapEntry<T>[] = [];

  get size(): number {
    return this.#a.length;
  }

  peek(): HeapEntry<T> | undefined {
    return this.#a[0];
  }

  push(e: HeapEntry<T>): void {
    e.index = this.#a.length;
    this.#a.push(e);
    this.#up(e.index);
  }

  pop(): HeapEntry<T> | undefined {
    const a = this.#a;
    if (a.length === 0) return undefined;
    this.#swap(0, a.length - 1);
    const e = a.pop() as HeapEntry<T>;
    e.index = -1;
    if (a.length > 0) this.#down(0);
    return e;
  }

  /** Restores order after `e.due` changed. */
  fix(e: HeapEntry<T>): void {
    this.#up(e.index);
    this.#down(e.index);
  }

  clear(): void {
    this.#a.length = 0;
  }

  #less(i: number, j: number): boolean {
    return (this.#a[i] as HeapEntry<T>).due < (this.#a[j] as HeapEntry<T>).due;
  }

  #swap(i: number, j: number): void {
    const a = this.#a;
    const x = a[i] as HeapEntry<T>;
    const y = a[j] as HeapEntry<T>;
    a[i] = y;
    a[j] = x;
    y.index = i;
    x.index = j;
  }

  #up(i: number): void {
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.#less(i, p)) return;
      this.#swap(i, p);
      i = p;
    }
  }

  #down(i: number): void {
    const n = this.#a.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && this.#less(l, m)) m = l;
      if (r < n && this.#less(r, m)) m = r;
      if (m === i) return;
      this.#swap(i, m);
      i = m;
    }
  }
}
