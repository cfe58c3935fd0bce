/**
 * What a topic holds at run time beside its replayed state: the
 * subscribers of each queue and its place in the delivery pass, the drain
 * timer of a shrinking resize, the round-robin cursor, the publish and ack
 * rates. None of it is logged: `Topic` (topic.ts) holds what the AOF
 * rebuilds, and this starts empty at startup (clients subscribe again, a
 * drain in progress gets a new timer; docs/DESIGN.md, "Recovery").
 *
 * A `Lane` stands beside each `Queue`, at the same index: the hot paths
 * reach a queue's subscribers by array index, as they reached them on the
 * queue itself. `syncLanes` keeps the two arrays aligned after a resize.
 */
import type { Queue, Topic } from './topic.js';
import type { Subscription, SubscriptionHandler } from './subscription.js';

/** The delivery side of one queue. */
export class Lane {
  readonly subscribers: Subscriber[] = [];
  /** Index of the next subscriber to serve (round-robin between subscribers). */
  nextSubscriber = 0;
  /** Set while the lane waits in the delivery pass's list. */
  scheduled = false;
  // Rates of the queue's totals (msgs/s, EWMA; docs/DESIGN.md, "Stats").
  publishRate = 0;
  ackRate = 0;
  private lastPublished = 0;
  private lastAcked = 0;

  constructor(
    readonly live: LiveTopic,
    readonly queue: Queue,
  ) {}

  hasReadySubscriber(): boolean {
    for (const s of this.subscribers) if (s.ready()) return true;
    return false;
  }

  /** One rate sample `dtSec` after the previous one; `alpha` weighs it against the past. */
  sampleRates(dtSec: number, alpha: number): void {
    const q = this.queue;
    this.publishRate += alpha * ((q.published - this.lastPublished) / dtSec - this.publishRate);
    this.ackRate += alpha * ((q.acked - this.lastAcked) / dtSec - this.ackRate);
    this.lastPublished = q.published;
    this.lastAcked = q.acked;
  }
}

/** A topic as the broker runs it: its state, and a lane per queue. */
export class LiveTopic {
  readonly lanes: Lane[] = [];
  /** Subscribers on all its queues (to know when a backlog may be stolen by an idle one). */
  subscriberCount = 0;
  drainTimer: NodeJS.Timeout | undefined;
  /** The next queue of a publish routed round-robin (a routing decision, not state: nothing replays it). */
  roundRobin = 0;

  constructor(readonly topic: Topic) {
    this.syncLanes();
  }

  /**
   * One lane per queue again after the queues changed (a resize grew them,
   * the end of a drain removed the tail ones, replay did either). Returns
   * the lanes of removed queues.
   */
  syncLanes(): Lane[] {
    const queues = this.topic.queues;
    const removed: Lane[] = [];
    // A queue replaced at the same index (replay of a shrink's end, then a grow) gets a lane of its own:
    // the old lane would keep serving, and counting, the removed queue.
    for (let i = 0; i < Math.min(this.lanes.length, queues.length); i++) {
      if (this.lanes[i]!.queue !== queues[i]) {
        removed.push(this.lanes[i]!);
        this.lanes[i] = new Lane(this, queues[i]!);
      }
    }
    for (let i = this.lanes.length; i < queues.length; i++) this.lanes.push(new Lane(this, queues[i]!));
    if (this.lanes.length > queues.length) removed.push(...this.lanes.splice(queues.length));
    return removed;
  }
}

/** The broker's side of a subscription (docs/DESIGN.md, "Subscriptions"). */
export class Subscriber implements Subscription {
  paused = false;
  closed = false;
  inflight = 0;

  constructor(
    readonly lane: Lane,
    readonly handler: SubscriptionHandler,
    readonly autoAck: boolean,
    /** Bound on in-flight messages without auto-ack. */
    readonly maxInflight: number,
    private readonly wake: (sub: Subscriber) => void,
    private readonly detach: (sub: Subscriber) => void,
  ) {}

  ready(): boolean {
    return !this.closed && !this.paused && (this.autoAck || this.inflight < this.maxInflight);
  }

  /** How many messages it can take now. */
  capacity(): number {
    if (!this.ready()) return 0;
    return this.autoAck ? Number.MAX_SAFE_INTEGER : this.maxInflight - this.inflight;
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused || this.closed) return;
    this.paused = false;
    this.wake(this);
  }

  /** An in-flight message it held was acked or requeued. */
  release(): void {
    const wasFull = !this.autoAck && this.inflight >= this.maxInflight;
    this.inflight--;
    if (wasFull && !this.closed) this.wake(this);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.detach(this);
  }
}
