/**
 * Decoding and encoding of the issue 8 routes (nack, retries, DLQ, delay,
 * leases, peek, batches, dedup, stats): the HTTP names of the Broker API's
 * fields, all snake_case like the rest of the API. As everywhere in this
 * front, only the shape of the JSON is checked here; names, ranges and
 * modes are the broker's to judge (one error table, errors.ts).
 */
import type { BatchEntry, BatchItemResult, NackResult, PeekResult, PublishOptions, PublishResult, QueueStats, TopicPolicy, TopicPolicyInput, TopicStats } from '../../broker/broker.js';
import { messageJson, payloadFromJson } from '../json-payload.js';
import { HttpError, badRequest } from './errors.js';
import { intParam, optionalHeadersField, optionalIntField, optionalStringField } from './body.js';
import { emptyIsUnset, int32Field } from '../unset.js';

type JsonObject = Record<string, unknown>;

/**
 * The publish fields shared by `publish` and each `publish-batch` entry.
 * `deliver_at_ms` is the broker's `deliverAt` (Unix ms).
 */
export function publishOptions(body: JsonObject): PublishOptions {
  return {
    headers: optionalHeadersField(body, 'headers'),
    routingKey: optionalStringField(body, 'routing_key'),
    // Absent, null or -1: automatic routing (PROTOCOL.md, publish `queue_id`).
    queueId: int32Field('queue_id', optionalIntField(body, 'queue_id')),
    dedupId: emptyIsUnset(optionalStringField(body, 'dedup_id')),
    delayMs: optionalIntField(body, 'delay_ms'),
    deliverAt: optionalIntField(body, 'deliver_at_ms'),
  };
}

export function publishResultJson(r: PublishResult): string {
  const dup = r.duplicate === true ? ',"duplicate":true' : '';
  return `{"message_id":${JSON.stringify(r.messageId)},"queue_id":${r.queueId}${dup}}`;
}

/** `{entries: [...], mode?}`; a malformed entry is a 400 naming its index (the request itself is malformed). */
export function batchRequest(body: JsonObject): { entries: BatchEntry[]; mode: string } {
  const raw = body.entries;
  if (!Array.isArray(raw)) throw badRequest('field "entries" is required (an array of {payload, headers?, routing_key?, queue_id?, dedup_id?, delay_ms?, deliver_at_ms?})');
  const entries = raw.map((e: unknown, i): BatchEntry => {
    try {
      if (e === null || typeof e !== 'object' || Array.isArray(e)) throw badRequest('must be an object');
      const obj = e as JsonObject;
      if (!Object.hasOwn(obj, 'payload')) throw badRequest('field "payload" is required (any JSON value)');
      return { payload: payloadFromJson(obj.payload), ...publishOptions(obj) };
    } catch (err) {
      if (err instanceof HttpError) throw badRequest(`entries[${i}]: ${err.message}`);
      throw err;
    }
  });
  // Absent: partial, as the gRPC BATCH_MODE_UNSPECIFIED.
  const mode = optionalStringField(body, 'mode') ?? 'partial';
  return { entries, mode };
}

export function batchResultJson(items: readonly BatchItemResult[]): string {
  const out = items.map((it) =>
    it.ok
      ? `{"ok":true,"message_id":${JSON.stringify(it.messageId)},"queue_id":${it.queueId},"duplicate":${it.duplicate === true}}`
      : `{"ok":false,"error_code":${JSON.stringify(it.error.code)},"error":${JSON.stringify(it.error.message)}}`,
  );
  return `[${out.join(',')}]`;
}

export function nackResultJson(r: NackResult): string {
  return `{"requeued":${r.requeued},"delayed":${r.delayed},"dead_lettered":${r.deadLettered}}`;
}

/** Query of the two peek routes: `cursor`, `limit`, `order`, `preview_bytes` (all optional). */
export function peekQuery(query: (name: string) => string | undefined): { cursor?: string; limit?: number; order?: 'asc' | 'desc'; previewBytes?: number } {
  const limit = query('limit');
  const preview = query('preview_bytes');
  return {
    cursor: query('cursor'),
    limit: limit === undefined ? undefined : intParam(limit, 'limit'),
    // Passed as given: the broker names the accepted values when it is wrong.
    order: query('order') as 'asc' | 'desc' | undefined,
    previewBytes: preview === undefined ? undefined : intParam(preview, 'preview_bytes'),
  };
}

/**
 * `{messages: [Message + payload_size], next_cursor}`; `next_cursor` is
 * null at the end. A payload cut by `preview_bytes` follows the JSON
 * surfaces' rule like any payload: shown as JSON if the cut bytes still
 * are a JSON document, else as base64.
 */
export function peekResultJson(r: PeekResult): string {
  const msgs = r.messages.map((m) => `${messageJson(m).slice(0, -1)},"payload_size":${m.payloadSize}}`);
  return `{"messages":[${msgs.join(',')}],"next_cursor":${r.nextCursor === undefined ? 'null' : JSON.stringify(r.nextCursor)}}`;
}

/** `{max_retries?, retry_base_ms?, retry_cap_ms?, dedup_window_ms?}`: what is given changes, the rest stays. */
export function policyInput(body: JsonObject): TopicPolicyInput {
  return {
    retry: {
      maxRetries: optionalIntField(body, 'max_retries'),
      baseMs: optionalIntField(body, 'retry_base_ms'),
      capMs: optionalIntField(body, 'retry_cap_ms'),
    },
    dedupWindowMs: optionalIntField(body, 'dedup_window_ms'),
  };
}

export function policyJson(p: TopicPolicy): string {
  return `{"max_retries":${p.retry.maxRetries},"retry_base_ms":${p.retry.baseMs},"retry_cap_ms":${p.retry.capMs},"dedup_window_ms":${p.dedupWindowMs}}`;
}

/** Rates are messages/s rounded to 3 decimals; ages are whole ms. */
function countsJson(s: Omit<QueueStats, 'queueId'>): string {
  return (
    `"pending":${s.pending},"in_flight":${s.inFlight},"delayed":${s.delayed},"published":${s.published},"acked":${s.acked},` +
    `"redelivered":${s.redelivered},"dead_lettered":${s.deadLettered},"publish_rate":${round3(s.publishRate)},` +
    `"ack_rate":${round3(s.ackRate)},"oldest_pending_age_ms":${Math.round(s.oldestPendingAgeMs)}`
  );
}

export function topicStatsJson(s: TopicStats): string {
  const queues = s.queues.map((q) => `{"queue_id":${q.queueId},${countsJson(q)}}`);
  return (
    `{"namespace":${JSON.stringify(s.namespace)},"topic":${JSON.stringify(s.topic)},"queue_count":${s.queueCount},` +
    `"version":${s.version},"draining":${s.draining},"dlq_depth":${s.dlqDepth},${countsJson(s)},` +
    `"policy":${policyJson(s.policy)},"queues":[${queues.join(',')}]}`
  );
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
