/**
 * A growable ring buffer: O(1) push and pop at both ends, O(k) moves of k
 * items at the tail. Queues hold up to millions of messages, so
 * `Array.prototype.shift` (O(n)) is never used on them.
 */
export class Deque<T> {
  private buf: (T | undefined)[];
  private head = 0;
  private len = 0;
  private mask: number;

  constructor(capacity = 16) {
    let cap = 16;
    while (cap < capacity) cap <<= 1;
    this.buf = new Array<T | undefined>(cap);
    this.mask = cap - 1;
  }

  get length(): number {
    return this.len;
  }

  /** Item at position i from the head (0 = head). */
  at(i: number): T | undefined {
    if (i < 0 || i >= this.len) return undefined;
    return this.buf[(this.head + i) & this.mask];
  }

  peekFront(): T | undefined {
    return this.len === 0 ? undefined : this.buf[this.head];
  }

  pushBack(item: T): void {
    if (this.len === this.buf.length) this.grow();
    this.buf[(this.head + this.len) & this.mask] = item;
    this.len++;
  }

  pushFront(item: T): void {
    if (this.len === this.buf.length) this.grow();
    this.head = (this.head - 1) & this.mask;
    this.buf[this.head] = item;
    this.len++;
  }

  popFront(): T | undefined {
    if (this.len === 0) return undefined;
    const item = this.buf[this.head];
    this.buf[this.head] = undefined;
    this.head = (this.head + 1) & this.mask;
    this.len--;
    return item;
  }

  popBack(): T | undefined {
    if (this.len === 0) return undefined;
    const i = (this.head + this.len - 1) & this.mask;
    const item = this.buf[i];
    this.buf[i] = undefined;
    this.len--;
    return item;
  }

  /** Removes the last `count` items and appends them, in order, to `dest`. */
  moveTailTo(dest: Deque<T>, count: number): void {
    const n = Math.min(count, this.len);
    const start = this.len - n;
    for (let i = 0; i < n; i++) {
      const j = (this.head + start + i) & this.mask;
      dest.pushBack(this.buf[j] as T);
      this.buf[j] = undefined;
    }
    this.len -= n;
  }

  /** A copy of the items, head first (for snapshots: O(n), no per-item allocation). */
  toArray(): T[] {
    // Native slices copy a million references in a few ms; an element loop takes tens.
    const end = this.head + this.len;
    if (end <= this.buf.length) return this.buf.slice(this.head, end) as T[];
    const first = this.buf.slice(this.head) as T[];
    const rest = this.buf.slice(0, end - this.buf.length) as T[];
    return first.concat(rest);
  }

  clear(): void {
    this.buf = new Array<T | undefined>(16);
    this.mask = 15;
    this.head = 0;
    this.len = 0;
  }

  private grow(): void {
    const old = this.buf;
    const next = new Array<T | undefined>(old.length * 2);
    for (let i = 0; i < this.len; i++) next[i] = old[(this.head + i) & this.mask];
    this.buf = next;
    this.head = 0;
    this.mask = next.length - 1;
  }
}
