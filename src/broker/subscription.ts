import type { BrokerError } from './errors.js';
import type { Delivery, ResizeNotice } from './message.js';
import type { Queue } from './topic.js';

/** What a front gives the broker to receive pushed messages. */
export interface SubscriptionHandler {
  /** One pushed message: encode and write it, synchronously. */
  message(msg: Delivery): void;
  /** The topic was resized (PROTOCOL.md, "Topic resize notice on subscriptions"). */
  notice(n: ResizeNotice): void;
  /** The broker ended the subscription: queue or topic deleted, or shutting down. */
  end(reason: BrokerError | undefined): void;
  /** After a run of `message` calls: a good moment to flush a corked socket. */
  batchEnd?(): void;
}

export interface Subscription {
  /** Stop pushing (the front's write buffer is full); undelivered messages stay queued. */
  pause(): void;
  resume(): void;
  /** The client went away: its in-flight messages follow the ack rules. */
  close(): void;
  readonly closed: boolean;
}

/** The broker's side of a subscription. */
export class Subscriber implements Subscription {
  paused = false;
  closed = false;
  inflight = 0;

  constructor(
    readonly queue: Queue,
    readonly handler: SubscriptionHandler,
    readonly autoAck: boolean,
    /** Bound on in-flight messages without auto-ack (DESIGN.md, "Subscriptions"). */
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
