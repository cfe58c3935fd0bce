/**
 * Moving messages: publish (one or a batch), consume, subscribe, ack, nack
 * and lease renewal (docs/PROTOCOL.md, "Operations": "Publish" to "Renew
 * lease"). publish, consume and ack are the hot path: their input is the
 * request as it is, or one object (publish, whose input is also the
 * publish's options).
 */
import type { DescMessage } from '@bufbuild/protobuf';
import type { Delivery } from '../../broker/message.js';
import {
  AckRequestSchema,
  AckResponseSchema,
  ConsumeRequestSchema,
  ConsumeResponseSchema,
  NackRequestSchema,
  NackResponseSchema,
  PublishBatchRequestSchema,
  PublishBatchResponseSchema,
  PublishRequestSchema,
  PublishResponseSchema,
  RenewLeaseRequestSchema,
  RenewLeaseResponseSchema,
  SubscribeRequestSchema,
} from '../../../gen/mqlite/v1/mqlite_pb.js';
import { AT_TOPIC } from './admin.js';
import { type Decoded, type Reply, command, done } from './command.js';
import { batchModeOf, ms, optionalMs, publishInput } from './unset.js';
import { batchResultsJson, messagesJson, wireBatchResults, wireMessage } from './values.js';

/** The reply of consume and consume_dlq: `{messages}`, a JSON list. */
export function deliveries<Res extends DescMessage>(): Reply<Res, readonly Delivery[]> {
  return { deliveries: true, pb: (msgs) => ({ messages: msgs.map(wireMessage) }) as never, json: messagesJson };
}

export const publish = command({
  name: 'publish',
  permission: 'write',
  scope: 'namespace',
  request: PublishRequestSchema,
  response: PublishResponseSchema,
  required: [...AT_TOPIC, 'payload'],
  input: publishInput,
  run: (broker, i) => broker.publish(i.namespace, i.topic, i.payload, i),
  reply: {
    pb: (r) => ({ messageId: r.messageId, queueId: r.queueId, duplicate: r.duplicate === true }),
    // `duplicate` only when true: old clients see the reply they know.
    json: (r) => `{"message_id":${JSON.stringify(r.messageId)},"queue_id":${r.queueId}${r.duplicate === true ? ',"duplicate":true' : ''}}`,
  },
});

export const publishBatch = command({
  name: 'publish_batch',
  permission: 'write',
  scope: 'namespace',
  request: PublishBatchRequestSchema,
  response: PublishBatchResponseSchema,
  required: [...AT_TOPIC, 'entries', 'payload'],
  input: (req) => ({ namespace: req.namespace, topic: req.topic, entries: req.entries.map(publishInput), mode: batchModeOf(req.mode) }),
  // Atomic failures throw (nothing published); partial ones are items of the result.
  run: (broker, i) => broker.publishBatch(i.namespace, i.topic, i.entries, i.mode),
  reply: { pb: (r) => ({ results: wireBatchResults(r) }), json: (r) => `{"results":${batchResultsJson(r)}}` },
});

export const consume = command({
  name: 'consume',
  permission: 'read',
  scope: 'namespace',
  request: ConsumeRequestSchema,
  response: ConsumeResponseSchema,
  required: AT_TOPIC,
  input: (req) => req,
  // batch_size 0 is 1: the core reads it so.
  run: (broker, req) => broker.consume(req.namespace, req.topic, req.queueId, req.batchSize, req.autoAck),
  reply: deliveries<typeof ConsumeResponseSchema>(),
});

/**
 * Where a subscription reads, and its options for `Broker.subscribe` (one
 * object, passed as they are). `maxInflight` undefined is the front's
 * default: the broker's `limits.max_inflight_per_subscription`.
 */
export interface SubscribeInput {
  readonly namespace: string;
  readonly topic: string;
  readonly queueId: number;
  readonly autoAck: boolean;
  readonly maxInflight: number | undefined;
}

/**
 * A push subscription: each front streams it its own way (TCP frames, SSE,
 * a gRPC stream); what it reads comes from here. `max_inflight` absent is
 * the default; present, 0 included, the core checks it (1..the limit);
 * with auto_ack nothing stays in flight, so it is ignored, unchecked
 * (docs/PROTOCOL.md, "Subscribe").
 */
export const subscribe: Decoded<typeof SubscribeRequestSchema, SubscribeInput> = {
  name: 'subscribe',
  permission: 'read',
  scope: 'namespace',
  request: SubscribeRequestSchema,
  required: AT_TOPIC,
  input: (req) => ({
    namespace: req.namespace,
    topic: req.topic,
    queueId: req.queueId,
    autoAck: req.autoAck,
    maxInflight: req.autoAck ? undefined : req.maxInflight,
  }),
};

// A consumer acks, nacks and renews what it took: read, like consume.

export const ack = command({
  name: 'ack',
  permission: 'read',
  scope: 'namespace',
  request: AckRequestSchema,
  response: AckResponseSchema,
  required: AT_TOPIC,
  input: (req) => req,
  run: (broker, req) => broker.ack(req.namespace, req.topic, req.queueId, req.messageIds),
  reply: done(AckResponseSchema, 'messages acknowledged'),
});

export const nack = command({
  name: 'nack',
  permission: 'read',
  scope: 'namespace',
  request: NackRequestSchema,
  response: NackResponseSchema,
  required: AT_TOPIC,
  // delay_ms absent: the topic's backoff; 0: back at once.
  input: (req) => ({ namespace: req.namespace, topic: req.topic, queueId: req.queueId, messageIds: req.messageIds, delayMs: optionalMs(req.delayMs), deadLetter: req.deadLetter }),
  run: (broker, i) => broker.nack(i.namespace, i.topic, i.queueId, i.messageIds, { delayMs: i.delayMs, deadLetter: i.deadLetter }),
  reply: {
    pb: (r) => ({ success: true, requeued: r.requeued, delayed: r.delayed, deadLettered: r.deadLettered }),
    json: (r) => `{"requeued":${r.requeued},"delayed":${r.delayed},"dead_lettered":${r.deadLettered}}`,
  },
});

export const renewLease = command({
  name: 'renew_lease',
  permission: 'read',
  scope: 'namespace',
  request: RenewLeaseRequestSchema,
  response: RenewLeaseResponseSchema,
  required: [...AT_TOPIC, 'extend_ms'],
  input: (req) => ({ namespace: req.namespace, topic: req.topic, queueId: req.queueId, messageIds: req.messageIds, extendMs: ms(req.extendMs) }),
  run: (broker, i) => broker.renew(i.namespace, i.topic, i.queueId, i.messageIds, i.extendMs),
  reply: done(RenewLeaseResponseSchema, 'leases renewed'),
});
