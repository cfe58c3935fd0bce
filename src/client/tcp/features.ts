/**
 * The client side of the extension actions on the TCP front (README.md of
 * src/server/tcp, "Queue features"): the JSON data of each command and the
 * decoding of its reply in either encoding. Protobuf bodies are the
 * generated protobuf-es messages, converted through the same helpers as
 * the gRPC client (src/client/grpc/features.ts).
 */
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import {
  ConsumeDlqRequestSchema,
  GetTopicStatsRequestSchema,
  GetTopicStatsResponseSchema,
  NackRequestSchema,
  NackResponseSchema,
  PeekRequestSchema,
  PauseTopicRequestSchema,
  PeekResponseSchema,
  PublishBatchRequestSchema,
  PurgeRequestSchema,
  PurgeResponseSchema,
  PublishBatchResponseSchema,
  RedriveDlqRequestSchema,
  RedriveDlqResponseSchema,
  RenewLeaseRequestSchema,
  ResumeTopicRequestSchema,
  SetTopicPolicyRequestSchema,
  SetTopicPolicyResponseSchema,
} from '../../../gen/mqlite/v1/mqlite_pb.js';
import { batchEntries, batchItem, clientPolicy, clientTopicStats, peekPage, wireBatchMode, wirePeekOrder } from '../grpc/features.js';
import {
  type WireBatchItem,
  type WireMessage,
  type WirePolicy,
  type WireTopicStats,
  decodeBatchItem,
  decodeMessage as decodeJsonMessage,
  decodePolicy as decodeJsonPolicy,
  decodeTopicStats,
  encodePolicy,
  payloadJsonText,
} from '../json-message.js';
import type {
  BatchPublishEntry,
  BatchPublishItem,
  ClientTopicPolicy,
  PurgeOptions,
  ClientTopicStats,
  PeekPage,
  ClientNackOptions,
} from '../types.js';
import type { Reply } from './codec.js';

const q = JSON.stringify;

/** One command's data in both encodings, built only for the connection's encoding. */
export interface CommandData {
  json(): string;
  pb(): Uint8Array;
}

export interface PeekOptions {
  cursor?: string;
  limit?: number;
  order?: 'asc' | 'desc';
  previewBytes?: number;
  dlq?: boolean;
}

/** Optional milliseconds as the wire's optional int64. */
function wireMs(ms: number | undefined): bigint | undefined {
  return ms === undefined ? undefined : BigInt(ms);
}

// ------------------------------------------------------------------ commands

/** A batch entry's JSON: the payload's JSON text goes in as it is (MqliteClient.publish). */
function entryJson(e: BatchPublishEntry): string {
  const rest = q({
    headers: e.headers,
    routing_key: e.routingKey,
    queue_id: e.queueId,
    dedup_id: e.dedupId,
    delay_ms: e.delayMs,
    deliver_at_ms: e.deliverAtMs,
    ttl_ms: e.ttlMs,
  });
  return rest === '{}' ? `{"payload":${payloadJsonText(e.payload)}}` : `{"payload":${payloadJsonText(e.payload)},${rest.slice(1)}`;
}

export function publishBatchData(namespace: string, topic: string, entries: readonly BatchPublishEntry[], mode: 'partial' | 'atomic'): CommandData {
  return {
    json: () => `{"namespace":${q(namespace)},"topic":${q(topic)},"mode":${q(mode)},"entries":[${entries.map(entryJson).join(',')}]}`,
    pb: () =>
      toBinary(PublishBatchRequestSchema, create(PublishBatchRequestSchema, { namespace, topic, entries: batchEntries(entries), mode: wireBatchMode(mode) })),
  };
}

export function nackData(namespace: string, topic: string, queueId: number, ids: readonly string[], opts: ClientNackOptions): CommandData {
  // dead_letter only when set: a broker that predates it reads the rest as before.
  const deadLetter = opts.deadLetter === true ? true : undefined;
  return {
    json: () => q({ namespace, topic, queue_id: queueId, message_ids: ids, delay_ms: opts.delayMs, dead_letter: deadLetter }),
    pb: () =>
      toBinary(NackRequestSchema, create(NackRequestSchema, { namespace, topic, queueId, messageIds: [...ids], delayMs: wireMs(opts.delayMs), deadLetter: opts.deadLetter === true })),
  };
}

export function renewData(namespace: string, topic: string, queueId: number, ids: readonly string[], extendMs: number): CommandData {
  return {
    json: () => q({ namespace, topic, queue_id: queueId, message_ids: ids, extend_ms: extendMs }),
    pb: () =>
      toBinary(RenewLeaseRequestSchema, create(RenewLeaseRequestSchema, { namespace, topic, queueId, messageIds: [...ids], extendMs: BigInt(extendMs) })),
  };
}

export function peekData(namespace: string, topic: string, queueId: number, o: PeekOptions): CommandData {
  return {
    json: () =>
      q({
        namespace,
        topic,
        queue_id: queueId,
        cursor: o.cursor,
        limit: o.limit,
        order: o.order,
        preview_bytes: o.previewBytes,
        dlq: o.dlq,
      }),
    pb: () =>
      toBinary(
        PeekRequestSchema,
        create(PeekRequestSchema, {
          namespace,
          topic,
          queueId,
          cursor: o.cursor,
          limit: o.limit,
          order: wirePeekOrder(o.order),
          previewBytes: o.previewBytes,
          dlq: o.dlq,
        }),
      ),
  };
}

export function consumeDlqData(namespace: string, topic: string, batchSize: number, autoAck: boolean): CommandData {
  return {
    json: () => q({ namespace, topic, batch_size: batchSize, auto_ack: autoAck }),
    pb: () => toBinary(ConsumeDlqRequestSchema, create(ConsumeDlqRequestSchema, { namespace, topic, batchSize, autoAck })),
  };
}

/** `max` undefined: everything (0 on the wire). */
export function redriveData(namespace: string, topic: string, max: number | undefined): CommandData {
  return {
    json: () => q({ namespace, topic, max }),
    pb: () => toBinary(RedriveDlqRequestSchema, create(RedriveDlqRequestSchema, { namespace, topic, max: max ?? 0 })),
  };
}

/** pause_topic, or resume_topic when `resume`. */
export function pauseData(namespace: string, topic: string, resume: boolean): CommandData {
  return {
    json: () => q({ namespace, topic }),
    pb: () =>
      resume
        ? toBinary(ResumeTopicRequestSchema, create(ResumeTopicRequestSchema, { namespace, topic }))
        : toBinary(PauseTopicRequestSchema, create(PauseTopicRequestSchema, { namespace, topic })),
  };
}

export function purgeData(namespace: string, topic: string, opts: PurgeOptions): CommandData {
  return {
    json: () => q({ namespace, topic, queue_id: opts.queueId, dlq: opts.dlq }),
    pb: () => toBinary(PurgeRequestSchema, create(PurgeRequestSchema, { namespace, topic, queueId: opts.queueId, dlq: opts.dlq ?? false })),
  };
}

export function decodePurge(reply: Reply): number {
  const b = pbData(reply);
  return b !== undefined ? Number(fromBinary(PurgeResponseSchema, b).purged) : (reply.json as { purged: number }).purged;
}

/** Only the fields given are sent: the rest of the policy stays as it is. */
export function policyData(namespace: string, topic: string, p: Partial<ClientTopicPolicy>): CommandData {
  return {
    json: () =>
      q({ namespace, topic, ...encodePolicy(p) }),
    pb: () =>
      toBinary(
        SetTopicPolicyRequestSchema,
        create(SetTopicPolicyRequestSchema, {
          namespace,
          topic,
          maxRetries: p.maxRetries,
          retryBaseMs: wireMs(p.retryBaseMs),
          retryCapMs: wireMs(p.retryCapMs),
          dedupWindowMs: wireMs(p.dedupWindowMs),
          ackTimeoutMs: wireMs(p.ackTimeoutMs),
          messageTtlMs: wireMs(p.messageTtlMs),
          deadLetterExpired: p.deadLetterExpired,
        }),
      ),
  };
}

export function statsData(namespace: string, topic: string): CommandData {
  return {
    json: () => q({ namespace, topic }),
    pb: () => toBinary(GetTopicStatsRequestSchema, create(GetTopicStatsRequestSchema, { namespace, topic })),
  };
}

// ------------------------------------------------------------------- replies

/** The protobuf data case of a reply; undefined for a JSON reply. */
function pbData(reply: Reply): Uint8Array | undefined {
  return reply.field === 0 ? undefined : reply.buf.subarray(reply.start, reply.end);
}

/** A copy, so that a kept message does not hold the whole reply frame in memory. */
function own(b: Uint8Array): Uint8Array {
  return new Uint8Array(b);
}

export function decodeBatch(reply: Reply): BatchPublishItem[] {
  const b = pbData(reply);
  if (b !== undefined) return fromBinary(PublishBatchResponseSchema, b).results.map(batchItem);
  return (reply.json as { results: WireBatchItem[] }).results.map(decodeBatchItem);
}

export function decodeNack(reply: Reply): { requeued: number; delayed: number; deadLettered: number } {
  const b = pbData(reply);
  if (b !== undefined) {
    const r = fromBinary(NackResponseSchema, b);
    return { requeued: r.requeued, delayed: r.delayed, deadLettered: r.deadLettered };
  }
  const r = reply.json as { requeued: number; delayed: number; dead_lettered: number };
  return { requeued: r.requeued, delayed: r.delayed, deadLettered: r.dead_lettered };
}

export function decodePeek(reply: Reply): PeekPage {
  const b = pbData(reply);
  if (b !== undefined) {
    const page = peekPage(fromBinary(PeekResponseSchema, b));
    for (const m of page.messages) m.payload = own(m.payload);
    return page;
  }
  const r = reply.json as { messages: (WireMessage & { payload_size: number })[]; next_cursor: string | null };
  const page: PeekPage = { messages: r.messages.map((m) => ({ ...decodeJsonMessage(m), payloadSize: m.payload_size })) };
  if (typeof r.next_cursor === 'string' && r.next_cursor !== '') page.nextCursor = r.next_cursor;
  return page;
}

export function decodeRedrive(reply: Reply): number {
  const b = pbData(reply);
  return b !== undefined ? fromBinary(RedriveDlqResponseSchema, b).moved : (reply.json as { moved: number }).moved;
}

export function decodePolicy(reply: Reply): ClientTopicPolicy {
  const b = pbData(reply);
  return b !== undefined ? clientPolicy(fromBinary(SetTopicPolicyResponseSchema, b).policy) : decodeJsonPolicy(reply.json as WirePolicy);
}

export function decodeStats(reply: Reply): ClientTopicStats {
  const b = pbData(reply);
  if (b !== undefined) {
    const s = fromBinary(GetTopicStatsResponseSchema, b).stats;
    if (s === undefined) throw new Error('get_topic_stats_response without stats');
    return clientTopicStats(s);
  }
  return decodeTopicStats(reply.json as WireTopicStats);
}
