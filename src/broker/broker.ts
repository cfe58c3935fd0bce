/**
 * The Broker API: the one surface every front adapts (DESIGN.md, "Shape").
 *
 * The core is a deterministic state machine over Namespace -> Topic ->
 * Queue[]. Each call validates its input, applies a transition of
 * `Topic` and writes the matching record to the store; replay applies the
 * same transitions from the records. A mutation is answered once the
 * store says its record is durable under the fsync policy (DESIGN.md,
 * "Durability contract"); reads never wait.
 */
import type { Logger } from 'pino';
import type { LogRecord, RecordSink, ReplayStats, RewriteStats, SnapshotSource, Store } from '../aof/store.js';
import { Deque } from './deque.js';
import { newMessageId } from './ids.js';
import { PayloadArena } from './payload-arena.js';
import { BrokerError, alreadyExists, invalid, notFound, precondition, unavailable } from './errors.js';
import { type Delivery, type Headers, MessageState, type StoredMessage } from './message.js';
import { Subscriber, type Subscription, type SubscriptionHandler } from './subscription.js';
import { type Queue, Topic } from './topic.js';
import { silentLogger } from '../log.js';

export type { Subscription, SubscriptionHandler } from './subscription.js';

export interface Limits {
  maxPayloadBytes: number;
  maxBatch: number;
  maxHeaders: number;
  maxInflightPerSubscription: number;
  maxQueuesPerTopic: number;
}

export const DEFAULT_LIMITS: Readonly<Limits> = {
  maxPayloadBytes: 4 * 1024 * 1024,
  maxBatch: 1000,
  maxHeaders: 64,
  maxInflightPerSubscription: 1000,
  maxQueuesPerTopic: 1024,
};

export interface BrokerOptions {
  ackTimeoutMs?: number;
  drainTimeoutMs?: number;
  limits?: Partial<Limits>;
  /** Persistence; without it the broker is in memory only. Use `Broker.open` so it is replayed. */
  store?: Store;
  logger?: Logger;
}

export interface PublishOptions {
  headers?: Record<string, string>;
  routingKey?: string;
  /** Undefined or -1: automatic routing. */
  queueId?: number;
}

export interface TopicInfo {
  name: string;
  queueCount: number;
  version: bigint;
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

  constructor(opts: BrokerOptions = {}) {
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
    this.ackTimeoutMs = opts.ackTimeoutMs ?? 30_000;
    this.drainTimeoutMs = opts.drainTimeoutMs ?? 30_000;
    this.store = opts.store;
    this.sink = opts.store?.sink;
    this.log = opts.logger ?? silentLogger;
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

  async createTopic(ns: string, name: string, queueCount: number): Promise<void> {
    this.assertWritable();
    const topics = this.namespace(ns);
    checkName('topic', name);
    this.checkQueueCount('queue_count', queueCount);
    if (topics.has(name)) throw alreadyExists(`topic '${name}' in namespace '${ns}'`);
    topics.set(name, new Topic(ns, name, queueCount));
    this.sink?.topicCreate(ns, name, queueCount);
    return this.durable();
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
    for (const t of this.namespace(ns).values()) out.push({ name: t.name, queueCount: t.activeCount, version: t.version });
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

  async publish(ns: string, topicName: string, payload: Uint8Array, opts: PublishOptions = {}): Promise<{ messageId: string; queueId: number }> {
    this.assertWritable();
    const t = this.topic(ns, topicName);
    if (!(payload instanceof Uint8Array)) throw invalid('payload must be bytes');
    if (payload.length > this.limits.maxPayloadBytes) {
      throw invalid(`payload of ${payload.length} bytes is over the limit of ${this.limits.maxPayloadBytes} bytes (limits.max_payload)`);
    }
    const headers = this.checkHeaders(opts.headers);
    const queueId = this.route(t, opts);
    // Own the bytes: a front's payload may be a view into a network frame.
    const owned = this.arena.copy(payload);
    const msg: StoredMessage = {
      id: newMessageId(),
      namespace: t.namespace,
      topic: t.name,
      queueId,
      payload: owned,
      timestampMs: performance.timeOrigin + performance.now(),
      headers,
      deliveryCount: 0,
      state: MessageState.Pending,
      deadline: 0,
      holder: undefined,
    };
    t.publish(queueId, msg);
    this.sink?.publish(ns, topicName, queueId, msg);
    const q = t.queues[queueId]!;
    if (q.subscribers.length > 0) this.schedule(q);
    else if (t.subscriberCount > 0 && q.pending.length >= 2) this.wakeStarving(t);
    await this.durable();
    return { messageId: msg.id, queueId };
  }

  /** Pops up to `batchSize` (0 means 1); an empty queue first steals from its busiest sibling. */
  async consume(ns: string, topicName: string, queueId: number, batchSize: number, autoAck: boolean): Promise<Delivery[]> {
    this.assertOpen();
    const t = this.topic(ns, topicName);
    const q = this.queue(t, queueId);
    const n = batchSize === 0 ? 1 : batchSize;
    if (!Number.isInteger(n) || n < 1 || n > this.limits.maxBatch) {
      throw invalid(`batch_size ${batchSize} is out of range: use 1..${this.limits.maxBatch} (limits.max_batch)`);
    }
    if (autoAck) this.assertWritable();
    if (q.pending.length === 0) this.steal(t, q);
    const msgs = this.pop(t, q, n, autoAck, undefined);
    if (autoAck && msgs.length > 0) await this.durable();
    return msgs;
  }

  async ack(ns: string, topicName: string, queueId: number, ids: readonly string[]): Promise<void> {
    this.assertWritable();
    const t = this.topic(ns, topicName);
    if (!Number.isInteger(queueId)) throw invalid(`queue_id ${queueId} is not an integer`);
    if (!Array.isArray(ids) || ids.some((id) => typeof id !== 'string')) throw invalid('message_ids must be a list of strings');
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
    return this.store.rewrite();
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

  // ------------------------------------------------------------------ internals

  private durable(): Promise<void> {
    return this.store ? this.store.durable() : RESOLVED;
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
    if (failure) throw unavailable(`persistence failed, so changes are refused: ${failure.message}`);
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
      if (typeof headers[k] !== 'string') throw invalid(`header '${k}' must be a string`);
      n++;
    }
    if (n === 0) return undefined;
    if (n > this.limits.maxHeaders) throw invalid(`${n} headers is over the limit of ${this.limits.maxHeaders} (limits.max_headers)`);
    return headers;
  }

  /** DESIGN.md, "Routing on publish": explicit queue, else stable hash of the key, else round-robin. */
  private route(t: Topic, opts: PublishOptions): number {
    const id = opts.queueId;
    if (id !== undefined && id !== null && id !== -1) {
      this.queue(t, id);
      if (id >= t.activeCount) {
        throw precondition(`queue ${id} of topic '${t.namespace}/${t.name}' is draining: publish to queues 0..${t.activeCount - 1}`);
      }
      return id;
    }
    if (opts.routingKey) return fnv1a(opts.routingKey) % t.activeCount;
    const q = t.roundRobin % t.activeCount;
    t.roundRobin = q + 1;
    return q;
  }

  private pop(t: Topic, q: Queue, count: number, autoAck: boolean, holder: Subscriber | undefined): StoredMessage[] {
    const msgs = t.pop(q.id, count, autoAck);
    if (msgs.length === 0) return msgs;
    this.sink?.pop(t.namespace, t.name, q.id, msgs.length, autoAck);
    if (!autoAck) {
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
    if (q.id >= t.activeCount) this.finishDrainIfEmpty(t);
    return msgs;
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
    this.deadlineTimer = setTimeout(this.expireDeadlines, Math.max(0, at - performance.now()));
    this.deadlineTimer.unref();
  }

  /**
   * Acked messages stay in the FIFO until their deadline is reached, and
   * with them their payloads: at 100k acks/s and a 30 s ack_timeout that
   * would be gigabytes. Once stale entries outnumber live ones, rebuild the
   * FIFO without them: O(n) every n/2 pops, O(1) amortized.
   */
  private compactDeadlines(): void {
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
    const expired = new Map<Topic, string[]>();
    while (this.deadlineMsgs.length > 0) {
      const m = this.deadlineMsgs.peekFront()!;
      const at = this.deadlineAt.peekFront()!;
      if (m.state === MessageState.InFlight && m.deadline === at) {
        if (at > now) break;
        const t = this.namespaces.get(m.namespace)?.get(m.topic);
        if (t) {
          let ids = expired.get(t);
          if (!ids) expired.set(t, (ids = []));
          ids.push(m.id);
        }
      }
      this.deadlineMsgs.popFront();
      this.deadlineAt.popFront();
    }
    for (const [t, ids] of expired) {
      const msgs = t.requeue(ids);
      this.inflightCount -= msgs.length;
      this.sink?.requeue(t.namespace, t.name, ids);
      for (const m of msgs) {
        this.release(m);
        this.schedule(t.queues[m.queueId]!);
      }
      this.log.debug({ namespace: t.namespace, topic: t.name, count: msgs.length }, 'ack deadline passed; messages requeued');
    }
    const next = this.deadlineAt.peekFront();
    if (next !== undefined) this.armDeadlineTimer(next);
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
      case 'topicCreate':
        this.replayNamespace(rec.ns).set(rec.topic, new Topic(rec.ns, rec.topic, rec.queueCount));
        return;
      case 'topicRestore':
        this.replayNamespace(rec.ns).set(rec.topic, new Topic(rec.ns, rec.topic, rec.queueCount, rec.activeCount, rec.version));
        return;
      case 'topicDelete':
        this.replayTopic(rec.ns, rec.topic).destroy();
        this.namespaces.get(rec.ns)!.delete(rec.topic);
        return;
      case 'publish': {
        const t = this.replayTopic(rec.ns, rec.topic);
        t.publish(rec.queue, {
          id: rec.id,
          namespace: t.namespace,
          topic: t.name,
          queueId: rec.queue,
          payload: rec.payload,
          timestampMs: rec.timestampMs,
          headers: rec.headers,
          deliveryCount: 0,
          state: MessageState.Pending,
          deadline: 0,
          holder: undefined,
        });
        return;
      }
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
        if (t.inflight.size > 0) {
          const ids = [...t.inflight.keys()];
          t.requeue(ids);
          this.sink?.requeue(t.namespace, t.name, ids);
          requeued += ids.length;
        }
        if (t.draining) this.armDrain(t);
      }
    }
    return { ...stats, namespaces: this.namespaces.size, topics, pending: this.stats().pending, requeued };
  }

  /**
   * The state as records, for AOF rewrites. References are captured now
   * (messages are immutable where it matters), records are written later
   * a slice at a time while the live state moves on.
   */
  private readonly snapshot: SnapshotSource = (sink) => {
    const view = [...this.namespaces].map(([ns, topics]) => ({
      ns,
      topics: [...topics.values()].map((t) => {
        const inflight: StoredMessage[][] = t.queues.map(() => []);
        for (const m of t.inflight.values()) inflight[m.queueId]!.push(m);
        return {
          name: t.name,
          activeCount: t.activeCount,
          version: t.version,
          queues: t.queues.map((q, i) => ({ inflight: inflight[i]!, pending: q.pending.toArray() })),
        };
      }),
    }));
    return (function* write(): Generator<void> {
      const SLICE = 1024;
      let n = 0;
      for (const { ns, topics } of view) {
        sink.nsCreate(ns);
        for (const t of topics) {
          sink.topicRestore(ns, t.name, t.queues.length, t.activeCount, t.version);
          for (let q = 0; q < t.queues.length; q++) {
            const { inflight, pending } = t.queues[q]!;
            // In-flight messages were popped from the head: write them
            // first, then pop them again so replay puts them in flight.
            for (const list of [inflight, pending]) {
              for (const m of list) {
                sink.publish(ns, t.name, q, m);
                if (++n % SLICE === 0) yield;
              }
            }
            if (inflight.length > 0) sink.pop(ns, t.name, q, inflight.length, false);
          }
        }
      }
    })();
  };
}

function checkName(kind: string, name: string): void {
  if (typeof name !== 'string' || !NAME.test(name)) {
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
