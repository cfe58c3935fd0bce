/**
 * Input checks of the Broker API: names, queue ids, headers, publish
 * options, durations, policies, peek options. Each throws the
 * INVALID_ARGUMENT (or NOT_FOUND, FAILED_PRECONDITION) the fronts answer;
 * none changes anything, so a call is checked whole before the commit path
 * logs its first record. The ranges are those of docs/DESIGN.md, "Limits",
 * and the names' rule that of docs/PROTOCOL.md, "Data model".
 *
 * `checkPublish` runs on every publish: it stays small enough to be
 * inlined, and the messages of its failures are built in separate functions.
 */
import type { TopicPolicyFields } from '../aof/store.js';
import { invalid, notFound, precondition } from './errors.js';
import type { Headers } from './message.js';
import type { Queue, Topic, TopicPolicy } from './topic.js';
import type { BatchEntry, BatchMode, Limits, PeekOptions, PublishOptions, TopicPolicyInput } from './types.js';

/** Longest delay of a publish or a nack, and longest backoff cap: 30 days. */
export const MAX_DELAY_MS = 30 * 24 * 3600 * 1000;
/** Longest lease a renew may grant, and longest topic ack timeout: 12 hours (as SQS's visibility timeout). */
export const MAX_LEASE_MS = 12 * 3600 * 1000;
/** Longest message expiry, of a publish or a topic: 365 days. */
export const MAX_TTL_MS = 365 * 24 * 3600 * 1000;
const MAX_DEDUP_WINDOW_MS = 7 * 24 * 3600 * 1000;
const MAX_RETRIES = 1_000_000;
const MAX_DEDUP_ID = 256;
const MAX_PEEK = 100;
/** A peek's page size when none is given. */
const DEFAULT_PEEK = 20;

// docs/PROTOCOL.md, "Data model": 1-128 chars of [A-Za-z0-9._-].
const NAME = /^[A-Za-z0-9._-]{1,128}$/;

/** The rule for namespace and topic names (also checked by config.ts for API-key scopes). */
export function isValidName(name: unknown): name is string {
  return typeof name === 'string' && NAME.test(name);
}

export function checkName(kind: string, name: string): void {
  if (!isValidName(name)) {
    throw invalid(`${kind} name ${JSON.stringify(name)} is invalid: use 1-128 characters of A-Z a-z 0-9 . _ -`);
  }
}

export function checkQueueCount(limits: Limits, field: string, n: number): void {
  const max = limits.maxQueuesPerTopic;
  if (!Number.isInteger(n) || n < 1 || n > max) throw invalid(`${field} ${n} is out of range: use 1..${max}`);
}

/** Queue `queueId` of `t`, or NOT_FOUND naming the queues it has. */
export function queueOf(t: Topic, queueId: number): Queue {
  if (!Number.isInteger(queueId) || queueId < 0 || queueId >= t.queues.length) {
    throw notFound(`queue ${queueId} of topic '${t.namespace}/${t.name}' (it has queues 0..${t.queues.length - 1})`);
  }
  return t.queues[queueId]!;
}

/** The queue id of an ack, nack or renew: any integer (the message ids say where they are). */
export function checkQueueId(queueId: number): void {
  if (!Number.isInteger(queueId)) throw invalid(`queue_id ${queueId} is not an integer`);
}

export function checkIds(ids: readonly string[]): void {
  if (!Array.isArray(ids) || ids.some((id) => typeof id !== 'string')) throw invalid('message_ids must be a list of strings');
}

export function checkDuration(field: string, ms: number, max: number): void {
  if (typeof ms !== 'number' || !Number.isInteger(ms) || ms < 0 || ms > max) {
    throw invalid(`${field} ${ms} is out of range: use whole milliseconds 0..${max}`);
  }
}

export function checkExtendMs(extendMs: number): void {
  if (!Number.isInteger(extendMs) || extendMs < 1 || extendMs > MAX_LEASE_MS) {
    throw invalid(`extend_ms ${extendMs} is out of range: use 1..${MAX_LEASE_MS} (12 hours)`);
  }
}

/** A consume's batch size: 0 means 1. */
export function checkBatch(limits: Limits, batchSize: number): number {
  const n = batchSize === 0 ? 1 : batchSize;
  if (!Number.isInteger(n) || n < 1 || n > limits.maxBatch) {
    throw invalid(`batch_size ${batchSize} is out of range: use 1..${limits.maxBatch} (limits.max_batch)`);
  }
  return n;
}

export function checkBatchEntries(limits: Limits, entries: readonly BatchEntry[], mode: BatchMode): void {
  if (mode !== 'partial' && mode !== 'atomic') throw invalid(`batch mode ${JSON.stringify(mode)} is invalid: use 'partial' or 'atomic'`);
  if (!Array.isArray(entries) || entries.length === 0 || entries.length > limits.maxBatch) {
    throw invalid(`a batch holds 1..${limits.maxBatch} messages (limits.max_batch), got ${Array.isArray(entries) ? entries.length : 'no list'}`);
  }
}

export function checkMaxInflight(limits: Limits, maxInflight: number): void {
  const limit = limits.maxInflightPerSubscription;
  if (!Number.isInteger(maxInflight) || maxInflight < 1 || maxInflight > limit) {
    throw invalid(`max_inflight ${maxInflight} is out of range: use 1..${limit}`);
  }
}

export function checkRedriveMax(max: number | undefined): void {
  if (max !== undefined && (!Number.isInteger(max) || max < 1)) {
    throw invalid(`max ${max} is invalid: use a positive integer, or leave it out to redrive everything`);
  }
}

/** A publish with a delay, a delivery time, a dedup id or a ttl (docs/DESIGN.md, "Delayed messages", "Deduplication", "Expiry"). */
export function hasExtras(opts: PublishOptions): boolean {
  return opts.delayMs !== undefined || opts.deliverAt !== undefined || opts.dedupId !== undefined || opts.ttlMs !== undefined;
}

/** Validates a publish before anything is applied; returns its headers. */
export function checkPublish(limits: Limits, t: Topic, payload: Uint8Array, opts: PublishOptions): Headers | undefined {
  if (!(payload instanceof Uint8Array) || payload.length > limits.maxPayloadBytes) badPayload(limits, payload);
  const headers = checkHeaders(limits, opts.headers);
  const id = opts.queueId;
  if (id !== undefined && id !== null && id !== -1) checkTargetQueue(t, id);
  if (hasExtras(opts)) checkPublishExtras(opts);
  return headers;
}

function badPayload(limits: Limits, payload: unknown): never {
  if (!(payload instanceof Uint8Array)) throw invalid('payload must be bytes');
  throw invalid(`payload of ${payload.length} bytes is over the limit of ${limits.maxPayloadBytes} bytes (limits.max_payload)`);
}

function checkTargetQueue(t: Topic, id: number): void {
  queueOf(t, id);
  if (id >= t.activeCount) {
    throw precondition(`queue ${id} of topic '${t.namespace}/${t.name}' is draining: publish to queues 0..${t.activeCount - 1}`);
  }
}

function checkHeaders(limits: Limits, headers: Record<string, string> | undefined): Headers | undefined {
  if (headers === undefined || headers === null) return undefined;
  if (typeof headers !== 'object' || Array.isArray(headers)) throw invalid('headers must be an object of string values');
  let n = 0;
  for (const k in headers) {
    const v = headers[k];
    if (typeof v !== 'string') throw invalid(`header '${k}' must be a string`);
    // The AOF stores each as at most 65535 utf8 bytes (3 per UTF-16 unit at most).
    if ((k.length > 0x5555 || v.length > 0x5555) && (Buffer.byteLength(k) > 0xffff || Buffer.byteLength(v) > 0xffff)) {
      throw invalid(`header '${k.slice(0, 64)}' is too long: keys and values are at most 65535 bytes`);
    }
    n++;
  }
  if (n === 0) return undefined;
  if (n > limits.maxHeaders) throw invalid(`${n} headers is over the limit of ${limits.maxHeaders} (limits.max_headers)`);
  return headers;
}

function checkPublishExtras(opts: PublishOptions): void {
  if (opts.delayMs !== undefined && opts.deliverAt !== undefined) {
    throw invalid('delay_ms and deliver_at are both set: give one of them');
  }
  if (opts.delayMs !== undefined) checkDuration('delay_ms', opts.delayMs, MAX_DELAY_MS);
  if (opts.deliverAt !== undefined) {
    const at = opts.deliverAt;
    if (typeof at !== 'number' || !Number.isFinite(at) || at < 0 || at > Date.now() + MAX_DELAY_MS) {
      throw invalid(`deliver_at ${at} is invalid: use a Unix time in milliseconds at most 30 days ahead`);
    }
  }
  const id = opts.dedupId;
  if (id !== undefined && (typeof id !== 'string' || id.length < 1 || id.length > MAX_DEDUP_ID)) {
    throw invalid(`dedup_id must be a string of 1..${MAX_DEDUP_ID} characters`);
  }
  const ttl = opts.ttlMs;
  if (ttl !== undefined) {
    if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 1 || ttl > MAX_TTL_MS) {
      throw invalid(`ttl_ms ${ttl} is out of range: use whole milliseconds 1..${MAX_TTL_MS} (365 days), or leave it out for no expiry`);
    }
    const visibleIn = opts.delayMs ?? (opts.deliverAt === undefined ? 0 : opts.deliverAt - Date.now());
    if (ttl <= visibleIn) {
      throw invalid(`ttl_ms ${ttl} is not longer than the delay (${Math.ceil(visibleIn)} ms): the message would expire before it is visible; raise ttl_ms or shorten the delay`);
    }
  }
}

/** Applies a policy change to `base`, validating the result. */
export function mergePolicy(base: TopicPolicy, input: TopicPolicyInput): TopicPolicyFields {
  if (typeof input !== 'object' || input === null) throw invalid('policy must be an object');
  const r = input.retry ?? {};
  const p: TopicPolicyFields = {
    maxRetries: r.maxRetries ?? base.retry.maxRetries,
    baseMs: r.baseMs ?? base.retry.baseMs,
    capMs: r.capMs ?? base.retry.capMs,
    dedupWindowMs: input.dedupWindowMs ?? base.dedupWindowMs,
    ackTimeoutMs: input.ackTimeoutMs ?? base.ackTimeoutMs,
    messageTtlMs: input.messageTtlMs ?? base.messageTtlMs,
    deadLetterExpired: input.deadLetterExpired ?? base.deadLetterExpired,
  };
  if (!Number.isInteger(p.maxRetries) || p.maxRetries < -1 || p.maxRetries > MAX_RETRIES) {
    throw invalid(`retry.max_retries ${p.maxRetries} is out of range: use 0..${MAX_RETRIES}, or -1 to retry forever`);
  }
  checkDuration('retry.base_ms', p.baseMs, MAX_DELAY_MS);
  checkDuration('retry.cap_ms', p.capMs, MAX_DELAY_MS);
  if (p.capMs < p.baseMs) throw invalid(`retry.cap_ms ${p.capMs} is below retry.base_ms ${p.baseMs}: the cap must be at least the base`);
  checkDuration('dedup_window_ms', p.dedupWindowMs, MAX_DEDUP_WINDOW_MS);
  checkPolicyDuration('ack_timeout_ms', p.ackTimeoutMs!, MAX_LEASE_MS, "0 for the broker's ack_timeout", '12 hours');
  checkPolicyDuration('message_ttl_ms', p.messageTtlMs!, MAX_TTL_MS, '0 for no expiry', '365 days');
  if (typeof p.deadLetterExpired !== 'boolean') throw invalid(`dead_letter_expired ${JSON.stringify(p.deadLetterExpired)} is invalid: use true or false`);
  return p;
}

function checkPolicyDuration(field: string, ms: number, max: number, zero: string, maxText: string): void {
  if (typeof ms !== 'number' || !Number.isInteger(ms) || ms < 0 || ms > max) {
    throw invalid(`${field} ${ms} is out of range: use whole milliseconds 1..${max} (${maxText}), or ${zero}`);
  }
}

/** A peek's options, checked, with their defaults (docs/DESIGN.md, "Peek"). */
export interface PeekPage {
  readonly limit: number;
  readonly order: 'asc' | 'desc';
  /** Bytes of each payload to return; undefined: whole payloads. */
  readonly preview: number | undefined;
}

export function checkPeekOptions(opts: PeekOptions): PeekPage {
  // 0 is "unset" on the wire (proto3): every front means the default by it.
  const limit = opts.limit || DEFAULT_PEEK;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PEEK) throw invalid(`limit ${limit} is out of range: use 1..${MAX_PEEK}`);
  const order = opts.order ?? 'asc';
  if (order !== 'asc' && order !== 'desc') throw invalid(`order ${JSON.stringify(order)} is invalid: use 'asc' or 'desc'`);
  const preview = opts.previewBytes || undefined;
  if (preview !== undefined && (!Number.isInteger(preview) || preview < 0)) {
    throw invalid(`preview_bytes ${preview} is invalid: use a whole number of bytes, 1 or more (0: whole payloads)`);
  }
  return { limit, order, preview };
}
