/**
 * The message as every front puts it on the wire and every client reads it
 * (docs/PROTOCOL.md, "Data model"): the fields of `mqlite.v1.Message`, the
 * nanosecond timestamp, the headers the broker adds, and the resize notice
 * a subscription receives (docs/PROTOCOL.md, "Topic resize notice on
 * subscriptions"). Nothing here knows the core: its stored messages have
 * these fields and are passed as they are.
 */

/** What a front encodes of a message: the core's deliveries have exactly these fields. */
export interface WireMessage {
  readonly id: string;
  readonly namespace: string;
  readonly topic: string;
  /** -1: the dead-letter queue, or a resize notice. */
  readonly queueId: number;
  readonly payload: Uint8Array;
  /** Unix time in milliseconds, with a sub-millisecond fraction. */
  readonly timestampMs: number;
  readonly headers: Readonly<Record<string, string>> | undefined;
  readonly deliveryCount: number;
}

/** The wire's int64 nanosecond timestamp. */
export function timestampNs(msg: { readonly timestampMs: number }): bigint {
  return BigInt(Math.round(msg.timestampMs * 1000)) * 1000n;
}

/** Headers a dead-lettered message carries beside its own (docs/DESIGN.md, "Nack, retries and dead letters"). */
export const DLQ_REASON_HEADER = '_dlq_reason';
export const DLQ_COUNT_HEADER = '_delivery_count';

/** A topic's new shape, as a subscription learns it. */
export interface ResizeNotice {
  readonly namespace: string;
  readonly topic: string;
  readonly version: bigint;
  readonly queueCount: number;
}

/**
 * The resize notice as a Message: id `_resize_<version>`, queue_id -1, an
 * empty payload and the `_event`, `_queue_count`, `_version` headers.
 */
export function resizeNoticeMessage(n: ResizeNotice): WireMessage {
  return {
    id: `_resize_${n.version}`,
    namespace: n.namespace,
    topic: n.topic,
    queueId: -1,
    payload: new Uint8Array(0),
    timestampMs: Date.now(),
    headers: { _event: 'topic_resized', _queue_count: String(n.queueCount), _version: String(n.version) },
    deliveryCount: 0,
  };
}
