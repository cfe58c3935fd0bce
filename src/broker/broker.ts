/**
 * The Broker API: the one surface every front adapts (DESIGN.md, "Shape").
 *
 * The core is a deterministic state machine over Namespace -> Topic ->
 * Queue[]. Each call validates its input, applies a transition of
 * `Topic` and writes the matching record to the store; replay applies the
 * same transitions from the records. A mutation is answered once the
 * store says its record is durable under the fsync policy (DESIGN.md,
 * "Durability contract"); reads never wait.
 *
 * What depends on time or chance is decided here, at live time, and the
 * decision is logged: a nack's jittered retry time and a delayed publish's
 * visible time are absolute times in their records; a held message
 * becomes visible through a `visible` record written when its timer
 * fires; a dead letter is a `deadLetter` record; a dedup entry carries its
 * expiry. Replay applies those records and never reads the clock. Ack
 * deadlines alone are not logged: recovery makes in-flight messages
 * pending again (or dead-letters them, as an expired lease would).
 */
import type { Logger } from 'pino';
import type { LogRecord, MessageRecordFields, RecordSink, ReplayStats, RewriteStats, SnapshotSource, Store, TopicPolicyFields } from '../aof/store.js';
import { StoreUnavailableError } from '../aof/errors.js';
import { Deque } from './deque.js';
import { newMessageId } from './ids.js';
import { PayloadArena } from '../aof/payload-arena.js';
import { BrokerError, alreadyExists, exhausted, invalid, notFound, precondition, unavailable } from './errors.js';
import { type Delivery, DLQ_QUEUE_ID, type Headers, MessageState, type StoredMessage } from './message.js';
import { MinHeap } from './min-heap.js';
import { Subscriber, type Subscription, type SubscriptionHandler } from './subscription.js';
import { DEFAULT_POLICY, type HeldEntry, MemoryAccount, policyFields, type Queue, Topic, type TopicPolicy } from './topic.js';
import { silentLogger } from '../log.js';

export type { Subscription, SubscriptionHandler } from './subscription.js';
export type { TopicPolicy } from './topic.js';
export { DLQ_QUEUE_ID } from './message.js';
export { DEFAULT_POLICY, MESSAGE_OVERHEAD_BYTES } from './topic.js';

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

/** Publishes are accepted again once memory is below this fraction of the high-water mark. */
export const MEMORY_RESUME_FRACTION = 0.9;

/** Memory against the high-water mark (limits.memory_high_water), for /metrics and logs. */
export interface MemoryStatus {
  /** Payload bytes plus a per-message estimate, of every stored message (exact counter). */
  accountedBytes: number;
  messages: number;
  /** The last sample of `sampleMemory` (process RSS in the server); 0 without a sampler. */
  sampledBytes: number;
  highWaterBytes: number;
  /** Publishes are being refused. */
  refusing: boolean;
}

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
}

export interface TopicInfo {
  name: string;
  queueCount: number;
  version: bigint;
  policy: TopicPolicy;
}

export interface NackOptions {
  /** Redeliver after this long (ms); 0 requeues at the head at once. Default: the topic's backoff. */
  delayMs?: number;
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

// PROTOCOL.md, "Data model": 1-128 chars of [A-Za-z0-9._-].
const NAME = /^[A-Za-z0-9._-]{1,128}$/;
/** Longest delay of a publish or a nack, and longest backoff cap: 30 days. */
export const MAX_DELAY_MS = 30 * 24 * 3600 * 1000;
/** Longest lease a renew may grant: 12 hours (as SQS's visibility timeout). */
export const MAX_LEASE_MS = 12 * 3600 * 1000;
const MAX_DEDUP_WINDOW_MS = 7 * 24 * 3600 * 1000;
const MAX_RETRIES = 1_000_000;
const MAX_DEDUP_ID = 256;
const MAX_PEEK = 100;
/** setTimeout's longest delay; a later time is reached in several arms. */
const MAX_TIMER_MS = 0x7fffffff;
/** Rates are EWMAs of per-second samples over about this many seconds. */
const RATE_WINDOW_S = 10;

const heldFirst = (a: HeldEntry, b: HeldEntry): boolean => a.at < b.at || (a.at === b.at && a.seq < b.seq);
interface Lease {
  readonly at: number;
  readonly msg: StoredMessage;
}
const leaseFirst = (a: Lease, b: Lease): boolean => a.at < b.at;
const RESOLVED = Promise.resolve();
/** Messages handed to one subscriber before moving to the next (fairness, and one pop record per run). */
const DELIVERY_RUN = 64;
/** Messages pushed per event-loop turn before yielding to I/O. */
const DELIVERY_BUDGET = 8192;

export class Broker {
  readonly limits: Readonly<Limits>;
  readonly ackTimeoutMs: number;
  readonly drainTimeoutMs: number;
  private readonly namespaces = new Map<string, Map<string, Topic>>();
  private readonly store: Store | undefined;
  private readonly sink: RecordSink | undefined;
  private readonly log: Logger;
  private closing = false;
  private readonly arena = new PayloadArena();

  // limits.memory_high_water. A publish compares the accounted bytes with
  // `publishCeiling` and nothing else: the ceiling is the mark while
  // publishes are accepted, and -Infinity while they are refused, so that
  // every publish then takes the slow path (memoryFull) that applies the
  // hysteresis.
  private readonly account = new MemoryAccount();
  private publishCeiling = Infinity;
  private refusingPublishes = false;
  private sampledBytes = 0;
  private readonly sampleMemory: (() => number) | undefined;
  private readonly memoryTimer: NodeJS.Timeout | undefined;

  private readonly dirty: Queue[] = [];
  private deliveryScheduled = false;

  // Ack deadlines: ack_timeout is one value for the broker, so deadlines are
  // pushed in increasing order and a FIFO with one timer is the whole timer
  // structure. An entry is stale when its message left flight, or went back
  // in flight with a later deadline; stale entries are skipped when reached.
  private readonly deadlineMsgs = new Deque<StoredMessage>();
  private readonly deadlineAt = new Deque<number>();
  private deadlineTimer: NodeJS.Timeout | undefined;
  private deadlineTimerAt = Infinity;
  /** Messages in flight in every topic: when the FIFO holds over twice that, it is compacted. */
  private inflightCount = 0;
  // Renewed deadlines are arbitrary, so they go to a heap beside the FIFO;
  // the same staleness rule applies (entry time != message deadline).
  private readonly leases = new MinHeap<Lease>(leaseFirst);

  // Held messages (delayed publishes, nacks waiting for their retry) of
  // every topic by visible time (Unix ms), one timer for the earliest.
  private readonly held = new MinHeap<HeldEntry>(heldFirst);
  private heldSeq = 0;
  private heldTimer: NodeJS.Timeout | undefined;
  private heldTimerAt = Infinity;
  private storeBatch: Promise<void> | undefined;
  private answer: Promise<void> = RESOLVED;

  private readonly rateTimer: NodeJS.Timeout;
  private rateSampledAt = Date.now();

  constructor(opts: BrokerOptions = {}) {
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
    this.ackTimeoutMs = opts.ackTimeoutMs ?? 30_000;
    this.drainTimeoutMs = opts.drainTimeoutMs ?? 30_000;
    this.store = opts.store;
    this.sink = opts.store?.sink;
    this.log = opts.logger ?? silentLogger;
    this.rateTimer = setInterval(this.sampleRates, 1000);
    this.rateTimer.unref();
    const mark = this.limits.memoryHighWaterBytes;
    if (mark > 0) {
      this.publishCeiling = mark;
      this.sampleMemory = opts.sampleMemory;
      if (this.sampleMemory) {
        this.memoryTimer = setInterval(this.takeMemorySample, opts.memorySampleMs ?? 200);
        this.memoryTimer.unref();
        this.takeMemorySample();
      }
    }
  }

  /** A broker with its store replayed: the state of the last durable record. */
  static async open(opts: BrokerOptions = {}): Promise<{ broker: Broker; recovery: RecoverySummary | undefined }> {
    const broker = new Broker(opts);
    if (!broker.store) return { broker, recovery: undefined };
    const stats = await broker.store.replay((rec) => broker.apply(rec));
    const recovery = broker.afterReplay(stats);
    broker.store.setSnapshotSource(broker.snapshot);
    return { broker, recovery };
  }

  // ---------------------------------------------------------------- namespaces

  async createNamespace(name: string): Promise<void> {
    this.assertWritable();
    checkName('namespace', name);
    if (this.namespaces.has(name)) throw alreadyExists(`namespace '${name}'`);
    const maxNs = this.limits.maxNamespaces;
    if (this.namespaces.size >= maxNs) {
      throw exhausted(`namespace '${name}' not created: the broker holds ${this.namespaces.size} namespaces, the limit (limits.max_namespaces) is ${maxNs}: delete one or raise the limit`);
    }
    this.namespaces.set(name, new Map());
    this.sink?.nsCreate(name);
    return this.durable();
  }

  async deleteNamespace(name: string): Promise<void> {
    this.assertWritable();
    const topics = this.namespaces.get(name);
    if (!topics) throw notFound(`namespace '${name}'`);
    for (const t of topics.values()) this.destroyTopic(t, `namespace '${name}' was deleted`);
    this.namespaces.delete(name);
    this.sink?.nsDelete(name);
    return this.durable();
  }

  listNamespaces(): string[] {
    return [...this.namespaces.keys()];
  }

  // -------------------------------------------------------------------- topics

  /** `policy` is optional; what it leaves out takes DEFAULT_POLICY's value. */
  async createTopic(ns: string, name: string, queueCount: number, policy?: TopicPolicyInput): Promise<void> {
    this.assertWritable();
    const topics = this.namespace(ns);
    checkName('topic', name);
    this.checkQueueCount('queue_count', queueCount);
    if (topics.has(name)) throw alreadyExists(`topic '${name}' in namespace '${ns}'`);
    const maxTopics = this.limits.maxTopicsPerNamespace;
    if (topics.size >= maxTopics) {
      throw exhausted(`topic '${name}' not created: namespace '${ns}' holds ${topics.size} topics, the limit (limits.max_topics_per_namespace) is ${maxTopics}: delete one or raise the limit`);
    }
    const fields = policy === undefined ? undefined : mergePolicy(DEFAULT_POLICY, policy);
    const t = new Topic(ns, name, queueCount, queueCount, 0n, this.account);
    topics.set(name, t);
    this.sink?.topicCreate(ns, name, queueCount);
    if (fields !== undefined) {
      t.setPolicy(fields);
      this.sink?.topicPolicy(ns, name, fields);
    }
    return this.durable();
  }

  /** Changes a topic's retry and dedup policy; returns the whole policy now in force. */
  async setTopicPolicy(ns: string, name: string, policy: TopicPolicyInput): Promise<TopicPolicy> {
    this.assertWritable();
    const t = this.topic(ns, name);
    const fields = mergePolicy(t.policy, policy);
    t.setPolicy(fields);
    this.sink?.topicPolicy(ns, name, fields);
    await this.durable();
    return t.policy;
  }

  async deleteTopic(ns: string, name: string): Promise<void> {
    this.assertWritable();
    const t = this.topic(ns, name);
    this.destroyTopic(t, `topic '${ns}/${name}' was deleted`);
    this.namespaces.get(ns)!.delete(name);
    this.sink?.topicDelete(ns, name);
    return this.durable();
  }

  listTopics(ns: string): TopicInfo[] {
    const out: TopicInfo[] = [];
    for (const t of this.namespace(ns).values()) out.push({ name: t.name, queueCount: t.activeCount, version: t.version, policy: t.policy });
    return out;
  }

  /** DESIGN.md, "Resize": grow at once; shrink drains the tail queues first. */
  async resizeTopic(ns: string, name: string, newQueueCount: number): Promise<ResizeResult> {
    this.assertWritable();
    const t = this.topic(ns, name);
    this.checkQueueCount('new_queue_count', newQueueCount);
    if (t.draining) {
      throw precondition(
        `topic '${ns}/${name}' is still draining to ${t.activeCount} queues: retry after the drain ends (at most drain_timeout)`,
      );
    }
    if (newQueueCount !== t.queues.length) {
      const grow = newQueueCount > t.queues.length;
      t.resize(newQueueCount);
      this.sink?.resize(ns, name, newQueueCount);
      if (grow) {
        this.notifyResize(t);
        this.wakeStarving(t);
      } else if (!this.finishDrainIfEmpty(t)) {
        this.armDrain(t);
      }
    }
    await this.durable();
    return { newQueueCount, version: t.version, draining: t.draining };
  }

  /** DESIGN.md, "Rebalance": spread the pending messages of active queues evenly. */
  async rebalanceTopic(ns: string, name: string): Promise<void> {
    this.assertWritable();
    const t = this.topic(ns, name);
    if (t.draining) throw precondition(`topic '${ns}/${name}' is draining: rebalance after the resize completes`);
    const moves = t.planRebalance();
    if (moves.length > 0) {
      t.move(moves);
      this.sink?.move(ns, name, moves);
      for (const m of moves) this.schedule(t.queues[m.to]!);
    }
    return this.durable();
  }

  // ------------------------------------------------------------------ messages

  async publish(ns: string, topicName: string, payload: Uint8Array, opts: PublishOptions = {}): Promise<PublishResult> {
    this.assertWritable();
    if (this.account.bytes >= this.publishCeiling) this.memoryFull();
    const t = this.topic(ns, topicName);
    const headers = this.checkPublish(t, payload, opts);
    if (hasExtras(opts)) {
      const result = this.applyPublishEx(t, payload, headers, opts);
      await this.durable();
      return result;
    }
    const msg = this.applyPlainPublish(t, payload, headers, opts);
    const queueId = msg.queueId;
    // The answer is made after the wait: an object held across it would
    // survive a scavenge for every publish in flight (measured: 3%).
    await this.durable();
    return { messageId: msg.id, queueId };
  }

  /**
   * Many publishes in one call and one group commit. `atomic`: every entry
   * is validated before any is applied, so either all are published or the
   * first invalid entry's error is thrown (its message names the index).
   * `partial`: each entry is applied or fails on its own; the result holds
   * one item per entry, in order.
   */
  async publishBatch(ns: string, topicName: string, entries: readonly BatchEntry[], mode: BatchMode): Promise<BatchItemResult[]> {
    this.assertWritable();
    if (this.account.bytes >= this.publishCeiling) this.memoryFull();
    const t = this.topic(ns, topicName);
    if (mode !== 'partial' && mode !== 'atomic') throw invalid(`batch mode ${JSON.stringify(mode)} is invalid: use 'partial' or 'atomic'`);
    if (!Array.isArray(entries) || entries.length === 0 || entries.length > this.limits.maxBatch) {
      throw invalid(`a batch holds 1..${this.limits.maxBatch} messages (limits.max_batch), got ${Array.isArray(entries) ? entries.length : 'no list'}`);
    }
    const results: BatchItemResult[] = [];
    if (mode === 'atomic') {
      const headers = entries.map((e, i) => {
        try {
          return this.checkPublish(t, e?.payload, e ?? {});
        } catch (err) {
          if (err instanceof BrokerError) throw new BrokerError(err.code, `batch entry ${i}: ${err.message}; nothing was published`);
          throw err;
        }
      });
      for (let i = 0; i < entries.length; i++) results.push({ ok: true, ...this.applyPublish(t, entries[i]!.payload, headers[i], entries[i]!) });
    } else {
      for (const e of entries) {
        try {
          const headers = this.checkPublish(t, e?.payload, e ?? {});
          results.push({ ok: true, ...this.applyPublish(t, e.payload, headers, e) });
        } catch (err) {
          if (!(err instanceof BrokerError)) throw err;
          results.push({ ok: false, error: err });
        }
      }
    }
    await this.durable();
    return results;
  }

  /** Pops up to `batchSize` (0 means 1); an empty queue first steals from its busiest sibling. */
  async consume(ns: string, topicName: string, queueId: number, batchSize: number, autoAck: boolean): Promise<Delivery[]> {
    this.assertOpen();
    const t = this.topic(ns, topicName);
    const q = this.queue(t, queueId);
    const n = this.checkBatch(batchSize);
    if (autoAck) this.assertWritable();
    if (q.pending.length === 0) this.steal(t, q);
    const msgs = this.pop(t, q, n, autoAck, undefined);
    if (autoAck && msgs.length > 0) await this.durableOrUnpop(t, msgs);
    return msgs;
  }

  async ack(ns: string, topicName: string, queueId: number, ids: readonly string[]): Promise<void> {
    this.assertWritable();
    const t = this.topic(ns, topicName);
    if (!Number.isInteger(queueId)) throw invalid(`queue_id ${queueId} is not an integer`);
    checkIds(ids);
    const found = t.ack(ids);
    if (found.length > 0) {
      this.sink?.ack(ns, topicName, found.length === ids.length ? ids : found.map((m) => m.id));
      for (const m of found) this.release(m);
      this.inflightCount -= found.length;
    }
    // Even when nothing was found here, an earlier ack of the same ids may
    // still be on its way to disk: answer after it.
    return this.durable();
  }

  /**
   * Negative acknowledgement (issue 8): in-flight messages go back after a
   * delay, `delayMs` or else the topic's exponential backoff with jitter,
   * decided now and logged as an absolute time. A message past the
   * policy's `maxRetries` goes to the dead-letter queue instead (reason
   * `nacked`); one consumed from the dead-letter queue goes back to its
   * head. Ids not in flight are ignored, as for ack.
   */
  async nack(ns: string, topicName: string, queueId: number, ids: readonly string[], opts: NackOptions = {}): Promise<NackResult> {
    this.assertWritable();
    const t = this.topic(ns, topicName);
    if (!Number.isInteger(queueId)) throw invalid(`queue_id ${queueId} is not an integer`);
    checkIds(ids);
    if (opts.delayMs !== undefined) checkDuration('delay_ms', opts.delayMs, MAX_DELAY_MS);
    const now = Date.now();
    const { maxRetries } = t.policy.retry;
    const requeue: string[] = [];
    const retry: string[] = [];
    const retryAt: number[] = [];
    const dead: string[] = [];
    const seen = ids.length > 1 ? new Set<string>() : undefined;
    for (const id of ids) {
      const m = t.inflight.get(id);
      if (m === undefined || seen?.has(id)) continue;
      seen?.add(id);
      if (m.queueId === DLQ_QUEUE_ID) {
        requeue.push(id);
      } else if (maxRetries >= 0 && m.deliveryCount > maxRetries) {
        dead.push(id);
      } else {
        const delay = opts.delayMs ?? backoff(t.policy, m.deliveryCount);
        if (delay <= 0) {
          requeue.push(id);
        } else {
          retry.push(id);
          retryAt.push(now + delay);
        }
      }
    }
    if (requeue.length > 0) this.requeue(t, requeue);
    if (retry.length > 0) {
      this.sink?.nack(ns, topicName, retry, retryAt);
      const entries = t.nack(retry, retryAt);
      for (const e of entries) this.release(e.msg);
      this.inflightCount -= entries.length;
      this.holdAll(entries);
    }
    if (dead.length > 0) this.deadLetter(t, 'nacked', dead);
    await this.durable();
    return { requeued: requeue.length, delayed: retry.length, deadLettered: dead.length };
  }

  /**
   * Extends leases (issue 8, as SQS ChangeMessageVisibility): the ack
   * deadline of each in-flight message becomes now + `extendMs`. Every id
   * must still be in flight with its deadline not passed, or nothing is
   * changed and FAILED_PRECONDITION names the first that is not. Deadlines
   * are not logged: recovery makes in-flight messages pending again.
   */
  async renew(ns: string, topicName: string, queueId: number, ids: readonly string[], extendMs: number): Promise<void> {
    this.assertOpen();
    const t = this.topic(ns, topicName);
    if (!Number.isInteger(queueId)) throw invalid(`queue_id ${queueId} is not an integer`);
    checkIds(ids);
    if (!Number.isInteger(extendMs) || extendMs < 1 || extendMs > MAX_LEASE_MS) {
      throw invalid(`extend_ms ${extendMs} is out of range: use 1..${MAX_LEASE_MS} (12 hours)`);
    }
    const now = performance.now();
    const msgs: StoredMessage[] = [];
    for (const id of ids) {
      const m = t.inflight.get(id);
      if (m === undefined || m.deadline <= now) {
        throw precondition(
          `message '${id}' is not in flight in topic '${ns}/${topicName}' (its lease expired, or it was acked, nacked or never delivered): consume it again instead of renewing`,
        );
      }
      msgs.push(m);
    }
    const at = now + extendMs;
    for (const m of msgs) {
      m.deadline = at;
      this.leases.push({ at, msg: m });
    }
    this.compactDeadlines();
    this.armDeadlineTimer(at);
  }

  /**
   * Pending messages of a queue from the head (or tail), without consuming
   * them (issue 8). `queueId` DLQ_QUEUE_ID (-1) pages the dead-letter queue.
   */
  peek(ns: string, topicName: string, queueId: number, opts: PeekOptions = {}): PeekResult {
    if (queueId === DLQ_QUEUE_ID) return this.peekDlq(ns, topicName, opts);
    this.assertOpen();
    const t = this.topic(ns, topicName);
    const q = this.queue(t, queueId);
    return peekDeque(q.pending, q.headSeq, opts);
  }

  /** The dead-letter queue's waiting messages, as `peek` shows a queue. */
  peekDlq(ns: string, topicName: string, opts: PeekOptions = {}): PeekResult {
    this.assertOpen();
    const t = this.topic(ns, topicName);
    return peekDeque(t.dlq, t.dlqHeadSeq, opts);
  }

  /**
   * Pops from the head of the dead-letter queue, as `consume` does from a
   * queue: without `autoAck` the messages are in flight (queueId -1) and
   * are acked, nacked or renewed like any other; if their lease passes
   * they return to the dead-letter queue's head.
   */
  async consumeDlq(ns: string, topicName: string, batchSize: number, autoAck: boolean): Promise<Delivery[]> {
    this.assertOpen();
    const t = this.topic(ns, topicName);
    const n = this.checkBatch(batchSize);
    if (autoAck) this.assertWritable();
    const msgs = t.popDlq(n, autoAck);
    if (msgs.length === 0) return msgs;
    this.sink?.dlqPop(ns, topicName, msgs.length, autoAck);
    if (!autoAck) this.track(msgs, undefined);
    if (autoAck) await this.durableOrUnpop(t, msgs);
    return msgs;
  }

  /**
   * Moves up to `max` (default all) messages from the head of the
   * dead-letter queue back to the topic, routed round-robin over the active
   * queues as publishes are, without their dead-letter headers and with a
   * fresh delivery count.
   */
  async redriveDlq(ns: string, topicName: string, opts: { max?: number } = {}): Promise<{ moved: number }> {
    this.assertWritable();
    const t = this.topic(ns, topicName);
    if (opts.max !== undefined && (!Number.isInteger(opts.max) || opts.max < 1)) {
      throw invalid(`max ${opts.max} is invalid: use a positive integer, or leave it out to redrive everything`);
    }
    const n = Math.min(opts.max ?? t.dlq.length, t.dlq.length);
    if (n > 0) {
      const queues = new Array<number>(n);
      for (let i = 0; i < n; i++) queues[i] = this.route(t, {});
      this.sink?.redrive(ns, topicName, queues);
      const msgs = t.redrive(queues);
      this.scheduleAll(t, msgs);
    }
    await this.durable();
    return { moved: n };
  }

  /** Depths, totals, rates and ages of a topic and each of its queues (issue 8, "Stats"). */
  topicStats(ns: string, topicName: string): TopicStats {
    this.assertOpen();
    const t = this.topic(ns, topicName);
    const now = performance.timeOrigin + performance.now();
    const queues: QueueStats[] = t.queues.map((q) => {
      const head = q.pending.peekFront();
      return {
        queueId: q.id,
        pending: q.pending.length,
        inFlight: 0,
        delayed: 0,
        published: q.published,
        acked: q.acked,
        redelivered: q.redelivered,
        deadLettered: q.deadLettered,
        publishRate: q.publishRate,
        ackRate: q.ackRate,
        oldestPendingAgeMs: head === undefined ? 0 : Math.max(0, now - head.timestampMs),
      };
    });
    // O(in flight + held) per call: stats are read every few seconds at most.
    for (const m of t.inflight.values()) if (m.queueId >= 0) queues[m.queueId]!.inFlight++;
    for (const { msg } of t.held.values()) queues[msg.queueId]!.delayed++;
    const total: TopicStats = {
      namespace: ns,
      topic: topicName,
      queueCount: t.activeCount,
      version: t.version,
      draining: t.draining,
      dlqDepth: t.dlq.length,
      policy: t.policy,
      pending: 0,
      inFlight: t.inflight.size,
      delayed: t.held.size,
      published: 0,
      acked: 0,
      redelivered: 0,
      deadLettered: 0,
      publishRate: 0,
      ackRate: 0,
      oldestPendingAgeMs: 0,
      queues,
    };
    for (const q of queues) {
      total.pending += q.pending;
      total.published += q.published;
      total.acked += q.acked;
      total.redelivered += q.redelivered;
      total.deadLettered += q.deadLettered;
      total.publishRate += q.publishRate;
      total.ackRate += q.ackRate;
      total.oldestPendingAgeMs = Math.max(total.oldestPendingAgeMs, q.oldestPendingAgeMs);
    }
    return total;
  }

  /**
   * A push subscription on one queue (DESIGN.md, "Subscriptions"). Throws
   * synchronously for an unknown queue or bad options.
   */
  subscribe(
    ns: string,
    topicName: string,
    queueId: number,
    handler: SubscriptionHandler,
    opts: { autoAck: boolean; maxInflight?: number },
  ): Subscription {
    this.assertOpen();
    const t = this.topic(ns, topicName);
    const q = this.queue(t, queueId);
    const limit = this.limits.maxInflightPerSubscription;
    const maxInflight = opts.maxInflight ?? limit;
    if (!Number.isInteger(maxInflight) || maxInflight < 1 || maxInflight > limit) {
      throw invalid(`max_inflight ${maxInflight} is out of range: use 1..${limit}`);
    }
    const sub = new Subscriber(q, handler, opts.autoAck, maxInflight, (s) => this.schedule(s.queue), (s) => this.detach(s));
    q.subscribers.push(sub);
    t.subscriberCount++;
    this.schedule(q);
    return sub;
  }

  /** Compacts the AOF now (no-op result without persistence). */
  async rewrite(): Promise<RewriteStats> {
    this.assertOpen();
    if (!this.store) throw precondition('persistence is disabled: there is no AOF to rewrite');
    return this.store.rewrite().catch(asBrokerError);
  }

  /** Ends subscriptions and timers, then flushes and closes the store. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const reason = unavailable('broker is shutting down');
    for (const topics of this.namespaces.values()) {
      for (const t of topics.values()) {
        if (t.drainTimer) clearTimeout(t.drainTimer);
        for (const q of t.queues) this.endSubscribers(q, reason);
      }
    }
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    if (this.heldTimer) clearTimeout(this.heldTimer);
    clearInterval(this.rateTimer);
    if (this.memoryTimer) clearInterval(this.memoryTimer);
    await this.store?.close();
  }

  /** Counts for logs and tests. */
  stats(): { namespaces: number; topics: number; pending: number; inflight: number } {
    let topics = 0;
    let pending = 0;
    let inflight = 0;
    for (const ts of this.namespaces.values()) {
      for (const t of ts.values()) {
        topics++;
        pending += t.pendingCount();
        inflight += t.inflight.size;
      }
    }
    return { namespaces: this.namespaces.size, topics, pending, inflight };
  }

  /** Memory against limits.memory_high_water (O(1)). */
  memory(): MemoryStatus {
    return {
      accountedBytes: this.account.bytes,
      messages: this.account.messages,
      sampledBytes: this.sampledBytes,
      highWaterBytes: this.limits.memoryHighWaterBytes,
      refusing: this.refusingPublishes,
    };
  }

  // ------------------------------------------------------------------ internals

  /**
   * The slow path of the memory check, taken by a publish when the
   * accounted bytes reached the ceiling or publishes are being refused.
   * Refuse at the mark; accept again only once both figures are below
   * MEMORY_RESUME_FRACTION of it, so that acks freeing a few messages do
   * not make publishes flap. Consume, ack, nack and delete never come here:
   * they free memory.
   */
  private memoryFull(): void {
    this.updateMemoryState();
    if (!this.refusingPublishes) return;
    const mark = this.limits.memoryHighWaterBytes;
    const used = Math.max(this.account.bytes, this.sampledBytes);
    throw exhausted(
      `memory high-water mark reached (${formatBytes(used)} of ${formatBytes(mark)}; publishing resumes below ${formatBytes(mark * MEMORY_RESUME_FRACTION)}): consume and ack messages, or raise limits.memory_high_water`,
    );
  }

  private updateMemoryState(): void {
    const mark = this.limits.memoryHighWaterBytes;
    if (mark <= 0) return;
    const used = Math.max(this.account.bytes, this.sampledBytes);
    const was = this.refusingPublishes;
    if (was ? used >= mark * MEMORY_RESUME_FRACTION : used >= mark) {
      this.refusingPublishes = true;
      this.publishCeiling = -Infinity;
    } else {
      this.refusingPublishes = false;
      this.publishCeiling = mark;
    }
    if (was !== this.refusingPublishes) {
      const fields = { accountedBytes: this.account.bytes, sampledBytes: this.sampledBytes, highWaterBytes: mark };
      if (this.refusingPublishes) this.log.warn(fields, 'memory high-water mark reached: refusing publishes until consumers free memory');
      else this.log.info(fields, 'memory below the high-water mark again: accepting publishes');
    }
  }

  private readonly takeMemorySample = (): void => {
    try {
      this.sampledBytes = this.sampleMemory!();
    } catch (err) {
      this.log.error({ err }, 'memory sampler failed');
      return;
    }
    this.updateMemoryState();
  };

  /**
   * The store's promise for the current batch, its StoreUnavailableError
   * mapped to UNAVAILABLE once per batch (not per call: every change of one
   * event-loop turn shares the batch and its mapped promise).
   */
  private durable(): Promise<void> {
    if (!this.store) return RESOLVED;
    const batch = this.store.durable();
    if (batch !== this.storeBatch) {
      this.storeBatch = batch;
      this.answer = batch.then(undefined, asBrokerError);
    }
    return this.answer;
  }

  private assertOpen(): void {
    if (this.closing) throw unavailable('broker is shutting down');
  }

  /**
   * DESIGN.md, "Durability contract": a failed write is never hidden. Once
   * the store has failed, mutations are refused before they touch the
   * state (a publish answered with an error must not be delivered); reads
   * and deliveries of what is already queued go on.
   */
  private assertWritable(): void {
    this.assertOpen();
    const failure = this.store?.failure;
    if (failure) throw unavailable(`persistence failed: ${failure.message}`);
  }

  /**
   * An auto-ack consume is answered with its messages only once the pop is
   * durable. When the store fails instead (its durable() rejects), the client gets the error and
   * not the messages, so they go back to the head of their queue, in
   * order, rather than vanish undelivered. No record says so: the store
   * rejects a batch only as it enters FAILED, when every record is dropped
   * until it rebuilds the AOF from a snapshot of memory (which then holds
   * them; a crash before that may or may not have kept the pop, as with a
   * timeout).
   */
  private async durableOrUnpop(t: Topic, msgs: StoredMessage[]): Promise<void> {
    try {
      await this.durable();
    } catch (err) {
      if (!t.deleted) {
        t.unpop(msgs);
        this.scheduleAll(t, msgs);
      }
      throw err;
    }
  }

  private namespace(ns: string): Map<string, Topic> {
    const topics = this.namespaces.get(ns);
    if (!topics) throw notFound(`namespace '${ns}'`);
    return topics;
  }

  private topic(ns: string, name: string): Topic {
    const t = this.namespace(ns).get(name);
    if (!t) throw notFound(`topic '${name}' in namespace '${ns}'`);
    return t;
  }

  private queue(t: Topic, queueId: number): Queue {
    if (!Number.isInteger(queueId) || queueId < 0 || queueId >= t.queues.length) {
      throw notFound(`queue ${queueId} of topic '${t.namespace}/${t.name}' (it has queues 0..${t.queues.length - 1})`);
    }
    return t.queues[queueId]!;
  }

  private checkQueueCount(field: string, n: number): void {
    const max = this.limits.maxQueuesPerTopic;
    if (!Number.isInteger(n) || n < 1 || n > max) throw invalid(`${field} ${n} is out of range: use 1..${max}`);
  }

  private checkHeaders(headers: Record<string, string> | undefined): Headers | undefined {
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
    if (n > this.limits.maxHeaders) throw invalid(`${n} headers is over the limit of ${this.limits.maxHeaders} (limits.max_headers)`);
    return headers;
  }

  /**
   * Validates a publish before anything is applied; returns its headers.
   * The messages of failures are built elsewhere: this runs per publish
   * and stays small enough to be inlined.
   */
  private checkPublish(t: Topic, payload: Uint8Array, opts: PublishOptions): Headers | undefined {
    if (!(payload instanceof Uint8Array) || payload.length > this.limits.maxPayloadBytes) this.badPayload(payload);
    const headers = this.checkHeaders(opts.headers);
    const id = opts.queueId;
    if (id !== undefined && id !== null && id !== -1) this.checkTargetQueue(t, id);
    if (hasExtras(opts)) checkPublishExtras(opts);
    return headers;
  }

  private badPayload(payload: unknown): never {
    if (!(payload instanceof Uint8Array)) throw invalid('payload must be bytes');
    throw invalid(`payload of ${payload.length} bytes is over the limit of ${this.limits.maxPayloadBytes} bytes (limits.max_payload)`);
  }

  private checkTargetQueue(t: Topic, id: number): void {
    this.queue(t, id);
    if (id >= t.activeCount) {
      throw precondition(`queue ${id} of topic '${t.namespace}/${t.name}' is draining: publish to queues 0..${t.activeCount - 1}`);
    }
  }

  /** Applies a validated publish and logs it. */
  private applyPublish(t: Topic, payload: Uint8Array, headers: Headers | undefined, opts: PublishOptions): PublishResult {
    if (hasExtras(opts)) return this.applyPublishEx(t, payload, headers, opts);
    const msg = this.applyPlainPublish(t, payload, headers, opts);
    return { messageId: msg.id, queueId: msg.queueId };
  }

  /** A publish without dedup or delay: routed, logged, queued. Returns the message. */
  private applyPlainPublish(t: Topic, payload: Uint8Array, headers: Headers | undefined, opts: PublishOptions): StoredMessage {
    const queueId = this.route(t, opts);
    const msg = this.newMessage(t, queueId, payload, headers);
    // Logged first: a record the codec refuses must not leave the message applied.
    this.sink?.publish(t.namespace, t.name, queueId, msg);
    t.publish(queueId, msg);
    const q = t.queues[queueId]!;
    if (q.subscribers.length > 0) this.schedule(q);
    else if (t.subscriberCount > 0 && q.pending.length >= 2) this.wakeStarving(t);
    return msg;
  }

  /**
   * A publish with a dedup id or a delay (issue 8). A repeat of a live
   * dedup entry is answered from it and changes nothing. The visible time
   * and the entry's expiry are decided here and logged as absolute times,
   * so replay never reads the clock.
   */
  private applyPublishEx(t: Topic, payload: Uint8Array, headers: Headers | undefined, opts: PublishOptions): PublishResult {
    const now = Date.now();
    const dedupId = opts.dedupId;
    if (dedupId !== undefined) {
      t.pruneDedup(now);
      const e = t.findDedup(dedupId, now);
      if (e !== undefined) return { messageId: e.id, queueId: e.queue, duplicate: true };
    }
    const queueId = this.route(t, opts);
    const msg = this.newMessage(t, queueId, payload, headers);
    const visibleAt = opts.deliverAt ?? (opts.delayMs ? now + opts.delayMs : 0);
    const held = visibleAt > now;
    const window = t.policy.dedupWindowMs;
    const dedup = dedupId !== undefined && window > 0;
    this.sink?.publishEx(t.namespace, t.name, queueId, msg, {
      toDlq: false,
      deliveryCount: 0,
      visibleAt: held ? visibleAt : 0,
      dedupId: dedup ? dedupId : undefined,
      dedupExpiresAt: dedup ? now + window : 0,
    });
    if (held) {
      this.holdAll([t.hold(queueId, msg, visibleAt)]);
      // Counted when published, not again when it becomes visible.
      t.queues[queueId]!.published++;
    } else {
      t.publish(queueId, msg);
      this.scheduleAll(t, [msg]);
    }
    if (dedup) t.addDedup(dedupId, msg.id, queueId, now + window);
    return { messageId: msg.id, queueId };
  }

  private newMessage(t: Topic, queueId: number, payload: Uint8Array, headers: Headers | undefined): StoredMessage {
    return {
      id: newMessageId(),
      namespace: t.namespace,
      topic: t.name,
      queueId,
      // Own the bytes: a front's payload may be a view into a network frame.
      payload: this.arena.copy(payload),
      timestampMs: performance.timeOrigin + performance.now(),
      headers,
      deliveryCount: 0,
      state: MessageState.Pending,
      deadline: 0,
      holder: undefined,
    };
  }

  private checkBatch(batchSize: number): number {
    const n = batchSize === 0 ? 1 : batchSize;
    if (!Number.isInteger(n) || n < 1 || n > this.limits.maxBatch) {
      throw invalid(`batch_size ${batchSize} is out of range: use 1..${this.limits.maxBatch} (limits.max_batch)`);
    }
    return n;
  }

  /**
   * DESIGN.md, "Routing on publish": explicit queue, else stable hash of
   * the key, else round-robin. An explicit queue was checked by checkPublish.
   */
  private route(t: Topic, opts: PublishOptions): number {
    const id = opts.queueId;
    if (id !== undefined && id !== null && id !== -1) return id;
    if (opts.routingKey) return fnv1a(opts.routingKey) % t.activeCount;
    const q = t.roundRobin % t.activeCount;
    t.roundRobin = q + 1;
    return q;
  }

  private pop(t: Topic, q: Queue, count: number, autoAck: boolean, holder: Subscriber | undefined): StoredMessage[] {
    const msgs = t.pop(q.id, count, autoAck);
    if (msgs.length === 0) return msgs;
    this.sink?.pop(t.namespace, t.name, q.id, msgs.length, autoAck);
    if (!autoAck) this.track(msgs, holder);
    if (q.id >= t.activeCount) this.finishDrainIfEmpty(t);
    return msgs;
  }

  /** Popped messages go in flight: ack deadlines, the holder's count. */
  private track(msgs: StoredMessage[], holder: Subscriber | undefined): void {
    const deadline = performance.now() + this.ackTimeoutMs;
    for (const m of msgs) {
      m.deadline = deadline;
      m.holder = holder;
      this.deadlineMsgs.pushBack(m);
      this.deadlineAt.pushBack(deadline);
    }
    if (holder) holder.inflight += msgs.length;
    this.inflightCount += msgs.length;
    this.compactDeadlines();
    this.armDeadlineTimer(deadline);
  }

  /** In-flight messages back to the head of their queue (or of the dead-letter queue), logged. */
  private requeue(t: Topic, ids: readonly string[]): void {
    const msgs = t.requeue(ids);
    this.inflightCount -= msgs.length;
    this.sink?.requeue(t.namespace, t.name, ids);
    for (const m of msgs) this.release(m);
    this.scheduleAll(t, msgs);
  }

  /** In-flight messages to the dead-letter queue, logged. */
  private deadLetter(t: Topic, reason: string, ids: readonly string[]): void {
    const originals: StoredMessage[] = [];
    for (const id of ids) {
      const m = t.inflight.get(id);
      if (m !== undefined) originals.push(m);
    }
    this.sink?.deadLetter(t.namespace, t.name, reason, ids);
    t.deadLetter(reason, ids);
    for (const m of originals) this.release(m);
    this.inflightCount -= originals.length;
    this.log.debug({ namespace: t.namespace, topic: t.name, count: originals.length, reason }, 'messages dead-lettered');
  }

  /**
   * In-flight messages whose lease ended without an ack (deadline passed,
   * or the broker restarted): back to the head of their queue, or to the
   * dead-letter queue (reason `ack_timeout`) once past the policy's retries.
   */
  private expire(t: Topic, msgs: readonly StoredMessage[]): void {
    const max = t.policy.retry.maxRetries;
    const requeue: string[] = [];
    const dead: string[] = [];
    for (const m of msgs) (max >= 0 && m.queueId !== DLQ_QUEUE_ID && m.deliveryCount > max ? dead : requeue).push(m.id);
    if (requeue.length > 0) this.requeue(t, requeue);
    if (dead.length > 0) this.deadLetter(t, 'ack_timeout', dead);
  }

  /** Wakes the subscribers that `msgs`, now pending, may serve. */
  private scheduleAll(t: Topic, msgs: readonly StoredMessage[]): void {
    for (const m of msgs) if (m.queueId >= 0) this.schedule(t.queues[m.queueId]!);
    if (t.subscriberCount > 0 && msgs.length > 0) this.wakeStarving(t);
  }

  /** DESIGN.md, "Work stealing": only for an active queue found empty. */
  private steal(t: Topic, q: Queue): boolean {
    if (q.id >= t.activeCount) return false;
    const move = t.planSteal(q.id);
    if (!move) return false;
    t.move([move]);
    this.sink?.move(t.namespace, t.name, [move]);
    this.log.debug({ namespace: t.namespace, topic: t.name, ...move }, 'work stealing');
    if (move.from >= t.activeCount) this.finishDrainIfEmpty(t);
    return true;
  }

  private release(m: StoredMessage): void {
    const holder = m.holder as Subscriber | undefined;
    m.holder = undefined;
    holder?.release();
  }

  private detach(sub: Subscriber): void {
    const subs = sub.queue.subscribers;
    const i = subs.indexOf(sub);
    if (i >= 0) {
      subs.splice(i, 1);
      sub.queue.topic.subscriberCount--;
    }
  }

  private endSubscribers(q: Queue, reason: BrokerError | undefined): void {
    for (const sub of q.subscribers.splice(0)) {
      sub.closed = true;
      q.topic.subscriberCount--;
      try {
        sub.handler.end(reason);
      } catch (err) {
        this.log.error({ err }, 'subscription end handler failed');
      }
    }
  }

  private destroyTopic(t: Topic, why: string): void {
    const reason = notFound(`queue of topic '${t.namespace}/${t.name}': ${why}`);
    for (const q of t.queues) this.endSubscribers(q, reason);
    this.inflightCount -= t.inflight.size;
    if (t.held.size > 0) {
      const gone = t.held;
      this.held.retain((e) => gone.get(e.msg.id) !== e);
    }
    t.destroy();
  }

  // ---------------------------------------------------------------- delivery

  private schedule(q: Queue): void {
    if (q.scheduled || q.removed) return;
    q.scheduled = true;
    this.dirty.push(q);
    if (!this.deliveryScheduled) {
      this.deliveryScheduled = true;
      // One delivery pass per event-loop turn: every publish of the turn is
      // pushed in one run per subscriber instead of one write per message.
      setImmediate(this.runDeliveries);
    }
  }

  /** Let empty queues with waiting subscribers steal from a sibling's backlog. */
  private wakeStarving(t: Topic): void {
    for (let i = 0; i < t.activeCount; i++) {
      const s = t.queues[i]!;
      if (s.pending.length === 0 && s.subscribers.length > 0) this.schedule(s);
    }
  }

  private readonly runDeliveries = (): void => {
    this.deliveryScheduled = false;
    const queues = this.dirty.splice(0);
    let budget = DELIVERY_BUDGET;
    for (const q of queues) {
      q.scheduled = false;
      if (q.removed || this.closing) continue;
      budget -= this.deliver(q, budget);
    }
  };

  private deliver(q: Queue, budget: number): number {
    const t = q.topic;
    const subs = q.subscribers;
    if (subs.length === 0) return 0;
    if (q.pending.length === 0 && (!q.hasReadySubscriber() || !this.steal(t, q))) return 0;
    let delivered = 0;
    let idle = 0;
    while (q.pending.length > 0 && subs.length > 0 && idle < subs.length) {
      if (delivered >= budget) {
        this.schedule(q); // the rest next turn, after I/O has had its share
        break;
      }
      if (q.nextSubscriber >= subs.length) q.nextSubscriber = 0;
      const sub = subs[q.nextSubscriber++]!;
      const n = Math.min(sub.capacity(), DELIVERY_RUN, budget - delivered);
      if (n === 0) {
        idle++;
        continue;
      }
      idle = 0;
      const msgs = this.pop(t, q, n, sub.autoAck, sub);
      delivered += msgs.length;
      try {
        for (const m of msgs) sub.handler.message(m);
        sub.handler.batchEnd?.();
      } catch (err) {
        // In-flight messages of a broken subscriber follow the ack rules.
        this.log.error({ err, namespace: t.namespace, topic: t.name, queue: q.id }, 'subscriber failed; closing it');
        sub.close();
      }
      if (q.pending.length === 0 && !q.removed) this.steal(t, q);
    }
    // A backlog left here (its subscribers are full or paused) is work
    // that idle siblings may steal.
    if (q.pending.length >= 2 && t.subscriberCount > subs.length) this.wakeStarving(t);
    return delivered;
  }

  private notifyResize(t: Topic): void {
    const notice = { namespace: t.namespace, topic: t.name, version: t.version, queueCount: t.activeCount };
    for (const q of t.queues) {
      for (const sub of q.subscribers) {
        try {
          sub.handler.notice(notice);
        } catch (err) {
          this.log.error({ err }, 'subscription notice handler failed');
        }
      }
    }
  }

  // ------------------------------------------------------------ ack deadlines

  private armDeadlineTimer(at: number): void {
    if (this.deadlineTimer && this.deadlineTimerAt <= at) return;
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    this.deadlineTimerAt = at;
    this.deadlineTimer = setTimeout(this.expireDeadlines, Math.min(MAX_TIMER_MS, Math.max(0, at - performance.now())));
    this.deadlineTimer.unref();
  }

  /**
   * Acked messages stay in the FIFO until their deadline is reached, and
   * with them their payloads: at 100k acks/s and a 30 s ack_timeout that
   * would be gigabytes. Once stale entries outnumber live ones, rebuild the
   * FIFO without them: O(n) every n/2 pops, O(1) amortized. The heap of
   * renewed leases is compacted by the same rule.
   */
  private compactDeadlines(): void {
    if (this.leases.size >= 1024 && this.leases.size > 2 * this.inflightCount) {
      this.leases.retain((l) => l.msg.state === MessageState.InFlight && l.msg.deadline === l.at);
    }
    const n = this.deadlineMsgs.length;
    if (n < 1024 || n <= 2 * this.inflightCount) return;
    for (let i = 0; i < n; i++) {
      const m = this.deadlineMsgs.popFront()!;
      const at = this.deadlineAt.popFront()!;
      if (m.state === MessageState.InFlight && m.deadline === at) {
        this.deadlineMsgs.pushBack(m);
        this.deadlineAt.pushBack(at);
      }
    }
  }

  /** DESIGN.md, "Consume": a message whose deadline passes goes back to the head of its queue. */
  private readonly expireDeadlines = (): void => {
    this.deadlineTimer = undefined;
    this.deadlineTimerAt = Infinity;
    if (this.closing) return;
    const now = performance.now();
    const expired = new Map<Topic, StoredMessage[]>();
    const collect = (m: StoredMessage): void => {
      // A renew back to an earlier time can leave two live entries for one
      // message; clearing the deadline makes the second stale.
      m.deadline = 0;
      const t = this.namespaces.get(m.namespace)?.get(m.topic);
      if (!t) return;
      let msgs = expired.get(t);
      if (!msgs) expired.set(t, (msgs = []));
      msgs.push(m);
    };
    while (this.deadlineMsgs.length > 0) {
      const m = this.deadlineMsgs.peekFront()!;
      const at = this.deadlineAt.peekFront()!;
      if (m.state === MessageState.InFlight && m.deadline === at) {
        if (at > now) break;
        collect(m);
      }
      this.deadlineMsgs.popFront();
      this.deadlineAt.popFront();
    }
    while (this.leases.size > 0) {
      const l = this.leases.peek()!;
      if (l.msg.state === MessageState.InFlight && l.msg.deadline === l.at) {
        if (l.at > now) break;
        collect(l.msg);
      }
      this.leases.pop();
    }
    for (const [t, msgs] of expired) {
      this.expire(t, msgs);
      this.log.debug({ namespace: t.namespace, topic: t.name, count: msgs.length }, 'ack deadline passed; messages requeued');
    }
    const next = Math.min(this.deadlineAt.peekFront() ?? Infinity, this.leases.peek()?.at ?? Infinity);
    if (next !== Infinity) this.armDeadlineTimer(next);
  };

  // ------------------------------------------------------------ held messages

  /** Delayed publishes and nacked messages waiting for their retry: into the heap, timer re-armed. */
  private holdAll(entries: readonly HeldEntry[]): void {
    let first = Infinity;
    for (const e of entries) {
      e.seq = this.heldSeq++;
      this.held.push(e);
      if (e.at < first) first = e.at;
    }
    if (first !== Infinity) this.armHeldTimer(first);
  }

  private armHeldTimer(at: number): void {
    if (this.heldTimer && this.heldTimerAt <= at) return;
    if (this.heldTimer) clearTimeout(this.heldTimer);
    this.heldTimerAt = at;
    this.heldTimer = setTimeout(this.releaseHeldTimer, Math.min(MAX_TIMER_MS, Math.max(0, at - Date.now())));
    this.heldTimer.unref();
  }

  private readonly releaseHeldTimer = (): void => {
    this.heldTimer = undefined;
    this.heldTimerAt = Infinity;
    if (this.closing) return;
    this.releaseHeld(Date.now());
  };

  /** Makes every held message due at `now` visible, one `visible` record per topic, then re-arms the timer. */
  private releaseHeld(now: number): void {
    const due = new Map<Topic, string[]>();
    while (this.held.size > 0) {
      const e = this.held.peek()!;
      if (e.at > now) break;
      this.held.pop();
      const t = this.namespaces.get(e.msg.namespace)?.get(e.msg.topic);
      if (!t || t.held.get(e.msg.id) !== e) continue;
      let ids = due.get(t);
      if (!ids) due.set(t, (ids = []));
      ids.push(e.msg.id);
    }
    for (const [t, ids] of due) {
      this.sink?.visible(t.namespace, t.name, ids);
      this.scheduleAll(t, t.makeVisible(ids));
    }
    const next = this.held.peek();
    if (next !== undefined) this.armHeldTimer(next.at);
  }

  private readonly sampleRates = (): void => {
    const now = Date.now();
    const dt = (now - this.rateSampledAt) / 1000;
    if (dt <= 0) return;
    this.rateSampledAt = now;
    const alpha = 1 - Math.exp(-dt / RATE_WINDOW_S);
    for (const topics of this.namespaces.values()) {
      for (const t of topics.values()) for (const q of t.queues) q.sampleRates(dt, alpha);
    }
  };

  // ------------------------------------------------------------------ resize

  private armDrain(t: Topic): void {
    if (t.drainTimer) clearTimeout(t.drainTimer);
    t.drainTimer = setTimeout(() => this.finishDrain(t), this.drainTimeoutMs);
    t.drainTimer.unref();
    // Consumers of the active queues may now steal from the draining ones.
    this.wakeStarving(t);
  }

  private finishDrainIfEmpty(t: Topic): boolean {
    if (!t.draining) return false;
    for (let i = t.activeCount; i < t.queues.length; i++) if (t.queues[i]!.pending.length > 0) return false;
    this.finishDrain(t);
    return true;
  }

  private finishDrain(t: Topic): void {
    if (t.deleted || !t.draining || this.closing) return;
    if (t.drainTimer) clearTimeout(t.drainTimer);
    t.drainTimer = undefined;
    const removed = t.finishResize();
    this.sink?.resizeFinal(t.namespace, t.name);
    this.log.info({ namespace: t.namespace, topic: t.name, queues: t.activeCount, version: String(t.version) }, 'topic resize finished');
    const notice = { namespace: t.namespace, topic: t.name, version: t.version, queueCount: t.activeCount };
    for (const q of removed) {
      for (const sub of q.subscribers) sub.handler.notice(notice);
      this.endSubscribers(q, notFound(`queue ${q.id} of topic '${t.namespace}/${t.name}': removed by a resize to ${t.activeCount} queues`));
    }
    this.notifyResize(t);
    for (const q of t.queues) if (q.pending.length > 0) this.schedule(q);
  }

  // ---------------------------------------------------------- replay, snapshot

  /** Applies one replayed record: the same transitions as the live calls, without logging. */
  private apply(rec: LogRecord): void {
    switch (rec.type) {
      case 'nsCreate':
        this.namespaces.set(rec.ns, new Map());
        return;
      case 'nsDelete':
        for (const t of this.replayNamespace(rec.ns).values()) t.destroy();
        this.namespaces.delete(rec.ns);
        return;
      // Replay never checks limits (max_namespaces, max_topics_per_namespace,
      // memory_high_water): a limit lowered before a restart must not lose data.
      case 'topicCreate':
        this.replayNamespace(rec.ns).set(rec.topic, new Topic(rec.ns, rec.topic, rec.queueCount, rec.queueCount, 0n, this.account));
        return;
      case 'topicRestore':
        this.replayNamespace(rec.ns).set(rec.topic, new Topic(rec.ns, rec.topic, rec.queueCount, rec.activeCount, rec.version, this.account));
        return;
      case 'topicDelete':
        this.replayTopic(rec.ns, rec.topic).destroy();
        this.namespaces.get(rec.ns)!.delete(rec.topic);
        return;
      case 'publish': {
        const t = this.replayTopic(rec.ns, rec.topic);
        t.publish(rec.queue, replayedMessage(t, rec.queue, rec, 0));
        return;
      }
      case 'publishEx': {
        const t = this.replayTopic(rec.ns, rec.topic);
        const msg = replayedMessage(t, rec.queue, rec, rec.deliveryCount);
        if (rec.toDlq) t.pushDlq(msg);
        else if (rec.visibleAt > 0) t.hold(rec.queue, msg, rec.visibleAt);
        else t.publish(rec.queue, msg);
        if (rec.dedupId !== undefined) t.addDedup(rec.dedupId, rec.id, rec.queue, rec.dedupExpiresAt);
        return;
      }
      case 'topicPolicy':
        this.replayTopic(rec.ns, rec.topic).setPolicy(rec);
        return;
      case 'nack':
        this.replayTopic(rec.ns, rec.topic).nack(rec.ids, rec.visibleAt);
        return;
      case 'visible':
        this.replayTopic(rec.ns, rec.topic).makeVisible(rec.ids);
        return;
      case 'deadLetter':
        this.replayTopic(rec.ns, rec.topic).deadLetter(rec.reason, rec.ids);
        return;
      case 'dlqPop':
        this.replayTopic(rec.ns, rec.topic).popDlq(rec.count, rec.autoAck);
        return;
      case 'redrive':
        this.replayTopic(rec.ns, rec.topic).redrive(rec.queues);
        return;
      case 'dedup':
        this.replayTopic(rec.ns, rec.topic).addDedup(rec.key, rec.id, rec.queue, rec.expiresAt);
        return;
      case 'pop':
        this.replayTopic(rec.ns, rec.topic).pop(rec.queue, rec.count, rec.autoAck);
        return;
      case 'ack':
        this.replayTopic(rec.ns, rec.topic).ack(rec.ids);
        return;
      case 'requeue':
        this.replayTopic(rec.ns, rec.topic).requeue(rec.ids);
        return;
      case 'move':
        this.replayTopic(rec.ns, rec.topic).move(rec.moves);
        return;
      case 'resize':
        this.replayTopic(rec.ns, rec.topic).resize(rec.queueCount);
        return;
      case 'resizeFinal':
        this.replayTopic(rec.ns, rec.topic).finishResize();
        return;
    }
  }

  private replayNamespace(ns: string): Map<string, Topic> {
    const topics = this.namespaces.get(ns);
    if (!topics) throw new Error(`AOF record refers to namespace '${ns}', which the log never created: the AOF is inconsistent`);
    return topics;
  }

  private replayTopic(ns: string, name: string): Topic {
    const t = this.replayNamespace(ns).get(name);
    if (!t) throw new Error(`AOF record refers to topic '${ns}/${name}', which the log never created: the AOF is inconsistent`);
    return t;
  }

  /**
   * DESIGN.md, "Recovery": messages in flight at the crash are pending
   * again. That is itself a transition, so it is logged: later records
   * were produced against the requeued state.
   */
  private afterReplay(stats: ReplayStats): RecoverySummary {
    let topics = 0;
    let requeued = 0;
    for (const ts of this.namespaces.values()) {
      for (const t of ts.values()) {
        topics++;
        // Totals count since startup; replay rebuilt part of them.
        for (const q of t.queues) q.resetCounters();
        if (t.inflight.size > 0) {
          // A lease that a restart ended counts as one that expired.
          const msgs = [...t.inflight.values()];
          this.inflightCount += msgs.length;
          this.expire(t, msgs);
          requeued += msgs.length;
        }
        if (t.held.size > 0) this.holdAll([...t.held.values()]);
        if (t.draining) this.armDrain(t);
      }
    }
    // Held messages whose time passed while the broker was down are visible now.
    this.releaseHeld(Date.now());
    // A mark lowered below what replay restored: publishes wait for consumers.
    this.updateMemoryState();
    return { ...stats, namespaces: this.namespaces.size, topics, pending: this.stats().pending, requeued };
  }

  /**
   * The state as records, for AOF rewrites. References are captured now
   * (messages are immutable where it matters; what is not, their queue and
   * delivery count, is copied), records are written later a slice at a
   * time while the live state moves on.
   */
  private readonly snapshot: SnapshotSource = (sink) => {
    const now = Date.now();
    const view = [...this.namespaces].map(([ns, topics]) => ({
      ns,
      topics: [...topics.values()].map((t) => {
        const inflight: StoredMessage[][] = t.queues.map(() => []);
        const dlqInflight: StoredMessage[] = [];
        for (const m of t.inflight.values()) (m.queueId === DLQ_QUEUE_ID ? dlqInflight : inflight[m.queueId]!).push(m);
        const saved = new Map<StoredMessage, number>();
        t.countsBeforePop = saved;
        return {
          topic: t,
          saved,
          name: t.name,
          activeCount: t.activeCount,
          version: t.version,
          policy: policyFields(t.policy),
          queues: t.queues.map((q, i) => captureRun(inflight[i]!, q.pending)),
          held: captureHeld(t),
          dlq: captureRun(dlqInflight, t.dlq),
          dedup: [...t.dedup.values()].filter((e) => e.expiresAt > now),
        };
      }),
    }));
    return (function* write(): Generator<void> {
      const SLICE = 1024;
      let n = 0;
      const plain = { toDlq: false, deliveryCount: 0, visibleAt: 0, dedupId: undefined, dedupExpiresAt: 0 };
      try {
      for (const { ns, topics } of view) {
        sink.nsCreate(ns);
        for (const t of topics) {
          sink.topicRestore(ns, t.name, t.queues.length, t.activeCount, t.version);
          sink.topicPolicy(ns, t.name, t.policy);
          // In-flight messages were popped from the head: write them first
          // (with the delivery count they had before that pop), then pop
          // them again so replay puts them in flight.
          const runs = [...t.queues.map((run, q) => ({ run, q, toDlq: false })), { run: t.dlq, q: 0, toDlq: true }];
          for (const { run, q, toDlq } of runs) {
            for (const [list, popped] of [[run.inflight, 1], [run.pending, 0]] as const) {
              for (const m of list) {
                const count = (t.saved.get(m) ?? m.deliveryCount) - popped;
                if (count === 0 && !toDlq) sink.publish(ns, t.name, q, m);
                else sink.publishEx(ns, t.name, q, m, { ...plain, toDlq, deliveryCount: count });
                if (++n % SLICE === 0) yield;
              }
            }
            if (run.inflight.length > 0) {
              if (toDlq) sink.dlqPop(ns, t.name, run.inflight.length, false);
              else sink.pop(ns, t.name, q, run.inflight.length, false);
            }
          }
          for (const h of t.held) {
            sink.publishEx(ns, t.name, h.queue, h.msg, { ...plain, deliveryCount: h.count, visibleAt: h.at });
            if (++n % SLICE === 0) yield;
          }
          for (const e of t.dedup) {
            sink.dedup(ns, t.name, e.key, e.id, e.queue, e.expiresAt);
            if (++n % SLICE === 0) yield;
          }
        }
      }
      } finally {
        for (const { topics } of view) for (const t of topics) if (t.topic.countsBeforePop === t.saved) t.topic.countsBeforePop = undefined;
      }
    })();
  };
}

/**
 * In-flight then pending messages of one queue. Their delivery counts are
 * read when written, or from the topic's `countsBeforePop` when a pop
 * changed them since.
 */
function captureRun(inflight: StoredMessage[], pending: Deque<StoredMessage>): { inflight: StoredMessage[]; pending: StoredMessage[] } {
  return { inflight, pending: pending.toArray() };
}

function captureHeld(t: Topic): { msg: StoredMessage; at: number; queue: number; count: number }[] {
  const out = [];
  for (const { msg, at } of t.held.values()) out.push({ msg, at, queue: msg.queueId, count: msg.deliveryCount });
  return out;
}

function replayedMessage(t: Topic, queue: number, rec: MessageRecordFields, deliveryCount: number): StoredMessage {
  return {
    id: rec.id,
    namespace: t.namespace,
    topic: t.name,
    queueId: queue,
    payload: rec.payload,
    timestampMs: rec.timestampMs,
    headers: rec.headers,
    deliveryCount,
    state: MessageState.Pending,
    deadline: 0,
    holder: undefined,
  };
}

function formatBytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(2)} GiB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} bytes`;
}

function checkIds(ids: readonly string[]): void {
  if (!Array.isArray(ids) || ids.some((id) => typeof id !== 'string')) throw invalid('message_ids must be a list of strings');
}

function checkDuration(field: string, ms: number, max: number): void {
  if (typeof ms !== 'number' || !Number.isInteger(ms) || ms < 0 || ms > max) {
    throw invalid(`${field} ${ms} is out of range: use whole milliseconds 0..${max}`);
  }
}

function hasExtras(opts: PublishOptions): boolean {
  return opts.delayMs !== undefined || opts.deliverAt !== undefined || opts.dedupId !== undefined;
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
}

/** Applies a policy change to `base`, validating the result. */
function mergePolicy(base: TopicPolicy, input: TopicPolicyInput): TopicPolicyFields {
  if (typeof input !== 'object' || input === null) throw invalid('policy must be an object');
  const r = input.retry ?? {};
  const p: TopicPolicyFields = {
    maxRetries: r.maxRetries ?? base.retry.maxRetries,
    baseMs: r.baseMs ?? base.retry.baseMs,
    capMs: r.capMs ?? base.retry.capMs,
    dedupWindowMs: input.dedupWindowMs ?? base.dedupWindowMs,
  };
  if (!Number.isInteger(p.maxRetries) || p.maxRetries < -1 || p.maxRetries > MAX_RETRIES) {
    throw invalid(`retry.max_retries ${p.maxRetries} is out of range: use 0..${MAX_RETRIES}, or -1 to retry forever`);
  }
  checkDuration('retry.base_ms', p.baseMs, MAX_DELAY_MS);
  checkDuration('retry.cap_ms', p.capMs, MAX_DELAY_MS);
  if (p.capMs < p.baseMs) throw invalid(`retry.cap_ms ${p.capMs} is below retry.base_ms ${p.baseMs}: the cap must be at least the base`);
  checkDuration('dedup_window_ms', p.dedupWindowMs, MAX_DEDUP_WINDOW_MS);
  return p;
}

/**
 * The retry delay after delivery number `deliveryCount`: base * 2^(n-1),
 * capped, with "equal jitter" (a uniform draw in [d/2, d]) so that
 * consumers failing together do not retry together.
 */
function backoff(policy: TopicPolicy, deliveryCount: number): number {
  const { baseMs, capMs } = policy.retry;
  const d = Math.min(capMs, baseMs * 2 ** Math.max(0, deliveryCount - 1));
  return Math.round(d / 2 + Math.random() * (d / 2));
}

/**
 * A page of a deque without consuming it. The cursor is the absolute
 * position (`headSeq` + index) and id of the last message returned: pops
 * at the head do not disturb it. When that message has left its position
 * (consumed, moved), the page resumes at the same position, so a message
 * may then be skipped or shown twice.
 */
function peekDeque(d: Deque<StoredMessage>, headSeq: number, opts: PeekOptions): PeekResult {
  // 0 is "unset" on the wire (proto3): every front means the default by it.
  const limit = opts.limit || 20;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PEEK) throw invalid(`limit ${limit} is out of range: use 1..${MAX_PEEK}`);
  const order = opts.order ?? 'asc';
  if (order !== 'asc' && order !== 'desc') throw invalid(`order ${JSON.stringify(order)} is invalid: use 'asc' or 'desc'`);
  const preview = opts.previewBytes || undefined;
  if (preview !== undefined && (!Number.isInteger(preview) || preview < 0)) {
    throw invalid(`preview_bytes ${preview} is invalid: use a whole number of bytes, 1 or more (0: whole payloads)`);
  }
  const step = order === 'asc' ? 1 : -1;
  let i = order === 'asc' ? 0 : d.length - 1;
  if (opts.cursor !== undefined && opts.cursor !== '') {
    const c = parseCursor(opts.cursor);
    const at = c.pos - headSeq;
    const same = d.at(at)?.id === c.id;
    i = same ? at + step : order === 'asc' ? Math.max(0, at) : Math.min(d.length - 1, at);
  }
  const messages: PeekedMessage[] = [];
  let last = -1;
  for (; i >= 0 && i < d.length && messages.length < limit; i += step) {
    const m = d.at(i)!;
    const payload = preview !== undefined && preview < m.payload.length ? m.payload.subarray(0, preview) : m.payload;
    messages.push({
      id: m.id,
      namespace: m.namespace,
      topic: m.topic,
      queueId: m.queueId,
      payload,
      timestampMs: m.timestampMs,
      headers: m.headers,
      deliveryCount: m.deliveryCount,
      payloadSize: m.payload.length,
    });
    last = i;
  }
  const more = i >= 0 && i < d.length;
  const nextCursor = more && last >= 0 ? Buffer.from(`${headSeq + last}:${d.at(last)!.id}`).toString('base64url') : undefined;
  return { messages, nextCursor };
}

function parseCursor(cursor: string): { pos: number; id: string } {
  const text = typeof cursor === 'string' ? Buffer.from(cursor, 'base64url').toString() : '';
  const colon = text.indexOf(':');
  const pos = Number(text.slice(0, colon));
  if (colon < 1 || !Number.isInteger(pos)) throw invalid(`cursor ${JSON.stringify(cursor)} is not one this broker returned: pass nextCursor unchanged`);
  return { pos, id: text.slice(colon + 1) };
}

/** The store's own error, as the broker's: UNAVAILABLE with the store's words (docs/DESIGN.md, "When the disk fails"). */
function asBrokerError(err: unknown): never {
  throw err instanceof StoreUnavailableError ? unavailable(err.message) : err;
}

/** The rule for namespace and topic names (also checked by config.ts for API-key scopes). */
export function isValidName(name: unknown): name is string {
  return typeof name === 'string' && NAME.test(name);
}

function checkName(kind: string, name: string): void {
  if (!isValidName(name)) {
    throw invalid(`${kind} name ${JSON.stringify(name)} is invalid: use 1-128 characters of A-Z a-z 0-9 . _ -`);
  }
}

/** 32-bit FNV-1a over UTF-16 code units: stable for a key while the queue count is unchanged. */
function fnv1a(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
