/** Core values to wire messages (PROTOCOL.md, "gRPC": Message, TopicPolicy, TopicStats). */
import type { Delivery } from '../../broker/message.js';
import { timestampNs } from '../../protocol/message.js';
import type { BatchMode, PeekOptions, QueueStats, TopicPolicy, TopicStats } from '../../broker/broker.js';
import { invalid } from '../../broker/errors.js';
import { BatchMode as WireBatchMode, PeekOrder } from '../../../gen/mqlite/v1/mqlite_pb.js';
import type { MessageInitShape } from '@bufbuild/protobuf';
import type {
  Message,
  QueueStatsSchema,
  TopicPolicySchema,
  TopicStatsSchema,
} from '../../../gen/mqlite/v1/mqlite_pb.js';

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

export function wirePolicy(p: TopicPolicy): MessageInitShape<typeof TopicPolicySchema> {
  return {
    maxRetries: p.retry.maxRetries,
    retryBaseMs: BigInt(p.retry.baseMs),
    retryCapMs: BigInt(p.retry.capMs),
    dedupWindowMs: BigInt(p.dedupWindowMs),
  };
}

/** The core's counters are JavaScript numbers; ages carry a sub-millisecond fraction the wire drops. */
function wireCounters(s: Omit<QueueStats, 'queueId'>) {
  return {
    pending: BigInt(s.pending),
    inFlight: BigInt(s.inFlight),
    delayed: BigInt(s.delayed),
    published: BigInt(s.published),
    acked: BigInt(s.acked),
    redelivered: BigInt(s.redelivered),
    deadLettered: BigInt(s.deadLettered),
    publishRate: s.publishRate,
    ackRate: s.ackRate,
    oldestPendingAgeMs: BigInt(Math.floor(s.oldestPendingAgeMs)),
  };
}

export function wireQueueStats(q: QueueStats): MessageInitShape<typeof QueueStatsSchema> {
  return { queueId: q.queueId, ...wireCounters(q) };
}

export function wireTopicStats(s: TopicStats): MessageInitShape<typeof TopicStatsSchema> {
  return {
    namespace: s.namespace,
    topic: s.topic,
    queueCount: s.queueCount,
    version: s.version,
    draining: s.draining,
    dlqDepth: BigInt(s.dlqDepth),
    ...wireCounters(s),
    policy: wirePolicy(s.policy),
    queues: s.queues.map(wireQueueStats),
  };
}

/** BatchMode of the proto (gRPC, TCP protobuf) as the core's; UNSPECIFIED is partial. */
export function batchModeOf(mode: WireBatchMode): BatchMode {
  switch (mode) {
    case WireBatchMode.UNSPECIFIED:
    case WireBatchMode.PARTIAL:
      return 'partial';
    case WireBatchMode.ATOMIC:
      return 'atomic';
    default:
      throw invalid(`batch mode ${mode as number} is not a BatchMode value: use BATCH_MODE_PARTIAL (1) or BATCH_MODE_ATOMIC (2)`);
  }
}

/** PeekOrder of the proto as the core's; UNSPECIFIED is ascending. */
export function peekOrderOf(order: PeekOrder): NonNullable<PeekOptions['order']> {
  switch (order) {
    case PeekOrder.UNSPECIFIED:
    case PeekOrder.ASC:
      return 'asc';
    case PeekOrder.DESC:
      return 'desc';
    default:
      throw invalid(`order ${order as number} is not a PeekOrder value: use PEEK_ORDER_ASC (1) or PEEK_ORDER_DESC (2)`);
  }
}
