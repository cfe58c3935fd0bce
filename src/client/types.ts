/**
 * The protocol-neutral client interface that the TCP, HTTP and gRPC clients
 * implement, so the CLI, the benchmarks and tests drive any front the same way.
 */

import { withHint } from './hints.js';

export interface ClientMessage {
  id: string;
  namespace: string;
  topic: string;
  queueId: number;
  payload: Uint8Array;
  /** Unix time in nanoseconds. */
  timestamp: bigint;
  headers: Record<string, string>;
  deliveryCount: number;
}

/** A topic resize notice pushed on a subscription (docs/PROTOCOL.md, "Topic resize notice on subscriptions"), not a message. */
export function isResizeNotice(m: ClientMessage): boolean {
  return m.id.startsWith('_resize_') && m.headers['_event'] === 'topic_resized';
}

export interface TopicSummary {
  name: string;
  queueCount: number;
  version: bigint;
  /** Deliveries held (docs/DESIGN.md, "Pause"); false from a broker without pause. */
  paused: boolean;
}

export interface ResizeSummary {
  newQueueCount: number;
  version: bigint;
  draining: boolean;
}

export interface PublishOptions {
  headers?: Record<string, string>;
  routingKey?: string;
  /** Undefined or -1: automatic routing. */
  queueId?: number;
}

export interface ClientSubscription {
  /** Ends the subscription and resolves when the server side is told. */
  close(): Promise<void>;
}

export interface SubscribeOptions {
  autoAck: boolean;
  /**
   * Prefetch: at most this many messages pushed and not yet acked
   * (`max_inflight`, docs/PROTOCOL.md "Subscribe"). Left out: the broker's
   * default, `limits.max_inflight_per_subscription`. Must be 1..that
   * limit, else the subscribe is refused with INVALID_ARGUMENT; ignored
   * with `autoAck`. A broker older than the field ignores it.
   */
  maxInflight?: number;
  onMessage(msg: ClientMessage): void;
  /** The stream ended: with an error, or undefined when closed normally. */
  onEnd?(err: ClientError | undefined): void;
}

/**
 * A failure reported by the server (`code` is the broker's error code when
 * the protocol carries it, e.g. NOT_FOUND) or by the transport (`code`
 * TRANSPORT).
 */
export class ClientError extends Error {
  override readonly name = 'ClientError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    // What to do about it, where the user can do something (hints.ts).
    super(withHint(code, message));
  }

  /**
   * The connection failed, or the broker is stopping or cannot write: the
   * request may or may not have been applied, and may be sent again (a
   * publish with a dedup id is then applied once).
   */
  get retryable(): boolean {
    return this.code === 'TRANSPORT' || this.code === 'UNAVAILABLE';
  }
}

export interface MqliteClient {
  createNamespace(name: string): Promise<void>;
  deleteNamespace(name: string): Promise<void>;
  listNamespaces(): Promise<string[]>;
  createTopic(namespace: string, name: string, queueCount: number): Promise<void>;
  deleteTopic(namespace: string, name: string): Promise<void>;
  listTopics(namespace: string): Promise<TopicSummary[]>;
  resizeTopic(namespace: string, name: string, newQueueCount: number): Promise<ResizeSummary>;
  rebalanceTopic(namespace: string, name: string): Promise<void>;
  /**
   * Bytes are sent as they are where the protocol carries bytes (gRPC, TCP
   * protobuf). JSON protocols (HTTP, TCP JSON) send a payload that is a JSON
   * document as that JSON value, and anything else as a JSON string.
   */
  publish(namespace: string, topic: string, payload: Uint8Array | string, opts?: PublishOptions): Promise<{ messageId: string; queueId: number }>;
  consume(namespace: string, topic: string, queueId: number, opts?: { batchSize?: number; autoAck?: boolean }): Promise<ClientMessage[]>;
  ack(namespace: string, topic: string, queueId: number, ids: readonly string[]): Promise<void>;
  subscribe(namespace: string, topic: string, queueId: number, opts: SubscribeOptions): Promise<ClientSubscription>;
  close(): Promise<void>;
}

// ---- Extensions: what production queues need ----

export interface PublishExtras extends PublishOptions {
  /** A repeat within the topic's dedup window is answered with the original message. */
  dedupId?: string;
  /** Invisible for this long after publish. */
  delayMs?: number;
  /** Invisible until this Unix time (ms). */
  deliverAtMs?: number;
  /**
   * Never delivered after this long (ms) from publish; the topic's
   * `messageTtlMs`, when shorter, wins (docs/DESIGN.md, "Expiry").
   */
  ttlMs?: number;
}

export interface ClientNackOptions {
  /** Back after this long; 0: at once. Default: the topic's backoff. */
  delayMs?: number;
  /** Straight to the dead-letter queue (reason `rejected`), whatever the retry policy. */
  deadLetter?: boolean;
}

export interface BatchPublishEntry extends PublishExtras {
  payload: Uint8Array | string;
}

export type BatchPublishItem = { ok: true; messageId: string; queueId: number; duplicate: boolean } | { ok: false; code: string; error: string };

export interface ClientTopicPolicy {
  /** -1: retry forever. */
  maxRetries: number;
  retryBaseMs: number;
  retryCapMs: number;
  /** 0: deduplication off. */
  dedupWindowMs: number;
  /** Ack deadline of deliveries from the topic; 0: the broker's ack_timeout. */
  ackTimeoutMs: number;
  /** Messages expire this long after publish; 0: never. */
  messageTtlMs: number;
  /** Expired messages go to the dead-letter queue (reason `expired`) instead of being dropped. */
  deadLetterExpired: boolean;
}

export interface ClientQueueStats {
  queueId: number;
  pending: number;
  inFlight: number;
  delayed: number;
  published: number;
  acked: number;
  redelivered: number;
  deadLettered: number;
  /** Expired, dropped or dead-lettered (docs/DESIGN.md, "Expiry"). 0 from a broker without expiry. */
  expired: number;
  publishRate: number;
  ackRate: number;
  oldestPendingAgeMs: number;
}

export interface ClientTopicStats extends Omit<ClientQueueStats, 'queueId'> {
  namespace: string;
  topic: string;
  queueCount: number;
  version: bigint;
  draining: boolean;
  dlqDepth: number;
  policy: ClientTopicPolicy;
  /** docs/DESIGN.md, "Pause". */
  paused: boolean;
  /** Messages purged since the broker started (docs/DESIGN.md, "Purge"). */
  purged: number;
  queues: ClientQueueStats[];
}

export interface PeekPage {
  messages: (ClientMessage & { payloadSize: number })[];
  /** Absent at the end. */
  nextCursor?: string;
}

/**
 * The extension calls, implemented by every client (TCP, HTTP, gRPC) on top
 * of MqliteClient. Same semantics as the Broker API of the same names.
 */
export interface QueueFeaturesClient {
  publishEx(namespace: string, topic: string, payload: Uint8Array | string, opts: PublishExtras): Promise<{ messageId: string; queueId: number; duplicate: boolean }>;
  publishBatch(namespace: string, topic: string, entries: readonly BatchPublishEntry[], mode: 'partial' | 'atomic'): Promise<BatchPublishItem[]>;
  nack(namespace: string, topic: string, queueId: number, ids: readonly string[], opts?: ClientNackOptions): Promise<{ requeued: number; delayed: number; deadLettered: number }>;
  renewLease(namespace: string, topic: string, queueId: number, ids: readonly string[], extendMs: number): Promise<void>;
  peek(namespace: string, topic: string, queueId: number, opts?: { cursor?: string; limit?: number; order?: 'asc' | 'desc'; previewBytes?: number; dlq?: boolean }): Promise<PeekPage>;
  consumeDlq(namespace: string, topic: string, opts?: { batchSize?: number; autoAck?: boolean }): Promise<ClientMessage[]>;
  redriveDlq(namespace: string, topic: string, max?: number): Promise<number>;
  setTopicPolicy(namespace: string, topic: string, policy: Partial<ClientTopicPolicy>): Promise<ClientTopicPolicy>;
  topicStats(namespace: string, topic: string): Promise<ClientTopicStats>;
  /** docs/DESIGN.md, "Pause": publishes accepted, deliveries held until resumeTopic. Idempotent. */
  pauseTopic(namespace: string, topic: string): Promise<void>;
  resumeTopic(namespace: string, topic: string): Promise<void>;
  /**
   * docs/DESIGN.md, "Purge": removes the pending and delayed messages of queue
   * `queueId`, of every queue when absent, or of the dead-letter queue with
   * `dlq`; in-flight messages stay. Resolves to the count removed.
   */
  purge(namespace: string, topic: string, opts?: PurgeOptions): Promise<number>;
}

export interface PurgeOptions {
  /** One queue; absent: every queue of the topic. */
  queueId?: number;
  /** The dead-letter queue instead (not with queueId). */
  dlq?: boolean;
}

// ---- TLS ----

/** TLS towards a broker that serves it (`server.tls`): PEM as Buffers or strings. */
export interface ClientTlsOptions {
  /** CA certificates to trust instead of the system's (e.g. the CA of a self-signed broker). */
  ca?: string | Buffer;
  /** Client certificate and its key, for a broker that requires them (`server.tls.ca`: mutual TLS). */
  cert?: string | Buffer;
  key?: string | Buffer;
  /** Name the server certificate must carry; default: the host connected to. */
  servername?: string;
}
