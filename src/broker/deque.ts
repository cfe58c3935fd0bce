/**
 * A double-ended queue kept in blocks of up to 1,024 items: O(1) push and
 * pop at both ends, O(k) moves of k items at the tail. Queues hold up to
 * millions of messages, so `Array.prototype.shift` (O(n)) is never used on
 * them.
 *
 * `snapshot()` captures the items in O(blocks), not O(items): the snapshot
 * shares the deque's blocks, and while it lives the deque copies a shared
 * block (at most 1,024 references) before it writes into it, and leaves
 * the slots it pops from a shared block for the snapshot to read. A
 * rewrite captures every queue at one instant (docs/DESIGN.md, "Durability
 * contract (the AOF)"); copying a million references there was the longest
 * synchronous step of a rewrite.
 */
const BLOCK_BITS = 10;
const BLOCK = 1 << BLOCK_BITS;
const SLOT_MASK = BLOCK - 1;
/** Dropped head blocks leave holes at the front of `blocks`; they are cut off past this many. */
const COMPACT_AFTER = 32;

type Block<T> = (T | undefined)[];

export class Deque<T> {
  /** The live blocks are blocks[first], blocks[first + 1], ...; item i sits at position head + i of their concatenation. */
  private blocks: (Block<T> | undefined)[] = [];
  private first = 0;
  private head = 0;
  private len = 0;
  /** Blocks that a live snapshot reads: never written, copied first. */
  private shared: Set<Block<T>> | undefined;
  private snapshots = 0;

  get length(): number {
    return this.len;
  }

  /** Item at position i from the head (0 = head). */
  at(i: number): T | undefined {
    if (i < 0 || i >= this.len) return undefined;
    const p = this.head + i;
    return this.blocks[this.first + (p >>> BLOCK_BITS)]![p & SLOT_MASK];
  }

  peekFront(): T | undefined {
    return this.len === 0 ? undefined : this.blocks[this.first]![this.head];
  }

  pushBack(item: T): void {
    const p = this.head + this.len;
    const bi = this.first + (p >>> BLOCK_BITS);
    let b = this.blocks[bi];
    if (b === undefined) {
      // A queue's first block grows as it fills (a queue of a few messages holds a small
      // array); the next ones, of a long queue, are allocated whole.
      b = bi === this.first ? [] : new Array<T | undefined>(BLOCK);
      this.blocks[bi] = b;
    } else if (this.shared !== undefined && this.shared.has(b)) {
      b = this.own(bi);
    }
    b[p & SLOT_MASK] = item;
    this.len++;
  }

  pushFront(item: T): void {
    if (this.head === 0) {
      if (this.first === 0) {
        // Room for more blocks in front, so that repeated pushFronts stay O(1) amortised.
        const room = Math.max(4, this.blocks.length);
        this.blocks = new Array<Block<T> | undefined>(room).concat(this.blocks);
        this.first = room;
      }
      this.first--;
      this.blocks[this.first] = new Array<T | undefined>(BLOCK);
      this.head = BLOCK;
    }
    let b = this.blocks[this.first]!;
    if (this.shared !== undefined && this.shared.has(b)) b = this.own(this.first);
    b[--this.head] = item;
    this.len++;
  }

  popFront(): T | undefined {
    if (this.len === 0) return undefined;
    const b = this.blocks[this.first]!;
    const item = b[this.head];
    if (this.shared === undefined || !this.shared.has(b)) b[this.head] = undefined;
    if (--this.len === 0) {
      this.emptied();
    } else if (++this.head === BLOCK) {
      this.blocks[this.first++] = undefined;
      this.head = 0;
      if (this.first >= COMPACT_AFTER && this.first * 2 >= this.blocks.length) {
        this.blocks = this.blocks.slice(this.first);
        this.first = 0;
      }
    }
    return item;
  }

  popBack(): T | undefined {
    if (this.len === 0) return undefined;
    const item = this.at(this.len - 1);
    this.truncate(this.len - 1);
    return item;
  }

  /** Removes the last `count` items and appends them, in order, to `dest`. */
  moveTailTo(dest: Deque<T>, count: number): void {
    const n = Math.min(count, this.len);
    const start = this.len - n;
    for (let i = start; i < this.len; i++) dest.pushBack(this.at(i) as T);
    this.truncate(start);
  }

  /**
   * The items as they are now, sharing this deque's blocks (see the
   * header): O(blocks). Call `release()` on it when done, so that the
   * deque stops copying blocks before writes.
   */
  snapshot(): DequeSnapshot<T> {
    const count = this.len === 0 ? 0 : ((this.head + this.len - 1) >>> BLOCK_BITS) + 1;
    const blocks = this.blocks.slice(this.first, this.first + count) as Block<T>[];
    const shared = (this.shared ??= new Set());
    for (const b of blocks) shared.add(b);
    this.snapshots++;
    return new DequeSnapshot(blocks, this.head, this.len, this);
  }

  /** Called once by each snapshot when it is done. */
  released(): void {
    if (--this.snapshots === 0) this.shared = undefined;
  }

  /** A copy of the items, head first. */
  toArray(): T[] {
    const out: T[] = [];
    for (let i = 0; i < this.len; i++) out.push(this.at(i) as T);
    return out;
  }

  clear(): void {
    this.blocks = [];
    this.first = 0;
    this.head = 0;
    this.len = 0;
  }

  /** Replaces the shared block at `bi` by a copy this deque owns. */
  private own(bi: number): Block<T> {
    const copy = this.blocks[bi]!.slice();
    this.blocks[bi] = copy;
    return copy;
  }

  /** Drops the items from position `newLen` on. */
  private truncate(newLen: number): void {
    const shared = this.shared;
    for (let i = newLen; i < this.len; i++) {
      const p = this.head + i;
      const b = this.blocks[this.first + (p >>> BLOCK_BITS)]!;
      if (shared === undefined || !shared.has(b)) b[p & SLOT_MASK] = undefined;
    }
    this.len = newLen;
    if (newLen === 0) {
      this.emptied();
      return;
    }
    // Blocks past the new tail hold nothing now.
    this.blocks.length = this.first + ((this.head + newLen - 1) >>> BLOCK_BITS) + 1;
  }

  /**
   * The deque just became empty: start again at slot 0 of its head block,
   * kept when this deque may write it (a queue that empties and refills at
   * every message allocates nothing).
   */
  private emptied(): void {
    const b = this.blocks[this.first]!;
    const keep = this.shared === undefined || !this.shared.has(b);
    if (keep && this.first === 0 && this.blocks.length === 1) {
      this.head = 0;
      return;
    }
    this.blocks = keep ? [b] : [];
    this.first = 0;
    this.head = 0;
  }
}

/** The items of a deque at one instant (`Deque.snapshot()`). */
export class DequeSnapshot<T> {
  private done = false;

  constructor(
    private readonly blocks: readonly Block<T>[],
    private readonly head: number,
    readonly length: number,
    private readonly owner: Deque<T>,
  ) {}

  /** Item at position i from the head (0 = head); i in [0, length). */
  at(i: number): T {
    const p = this.head + i;
    return this.blocks[p >>> BLOCK_BITS]![p & SLOT_MASK] as T;
  }

  /** Lets the deque write its blocks in place again; idempotent. */
  release(): void {
    if (this.done) return;
    this.done = true;
    this.owner.released();
  }
}
