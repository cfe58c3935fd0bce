/**
 * Publishing a validated message: routing (docs/DESIGN.md, "Routing on
 * publish"), the stored message object, and for a publish with extras its
 * dedup window and delay (docs/DESIGN.md, "Deduplication", "Delayed
 * messages"). The message is committed (logged, then queued or held) and
 * its queue's subscribers are woken.
 *
 * The plain publish is the hot path: one message object, one owned copy
 * of the payload (from a shared slab), and nothing else allocated.
 */
import type { Commit } from './commit.js';
import type { Dispatcher } from './delivery.js';
import type { Held } from './held.js';
import { newMessageId } from './ids.js';
import type { LiveTopic } from './live.js';
import { type Headers, MessageState, type StoredMessage } from './message.js';
import type { Topic } from './topic.js';
import type { PublishOptions, PublishResult } from './types.js';
import { hasExtras } from './validation.js';
import { PayloadArena } from '../aof/payload-arena.js';

/** Options of a message routed round-robin (a redrive). */
const ROUND_ROBIN: PublishOptions = Object.freeze({});

export class Publisher {
  private readonly arena = new PayloadArena();

  constructor(
    private readonly commit: Commit,
    private readonly dispatcher: Dispatcher,
    private readonly held: Held,
  ) {}

  /** A publish with or without extras (batches). */
  publish(lt: LiveTopic, payload: Uint8Array, headers: Headers | undefined, opts: PublishOptions): PublishResult {
    if (needsPublishEx(lt.topic, opts)) return this.publishEx(lt, payload, headers, opts);
    const msg = this.publishPlain(lt, payload, headers, opts);
    return { messageId: msg.id, queueId: msg.queueId };
  }

  /** A publish without dedup or delay: routed, committed, woken. Returns the message. */
  publishPlain(lt: LiveTopic, payload: Uint8Array, headers: Headers | undefined, opts: PublishOptions): StoredMessage {
    const t = lt.topic;
    const queueId = this.route(lt, opts);
    const msg = this.newMessage(t, queueId, payload, headers);
    this.commit.publish(t, queueId, msg);
    this.dispatcher.published(lt, queueId);
    return msg;
  }

  /**
   * A publish with a dedup id, a delay or an expiry. A repeat of a live
   * dedup entry is answered from it and changes nothing. The visible time,
   * the entry's expiry and the message's (the shorter of its `ttlMs` and
   * the topic's `messageTtlMs`, from now: docs/DESIGN.md, "Expiry") are
   * decided here and logged as absolute times, so replay never reads the
   * clock.
   */
  publishEx(lt: LiveTopic, payload: Uint8Array, headers: Headers | undefined, opts: PublishOptions): PublishResult {
    const t = lt.topic;
    const now = Date.now();
    const dedupId = opts.dedupId;
    if (dedupId !== undefined) {
      t.pruneDedup(now);
      const e = t.findDedup(dedupId, now);
      if (e !== undefined) return { messageId: e.id, queueId: e.queue, duplicate: true };
    }
    const queueId = this.route(lt, opts);
    const msg = this.newMessage(t, queueId, payload, headers);
    const visibleAt = opts.deliverAt ?? (opts.delayMs ? now + opts.delayMs : 0);
    const held = visibleAt > now;
    const window = t.policy.dedupWindowMs;
    const dedup = dedupId !== undefined && window > 0;
    const topicTtl = t.policy.messageTtlMs;
    const ttl = opts.ttlMs === undefined ? topicTtl : topicTtl > 0 ? Math.min(opts.ttlMs, topicTtl) : opts.ttlMs;
    const entry = this.commit.publishEx(t, queueId, msg, {
      toDlq: false,
      deliveryCount: 0,
      visibleAt: held ? visibleAt : 0,
      dedupId: dedup ? dedupId : undefined,
      dedupExpiresAt: dedup ? now + window : 0,
      expiresAt: ttl > 0 ? now + ttl : 0,
    });
    if (entry !== undefined) this.held.holdAll([entry]);
    else this.dispatcher.scheduleAll(lt, [msg]);
    return { messageId: msg.id, queueId };
  }

  /** The queues of `n` messages routed round-robin over the active queues (a redrive). */
  roundRobin(lt: LiveTopic, n: number): number[] {
    const queues = new Array<number>(n);
    for (let i = 0; i < n; i++) queues[i] = this.route(lt, ROUND_ROBIN);
    return queues;
  }

  /** Explicit queue (checked by checkPublish), else stable hash of the key, else round-robin. */
  private route(lt: LiveTopic, opts: PublishOptions): number {
    const id = opts.queueId;
    if (id !== undefined && id !== null && id !== -1) return id;
    const active = lt.topic.activeCount;
    if (opts.routingKey) return fnv1a(opts.routingKey) % active;
    const q = lt.roundRobin % active;
    lt.roundRobin = q + 1;
    return q;
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
      expiresAt: 0,
    };
  }
}

/** A publish that needs the `publishEx` record: extras of its own, or an expiry from its topic's policy. */
export function needsPublishEx(t: Topic, opts: PublishOptions): boolean {
  return hasExtras(opts) || t.policy.messageTtlMs > 0;
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
