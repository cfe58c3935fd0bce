/**
 * Messages of the JSON surfaces (HTTP, SSE, TCP JSON) on the client side:
 * the payload text to send for a publish, and a received Message as the
 * client type. The server side of the same rule is src/server/json-payload.ts.
 */
import type { BatchPublishItem, ClientMessage, ClientQueueStats, ClientTopicPolicy, ClientTopicStats } from './types.js';

/** A Message as the JSON fronts send it (docs/PROTOCOL.md, "JSON surfaces"). */
export interface WireMessage {
  id: string;
  namespace: string;
  topic: string;
  queue_id: number;
  payload: unknown;
  payload_encoding?: string;
  timestamp: number;
  headers?: Record<string, string>;
  delivery_count?: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The JSON text to send for a payload, right after `"payload":` in a
 * request object (MqliteClient.publish). A string is a JSON document sent
 * as that value, or else a JSON string. Bytes are stored as they are on
 * every protocol (docs/PROTOCOL.md, "JSON surfaces"): sent as their JSON
 * text when that text is exactly what the broker would store for it (a
 * compact JSON document), and otherwise as base64 with
 * `"payload_encoding":"base64"` beside it, which this returns too.
 */
export function payloadJsonText(payload: Uint8Array | string): string {
  if (typeof payload !== 'string') return bytesJsonText(payload);
  if (payload.trim() === '') return JSON.stringify(payload);
  try {
    JSON.parse(payload);
    return payload;
  } catch {
    return JSON.stringify(payload);
  }
}

function bytesJsonText(payload: Uint8Array): string {
  let text: string | undefined;
  try {
    text = utf8.decode(payload);
    if (JSON.stringify(JSON.parse(text)) !== text) text = undefined;
  } catch {
    text = undefined;
  }
  return text ?? `"${Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('base64')}","payload_encoding":"base64"`;
}

/** A Message of the JSON surfaces, as the client type. */
export function decodeMessage(w: WireMessage): ClientMessage {
  const payload =
    w.payload_encoding === 'base64' && typeof w.payload === 'string'
      ? new Uint8Array(Buffer.from(w.payload, 'base64'))
      : new Uint8Array(Buffer.from(JSON.stringify(w.payload ?? null), 'utf8'));
  return {
    id: w.id,
    namespace: w.namespace,
    topic: w.topic,
    queueId: w.queue_id,
    payload,
    // A JSON number of nanoseconds is only exact to ~256 ns; the broker's
    // timestamps are whole microseconds, which rounding recovers exactly.
    timestamp: BigInt(Math.round(Number(w.timestamp) / 1000)) * 1000n,
    headers: w.headers ?? {},
    deliveryCount: w.delivery_count ?? 0,
  };
}

/** A topic policy as the JSON fronts send it. */
export interface WirePolicy {
  max_retries: number;
  retry_base_ms: number;
  retry_cap_ms: number;
  dedup_window_ms: number;
  // Absent from a broker without them.
  ack_timeout_ms?: number;
  message_ttl_ms?: number;
  dead_letter_expired?: boolean;
}

interface WireCounts {
  pending: number;
  in_flight: number;
  delayed: number;
  published: number;
  acked: number;
  redelivered: number;
  dead_lettered: number;
  expired?: number;
  publish_rate: number;
  ack_rate: number;
  oldest_pending_age_ms: number;
}

/** Topic stats as the JSON fronts send them. */
export interface WireTopicStats extends WireCounts {
  namespace: string;
  topic: string;
  queue_count: number;
  version: number;
  draining: boolean;
  dlq_depth: number;
  policy: WirePolicy;
  paused?: boolean;
  purged?: number;
  queues: (WireCounts & { queue_id: number })[];
}

export function decodePolicy(p: WirePolicy): ClientTopicPolicy {
  return {
    maxRetries: p.max_retries,
    retryBaseMs: p.retry_base_ms,
    retryCapMs: p.retry_cap_ms,
    dedupWindowMs: p.dedup_window_ms,
    ackTimeoutMs: p.ack_timeout_ms ?? 0,
    messageTtlMs: p.message_ttl_ms ?? 0,
    deadLetterExpired: p.dead_letter_expired === true,
  };
}

/** A policy, or the part of one to change, in the JSON fronts' names (the inverse of decodePolicy); unset fields stay out. */
export function encodePolicy(p: Partial<ClientTopicPolicy>): Partial<WirePolicy> {
  return {
    max_retries: p.maxRetries,
    retry_base_ms: p.retryBaseMs,
    retry_cap_ms: p.retryCapMs,
    dedup_window_ms: p.dedupWindowMs,
    ack_timeout_ms: p.ackTimeoutMs,
    message_ttl_ms: p.messageTtlMs,
    dead_letter_expired: p.deadLetterExpired,
  };
}

function decodeCounts(c: WireCounts): Omit<ClientQueueStats, 'queueId'> {
  return {
    pending: c.pending,
    inFlight: c.in_flight,
    delayed: c.delayed,
    published: c.published,
    acked: c.acked,
    redelivered: c.redelivered,
    deadLettered: c.dead_lettered,
    expired: c.expired ?? 0,
    publishRate: c.publish_rate,
    ackRate: c.ack_rate,
    oldestPendingAgeMs: c.oldest_pending_age_ms,
  };
}

export function decodeTopicStats(s: WireTopicStats): ClientTopicStats {
  return {
    ...decodeCounts(s),
    namespace: s.namespace,
    topic: s.topic,
    queueCount: s.queue_count,
    version: BigInt(s.version),
    draining: s.draining,
    dlqDepth: s.dlq_depth,
    policy: decodePolicy(s.policy),
    paused: s.paused === true,
    purged: s.purged ?? 0,
    queues: s.queues.map((q) => ({ queueId: q.queue_id, ...decodeCounts(q) })),
  };
}

/** One result of a batch publish as the JSON fronts send it. */
export interface WireBatchItem {
  ok: boolean;
  message_id?: string;
  queue_id?: number;
  duplicate?: boolean;
  error_code?: string;
  error?: string;
}

export function decodeBatchItem(it: WireBatchItem): BatchPublishItem {
  return it.ok
    ? { ok: true, messageId: it.message_id!, queueId: it.queue_id!, duplicate: it.duplicate === true }
    : { ok: false, code: it.error_code!, error: it.error! };
}
