/**
 * A topic's state and its transitions. Every method here is a pure state
 * transition with no I/O and no logging: the broker calls the same method
 * when serving a call (and then logs the record) and when replaying that
 * record at startup, so replay rebuilds exactly the live state
 * (DESIGN.md, "Recovery").
 */
import { Deque } from './deque.js';
import { MessageState, type StoredMessage } from './message.js';
import type { Move } from '../aof/store.js';
import type { Subscriber } from './subscription.js';


export class Queue {
  readonly pending = new Deque<StoredMessage>();
  readonly subscribers: Subscriber[] = [];
  /** Index of the next subscriber to serve (round-robin between subscribers). */
  nextSubscriber = 0;
  /** Set while the queue waits in the broker's delivery list. */
  scheduled = false;
  removed = false;

  constructor(
    readonly topic: Topic,
    readonly id: number,
  ) {}

  hasReadySubscriber(): boolean {
    for (const s of this.subscribers) if (s.ready()) return true;
    return false;
  }
}

export class Topic {
  readonly queues: Queue[] = [];
  /** Queues [0, activeCount) take publishes; the rest are draining (DESIGN.md, "Resize"). */
  activeCount: number;
  version: bigint;
  /** In-flight messages by id, in the order they were popped. */
  readonly inflight = new Map<string, StoredMessage>();
  roundRobin = 0;
  /** Subscribers on all its queues (to know when a backlog may be stolen by an idle one). */
  subscriberCount = 0;
  deleted = false;
  drainTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly namespace: string,
    readonly name: string,
    queueCount: number,
    activeCount = queueCount,
    version = 0n,
  ) {
    for (let i = 0; i < queueCount; i++) this.queues.push(new Queue(this, i));
    this.activeCount = activeCount;
    this.version = version;
  }

  get draining(): boolean {
    return this.activeCount < this.queues.length;
  }

  publish(queue: number, msg: StoredMessage): void {
    this.queues[queue]!.pending.pushBack(msg);
  }

  /**
   * Pops up to `count` from the head of `queue`. Without auto-ack they go
   * in flight; with it they are gone for good. Returns what was popped.
   */
  pop(queue: number, count: number, autoAck: boolean): StoredMessage[] {
    const pending = this.queues[queue]!.pending;
    const n = Math.min(count, pending.length);
    const out = new Array<StoredMessage>(n);
    for (let i = 0; i < n; i++) {
      const msg = pending.popFront()!;
      msg.deliveryCount++;
      if (autoAck) {
        msg.state = MessageState.Gone;
      } else {
        msg.state = MessageState.InFlight;
        this.inflight.set(msg.id, msg);
      }
      out[i] = msg;
    }
    return out;
  }

  /** Removes acknowledged in-flight messages; returns those found (unknown ids are harmless). */
  ack(ids: readonly string[]): StoredMessage[] {
    const found: StoredMessage[] = [];
    for (const id of ids) {
      const msg = this.inflight.get(id);
      if (msg === undefined) continue;
      this.inflight.delete(id);
      msg.state = MessageState.Gone;
      found.push(msg);
    }
    return found;
  }

  /**
   * In-flight messages back to the head of their queue, so that `ids[0]`
   * ends up first: at-least-once redelivery keeps first-delivery order.
   */
  requeue(ids: readonly string[]): StoredMessage[] {
    const found: StoredMessage[] = [];
    for (let i = ids.length - 1; i >= 0; i--) {
      const msg = this.inflight.get(ids[i]!);
      if (msg === undefined) continue;
      this.inflight.delete(msg.id);
      msg.state = MessageState.Pending;
      this.queues[msg.queueId]!.pending.pushFront(msg);
      found.push(msg);
    }
    return found;
  }

  /** Tail moves (steal, rebalance): order kept, moved messages take their new queue id. */
  move(moves: readonly Move[]): void {
    for (const { from, to, count } of moves) {
      const dest = this.queues[to]!.pending;
      const before = dest.length;
      this.queues[from]!.pending.moveTailTo(dest, count);
      for (let i = before; i < dest.length; i++) dest.at(i)!.queueId = to;
    }
  }

  /** The steal of DESIGN.md: the tail half of the busiest sibling, when it holds at least 2. */
  planSteal(queue: number): Move | undefined {
    let busiest = -1;
    let most = 1;
    for (const q of this.queues) {
      if (q.id !== queue && q.pending.length > most) {
        busiest = q.id;
        most = q.pending.length;
      }
    }
    return busiest < 0 ? undefined : { from: busiest, to: queue, count: Math.floor(most / 2) };
  }

  /** Moves that spread the pending messages of active queues evenly. */
  planRebalance(): Move[] {
    const n = this.activeCount;
    let total = 0;
    for (let i = 0; i < n; i++) total += this.queues[i]!.pending.length;
    const target = (i: number) => Math.floor(total / n) + (i < total % n ? 1 : 0);
    const surplus: number[] = [];
    for (let i = 0; i < n; i++) surplus.push(this.queues[i]!.pending.length - target(i));
    const moves: Move[] = [];
    let to = 0;
    for (let from = 0; from < n; from++) {
      while (surplus[from]! > 0) {
        while (surplus[to]! >= 0) to++;
        const count = Math.min(surplus[from]!, -surplus[to]!);
        moves.push({ from, to, count });
        surplus[from]! -= count;
        surplus[to]! += count;
      }
    }
    return moves;
  }

  /** Grows at once (version + 1), or starts draining the tail queues. */
  resize(queueCount: number): void {
    if (queueCount > this.queues.length) {
      for (let i = this.queues.length; i < queueCount; i++) this.queues.push(new Queue(this, i));
      this.activeCount = queueCount;
      this.version++;
    } else if (queueCount < this.activeCount) {
      this.activeCount = queueCount;
    }
  }

  /**
   * Ends a drain: each draining queue's remaining messages, in order, go to
   * the active queue holding the fewest; in-flight messages of removed
   * queues are redelivered to an active queue; version + 1. Returns the
   * removed queues.
   */
  finishResize(): Queue[] {
    const removed = this.queues.splice(this.activeCount);
    for (const q of removed) {
      q.removed = true;
      let target = this.queues[0]!;
      for (const a of this.queues) if (a.pending.length < target.pending.length) target = a;
      const before = target.pending.length;
      q.pending.moveTailTo(target.pending, q.pending.length);
      for (let i = before; i < target.pending.length; i++) target.pending.at(i)!.queueId = target.id;
    }
    for (const msg of this.inflight.values()) {
      if (msg.queueId >= this.activeCount) msg.queueId = msg.queueId % this.activeCount;
    }
    this.version++;
    return removed;
  }

  /** Drops everything: the topic (or its namespace) was deleted. */
  destroy(): void {
    this.deleted = true;
    for (const msg of this.inflight.values()) msg.state = MessageState.Gone;
    this.inflight.clear();
    for (const q of this.queues) {
      q.removed = true;
      q.pending.clear();
    }
    if (this.drainTimer) clearTimeout(this.drainTimer);
  }

  pendingCount(): number {
    let n = 0;
    for (const q of this.queues) n += q.pending.length;
    return n;
  }
}
