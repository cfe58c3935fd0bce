/** Core values to wire messages (PROTOCOL.md, "gRPC": Message). */
import { type Delivery, timestampNs } from '../../broker/message.js';
import type { Message } from '../../../gen/mqlite/v1/mqlite_pb.js';

const NO_HEADERS: { [key: string]: string } = Object.freeze({}) as { [key: string]: string };

/**
 * Every field set, so this literal is exactly what `create(MessageSchema)`
 * would build for proto3, without its per-field walk: this runs once per
 * pushed message.
 */
export function wireMessage(d: Delivery): Message {
  return {
    $typeName: 'mqlite.v1.Message',
    id: d.id,
    namespace: d.namespace,
    topic: d.topic,
    queueId: d.queueId,
    // The core's payload is an owned copy, never mutated: no copy needed.
    payload: d.payload,
    timestamp: timestampNs(d),
    headers: (d.headers as { [key: string]: string } | undefined) ?? NO_HEADERS,
    deliveryCount: d.deliveryCount,
  };
}
