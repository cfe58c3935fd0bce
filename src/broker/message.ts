/** Headers of a message: string to string, never mutated after publish. */
export type Headers = Readonly<Record<string, string>>;

export const enum MessageState {
  Pending = 0,
  InFlight = 1,
  /** Acked, auto-acked, dead-lettered, or its topic was deleted. */
  Gone = 2,
  /** Held until a visible time: a delayed publish, or a nack waiting for its retry. */
  Held = 3,
}

/** The `queueId` of a message in (or in flight from) its topic's dead-letter queue. */
export const DLQ_QUEUE_ID = -1;

// Headers a dead-lettered message carries beside its own: part of the wire contract.
export { DLQ_COUNT_HEADER, DLQ_REASON_HEADER } from '../protocol/message.js';
// A topic's new shape as the core tells its subscriptions; fronts encode it.
export type { ResizeNotice } from '../protocol/message.js';

/**
 * A message as the core stores it. Fronts read it (through `Delivery`) to
 * encode their wire format; only the core writes it. One object per
 * message for its whole life: routing, stealing and redelivery move the
 * reference, never copy the payload.
 */
export interface StoredMessage {
  readonly id: string;
  readonly namespace: string;
  readonly topic: string;
  /** The queue that holds it now (changes when stolen, rebalanced or drained); DLQ_QUEUE_ID in the dead-letter queue. */
  queueId: number;
  /** Owned copy, never a view into a network frame. */
  readonly payload: Uint8Array;
  /** Unix time in milliseconds with sub-millisecond fraction, set at publish. */
  readonly timestampMs: number;
  readonly headers: Headers | undefined;
  /** 0 until first delivered; 1 on first delivery, +1 per redelivery. */
  deliveryCount: number;
  state: MessageState;
  /** Ack deadline (ms, monotonic clock) while in flight. */
  deadline: number;
  /** The subscription that holds it in flight, to release its slot on ack. */
  holder: object | undefined;
  /**
   * Unix ms from which it is never delivered (docs/DESIGN.md, "Expiry");
   * 0: never. Set at publish (or replay); 0 in the dead-letter queue.
   */
  expiresAt: number;
}

/** What fronts receive: a stored message, read-only. */
export type Delivery = Readonly<Pick<StoredMessage, 'id' | 'namespace' | 'topic' | 'queueId' | 'payload' | 'timestampMs' | 'headers' | 'deliveryCount'>>;
