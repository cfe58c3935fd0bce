/** Core values to wire messages (PROTOCOL.md, "gRPC": Message, TopicInfo). */
import { create } from '@bufbuild/protobuf';
import { type Delivery, timestampNs } from '../../broker/message.js';
import { MessageSchema, type Message } from '../../../gen/mqlite/v1/mqlite_pb.js';

const NO_HEADERS: { [key: string]: string } = Object.freeze({}) as { [key: string]: string };

export function wireMessage(d: Delivery): Message {
  return create(MessageSchema, {
    id: d.id,
    namespace: d.namespace,
    topic: d.topic,
    queueId: d.queueId,
    // The core's payload is an owned copy, never mutated: no copy needed.
    payload: d.payload,
    timestamp: timestampNs(d),
    headers: (d.headers as { [key: string]: string } | undefined) ?? NO_HEADERS,
    deliveryCount: d.deliveryCount,
  });
}
