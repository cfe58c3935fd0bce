/**
 * The core's values on the wire, each as its protobuf message (gRPC, TCP
 * protobuf) and its JSON text (HTTP, TCP JSON), side by side
 * (docs/PROTOCOL.md, "Data model"; "JSON surfaces"). JSON is built as text
 * so that a message's payload is embedded as stored, never parsed and
 * serialised again.
 */
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { BatchItemResult, PeekResult, QueueStats, TopicPolicy, TopicStats } from '../../broker/broker.js';
import type { Delivery } from '../../broker/message.js';
import type { Message, PublishBatchResultSchema, QueueStatsSchema, TopicPolicySchema, TopicStatsSchema } from '../../../gen/mqlite/v1/mqlite_pb.js';
import { timestampNs } from '../../protocol/message.js';
import { type JsonStyle, messageJson, NATIVE_JSON } from '../json-payload.js';

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

/** A list of messages in JSON: `[Message, ...]`. */
export function messagesJson(msgs: readonly Delivery[], style: JsonStyle = NATIVE_JSON): string {
  let text = '[';
  for (let i = 0; i < msgs.length; i++) text += (i === 0 ? '' : ',') + messageJson(msgs[i]!, style);
  return `${text}]`;
}

export function wirePolicy(p: TopicPolicy): MessageInitShape<typeof TopicPolicySchema> {
  return {
    maxRetries: p.retry.maxRetries,
    retryBaseMs: BigInt(p.retry.baseMs),
    retryCapMs: BigInt(p.retry.capMs),
    dedupWindowMs: BigInt(p.dedupWindowMs),
    ackTimeoutMs: BigInt(p.ackTimeoutMs),
    messageTtlMs: BigInt(p.messageTtlMs),
    deadLetterExpired: p.deadLetterExpired,
  };
}

export function policyJson(p: TopicPolicy): string {
  return (
    `{"max_retries":${p.retry.maxRetries},"retry_base_ms":${p.retry.baseMs},"retry_cap_ms":${p.retry.capMs},"dedup_window_ms":${p.dedupWindowMs},` +
    `"ack_timeout_ms":${p.ackTimeoutMs},"message_ttl_ms":${p.messageTtlMs},"dead_letter_expired":${p.deadLetterExpired}}`
  );
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
    expired: BigInt(s.expired),
    publishRate: s.publishRate,
    ackRate: s.ackRate,
    oldestPendingAgeMs: BigInt(Math.floor(s.oldestPendingAgeMs)),
  };
}

function wireQueueStats(q: QueueStats): MessageInitShape<typeof QueueStatsSchema> {
  return { queueId: q.queueId, ...wireCounters(q) };
}

export function wireTopicStats(s: TopicStats): MessageInitShape<typeof TopicStatsSchema> {
  const { namespace, topic, queueCount, version, draining } = s;
  return { namespace, topic, queueCount, version, draining, dlqDepth: BigInt(s.dlqDepth), ...wireCounters(s), policy: wirePolicy(s.policy), queues: s.queues.map(wireQueueStats), paused: s.paused, purged: BigInt(s.purged) };
}

/** Rates are messages/s rounded to 3 decimals; ages are whole ms. */
function countsJson(s: Omit<QueueStats, 'queueId'>): string {
  return (
    `"pending":${s.pending},"in_flight":${s.inFlight},"delayed":${s.delayed},"published":${s.published},"acked":${s.acked},` +
    `"redelivered":${s.redelivered},"dead_lettered":${s.deadLettered},"expired":${s.expired},"publish_rate":${round3(s.publishRate)},` +
    `"ack_rate":${round3(s.ackRate)},"oldest_pending_age_ms":${Math.round(s.oldestPendingAgeMs)}`
  );
}

export function topicStatsJson(s: TopicStats): string {
  const queues = s.queues.map((q) => `{"queue_id":${q.queueId},${countsJson(q)}}`);
  return (
    `{"namespace":${JSON.stringify(s.namespace)},"topic":${JSON.stringify(s.topic)},"queue_count":${s.queueCount},` +
    `"version":${s.version},"draining":${s.draining},"dlq_depth":${s.dlqDepth},${countsJson(s)},` +
    `"policy":${policyJson(s.policy)},"paused":${s.paused},"purged":${s.purged},"queues":[${queues.join(',')}]}`
  );
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/** PeekResponse; `next_cursor` empty at the end. */
export function wirePeekResult(r: PeekResult) {
  return { messages: r.messages.map((m) => ({ message: wireMessage(m), payloadSize: m.payloadSize })), nextCursor: r.nextCursor ?? '' };
}

/**
 * `{messages: [Message + payload_size], next_cursor}`; `next_cursor` is
 * null at the end. A payload cut by `preview_bytes` follows the JSON
 * surfaces' rule like any payload: shown as JSON if the cut bytes still
 * are a JSON document, else as base64.
 */
export function peekResultJson(r: PeekResult, style: JsonStyle = NATIVE_JSON): string {
  const msgs = r.messages.map((m) => `${messageJson(m, style).slice(0, -1)},"payload_size":${m.payloadSize}}`);
  return `{"messages":[${msgs.join(',')}],"next_cursor":${r.nextCursor === undefined ? 'null' : JSON.stringify(r.nextCursor)}}`;
}

/** Each PublishBatchResult: `ok` with the ids, or the error's code and reason. */
export function wireBatchResults(results: readonly BatchItemResult[]): MessageInitShape<typeof PublishBatchResultSchema>[] {
  return results.map((r) =>
    r.ok ? { ok: true, messageId: r.messageId, queueId: r.queueId, duplicate: r.duplicate === true } : { ok: false, errorCode: r.error.code, error: r.error.message },
  );
}

/** The JSON list of batch results: `[{ok: true, message_id, queue_id, duplicate} | {ok: false, error_code, error}]`. */
export function batchResultsJson(results: readonly BatchItemResult[]): string {
  const items = results.map((r) =>
    r.ok
      ? `{"ok":true,"message_id":${JSON.stringify(r.messageId)},"queue_id":${r.queueId},"duplicate":${r.duplicate === true}}`
      : `{"ok":false,"error_code":${JSON.stringify(r.error.code)},"error":${JSON.stringify(r.error.message)}}`,
  );
  return `[${items.join(',')}]`;
}
