/**
 * The types of the Broker API (docs/DESIGN.md, "Shape"): what the fronts,
 * the CLI, the benchmarks and the tests pass in and get back. broker.ts
 * re-exports every one, so callers import them from there.
 */
import type { Logger } from 'pino';
import type { ReplayStats, Store } from '../aof/store.js';
import type { BrokerError } from './errors.js';
import type { Delivery } from './message.js';
import type { TopicPolicy } from './topic.js';

export interface Limits {
  maxPayloadBytes: number;
  maxBatch: number;
  maxHeaders: number;
  maxInflightPerSubscription: number;
  maxQueuesPerTopic: number;
  maxNamespaces: number;
  maxTopicsPerNamespace: number;
  /** Publishes are refused at this much memory (accounted or sampled, bytes); 0 disables. */
  memoryHighWaterBytes: number;
}

export const DEFAULT_LIMITS: Readonly<Limits> = {
  maxPayloadBytes: 4 * 1024 * 1024,
  maxBatch: 1000,
  maxHeaders: 64,
  maxInflightPerSubscription: 1000,
  maxQueuesPerTopic: 1024,
  maxNamespaces: 10_000,
  maxTopicsPerNamespace: 10_000,
  memoryHighWaterBytes: 0,
};

export interface BrokerOptions {
  ackTimeoutMs?: number;
  drainTimeoutMs?: number;
  limits?: Partial<Limits>;
  /** Persistence; without it the broker is in memory only. Use `Broker.open` so it is replayed. */
  store?: Store;
  logger?: Logger;
  /**
   * Memory the process uses beyond what the broker accounts (the server
   * passes process RSS), sampled every `memorySampleMs` (default 200) off
   * the publish path while `limits.memoryHighWaterBytes` is set.
   */
  sampleMemory?: () => number;
  memorySampleMs?: number;
}

export interface PublishOptions {
  headers?: Record<string, string>;
  routingKey?: string;
  /** Undefined or -1: automatic routing. */
  queueId?: number;
  /** Invisible for this long (ms, 0..MAX_DELAY_MS) after publish. */
  delayMs?: number;
  /** Invisible until this Unix time (ms); a past time is visible at once. Not with `delayMs`. */
  deliverAt?: number;
  /** A repeat within the topic's dedup window is answered with the original message and not enqueued. */
  dedupId?: string;
  /**
   * Never delivered after this long (ms, 1..MAX_TTL_MS) from publish; the
   * topic's `messageTtlMs`, when shorter, wins (docs/DESIGN.md, "Expiry").
   */
  ttlMs?: number;
}

export interface PublishResult {
  messageId: string;
  queueId: number;
  /** Set when `dedupId` repeated one inside the window: the ids are the original message's. */
  duplicate?: true;
}

/** A policy change: what is given replaces the current value, the rest stays. */
export interface TopicPolicyInput {
  retry?: { maxRetries?: number; baseMs?: number; capMs?: number };
  dedupWindowMs?: number;
  /** Ack deadline of later deliveries (ms, 1..MAX_LEASE_MS); 0: back to the broker's ack_timeout. */
  ackTimeoutMs?: number;
  /** Expiry of later publishes (ms, 1..MAX_TTL_MS); 0: never. */
  messageTtlMs?: number;
  /** Expired messages to the dead-letter queue (reason `expired`) rather than dropped. */
  deadLetterExpired?: boolean;
}

export interface TopicInfo {
  name: string;
  queueCount: number;
  version: bigint;
  policy: TopicPolicy;
  /** docs/DESIGN.md, "Pause". */
  paused: boolean;
}

export interface NackOptions {
  /** Redeliver after this long (ms); 0 requeues at the head at once. Default: the topic's backoff. */
  delayMs?: number;
  /** Straight to the dead-letter queue (reason `rejected`), whatever the retry policy; `delayMs` is ignored. */
  deadLetter?: boolean;
}

export interface NackResult {
  /** Back at the head of their queue at once (delay 0, or consumed from the dead-letter queue). */
  requeued: number;
  /** Held until their retry time. */
  delayed: number;
  /** Past `maxRetries`: moved to the dead-letter queue. */
  deadLettered: number;
}

export interface PeekOptions {
  /** `nextCursor` of the previous page. */
  cursor?: string;
  /** 1..100; undefined or 0: 20 (as PeekRequest.limit in the proto). */
  limit?: number;
  /** 'asc' from the head (next to be delivered), 'desc' from the tail. Default 'asc'. */
  order?: 'asc' | 'desc';
  /**
   * Return at most this many bytes of each payload (`payloadSize` keeps the
   * full size); undefined or 0: whole payloads (as PeekRequest.preview_bytes).
   */
  previewBytes?: number;
}

export interface PeekedMessage extends Delivery {
  readonly payloadSize: number;
}

export interface PeekResult {
  messages: PeekedMessage[];
  /** Absent when the page reached the end. */
  nextCursor: string | undefined;
}

export interface BatchEntry {
  payload: Uint8Array;
  headers?: Record<string, string>;
  routingKey?: string;
  queueId?: number;
  dedupId?: string;
  delayMs?: number;
  deliverAt?: number;
  ttlMs?: number;
}

export type BatchMode = 'partial' | 'atomic';

export type BatchItemResult = ({ ok: true } & PublishResult) | { ok: false; error: BrokerError };

export interface QueueStats {
  queueId: number;
  pending: number;
  inFlight: number;
  delayed: number;
  published: number;
  acked: number;
  redelivered: number;
  deadLettered: number;
  /** Messages expired at the head of the queue, dropped or dead-lettered (docs/DESIGN.md, "Expiry"). */
  expired: number;
  /** Messages/s, exponentially weighted over about the last 10 s. */
  publishRate: number;
  ackRate: number;
  /** Age of the message at the head (the next delivered), 0 when empty. */
  oldestPendingAgeMs: number;
}

/**
 * Depths (pending, inFlight, delayed, dlqDepth) are the state and survive
 * a restart; totals and rates count since the process started.
 */
export interface TopicStats extends Omit<QueueStats, 'queueId'> {
  namespace: string;
  topic: string;
  queueCount: number;
  version: bigint;
  draining: boolean;
  dlqDepth: number;
  policy: TopicPolicy;
  /** docs/DESIGN.md, "Pause". */
  paused: boolean;
  /** Messages purged since startup (docs/DESIGN.md, "Purge"). */
  purged: number;
  queues: QueueStats[];
}

export interface ResizeResult {
  newQueueCount: number;
  version: bigint;
  draining: boolean;
}

export interface RecoverySummary extends ReplayStats {
  namespaces: number;
  topics: number;
  pending: number;
  /** Messages that were in flight at the crash and are pending again. */
  requeued: number;
}
