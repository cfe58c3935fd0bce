/**
 * What a front sees of a push subscription (docs/DESIGN.md,
 * "Subscriptions"); the broker's side of it is `Subscriber` in live.ts.
 */
import type { BrokerError } from './errors.js';
import type { Delivery, ResizeNotice } from './message.js';

/** What a front gives the broker to receive pushed messages. */
export interface SubscriptionHandler {
  /** One pushed message: encode and write it, synchronously. */
  message(msg: Delivery): void;
  /** The topic was resized (docs/PROTOCOL.md, "Topic resize notice on subscriptions"). */
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
