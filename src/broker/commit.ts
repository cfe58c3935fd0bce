/**
 * The commit path: every change of the broker's state goes through here,
 * always in this order:
 *
 *   1. log    the record is encoded into the store's current batch (`sink`);
 *   2. apply  the same transition is made on the state (`Topic`, the namespaces);
 *   3. answer the caller awaits `durable()`, which resolves when the store
 *             says the batch is durable under the fsync policy.
 *
 * Why this order, chosen once for every change:
 * - a record the codec or the store refuses (it throws while encoding)
 *   leaves the state untouched: memory never holds what the log does not;
 * - a failed store, or later a fenced one (a replicated store whose lease
 *   passed to another broker), is checked and answered here and nowhere
 *   else: `assertWritable` refuses a client's change before it is
 *   validated, `durable` turns the store's error into UNAVAILABLE;
 * - replay (replay.ts) applies the same `Topic` transitions from the same
 *   records, so the state after a restart is the state that was answered
 *   (docs/DESIGN.md, "Durability contract (the AOF)", "Recovery").
 *
 * The answer waits for durability, the state does not: a change is applied
 * (and may be delivered) before its batch is on disk, and a client is
 * answered only after. All records of one event-loop turn share one
 * durable promise (group commit), and `durable` maps it once per batch.
 *
 * Changes a client asks for call `assertWritable()` first. Changes the
 * broker makes on its own (an ack deadline passing, a held message
 * becoming visible, the end of a drain, recovery) are logged even while
 * the store is failed: the store drops them and rebuilds the AOF from
 * memory, which holds them (docs/DESIGN.md, "When the disk fails").
 *
 * Methods take fields and call the sink with fields: no record object is
 * made per publish, pop or ack. What follows a change at run time (waking
 * subscribers, arming timers) is the caller's business, after it returns.
 */
import { StoreUnavailableError } from '../aof/errors.js';
import type { Move, PublishExFields, RecordSink, Store, TopicPolicyFields } from '../aof/store.js';
import { unavailable } from './errors.js';
import { LiveTopic } from './live.js';
import type { StoredMessage } from './message.js';
import type { Namespaces } from './namespaces.js';
import { type HeldEntry, type Queue, Topic, type Totals } from './topic.js';

const RESOLVED = Promise.resolve();

/** The broker's answer to a store error: UNAVAILABLE with the store's words. */
export function storeFailed(err: unknown): never {
  if (err instanceof StoreUnavailableError) throw unavailable(err.message);
  throw err;
}

export class Commit {
  private readonly sink: RecordSink | undefined;
  private closed = false;
  /** The store's promise for the current batch, and the answer made of it. */
  private batch: Promise<void> | undefined;
  private answer: Promise<void> = RESOLVED;

  constructor(
    private readonly store: Store | undefined,
    private readonly namespaces: Namespaces,
    private readonly totals: Totals,
  ) {
    this.sink = store?.sink;
  }

  /** The broker is shutting down: timers and deliveries stop, calls are refused. */
  get closing(): boolean {
    return this.closed;
  }

  startClosing(): void {
    this.closed = true;
  }

  assertOpen(): void {
    if (this.closed) throw unavailable('broker is shutting down');
  }

  /**
   * docs/DESIGN.md, "When the disk fails": a failed write is never hidden.
   * Once the store has failed, a client's change is refused before it
   * touches the state (a publish answered with an error must not be
   * delivered); reads and deliveries of what is already queued go on.
   */
  assertWritable(): void {
    this.assertOpen();
    const failure = this.store?.failure;
    if (failure) throw unavailable(`persistence failed: ${failure.message}`);
  }

  /** Resolves when every change made so far is durable; rejects with UNAVAILABLE when the store failed. */
  durable(): Promise<void> {
    if (this.store === undefined) return RESOLVED;
    const p = this.store.durable();
    if (p !== this.batch) {
      this.batch = p;
      this.answer = p.then(undefined, storeFailed);
    }
    return this.answer;
  }

  // ---------------------------------------------------------------- namespaces

  createNamespace(name: string): void {
    this.sink?.nsCreate(name);
    this.namespaces.byName.set(name, new Map());
  }

  /** Returns the topics it held, destroyed. */
  deleteNamespace(name: string): LiveTopic[] {
    this.sink?.nsDelete(name);
    const topics = [...this.namespaces.namespace(name).values()];
    for (const lt of topics) lt.topic.destroy();
    this.namespaces.byName.delete(name);
    return topics;
  }

  // -------------------------------------------------------------------- topics

  createTopic(ns: string, name: string, queueCount: number, policy: TopicPolicyFields | undefined): LiveTopic {
    this.sink?.topicCreate(ns, name, queueCount);
    const lt = new LiveTopic(new Topic(ns, name, queueCount, queueCount, 0n, this.totals));
    this.namespaces.namespace(ns).set(name, lt);
    if (policy !== undefined) this.setPolicy(lt.topic, policy);
    return lt;
  }

  setPolicy(t: Topic, policy: TopicPolicyFields): void {
    this.sink?.topicPolicy(t.namespace, t.name, policy);
    t.setPolicy(policy);
  }

  deleteTopic(lt: LiveTopic): void {
    const t = lt.topic;
    this.sink?.topicDelete(t.namespace, t.name);
    t.destroy();
    this.namespaces.namespace(t.namespace).delete(t.name);
  }

  resize(t: Topic, queueCount: number): void {
    this.sink?.resize(t.namespace, t.name, queueCount);
    t.resize(queueCount);
  }

  /** Ends a drain; returns the removed queues. */
  resizeFinal(t: Topic): Queue[] {
    this.sink?.resizeFinal(t.namespace, t.name);
    return t.finishResize();
  }

  /** docs/DESIGN.md, "Pause". */
  pauseState(t: Topic, paused: boolean): void {
    this.sink?.pauseState(t.namespace, t.name, paused);
    t.setPaused(paused);
  }

  /** docs/DESIGN.md, "Purge": returns how many messages were removed. */
  purge(t: Topic, queue: number, dlq: boolean): number {
    this.sink?.purge(t.namespace, t.name, queue, dlq);
    return t.purge(queue, dlq);
  }

  /** Steal and rebalance. */
  move(t: Topic, moves: readonly Move[]): void {
    this.sink?.move(t.namespace, t.name, moves);
    t.move(moves);
  }

  // ------------------------------------------------------------------ messages

  publish(t: Topic, queue: number, msg: StoredMessage): void {
    this.sink?.publish(t.namespace, t.name, queue, msg);
    t.publish(queue, msg);
  }

  /** A delayed or deduplicated publish; returns its held entry when it is held. */
  publishEx(t: Topic, queue: number, msg: StoredMessage, ex: PublishExFields): HeldEntry | undefined {
    this.sink?.publishEx(t.namespace, t.name, queue, msg, ex);
    return t.publishEx(queue, msg, ex);
  }

  /**
   * Pops up to `count` from the head of `queue` (in flight, or gone when
   * `autoAck`). In a topic that may hold expiring messages, expired ones
   * met on the way are expired instead (docs/DESIGN.md, "Expiry").
   */
  pop(t: Topic, queue: number, count: number, autoAck: boolean): StoredMessage[] {
    const n = Math.min(count, t.queues[queue]!.pending.length);
    if (n === 0) return [];
    if (t.mayExpire) return this.popUnexpired(t, queue, n, autoAck);
    this.sink?.pop(t.namespace, t.name, queue, n, autoAck);
    return t.pop(queue, n, autoAck);
  }

  /**
   * `pop` past expired messages: runs of expired ones are `expire`
   * records, runs of live ones `pop` records, in queue order, so replay
   * drops and pops the same messages without reading the clock.
   */
  private popUnexpired(t: Topic, queue: number, count: number, autoAck: boolean): StoredMessage[] {
    const now = Date.now();
    const pending = t.queues[queue]!.pending;
    let out: StoredMessage[] | undefined;
    let taken = 0;
    while (taken < count && pending.length > 0) {
      const expired = t.expiredAtHead(queue, now);
      if (expired > 0) {
        this.expire(t, queue, expired);
        continue;
      }
      const n = t.liveAtHead(queue, count - taken, now);
      this.sink?.pop(t.namespace, t.name, queue, n, autoAck);
      const popped = t.pop(queue, n, autoAck);
      out = out === undefined ? popped : out.concat(popped);
      taken += n;
    }
    return out ?? [];
  }

  /**
   * Expires the `count` messages at the head of `queue`: dropped, or
   * dead-lettered as the topic's policy says now (the record carries which).
   * Returns what entered the dead-letter queue.
   */
  expire(t: Topic, queue: number, count: number): StoredMessage[] {
    const toDlq = t.policy.deadLetterExpired;
    this.sink?.expire(t.namespace, t.name, queue, count, toDlq);
    return t.expire(queue, count, toDlq);
  }

  popDlq(t: Topic, count: number, autoAck: boolean): StoredMessage[] {
    const n = Math.min(count, t.dlq.length);
    if (n === 0) return [];
    this.sink?.dlqPop(t.namespace, t.name, n, autoAck);
    return t.popDlq(n, autoAck);
  }

  /**
   * The one change without a record: an auto-ack pop whose batch the store
   * rejected goes back to the head of its queue. The store rejects a batch
   * only as it enters FAILED, when every record is dropped until it
   * rebuilds the AOF from a snapshot of memory, which then holds the
   * messages (a crash before that may or may not have kept the pop, as
   * with a timeout).
   */
  undoPop(t: Topic, msgs: readonly StoredMessage[]): void {
    t.unpop(msgs);
  }

  /** Acks the in-flight messages among `ids`; returns them (unknown ids are ignored, and log nothing). */
  ack(t: Topic, ids: readonly string[]): StoredMessage[] {
    const found = t.findInflight(ids);
    if (found.length === 0) return found;
    this.sink?.ack(t.namespace, t.name, found.length === ids.length ? ids : found.map((m) => m.id));
    return t.ackInflight(found);
  }

  /** In-flight messages back to the head of their queue (or of the dead-letter queue); returns them. */
  requeue(t: Topic, ids: readonly string[]): StoredMessage[] {
    this.sink?.requeue(t.namespace, t.name, ids);
    return t.requeue(ids);
  }

  /** In-flight messages held until `visibleAt[i]`; returns their held entries. */
  nack(t: Topic, ids: readonly string[], visibleAt: readonly number[]): HeldEntry[] {
    this.sink?.nack(t.namespace, t.name, ids, visibleAt);
    return t.nack(ids, visibleAt);
  }

  /** Held messages whose time came, to the tail of their queue; returns them. */
  visible(t: Topic, ids: readonly string[]): StoredMessage[] {
    this.sink?.visible(t.namespace, t.name, ids);
    return t.makeVisible(ids);
  }

  /** In-flight messages to the dead-letter queue; returns the in-flight messages that left. */
  deadLetter(t: Topic, reason: string, ids: readonly string[]): StoredMessage[] {
    const originals = t.findInflight(ids);
    this.sink?.deadLetter(t.namespace, t.name, reason, ids);
    t.deadLetter(reason, ids);
    return originals;
  }

  /** Messages from the head of the dead-letter queue, message i to `queues[i]`; returns them. */
  redrive(t: Topic, queues: readonly number[]): StoredMessage[] {
    this.sink?.redrive(t.namespace, t.name, queues);
    return t.redrive(queues);
  }
}
