/**
 * Wire shapes of the extensions (proto `mqlite.v1`) to and from the
 * protocol-neutral client types. Anything that speaks these protobuf
 * messages (the gRPC client, a protobuf TCP client) converts through here.
 */
import {
  BatchMode,
  PeekOrder,
  type Message,
  type PeekResponse,
  type PublishBatchResult,
  type QueueStats,
  type TopicPolicy,
  type TopicStats,
} from '../../../gen/mqlite/v1/mqlite_pb.js';
import type {
  BatchPublishEntry,
  BatchPublishItem,
  ClientMessage,
  ClientQueueStats,
  ClientTopicPolicy,
  ClientTopicStats,
  PeekPage,
  PublishExtras,
} from '../types.js';

export function clientMessage(m: Message): ClientMessage {
  return {
    id: m.id,
    namespace: m.namespace,
    topic: m.topic,
    queueId: m.queueId,
    payload: m.payload,
    timestamp: m.timestamp,
    headers: m.headers,
    deliveryCount: m.deliveryCount,
  };
}

export function payloadBytes(payload: Uint8Array | string): Uint8Array {
  return typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
}

/** Optional milliseconds as the wire's optional int64. */
function wireMs(ms: number | undefined): bigint | undefined {
  return ms === undefined ? undefined : BigInt(ms);
}

/** The init shape of the fields PublishRequest and PublishBatchEntry share. */
export interface PublishFields {
  payload: Uint8Array;
  headers: Record<string, string> | undefined;
  routingKey: string | undefined;
  queueId: number | undefined;
  dedupId: string | undefined;
  delayMs: bigint | undefined;
  deliverAtMs: bigint | undefined;
  ttlMs: bigint | undefined;
}

/**
 * The publish fields shared by PublishRequest and PublishBatchEntry. Each
 * optional field is sent only when given: an absent `queue_id` routes
 * automatically (docs/PROTOCOL.md), an absent delay publishes visible at once.
 */
export function publishFields(payload: Uint8Array | string, opts: PublishExtras): PublishFields {
  return {
    payload: payloadBytes(payload),
    headers: opts.headers,
    routingKey: opts.routingKey,
    queueId: opts.queueId,
    dedupId: opts.dedupId,
    delayMs: wireMs(opts.delayMs),
    deliverAtMs: wireMs(opts.deliverAtMs),
    ttlMs: wireMs(opts.ttlMs),
  };
}

export function batchEntries(entries: readonly BatchPublishEntry[]): PublishFields[] {
  return entries.map((e) => publishFields(e.payload, e));
}

export function wireBatchMode(mode: 'partial' | 'atomic'): BatchMode {
  return mode === 'atomic' ? BatchMode.ATOMIC : BatchMode.PARTIAL;
}

export function batchItem(r: PublishBatchResult): BatchPublishItem {
  return r.ok ? { ok: true, messageId: r.messageId, queueId: r.queueId, duplicate: r.duplicate } : { ok: false, code: r.errorCode, error: r.error };
}

export function wirePeekOrder(order: 'asc' | 'desc' | undefined): PeekOrder {
  return order === 'desc' ? PeekOrder.DESC : PeekOrder.ASC;
}

export function peekPage(res: PeekResponse): PeekPage {
  const page: PeekPage = {
    messages: res.messages.map((p) => ({ ...clientMessage(p.message!), payloadSize: p.payloadSize })),
  };
  if (res.nextCursor !== '') page.nextCursor = res.nextCursor;
  return page;
}

/** A policy absent on the wire reads as all zeros, as proto3 would show it. */
export function clientPolicy(p: TopicPolicy | undefined): ClientTopicPolicy {
  return {
    maxRetries: p?.maxRetries ?? 0,
    retryBaseMs: Number(p?.retryBaseMs ?? 0n),
    retryCapMs: Number(p?.retryCapMs ?? 0n),
    dedupWindowMs: Number(p?.dedupWindowMs ?? 0n),
    ackTimeoutMs: Number(p?.ackTimeoutMs ?? 0n),
    messageTtlMs: Number(p?.messageTtlMs ?? 0n),
    deadLetterExpired: p?.deadLetterExpired ?? false,
  };
}

function counters(s: QueueStats | TopicStats): Omit<ClientQueueStats, 'queueId'> {
  return {
    pending: Number(s.pending),
    inFlight: Number(s.inFlight),
    delayed: Number(s.delayed),
    published: Number(s.published),
    acked: Number(s.acked),
    redelivered: Number(s.redelivered),
    deadLettered: Number(s.deadLettered),
    expired: Number(s.expired),
    publishRate: s.publishRate,
    ackRate: s.ackRate,
    oldestPendingAgeMs: Number(s.oldestPendingAgeMs),
  };
}

export function clientTopicStats(s: TopicStats): ClientTopicStats {
  return {
    namespace: s.namespace,
    topic: s.topic,
    queueCount: s.queueCount,
    version: s.version,
    draining: s.draining,
    dlqDepth: Number(s.dlqDepth),
    ...counters(s),
    policy: clientPolicy(s.policy),
    paused: s.paused,
    purged: Number(s.purged),
    queues: s.queues.map((q) => ({ queueId: q.queueId, ...counters(q) })),
  };
}
