/**
 * A topic's state and its transitions. Every method here is a pure state
 * transition with no I/O, no timer and no logging: the commit path
 * (commit.ts) logs a record and then calls the method of the same name,
 * and replay (replay.ts) calls it again for that record at startup, so
 * replay rebuilds exactly the live state (docs/DESIGN.md, "Recovery").
 * Besides its queues a topic holds its policy, its held messages (delayed
 * or waiting for a retry), its dead-letter queue and its dedup window; the
 * times they depend on arrive as arguments, decided by the broker and
 * logged. What is not replayed (subscribers, delivery scheduling, the
 * drain timer, rates) lives beside it, in live.ts.
 */
import { Deque } from './deque.js';
import { DLQ_COUNT_HEADER, DLQ_QUEUE_ID, DLQ_REASON_HEADER, type Headers, MessageState, type StoredMessage } from './message.js';
import type { Move, PublishExFields, TopicPolicyFields } from '../aof/store.js';

/**
 * A topic's policy (docs/DESIGN.md, "Nack, retries and dead letters",
 * "Deduplication", "Consume", "Expiry"). `maxRetries` -1: retried forever,
 * never dead-lettered. `ackTimeoutMs` 0: the broker's ack_timeout.
 * `messageTtlMs` 0: messages never expire.
 */
export interface TopicPolicy {
  readonly retry: { readonly maxRetries: number; readonly baseMs: number; readonly capMs: number };
  readonly dedupWindowMs: number;
  readonly ackTimeoutMs: number;
  readonly messageTtlMs: number;
  /** Expired messages go to the dead-letter queue (reason `expired`) instead of being dropped. */
  readonly deadLetterExpired: boolean;
}

export const DEFAULT_POLICY: TopicPolicy = Object.freeze({
  retry: Object.freeze({ maxRetries: -1, baseMs: 1000, capMs: 60_000 }),
  dedupWindowMs: 3_600_000,
  ackTimeoutMs: 0,
  messageTtlMs: 0,
  deadLetterExpired: false,
});

export function policyFields(p: TopicPolicy): TopicPolicyFields {
  return {
    maxRetries: p.retry.maxRetries,
    baseMs: p.retry.baseMs,
    capMs: p.retry.capMs,
    dedupWindowMs: p.dedupWindowMs,
    ackTimeoutMs: p.ackTimeoutMs,
    messageTtlMs: p.messageTtlMs,
    deadLetterExpired: p.deadLetterExpired,
  };
}

/** The dead-letter reason of an expired message (docs/DESIGN.md, "Expiry"). */
export const EXPIRED_REASON = 'expired';

/** A held message (delayed publish or nack waiting for its retry) and the absolute time (Unix ms) it becomes visible. */
export interface HeldEntry {
  readonly at: number;
  readonly msg: StoredMessage;
  /** Insertion order, to break ties between equal times the same way live and after replay. */
  seq: number;
}

/** One dedup window entry: `key` answers message `id` on `queue` until `expiresAt` (Unix ms). */
export interface DedupEntry {
  readonly key: string;
  readonly id: string;
  readonly queue: number;
  readonly expiresAt: number;
}

/**
 * Estimated memory of a stored message beyond its payload bytes: the
 * message object, its id string, the payload's view and queue slots.
 * Measured: `core.rss_bytes_per_msg` is 1,376 bytes for 1 KiB payloads.
 */
export const MESSAGE_OVERHEAD_BYTES = 352;

/** `purge`'s queue for every queue of the topic (docs/DESIGN.md, "Purge"). */
export const PURGE_ALL_QUEUES = -1;

/**
 * Counters over every topic, kept by Topic's transitions so that reading
 * them is O(1).
 *
 * `bytes` and `messages`: memory of the stored messages
 * (limits.memory_high_water, docs/DESIGN.md, "Limits"): payload bytes plus
 * MESSAGE_OVERHEAD_BYTES per message, from the moment a message is stored
 * (publish, delayed publish, replay) until it is gone (ack, auto-ack,
 * topic deleted). Moves between queues, flight, the held set and the
 * dead-letter queue keep the same payload, so they change nothing.
 *
 * `inflight`: messages in flight, popped and neither acked, requeued,
 * nacked nor dead-lettered (the ack deadlines compact by it).
 */
export class Totals {
  bytes = 0;
  messages = 0;
  inflight = 0;
}

export class Queue {
  readonly pending = new Deque<StoredMessage>();
  /** Removed by the end of a drain, or its topic was deleted. */
  removed = false;
  /** Messages ever popped from the head minus those pushed back there: `headSeq + i` names position i for peek cursors. */
  headSeq = 0;
  // Totals since startup (not persisted: replay rebuilds then zeroes them; rates are in live.ts).
  published = 0;
  acked = 0;
  redelivered = 0;
  deadLettered = 0;
  /** Expired at its head, dropped or dead-lettered (docs/DESIGN.md, "Expiry"). */
  expired = 0;

  constructor(
    readonly topic: Topic,
    readonly id: number,
  ) {}

  resetCounters(): void {
    this.published = this.acked = this.redelivered = this.deadLettered = this.expired = 0;
  }
}

export class Topic {
  readonly queues: Queue[] = [];
  /** Queues [0, activeCount) take publishes; the rest are draining (docs/DESIGN.md, "Resize"). */
  activeCount: number;
  version: bigint;
  /** In-flight messages by id, in the order they were popped. */
  readonly inflight = new Map<string, StoredMessage>();
  /**
   * Set while an AOF rewrite writes this topic out: a message's delivery
   * count as it was when the snapshot was taken, saved by the first pop
   * after it. Copy-on-write, so taking the snapshot does not read every
   * message (a million pointer chases stalled the event loop ~50 ms).
   */
  countsBeforePop: Map<StoredMessage, number> | undefined;
  deleted = false;
  /** Deliveries held, publishes accepted (docs/DESIGN.md, "Pause"). */
  paused = false;
  /** Messages purged since startup (docs/DESIGN.md, "Purge"; not persisted, as the queues' totals). */
  purged = 0;
  policy: TopicPolicy = DEFAULT_POLICY;
  /** Held messages by id, in the order they were held. */
  readonly held = new Map<string, HeldEntry>();
  /** Dead-letter queue: messages past their retries, FIFO. */
  readonly dlq = new Deque<StoredMessage>();
  /** `headSeq` of the dead-letter queue (see Queue.headSeq). */
  dlqHeadSeq = 0;
  /** Dedup window by dedup id, and the same entries in insertion order for expiry without scans. */
  readonly dedup = new Map<string, DedupEntry>();
  readonly dedupOrder = new Deque<DedupEntry>();
  /** This topic's share of `totals`, subtracted at once when it is destroyed. */
  accountedBytes = 0;
  accountedMessages = 0;
  /**
   * Set once a message with an expiry time entered the topic: until then
   * pops skip the expiry checks (docs/DESIGN.md, "Expiry"). Replay sets
   * it as the live publish did.
   */
  mayExpire = false;

  constructor(
    readonly namespace: string,
    readonly name: string,
    queueCount: number,
    activeCount = queueCount,
    version = 0n,
    private readonly totals: Totals = new Totals(),
  ) {
    for (let i = 0; i < queueCount; i++) this.queues.push(new Queue(this, i));
    this.activeCount = activeCount;
    this.version = version;
  }

  get draining(): boolean {
    return this.activeCount < this.queues.length;
  }

  /** A message enters the topic: counted in the memory account. */
  private stored(msg: StoredMessage): void {
    const n = msg.payload.length + MESSAGE_OVERHEAD_BYTES;
    this.accountedBytes += n;
    this.accountedMessages++;
    this.totals.bytes += n;
    this.totals.messages++;
  }

  /** A message leaves for good (acked, auto-acked): uncounted. */
  private gone(msg: StoredMessage): void {
    const n = msg.payload.length + MESSAGE_OVERHEAD_BYTES;
    this.accountedBytes -= n;
    this.accountedMessages--;
    this.totals.bytes -= n;
    this.totals.messages--;
  }

  publish(queue: number, msg: StoredMessage): void {
    const q = this.queues[queue]!;
    q.pending.pushBack(msg);
    q.published++;
    this.stored(msg);
  }

  /** A new message held until `at` (Unix ms) on `queue`: a delayed publish, or a snapshot's held message. */
  hold(queue: number, msg: StoredMessage, at: number): HeldEntry {
    this.stored(msg);
    // Counted when published, not again when it becomes visible.
    this.queues[queue]!.published++;
    return this.park(queue, msg, at);
  }

  /**
   * A publish with extras (the `publishEx` record): into the dead-letter
   * queue (snapshots), held until `ex.visibleAt`, or at the tail of
   * `queue`; then its dedup entry, if any. Returns the held entry of a
   * held message, for the broker's timer.
   */
  publishEx(queue: number, msg: StoredMessage, ex: PublishExFields): HeldEntry | undefined {
    const expiresAt = ex.expiresAt ?? 0;
    msg.expiresAt = expiresAt;
    if (expiresAt > 0) this.mayExpire = true;
    let held: HeldEntry | undefined;
    if (ex.toDlq) this.pushDlq(msg);
    else if (ex.visibleAt > 0) held = this.hold(queue, msg, ex.visibleAt);
    else this.publish(queue, msg);
    if (ex.dedupId !== undefined) this.addDedup(ex.dedupId, msg.id, queue, ex.dedupExpiresAt);
    return held;
  }

  /** A message of this topic held until `at`. */
  private park(queue: number, msg: StoredMessage, at: number): HeldEntry {
    msg.queueId = queue;
    msg.state = MessageState.Held;
    const entry: HeldEntry = { at, msg, seq: 0 };
    this.held.set(msg.id, entry);
    return entry;
  }

  /** Appends to the dead-letter queue as is (snapshots). */
  pushDlq(msg: StoredMessage): void {
    msg.queueId = DLQ_QUEUE_ID;
    this.dlq.pushBack(msg);
    this.stored(msg);
  }

  /**
   * Pops up to `count` from the head of `queue`. Without auto-ack they go
   * in flight; with it they are gone for good. Returns what was popped.
   */
  pop(queue: number, count: number, autoAck: boolean): StoredMessage[] {
    const q = this.queues[queue]!;
    const pending = q.pending;
    const n = Math.min(count, pending.length);
    const out = new Array<StoredMessage>(n);
    let redelivered = 0;
    // The loop is written out here and in popDlq: with a shared per-message
    // helper the consume path measured 3% slower.
    const saved = this.countsBeforePop;
    for (let i = 0; i < n; i++) {
      const msg = pending.popFront()!;
      if (saved !== undefined && !saved.has(msg)) saved.set(msg, msg.deliveryCount);
      if (++msg.deliveryCount > 1) redelivered++;
      if (autoAck) {
        msg.state = MessageState.Gone;
        this.gone(msg);
      } else {
        msg.state = MessageState.InFlight;
        this.inflight.set(msg.id, msg);
      }
      out[i] = msg;
    }
    q.headSeq += n;
    q.redelivered += redelivered;
    // An auto-ack consume acknowledges what it takes.
    if (autoAck) q.acked += n;
    else this.totals.inflight += n;
    return out;
  }

  /** Pops up to `count` from the head of the dead-letter queue, as `pop` does from a queue. */
  popDlq(count: number, autoAck: boolean): StoredMessage[] {
    const n = Math.min(count, this.dlq.length);
    const out = new Array<StoredMessage>(n);
    const saved = this.countsBeforePop;
    for (let i = 0; i < n; i++) {
      const msg = this.dlq.popFront()!;
      if (saved !== undefined && !saved.has(msg)) saved.set(msg, msg.deliveryCount);
      msg.deliveryCount++;
      msg.state = autoAck ? MessageState.Gone : MessageState.InFlight;
      if (autoAck) this.gone(msg);
      else this.inflight.set(msg.id, msg);
      out[i] = msg;
    }
    this.dlqHeadSeq += n;
    if (!autoAck) this.totals.inflight += n;
    return out;
  }

  /**
   * Undoes an auto-ack pop (of a queue or the dead-letter queue) whose
   * record failed: the messages go back to the head of where they came
   * from, `msgs[0]` first, with their delivery counts as before. A queue
   * removed meanwhile (its drain ended with that pop) hands them to queue 0.
   */
  unpop(msgs: readonly StoredMessage[]): void {
    for (let i = msgs.length - 1; i >= 0; i--) {
      const msg = msgs[i]!;
      if (msg.state !== MessageState.Gone) continue;
      msg.state = MessageState.Pending;
      this.stored(msg); // the pop counted it gone
      const redelivery = msg.deliveryCount-- > 1;
      if (msg.queueId === DLQ_QUEUE_ID) {
        this.dlq.pushFront(msg);
        this.dlqHeadSeq--;
        continue;
      }
      let q = this.queues[msg.queueId];
      if (q === undefined) {
        q = this.queues[0]!;
        msg.queueId = 0;
      } else {
        q.acked--;
        if (redelivery) q.redelivered--;
      }
      q.pending.pushFront(msg);
      q.headSeq--;
    }
  }

  /** Removes acknowledged in-flight messages; returns those found (unknown ids are harmless). */
  ack(ids: readonly string[]): StoredMessage[] {
    return this.ackInflight(this.findInflight(ids));
  }

  /** The in-flight messages among `ids`, in order (read only: the commit path logs what it found, then acks it). */
  findInflight(ids: readonly string[]): StoredMessage[] {
    const found: StoredMessage[] = [];
    for (const id of ids) {
      const msg = this.inflight.get(id);
      if (msg !== undefined) found.push(msg);
    }
    return found;
  }

  /**
   * Acknowledges messages found by `findInflight`; an id given twice is
   * acked once. Returns `found`, compacted to the messages acked.
   */
  ackInflight(found: StoredMessage[]): StoredMessage[] {
    let k = 0;
    for (let i = 0; i < found.length; i++) {
      const msg = found[i]!;
      if (msg.state !== MessageState.InFlight) continue;
      this.inflight.delete(msg.id);
      msg.state = MessageState.Gone;
      this.gone(msg);
      if (msg.queueId >= 0) this.queues[msg.queueId]!.acked++;
      found[k++] = msg;
    }
    if (k < found.length) found.length = k;
    this.totals.inflight -= k;
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
      if (msg.queueId === DLQ_QUEUE_ID) {
        this.dlq.pushFront(msg);
        this.dlqHeadSeq--;
      } else {
        const q = this.queues[msg.queueId]!;
        q.pending.pushFront(msg);
        q.headSeq--;
      }
      found.push(msg);
    }
    this.totals.inflight -= found.length;
    return found;
  }

  /** Nacked in-flight messages, held until `visibleAt[i]` (Unix ms). Returns the held entries. */
  nack(ids: readonly string[], visibleAt: readonly number[]): HeldEntry[] {
    const out: HeldEntry[] = [];
    for (let i = 0; i < ids.length; i++) {
      const msg = this.inflight.get(ids[i]!);
      if (msg === undefined || msg.queueId === DLQ_QUEUE_ID) continue;
      this.inflight.delete(msg.id);
      out.push(this.park(msg.queueId, msg, visibleAt[i]!));
    }
    this.totals.inflight -= out.length;
    return out;
  }

  /**
   * Held messages whose time came, to the tail of their queue in this
   * order (a draining queue's go to an active one, as `finishResize` would
   * move them). Returns the messages made visible.
   */
  makeVisible(ids: readonly string[]): StoredMessage[] {
    const out: StoredMessage[] = [];
    for (const id of ids) {
      const entry = this.held.get(id);
      if (entry === undefined) continue;
      this.held.delete(id);
      const msg = entry.msg;
      if (msg.queueId >= this.activeCount) msg.queueId %= this.activeCount;
      msg.state = MessageState.Pending;
      this.queues[msg.queueId]!.pending.pushBack(msg);
      out.push(msg);
    }
    return out;
  }

  /**
   * In-flight messages past their retries, to the tail of the dead-letter
   * queue as new messages (same id, payload and timestamp) whose headers
   * add the reason and the delivery count. Returns them.
   */
  deadLetter(reason: string, ids: readonly string[]): StoredMessage[] {
    const out: StoredMessage[] = [];
    for (const id of ids) {
      const msg = this.inflight.get(id);
      if (msg === undefined || msg.queueId === DLQ_QUEUE_ID) continue;
      this.inflight.delete(id);
      msg.state = MessageState.Gone;
      this.queues[msg.queueId]!.deadLettered++;
      const dead: StoredMessage = {
        ...msg,
        queueId: DLQ_QUEUE_ID,
        headers: { ...msg.headers, [DLQ_REASON_HEADER]: reason, [DLQ_COUNT_HEADER]: String(msg.deliveryCount) },
        deliveryCount: 0,
        state: MessageState.Pending,
        deadline: 0,
        holder: undefined,
        expiresAt: 0,
      };
      this.dlq.pushBack(dead);
      out.push(dead);
    }
    this.totals.inflight -= out.length;
    return out;
  }

  /** How many messages at the head of `queue` expired at `now` (Unix ms): the next `expire`. */
  expiredAtHead(queue: number, now: number): number {
    const pending = this.queues[queue]!.pending;
    let k = 0;
    while (k < pending.length) {
      const at = pending.at(k)!.expiresAt;
      if (at === 0 || at > now) break;
      k++;
    }
    return k;
  }

  /** How many of the first `max` messages of `queue` have not expired at `now`, from the head: the next pop. */
  liveAtHead(queue: number, max: number, now: number): number {
    const pending = this.queues[queue]!.pending;
    const n = Math.min(max, pending.length);
    let k = 0;
    while (k < n) {
      const at = pending.at(k)!.expiresAt;
      if (at !== 0 && at <= now) break;
      k++;
    }
    return k;
  }

  /**
   * Drops `count` expired messages from the head of `queue`
   * (docs/DESIGN.md, "Expiry"): gone for good, or, when `toDlq`, to the
   * tail of the dead-letter queue as dead letters of reason `expired`.
   * Returns what entered the dead-letter queue.
   */
  expire(queue: number, count: number, toDlq: boolean): StoredMessage[] {
    const q = this.queues[queue]!;
    const n = Math.min(count, q.pending.length);
    const dead: StoredMessage[] = [];
    for (let i = 0; i < n; i++) {
      const msg = q.pending.popFront()!;
      msg.state = MessageState.Gone;
      if (!toDlq) {
        this.gone(msg);
        continue;
      }
      const copy: StoredMessage = {
        ...msg,
        queueId: DLQ_QUEUE_ID,
        headers: { ...msg.headers, [DLQ_REASON_HEADER]: EXPIRED_REASON, [DLQ_COUNT_HEADER]: String(msg.deliveryCount) },
        deliveryCount: 0,
        state: MessageState.Pending,
        deadline: 0,
        holder: undefined,
        expiresAt: 0,
      };
      this.dlq.pushBack(copy);
      dead.push(copy);
    }
    q.headSeq += n;
    q.expired += n;
    if (toDlq) q.deadLettered += n;
    return dead;
  }

  /**
   * Moves `queues.length` messages from the head of the dead-letter queue
   * to the tails of `queues` (message i to queues[i]), without their
   * dead-letter headers and with a fresh delivery count.
   */
  redrive(queues: readonly number[]): StoredMessage[] {
    const out: StoredMessage[] = [];
    for (const queue of queues) {
      const dead = this.dlq.popFront();
      if (dead === undefined) break;
      this.dlqHeadSeq++;
      dead.state = MessageState.Gone;
      const msg: StoredMessage = {
        ...dead,
        queueId: queue,
        headers: withoutDlqHeaders(dead.headers),
        deliveryCount: 0,
        state: MessageState.Pending,
        deadline: 0,
        holder: undefined,
        expiresAt: 0,
      };
      this.queues[queue]!.pending.pushBack(msg);
      out.push(msg);
    }
    return out;
  }

  setPolicy(p: TopicPolicyFields): void {
    this.policy = Object.freeze({
      retry: Object.freeze({ maxRetries: p.maxRetries, baseMs: p.baseMs, capMs: p.capMs }),
      dedupWindowMs: p.dedupWindowMs,
      ackTimeoutMs: p.ackTimeoutMs ?? 0,
      messageTtlMs: p.messageTtlMs ?? 0,
      deadLetterExpired: p.deadLetterExpired === true,
    });
  }

  /** Records a dedup window entry (a later one for the same key replaces it). */
  addDedup(key: string, id: string, queue: number, expiresAt: number): void {
    const entry: DedupEntry = { key, id, queue, expiresAt };
    this.dedup.set(key, entry);
    this.dedupOrder.pushBack(entry);
  }

  /** The live dedup entry for `key` at time `now`, if any. */
  findDedup(key: string, now: number): DedupEntry | undefined {
    const e = this.dedup.get(key);
    return e !== undefined && e.expiresAt > now ? e : undefined;
  }

  /**
   * Forgets entries expired at `now`, oldest first. After a window was
   * shortened an older entry may outlive a newer one here; `findDedup`
   * checks the time, so that only delays freeing its memory.
   */
  pruneDedup(now: number): void {
    const order = this.dedupOrder;
    while (order.length > 0 && order.peekFront()!.expiresAt <= now) {
      const e = order.popFront()!;
      if (this.dedup.get(e.key) === e) this.dedup.delete(e.key);
    }
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

  /** The steal of docs/DESIGN.md, "Work stealing": the tail half of the busiest sibling, when it holds at least 2. */
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
    for (const { msg } of this.held.values()) {
      if (msg.queueId >= this.activeCount) msg.queueId = msg.queueId % this.activeCount;
    }
    this.version++;
    return removed;
  }

  setPaused(paused: boolean): void {
    this.paused = paused;
  }

  /**
   * docs/DESIGN.md, "Purge": removes the pending and held (delayed, or
   * waiting for a retry) messages of queue `queue`, of every queue when
   * `queue` is PURGE_ALL_QUEUES, or the waiting messages of the
   * dead-letter queue when `dlq`. In-flight messages and dedup entries
   * stay. Returns how many were removed.
   */
  purge(queue: number, dlq: boolean): number {
    let n = 0;
    const drop = (msg: StoredMessage): void => {
      msg.state = MessageState.Gone;
      this.gone(msg);
      n++;
    };
    if (dlq) {
      this.dlqHeadSeq += this.dlq.length;
      for (const msg of this.dlq.toArray()) drop(msg);
      this.dlq.clear();
    } else {
      for (const q of this.queues) {
        if (queue !== PURGE_ALL_QUEUES && q.id !== queue) continue;
        q.headSeq += q.pending.length;
        for (const msg of q.pending.toArray()) drop(msg);
        q.pending.clear();
      }
      for (const [id, { msg }] of this.held) {
        if (queue !== PURGE_ALL_QUEUES && msg.queueId !== queue) continue;
        this.held.delete(id);
        drop(msg);
      }
    }
    this.purged += n;
    return n;
  }

  /** Drops everything: the topic (or its namespace) was deleted. */
  destroy(): void {
    this.deleted = true;
    this.totals.bytes -= this.accountedBytes;
    this.totals.messages -= this.accountedMessages;
    this.totals.inflight -= this.inflight.size;
    this.accountedBytes = 0;
    this.accountedMessages = 0;
    for (const msg of this.inflight.values()) msg.state = MessageState.Gone;
    this.inflight.clear();
    for (const { msg } of this.held.values()) msg.state = MessageState.Gone;
    this.held.clear();
    this.dlq.clear();
    this.dedup.clear();
    this.dedupOrder.clear();
    for (const q of this.queues) {
      q.removed = true;
      q.pending.clear();
    }
  }

  pendingCount(): number {
    let n = 0;
    for (const q of this.queues) n += q.pending.length;
    return n;
  }
}

function withoutDlqHeaders(headers: Headers | undefined): Headers | undefined {
  if (headers === undefined) return undefined;
  const out: Record<string, string> = {};
  let n = 0;
  for (const k in headers) {
    if (k === DLQ_REASON_HEADER || k === DLQ_COUNT_HEADER) continue;
    out[k] = headers[k]!;
    n++;
  }
  return n === 0 ? undefined : out;
}
