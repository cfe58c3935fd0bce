/**
 * Delivery: push subscriptions and the messages they are handed
 * (docs/DESIGN.md, "Subscriptions", "Work stealing", "Consume").
 *
 * A change that makes messages pending wakes their queue's lane
 * (`schedule`); one delivery pass per event-loop turn then pops for every
 * woken lane, a run per subscriber in turn, so every publish of a turn is
 * pushed in one write per subscriber rather than one per message. An
 * active queue found empty steals the tail half of its busiest sibling.
 *
 * The exception is a publish to an idle queue (nothing else pending, the
 * lane not waiting for a pass): its message is pushed at once, inside the
 * publish, and the lane is then scheduled as usual, so the later publishes
 * of the same turn wait for the pass and go out together. One message
 * alone gains nothing by waiting for a turn to end: waiting only adds the
 * AOF write and the publisher's reply ahead of the push (docs/DESIGN.md,
 * "Subscriptions").
 *
 * Here too are the pops and the ends of flight that a delivery shares with
 * the Broker's calls: `pop` and `steal` (consume), `requeue`,
 * `deadLetter` and `expire` (nack, lease expiry, recovery). Each is the
 * commit of its record followed by what it means at run time (deadlines,
 * a subscriber's in-flight count, waking lanes).
 *
 * The end of a drain is the `drained` callback's (drain.ts), given at
 * construction so that this module does not import it.
 */
import type { Logger } from 'pino';
import type { Commit } from './commit.js';
import type { BrokerError } from './errors.js';
import type { Leases } from './leases.js';
import { type Lane, type LiveTopic, Subscriber } from './live.js';
import { DLQ_QUEUE_ID, type StoredMessage } from './message.js';
import type { SubscriptionHandler } from './subscription.js';

/** Messages handed to one subscriber before moving to the next (fairness, and one pop record per run). */
const DELIVERY_RUN = 64;
/** Messages pushed per event-loop turn before yielding to I/O. */
const DELIVERY_BUDGET = 8192;

export class Dispatcher {
  private readonly dirty: Lane[] = [];
  private passScheduled = false;
  /** A delivery is running: a publish made by a handler waits for the pass rather than nesting one. */
  private delivering = false;

  constructor(
    private readonly commit: Commit,
    private readonly leases: Leases,
    private readonly log: Logger,
    /** A draining queue was popped or stolen from: end the drain if they are all empty now. */
    private readonly drained: (lt: LiveTopic) => void,
  ) {}

  subscribe(lane: Lane, handler: SubscriptionHandler, autoAck: boolean, maxInflight: number): Subscriber {
    const sub = new Subscriber(lane, handler, autoAck, maxInflight, this.wake, this.detach);
    lane.subscribers.push(sub);
    lane.live.subscriberCount++;
    this.schedule(lane);
    return sub;
  }

  // ------------------------------------------------------------------- waking

  schedule(lane: Lane): void {
    if (lane.scheduled || lane.queue.removed) return;
    lane.scheduled = true;
    this.dirty.push(lane);
    if (!this.passScheduled) {
      this.passScheduled = true;
      setImmediate(this.runDeliveries);
    }
  }

  /** Wakes the lanes that `msgs`, now pending, may serve. */
  scheduleAll(lt: LiveTopic, msgs: readonly StoredMessage[]): void {
    for (const m of msgs) if (m.queueId >= 0) this.schedule(lt.lanes[m.queueId]!);
    if (lt.subscriberCount > 0 && msgs.length > 0) this.wakeStarving(lt);
  }

  /** Let empty queues with waiting subscribers steal from a sibling's backlog. */
  wakeStarving(lt: LiveTopic): void {
    const t = lt.topic;
    for (let i = 0; i < t.activeCount; i++) {
      const lane = lt.lanes[i]!;
      if (lane.queue.pending.length === 0 && lane.subscribers.length > 0) this.schedule(lane);
    }
  }

  /**
   * A published message is pending on `queue`: wake who may take it. On
   * an idle queue it is pushed now (see the header), and the lane is
   * scheduled so that the turn's later publishes to it are gathered.
   */
  published(lt: LiveTopic, queue: number): void {
    const lane = lt.lanes[queue]!;
    if (lane.subscribers.length > 0) {
      if (!lane.scheduled && !this.delivering && lane.queue.pending.length === 1 && !this.commit.closing) this.deliverNow(lane);
      this.schedule(lane);
    } else if (lt.subscriberCount > 0 && lane.queue.pending.length >= 2) this.wakeStarving(lt);
  }

  private deliverNow(lane: Lane): void {
    this.delivering = true;
    try {
      this.deliver(lane, DELIVERY_BUDGET);
    } catch (err) {
      // The publish is applied and logged: it is answered as such, and the pass tries the delivery again.
      const t = lane.live.topic;
      this.log.error({ err, namespace: t.namespace, topic: t.name, queue: lane.queue.id }, 'delivery at publish failed; left to the delivery pass');
    } finally {
      this.delivering = false;
    }
  }

  private readonly wake = (sub: Subscriber): void => this.schedule(sub.lane);

  // -------------------------------------------------------------- pops, steals

  /** Pops from `lane`'s queue; without auto-ack the messages go in flight, held by `holder`. */
  pop(lt: LiveTopic, lane: Lane, count: number, autoAck: boolean, holder: Subscriber | undefined): StoredMessage[] {
    const t = lt.topic;
    const q = lane.queue;
    const msgs = this.commit.pop(t, q.id, count, autoAck);
    if (msgs.length > 0 && !autoAck) this.leases.track(t, msgs, holder);
    // A pop may also have expired messages (docs/DESIGN.md, "Expiry").
    if (q.id >= t.activeCount && (msgs.length > 0 || t.mayExpire)) this.drained(lt);
    return msgs;
  }

  /** docs/DESIGN.md, "Work stealing": only for an active queue found empty. */
  steal(lt: LiveTopic, lane: Lane): boolean {
    const t = lt.topic;
    const q = lane.queue;
    if (q.id >= t.activeCount) return false;
    const move = t.planSteal(q.id);
    if (!move) return false;
    this.commit.move(t, [move]);
    this.log.debug({ namespace: t.namespace, topic: t.name, ...move }, 'work stealing');
    if (move.from >= t.activeCount) this.drained(lt);
    return true;
  }

  /**
   * An auto-ack pop is answered with its messages only once it is
   * durable. When the store fails instead, the client gets the error and
   * not the messages, so they go back to the head of their queue, in
   * order, rather than vanish undelivered (see `Commit.undoPop`).
   */
  async durableOrUnpop(lt: LiveTopic, msgs: StoredMessage[]): Promise<void> {
    try {
      await this.commit.durable();
    } catch (err) {
      if (!lt.topic.deleted) {
        this.commit.undoPop(lt.topic, msgs);
        this.scheduleAll(lt, msgs);
      }
      throw err;
    }
  }

  // ------------------------------------------------------------- ends of flight

  /** An in-flight message left flight: its subscriber has a slot again. */
  release(m: StoredMessage): void {
    const holder = m.holder as Subscriber | undefined;
    m.holder = undefined;
    holder?.release();
  }

  /** In-flight messages back to the head of their queue (or of the dead-letter queue). */
  requeue(lt: LiveTopic, ids: readonly string[]): void {
    const msgs = this.commit.requeue(lt.topic, ids);
    for (const m of msgs) this.release(m);
    this.scheduleAll(lt, msgs);
  }

  /** In-flight messages to the dead-letter queue (docs/DESIGN.md, "Nack, retries and dead letters"). */
  deadLetter(lt: LiveTopic, reason: string, ids: readonly string[]): void {
    const t = lt.topic;
    const originals = this.commit.deadLetter(t, reason, ids);
    for (const m of originals) this.release(m);
    this.log.debug({ namespace: t.namespace, topic: t.name, count: originals.length, reason }, 'messages dead-lettered');
  }

  /**
   * In-flight messages whose lease ended without an ack (deadline passed,
   * or the broker restarted): back to the head of their queue, or to the
   * dead-letter queue (reason `ack_timeout`) once past the policy's retries.
   */
  expire(lt: LiveTopic, msgs: readonly StoredMessage[]): void {
    const max = lt.topic.policy.retry.maxRetries;
    const requeue: string[] = [];
    const dead: string[] = [];
    for (const m of msgs) (max >= 0 && m.queueId !== DLQ_QUEUE_ID && m.deliveryCount > max ? dead : requeue).push(m.id);
    if (requeue.length > 0) this.requeue(lt, requeue);
    if (dead.length > 0) this.deadLetter(lt, 'ack_timeout', dead);
  }

  /** The leases' callback: `expire`, logged. */
  readonly leasesExpired = (lt: LiveTopic, msgs: StoredMessage[]): void => {
    this.expire(lt, msgs);
    const t = lt.topic;
    this.log.debug({ namespace: t.namespace, topic: t.name, count: msgs.length }, 'ack deadline passed; messages requeued');
  };

  // -------------------------------------------------------------- subscribers

  /** A resumed topic: every lane with subscribers gets a delivery pass (docs/DESIGN.md, "Pause"). */
  resumed(lt: LiveTopic): void {
    for (const lane of lt.lanes) if (lane.subscribers.length > 0) this.schedule(lane);
  }

  /** Tells every subscriber of the topic its new queue count and version (docs/DESIGN.md, "Resize"). */
  notifyResize(lt: LiveTopic): void {
    const t = lt.topic;
    const notice = { namespace: t.namespace, topic: t.name, version: t.version, queueCount: t.activeCount };
    for (const lane of lt.lanes) {
      for (const sub of lane.subscribers) {
        try {
          sub.handler.notice(notice);
        } catch (err) {
          this.log.error({ err }, 'subscription notice handler failed');
        }
      }
    }
  }

  /** Ends every subscription of `lane`: its queue or topic is gone, or the broker is shutting down. */
  endSubscribers(lane: Lane, reason: BrokerError | undefined): void {
    for (const sub of lane.subscribers.splice(0)) {
      sub.closed = true;
      lane.live.subscriberCount--;
      try {
        sub.handler.end(reason);
      } catch (err) {
        this.log.error({ err }, 'subscription end handler failed');
      }
    }
  }

  private readonly detach = (sub: Subscriber): void => {
    const subs = sub.lane.subscribers;
    const i = subs.indexOf(sub);
    if (i >= 0) {
      subs.splice(i, 1);
      sub.lane.live.subscriberCount--;
    }
  };

  // ------------------------------------------------------------ delivery pass

  private readonly runDeliveries = (): void => {
    this.passScheduled = false;
    const lanes = this.dirty.splice(0);
    let budget = DELIVERY_BUDGET;
    this.delivering = true;
    try {
      for (const lane of lanes) {
        lane.scheduled = false;
        if (lane.queue.removed || this.commit.closing) continue;
        budget -= this.deliver(lane, budget);
      }
    } finally {
      this.delivering = false;
    }
  };

  private deliver(lane: Lane, budget: number): number {
    const lt = lane.live;
    const q = lane.queue;
    const subs = lane.subscribers;
    // docs/DESIGN.md, "Pause": nothing is handed out, nothing is stolen.
    if (subs.length === 0 || lt.topic.paused) return 0;
    if (q.pending.length === 0 && (!lane.hasReadySubscriber() || !this.steal(lt, lane))) return 0;
    let delivered = 0;
    let idle = 0;
    while (q.pending.length > 0 && subs.length > 0 && idle < subs.length) {
      if (delivered >= budget) {
        this.schedule(lane); // the rest next turn, after I/O has had its share
        break;
      }
      if (lane.nextSubscriber >= subs.length) lane.nextSubscriber = 0;
      const sub = subs[lane.nextSubscriber++]!;
      const n = Math.min(sub.capacity(), DELIVERY_RUN, budget - delivered);
      if (n === 0) {
        idle++;
        continue;
      }
      idle = 0;
      const msgs = this.pop(lt, lane, n, sub.autoAck, sub);
      delivered += msgs.length;
      try {
        for (const m of msgs) sub.handler.message(m);
        sub.handler.batchEnd?.();
      } catch (err) {
        // In-flight messages of a broken subscriber follow the ack rules.
        this.log.error({ err, namespace: lt.topic.namespace, topic: lt.topic.name, queue: q.id }, 'subscriber failed; closing it');
        sub.close();
      }
      if (q.pending.length === 0 && !q.removed) this.steal(lt, lane);
    }
    // A backlog left here (its subscribers are full or paused) is work
    // that idle siblings may steal.
    if (q.pending.length >= 2 && lt.subscriberCount > subs.length) this.wakeStarving(lt);
    return delivered;
  }
}
