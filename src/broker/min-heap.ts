/**
 * A binary min-heap: O(log n) push and pop, O(1) peek. The broker's timer
 * structures (held messages by visible time, renewed ack deadlines) keep
 * one heap each with one timer armed for its top, so no timer ever scans
 * every message. Removal is lazy: callers skip stale entries when they
 * reach the top, and `retain` compacts when stale ones pile up.
 */
export class MinHeap<T> {
  private items: T[] = [];

  constructor(private readonly less: (a: T, b: T) => boolean) {}

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  push(item: T): void {
    const a = this.items;
    let i = a.length;
    a.push(item);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(item, a[parent]!)) break;
      a[i] = a[parent]!;
      i = parent;
    }
    a[i] = item;
  }

  pop(): T | undefined {
    const a = this.items;
    if (a.length === 0) return undefined;
    const top = a[0]!;
    const last = a.pop()!;
    if (a.length > 0) this.siftDown(last, 0);
    return top;
  }

  /** Keeps only the items `keep` accepts, then restores heap order in O(n). */
  retain(keep: (item: T) => boolean): void {
    this.items = this.items.filter(keep);
    for (let i = (this.items.length >> 1) - 1; i >= 0; i--) this.siftDown(this.items[i]!, i);
  }

  private siftDown(item: T, i: number): void {
    const a = this.items;
    const n = a.length;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && this.less(a[child + 1]!, a[child]!)) child++;
      if (!this.less(a[child]!, item)) break;
      a[i] = a[child]!;
      i = child;
    }
    a[i] = item;
  }
}
