/**
 * The Broker API: the one surface every front adapts (docs/DESIGN.md,
 * "Shape"). This file is the facade: each public method checks its input
 * (validation.ts), makes its change through the commit path (commit.ts:
 * log the record, apply it, answer once the store says it is durable) and
 * then what follows at run time (delivery.ts, leases.ts, held.ts,
 * drain.ts). Reads never wait.
 *
 * The core is a deterministic state machine over Namespace -> Topic ->
 * Queue[] (topic.ts); what depends on time or chance is decided here, at
 * live time, and the decision is logged: a nack's jittered retry time and
 * a delayed publish's visible time are absolute times in their records; a
 * held message becomes visible through a `visible` record written when its
 * timer fires; a dead letter is a `deadLetter` record; a dedup entry
 * carries its expiry. Replay (replay.ts) applies those records and never
 * reads the clock. Ack deadlines alone are not logged: recovery makes
 * in-flight messages pending again (or dead-letters them, as an expired
 * lease would).
 *
 * Every type and constant callers need is exported from here.
 */
import type { RewriteStats, Store } from '../aof/store.js';
import { silentLogger } from '../log.js';
import { Commit, storeFailed } from './commit.js';
import { Dispatcher } from './delivery.js';
import { Drains } from './drain.js';
import { ExpirySweep } from './expiry.js';
import { BrokerError, alreadyExists, exhausted, invalid, notFound, precondition, unavailable } from './errors.js';
import { Held } from './held.js';
import { Leases } from './leases.js';
import type { LiveTopic } from './live.js';
import { type Delivery, DLQ_QUEUE_ID } from './message.js';
import { MemoryGuard, type MemoryStatus } from './memory.js';
import { Namespaces } from './namespaces.js';
import { peekDeque } from './peek.js';
import { needsPublishEx, Publisher } from './publish.js';
import { applyRecord, recover } from './replay.js';
import { Retries } from './retry.js';
import { snapshotSource } from './snapshot.js';
import { brokerCounts, RateSampler, topicStats } from './stats.js';
import type { Subscription, SubscriptionHandler } from './subscription.js';
import { DEFAULT_POLICY, PURGE_ALL_QUEUES, Totals, type TopicPolicy } from './topic.js';
import {
  type BatchEntry,
  type BatchItemResult,
  type BatchMode,
  type BrokerOptions,
  DEFAULT_LIMITS,
  type Limits,
  type NackOptions,
  type NackResult,
  type PeekOptions,
  type PeekResult,
  type PublishOptions,
  type PublishResult,
  type RecoverySummary,
  type ResizeResult,
  type TopicInfo,
  type TopicPolicyInput,
  type TopicStats,
} from './types.js';
import {
  checkBatch,
  checkBatchEntries,
  checkDuration,
  checkExtendMs,
  checkIds,
  checkMaxInflight,
  checkName,
  checkPublish,
  checkQueueCount,
  checkQueueId,
  checkRedriveMax,
  MAX_DELAY_MS,
  mergePolicy,
  queueOf,
} from './validation.js';

export * from './types.js';
export type { Subscription, SubscriptionHandler } from './subscription.js';
export type { TopicPolicy } from './topic.js';
export { DLQ_QUEUE_ID } from './message.js';
export { DEFAULT_POLICY, MESSAGE_OVERHEAD_BYTES } from './topic.js';
export { MEMORY_RESUME_FRACTION, type MemoryStatus } from './memory.js';
export { isValidName, MAX_DELAY_MS, MAX_LEASE_MS, MAX_TTL_MS } from './validation.js';

export class Broker {
  readonly limits: Readonly<Limits>;
  readonly ackTimeoutMs: number;
  readonly drainTimeoutMs: number;
  private readonly store: Store | undefined;
  private readonly namespaces = new Namespaces();
  private readonly totals = new Totals();
  private readonly commit: Commit;
  private readonly leases: Leases;
  private readonly dispatcher: Dispatcher;
  private readonly drains: Drains;
  private readonly held: Held;
  private readonly publisher: Publisher;
  private readonly retries: Retries;
  private readonly memoryGuard: MemoryGuard;
  private readonly rates: RateSampler;
  private readonly expiry: ExpirySweep;

  constructor(opts: BrokerOptions = {}) {
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
    this.ackTimeoutMs = opts.ackTimeoutMs ?? 30_000;
    this.drainTimeoutMs = opts.drainTimeoutMs ?? 30_000;
    this.store = opts.store;
    const log = opts.logger ?? silentLogger;
    const commit = (this.commit = new Commit(this.store, this.namespaces, this.totals));
    // Leases and delivery call each other (a pop starts a lease, an expired
    // lease requeues and wakes delivery), as do delivery and drains: the
    // lower module gets a callback, so no two files import each other.
    const leases = (this.leases = new Leases(this.ackTimeoutMs, this.namespaces, this.totals, (lt, msgs) => dispatcher.leasesExpired(lt, msgs)));
    const dispatcher = (this.dispatcher = new Dispatcher(commit, leases, log, (lt) => drains.finishIfEmpty(lt)));
    const drains = (this.drains = new Drains(this.drainTimeoutMs, commit, dispatcher, this.namespaces, log));
    const held = (this.held = new Held(this.namespaces, commit, (lt, msgs) => dispatcher.scheduleAll(lt, msgs)));
    this.publisher = new Publisher(commit, dispatcher, held);
    this.retries = new Retries(commit, dispatcher, held);
    this.rates = new RateSampler(this.namespaces);
    this.expiry = new ExpirySweep(this.namespaces, commit, (lt) => drains.finishIfEmpty(lt));
    this.memoryGuard = new MemoryGuard(this.totals, this.limits.memoryHighWaterBytes, log, opts.sampleMemory, opts.memorySampleMs ?? 200);
  }

  /** A broker with its store replayed: the state of the last durable record. */
  static async open(opts: BrokerOptions = {}): Promise<{ broker: Broker; recovery: RecoverySummary | undefined }> {
    const broker = new Broker(opts);
    if (!broker.store) return { broker, recovery: undefined };
    const stats = await broker.store.replay((rec) => applyRecord(broker.namespaces, broker.totals, rec));
    const recovery = recover(
      { namespaces: broker.namespaces, dispatcher: broker.dispatcher, held: broker.held, drains: broker.drains, memory: broker.memoryGuard },
      stats,
    );
    broker.store.setSnapshotSource(snapshotSource(broker.namespaces));
    return { broker, recovery };
  }

  /** This broker, as the fronts reach it (BrokerAccess in src/server/front.ts): a single node serves its own. */
  serving(): Broker {
    return this;
  }

  // ---------------------------------------------------------------- namespaces

  async createNamespace(name: string): Promise<void> {
    this.commit.assertWritable();
    checkName('namespace', name);
    if (this.namespaces.has(name)) throw alreadyExists(`namespace '${name}'`);
    const maxNs = this.limits.maxNamespaces;
    if (this.namespaces.size >= maxNs) {
      throw exhausted(`namespace '${name}' not created: the broker holds ${this.namespaces.size} namespaces, the limit (limits.max_namespaces) is ${maxNs}: delete one or raise the limit`);
    }
    this.commit.createNamespace(name);
    return this.commit.durable();
  }

  async deleteNamespace(name: string): Promise<void> {
    this.commit.assertWritable();
    let held = false;
    for (const lt of this.namespaces.namespace(name).values()) held ||= lt.topic.held.size > 0;
    const gone = this.commit.deleteNamespace(name);
    this.topicsGone(gone, held, `namespace '${name}' was deleted`);
    return this.commit.durable();
  }

  listNamespaces(): string[] {
    return this.namespaces.names();
  }

  // -------------------------------------------------------------------- topics

  /** `policy` is optional; what it leaves out takes DEFAULT_POLICY's value. */
  async createTopic(ns: string, name: string, queueCount: number, policy?: TopicPolicyInput): Promise<void> {
    this.commit.assertWritable();
    const topics = this.namespaces.namespace(ns);
    checkName('topic', name);
    checkQueueCount(this.limits, 'queue_count', queueCount);
    if (topics.has(name)) throw alreadyExists(`topic '${name}' in namespace '${ns}'`);
    const maxTopics = this.limits.maxTopicsPerNamespace;
    if (topics.size >= maxTopics) {
      throw exhausted(`topic '${name}' not created: namespace '${ns}' holds ${topics.size} topics, the limit (limits.max_topics_per_namespace) is ${maxTopics}: delete one or raise the limit`);
    }
    const fields = policy === undefined ? undefined : mergePolicy(DEFAULT_POLICY, policy);
    this.commit.createTopic(ns, name, queueCount, fields);
    return this.commit.durable();
  }

  /**
   * Changes a topic's policy; returns the whole policy now in force. A new
   * ack timeout applies to deliveries made after the change, a new message
   * TTL to messages published after it (docs/DESIGN.md, "Consume",
   * "Expiry").
   */
  async setTopicPolicy(ns: string, name: string, policy: TopicPolicyInput): Promise<TopicPolicy> {
    this.commit.assertWritable();
    const t = this.namespaces.topic(ns, name).topic;
    this.commit.setPolicy(t, mergePolicy(t.policy, policy));
    await this.commit.durable();
    return t.policy;
  }

  async deleteTopic(ns: string, name: string): Promise<void> {
    this.commit.assertWritable();
    const lt = this.namespaces.topic(ns, name);
    const held = lt.topic.held.size > 0;
    this.commit.deleteTopic(lt);
    this.topicsGone([lt], held, `topic '${ns}/${name}' was deleted`);
    return this.commit.durable();
  }

  listTopics(ns: string): TopicInfo[] {
    const out: TopicInfo[] = [];
    for (const { topic: t } of this.namespaces.namespace(ns).values()) {
      out.push({ name: t.name, queueCount: t.activeCount, version: t.version, policy: t.policy, paused: t.paused });
    }
    return out;
  }

  /** docs/DESIGN.md, "Resize": grow at once; shrink drains the tail queues first. */
  async resizeTopic(ns: string, name: string, newQueueCount: number): Promise<ResizeResult> {
    this.commit.assertWritable();
    const lt = this.namespaces.topic(ns, name);
    const t = lt.topic;
    checkQueueCount(this.limits, 'new_queue_count', newQueueCount);
    if (t.draining) {
      throw precondition(
        `topic '${ns}/${name}' is still draining to ${t.activeCount} queues: retry after the drain ends (at most drain_timeout)`,
      );
    }
    if (newQueueCount !== t.queues.length) {
      const grow = newQueueCount > t.queues.length;
      this.commit.resize(t, newQueueCount);
      lt.syncLanes();
      if (grow) {
        this.dispatcher.notifyResize(lt);
        this.dispatcher.wakeStarving(lt);
      } else if (!this.drains.finishIfEmpty(lt)) {
        this.drains.start(lt);
      }
    }
    await this.commit.durable();
    return { newQueueCount, version: t.version, draining: t.draining };
  }

  /** docs/DESIGN.md, "Rebalance": spread the pending messages of active queues evenly. */
  async rebalanceTopic(ns: string, name: string): Promise<void> {
    this.commit.assertWritable();
    const lt = this.namespaces.topic(ns, name);
    const t = lt.topic;
    if (t.draining) throw precondition(`topic '${ns}/${name}' is draining: rebalance after the resize completes`);
    const moves = t.planRebalance();
    if (moves.length > 0) {
      this.commit.move(t, moves);
      for (const m of moves) this.dispatcher.schedule(lt.lanes[m.to]!);
    }
    return this.commit.durable();
  }

  /**
   * docs/DESIGN.md, "Pause": publishes are accepted, deliveries held until
   * `resumeTopic`. Idempotent: pausing a paused topic logs nothing.
   */
  async pauseTopic(ns: string, name: string): Promise<{ paused: boolean }> {
    this.commit.assertWritable();
    const t = this.namespaces.topic(ns, name).topic;
    if (!t.paused) this.commit.pauseState(t, true);
    await this.commit.durable();
    return { paused: true };
  }

  /** docs/DESIGN.md, "Pause": deliveries start again, in queue order. Idempotent. */
  async resumeTopic(ns: string, name: string): Promise<{ paused: boolean }> {
    this.commit.assertWritable();
    const lt = this.namespaces.topic(ns, name);
    if (lt.topic.paused) {
      this.commit.pauseState(lt.topic, false);
      this.dispatcher.resumed(lt);
      this.dispatcher.wakeStarving(lt);
    }
    await this.commit.durable();
    return { paused: false };
  }

  /**
   * docs/DESIGN.md, "Purge": removes the pending and held messages of queue
   * `opts.queueId`, of every queue when it is absent, or of the dead-letter
   * queue when `opts.dlq`. In-flight messages stay. Returns the count.
   */
  async purge(ns: string, name: string, opts: { queueId?: number; dlq?: boolean } = {}): Promise<{ purged: number }> {
    this.commit.assertWritable();
    const t = this.namespaces.topic(ns, name).topic;
    const dlq = opts.dlq === true;
    if (opts.queueId !== undefined) {
      if (dlq) throw invalid(`purge of topic '${ns}/${name}': give queue_id or dlq, not both`);
      queueOf(t, opts.queueId);
    }
    const queue = opts.queueId ?? PURGE_ALL_QUEUES;
    const hadHeld = t.held.size > 0;
    const purged = this.commit.purge(t, queue, dlq);
    if (hadHeld && purged > 0) this.held.forgetGone();
    await this.commit.durable();
    return { purged };
  }

  // ------------------------------------------------------------------ messages

  async publish(ns: string, topicName: string, payload: Uint8Array, opts: PublishOptions = {}): Promise<PublishResult> {
    this.commit.assertWritable();
    this.memoryGuard.admit();
    const lt = this.namespaces.topic(ns, topicName);
    const headers = checkPublish(this.limits, lt.topic, payload, opts);
    if (needsPublishEx(lt.topic, opts)) {
      const result = this.publisher.publishEx(lt, payload, headers, opts);
      await this.commit.durable();
      return result;
    }
    const msg = this.publisher.publishPlain(lt, payload, headers, opts);
    const queueId = msg.queueId;
    // The answer is made after the wait: an object held across it would
    // survive a scavenge for every publish in flight (measured: 3%).
    await this.commit.durable();
    return { messageId: msg.id, queueId };
  }

  /**
   * Many publishes in one call and one group commit (docs/DESIGN.md,
   * "Batches"). `atomic`: every entry is validated before any is applied,
   * so either all are published or the first invalid entry's error is
   * thrown (its message names the index). `partial`: each entry is applied
   * or fails on its own; the result holds one item per entry, in order.
   */
  async publishBatch(ns: string, topicName: string, entries: readonly BatchEntry[], mode: BatchMode): Promise<BatchItemResult[]> {
    this.commit.assertWritable();
    this.memoryGuard.admit();
    const lt = this.namespaces.topic(ns, topicName);
    const t = lt.topic;
    checkBatchEntries(this.limits, entries, mode);
    const results: BatchItemResult[] = [];
    if (mode === 'atomic') {
      const headers = entries.map((e, i) => {
        try {
          return checkPublish(this.limits, t, e?.payload, e ?? {});
        } catch (err) {
          if (err instanceof BrokerError) throw new BrokerError(err.code, `batch entry ${i}: ${err.message}; nothing was published`);
          throw err;
        }
      });
      for (let i = 0; i < entries.length; i++) results.push({ ok: true, ...this.publisher.publish(lt, entries[i]!.payload, headers[i], entries[i]!) });
    } else {
      for (const e of entries) {
        try {
          const headers = checkPublish(this.limits, t, e?.payload, e ?? {});
          results.push({ ok: true, ...this.publisher.publish(lt, e.payload, headers, e) });
        } catch (err) {
          if (!(err instanceof BrokerError)) throw err;
          results.push({ ok: false, error: err });
        }
      }
    }
    await this.commit.durable();
    return results;
  }

  /** Pops up to `batchSize` (0 means 1); an empty queue first steals from its busiest sibling. */
  async consume(ns: string, topicName: string, queueId: number, batchSize: number, autoAck: boolean): Promise<Delivery[]> {
    this.commit.assertOpen();
    const lt = this.namespaces.topic(ns, topicName);
    const q = queueOf(lt.topic, queueId);
    const n = checkBatch(this.limits, batchSize);
    if (autoAck) this.commit.assertWritable();
    // docs/DESIGN.md, "Pause": an empty batch, nothing stolen.
    if (lt.topic.paused) return [];
    const lane = lt.lanes[queueId]!;
    if (q.pending.length === 0) this.dispatcher.steal(lt, lane);
    let msgs = this.dispatcher.pop(lt, lane, n, autoAck, undefined);
    // Only expired messages were left (docs/DESIGN.md, "Expiry"): an empty queue steals.
    if (msgs.length === 0 && q.pending.length === 0 && lt.topic.mayExpire && this.dispatcher.steal(lt, lane)) {
      msgs = this.dispatcher.pop(lt, lane, n, autoAck, undefined);
    }
    if (autoAck && msgs.length > 0) await this.dispatcher.durableOrUnpop(lt, msgs);
    return msgs;
  }

  async ack(ns: string, topicName: string, queueId: number, ids: readonly string[]): Promise<void> {
    this.commit.assertWritable();
    const lt = this.namespaces.topic(ns, topicName);
    checkQueueId(queueId);
    checkIds(ids);
    for (const m of this.commit.ack(lt.topic, ids)) this.dispatcher.release(m);
    // Even when nothing was found here, an earlier ack of the same ids may
    // still be on its way to disk: answer after it.
    return this.commit.durable();
  }

  /**
   * Negative acknowledgement (docs/DESIGN.md, "Nack, retries and dead
   * letters"): in-flight messages go back after `delayMs`, or else the
   * topic's backoff; past the policy's retries they are dead-lettered.
   * Ids not in flight are ignored, as for ack.
   */
  async nack(ns: string, topicName: string, queueId: number, ids: readonly string[], opts: NackOptions = {}): Promise<NackResult> {
    this.commit.assertWritable();
    const lt = this.namespaces.topic(ns, topicName);
    checkQueueId(queueId);
    checkIds(ids);
    if (opts.delayMs !== undefined) checkDuration('delay_ms', opts.delayMs, MAX_DELAY_MS);
    const result = this.retries.nack(lt, ids, opts.delayMs, opts.deadLetter === true);
    await this.commit.durable();
    return result;
  }

  /**
   * Extends leases (docs/DESIGN.md, "Leases"): the ack deadline of each
   * in-flight message becomes now + `extendMs`. Every id must still be in
   * flight with its deadline not passed, or nothing is changed and
   * FAILED_PRECONDITION names the first that is not. Deadlines are not
   * logged: recovery makes in-flight messages pending again.
   */
  async renew(ns: string, topicName: string, queueId: number, ids: readonly string[], extendMs: number): Promise<void> {
    this.commit.assertOpen();
    const lt = this.namespaces.topic(ns, topicName);
    checkQueueId(queueId);
    checkIds(ids);
    checkExtendMs(extendMs);
    this.leases.renew(lt.topic, ids, extendMs);
  }

  /**
   * Pending messages of a queue from the head (or tail), without consuming
   * them (docs/DESIGN.md, "Peek"). `queueId` DLQ_QUEUE_ID (-1) pages the
   * dead-letter queue.
   */
  peek(ns: string, topicName: string, queueId: number, opts: PeekOptions = {}): PeekResult {
    if (queueId === DLQ_QUEUE_ID) return this.peekDlq(ns, topicName, opts);
    this.commit.assertOpen();
    const q = queueOf(this.namespaces.topic(ns, topicName).topic, queueId);
    return peekDeque(q.pending, q.headSeq, opts);
  }

  /** The dead-letter queue's waiting messages, as `peek` shows a queue. */
  peekDlq(ns: string, topicName: string, opts: PeekOptions = {}): PeekResult {
    this.commit.assertOpen();
    const t = this.namespaces.topic(ns, topicName).topic;
    return peekDeque(t.dlq, t.dlqHeadSeq, opts);
  }

  /**
   * Pops from the head of the dead-letter queue, as `consume` does from a
   * queue: without `autoAck` the messages are in flight (queueId -1) and
   * are acked, nacked or renewed like any other; if their lease passes
   * they return to the dead-letter queue's head.
   */
  async consumeDlq(ns: string, topicName: string, batchSize: number, autoAck: boolean): Promise<Delivery[]> {
    this.commit.assertOpen();
    const lt = this.namespaces.topic(ns, topicName);
    const n = checkBatch(this.limits, batchSize);
    if (autoAck) this.commit.assertWritable();
    const msgs = this.commit.popDlq(lt.topic, n, autoAck);
    if (msgs.length === 0) return msgs;
    if (autoAck) await this.dispatcher.durableOrUnpop(lt, msgs);
    else this.leases.track(lt.topic, msgs, undefined);
    return msgs;
  }

  /**
   * Moves up to `max` (default all) messages from the head of the
   * dead-letter queue back to the topic, routed round-robin over the active
   * queues as publishes are, without their dead-letter headers and with a
   * fresh delivery count.
   */
  async redriveDlq(ns: string, topicName: string, opts: { max?: number } = {}): Promise<{ moved: number }> {
    this.commit.assertWritable();
    const lt = this.namespaces.topic(ns, topicName);
    const t = lt.topic;
    checkRedriveMax(opts.max);
    const n = Math.min(opts.max ?? t.dlq.length, t.dlq.length);
    if (n > 0) this.dispatcher.scheduleAll(lt, this.commit.redrive(t, this.publisher.roundRobin(lt, n)));
    await this.commit.durable();
    return { moved: n };
  }

  /** Depths, totals, rates and ages of a topic and each of its queues (docs/DESIGN.md, "Stats"). */
  topicStats(ns: string, topicName: string): TopicStats {
    this.commit.assertOpen();
    return topicStats(this.namespaces.topic(ns, topicName));
  }

  /**
   * A push subscription on one queue (docs/DESIGN.md, "Subscriptions").
   * Throws synchronously for an unknown queue or bad options.
   */
  subscribe(
    ns: string,
    topicName: string,
    queueId: number,
    handler: SubscriptionHandler,
    opts: { autoAck: boolean; maxInflight?: number },
  ): Subscription {
    this.commit.assertOpen();
    const lt = this.namespaces.topic(ns, topicName);
    queueOf(lt.topic, queueId);
    const maxInflight = opts.maxInflight ?? this.limits.maxInflightPerSubscription;
    checkMaxInflight(this.limits, maxInflight);
    return this.dispatcher.subscribe(lt.lanes[queueId]!, handler, opts.autoAck, maxInflight);
  }

  /** Compacts the AOF now (no-op result without persistence). */
  async rewrite(): Promise<RewriteStats> {
    this.commit.assertOpen();
    if (!this.store) throw precondition('persistence is disabled: there is no AOF to rewrite');
    return this.store.rewrite().catch(storeFailed);
  }

  /** Ends every subscription with UNAVAILABLE (`why`, default: shutting down), stops the timers, flushes and closes the store. */
  async close(why = 'broker is shutting down'): Promise<void> {
    if (this.commit.closing) return;
    this.commit.startClosing();
    const reason = unavailable(why);
    for (const lt of this.namespaces.topics()) {
      this.drains.forget(lt);
      for (const lane of lt.lanes) this.dispatcher.endSubscribers(lane, reason);
    }
    this.leases.close();
    this.held.close();
    this.rates.close();
    this.expiry.close();
    this.memoryGuard.close();
    await this.store?.close();
  }

  /** Counts for logs and tests. */
  stats(): { namespaces: number; topics: number; pending: number; inflight: number } {
    return brokerCounts(this.namespaces);
  }

  /** Memory against limits.memory_high_water (O(1)). */
  memory(): MemoryStatus {
    return this.memoryGuard.status();
  }

  /** What deleted topics leave at run time: their subscriptions end, their timers and held entries go. */
  private topicsGone(gone: readonly LiveTopic[], hadHeld: boolean, why: string): void {
    for (const lt of gone) {
      const reason = notFound(`queue of topic '${lt.topic.namespace}/${lt.topic.name}': ${why}`);
      for (const lane of lt.lanes) this.dispatcher.endSubscribers(lane, reason);
      this.drains.forget(lt);
    }
    if (hadHeld) this.held.forgetGone();
  }
}
