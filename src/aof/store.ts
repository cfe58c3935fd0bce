/**
 * The persistence interface the broker logs to. The broker is a
 * deterministic state machine: every mutation of its state is one record,
 * and replaying the records in order rebuilds the state exactly (docs/DESIGN.md,
 * "Recovery"). The AOF file store and the in-memory store both implement
 * this; both must pass test/aof/store-contract.test.ts.
 */

/** One tail move: `count` messages from the tail of `from`, order kept, appended to `to`. */
export interface Move {
  readonly from: number;
  readonly to: number;
  readonly count: number;
}

export interface MessageRecordFields {
  readonly id: string;
  readonly timestampMs: number;
  readonly payload: Uint8Array;
  readonly headers: Readonly<Record<string, string>> | undefined;
}

/**
 * A topic's policy as logged (maxRetries -1: unlimited). The expiry and
 * ack-timeout fields are absent from logs written before they existed,
 * which read as their defaults: 0 (the broker's ack_timeout; no expiry)
 * and false.
 */
export interface TopicPolicyFields {
  readonly maxRetries: number;
  readonly baseMs: number;
  readonly capMs: number;
  readonly dedupWindowMs: number;
  /** 0: the broker's ack_timeout. */
  readonly ackTimeoutMs?: number;
  /** 0: messages never expire. */
  readonly messageTtlMs?: number;
  readonly deadLetterExpired?: boolean;
}

/**
 * What a plain publish record does not carry: delayed visibility, a dedup
 * entry, a delivery count (snapshots), or the dead-letter queue as target.
 * `visibleAt` and `dedupExpiresAt` are absolute Unix times in ms, decided
 * when the record was made; 0 means none.
 */
export interface PublishExFields {
  readonly toDlq: boolean;
  readonly deliveryCount: number;
  readonly visibleAt: number;
  readonly dedupId: string | undefined;
  readonly dedupExpiresAt: number;
  /** Unix ms after which the message is never delivered (docs/DESIGN.md, "Expiry"); absent or 0: never. */
  readonly expiresAt?: number;
}

/**
 * Appends records. Each method encodes one record into the current batch;
 * nothing here waits. The record kinds are the state transitions of the
 * core, not the API calls (a consume that steals is a `move` then a `pop`).
 */
export interface RecordSink {
  nsCreate(ns: string): void;
  nsDelete(ns: string): void;
  topicCreate(ns: string, topic: string, queueCount: number): void;
  topicDelete(ns: string, topic: string): void;
  /** Appends the message to the tail of `queue`. */
  publish(ns: string, topic: string, queue: number, msg: MessageRecordFields): void;
  /** Pops `count` from the head of `queue`: in flight, or gone for good when `autoAck`. */
  pop(ns: string, topic: string, queue: number, count: number, autoAck: boolean): void;
  /** In-flight messages acknowledged: gone for good. */
  ack(ns: string, topic: string, ids: readonly string[]): void;
  /** In-flight messages whose ack deadline passed, back to the head of their queue in this order. */
  requeue(ns: string, topic: string, ids: readonly string[]): void;
  /** Tail moves between queues of one topic (steal, rebalance), applied in order. */
  move(ns: string, topic: string, moves: readonly Move[]): void;
  /** Grow at once, or start draining the tail queues down to `queueCount`. */
  resize(ns: string, topic: string, queueCount: number): void;
  /** End a drain: what is left in draining queues moves to active ones; version + 1. */
  resizeFinal(ns: string, topic: string): void;
  /** Snapshot only: a topic with its full state header. */
  topicRestore(ns: string, topic: string, queueCount: number, activeCount: number, version: bigint): void;
  /** Sets the topic's retry and dedup policy (at create, on change, in snapshots). */
  topicPolicy(ns: string, topic: string, policy: TopicPolicyFields): void;
  /**
   * A publish with extras: delayed (held until `visibleAt`), with a dedup
   * entry, with a delivery count, or straight into the dead-letter queue
   * (snapshots). `queue` is ignored when `toDlq`.
   */
  publishEx(ns: string, topic: string, queue: number, msg: MessageRecordFields, ex: PublishExFields): void;
  /** In-flight messages nacked: held until `visibleAt[i]` (absolute ms), then made visible by a `visible` record. */
  nack(ns: string, topic: string, ids: readonly string[], visibleAt: readonly number[]): void;
  /** Held (delayed or nacked) messages whose time came, appended to the tail of their queue in this order. */
  visible(ns: string, topic: string, ids: readonly string[]): void;
  /** In-flight messages past their retries, appended to the dead-letter queue with `_dlq_reason: reason`. */
  deadLetter(ns: string, topic: string, reason: string, ids: readonly string[]): void;
  /** Pops `count` from the head of the dead-letter queue: in flight, or gone for good when `autoAck`. */
  dlqPop(ns: string, topic: string, count: number, autoAck: boolean): void;
  /** Moves `queues.length` messages from the head of the dead-letter queue, message i to the tail of `queues[i]`. */
  redrive(ns: string, topic: string, queues: readonly number[]): void;
  /**
   * Drops the `count` messages at the head of `queue`, expired
   * (docs/DESIGN.md, "Expiry"): gone, or to the dead-letter queue with
   * `_dlq_reason: expired` when `toDlq`.
   */
  expire(ns: string, topic: string, queue: number, count: number, toDlq: boolean): void;
  /** Pauses or resumes the topic's deliveries (docs/DESIGN.md, "Pause"); also in snapshots. */
  pauseState(ns: string, topic: string, paused: boolean): void;
  /** Removes the pending and held messages of `queue` (-1: every queue), or of the dead-letter queue when `dlq` (docs/DESIGN.md, "Purge"). */
  purge(ns: string, topic: string, queue: number, dlq: boolean): void;
  /** Snapshot only: a dedup window entry (`key` answered by message `id` on `queue` until `expiresAt`). */
  dedup(ns: string, topic: string, key: string, id: string, queue: number, expiresAt: number): void;
}

/** A decoded record, as replay hands it to the broker. */
export type LogRecord =
  | { readonly type: 'nsCreate'; readonly ns: string }
  | { readonly type: 'nsDelete'; readonly ns: string }
  | { readonly type: 'topicCreate'; readonly ns: string; readonly topic: string; readonly queueCount: number }
  | { readonly type: 'topicDelete'; readonly ns: string; readonly topic: string }
  | ({ readonly type: 'publish'; readonly ns: string; readonly topic: string; readonly queue: number } & MessageRecordFields)
  | {
      readonly type: 'pop';
      readonly ns: string;
      readonly topic: string;
      readonly queue: number;
      readonly count: number;
      readonly autoAck: boolean;
    }
  | { readonly type: 'ack'; readonly ns: string; readonly topic: string; readonly ids: readonly string[] }
  | { readonly type: 'requeue'; readonly ns: string; readonly topic: string; readonly ids: readonly string[] }
  | { readonly type: 'move'; readonly ns: string; readonly topic: string; readonly moves: readonly Move[] }
  | { readonly type: 'resize'; readonly ns: string; readonly topic: string; readonly queueCount: number }
  | { readonly type: 'resizeFinal'; readonly ns: string; readonly topic: string }
  | {
      readonly type: 'topicRestore';
      readonly ns: string;
      readonly topic: string;
      readonly queueCount: number;
      readonly activeCount: number;
      readonly version: bigint;
    }
  | ({ readonly type: 'topicPolicy'; readonly ns: string; readonly topic: string } & TopicPolicyFields)
  | ({ readonly type: 'publishEx'; readonly ns: string; readonly topic: string; readonly queue: number } & MessageRecordFields & PublishExFields)
  | {
      readonly type: 'nack';
      readonly ns: string;
      readonly topic: string;
      readonly ids: readonly string[];
      readonly visibleAt: readonly number[];
    }
  | { readonly type: 'visible'; readonly ns: string; readonly topic: string; readonly ids: readonly string[] }
  | { readonly type: 'deadLetter'; readonly ns: string; readonly topic: string; readonly reason: string; readonly ids: readonly string[] }
  | { readonly type: 'dlqPop'; readonly ns: string; readonly topic: string; readonly count: number; readonly autoAck: boolean }
  | { readonly type: 'redrive'; readonly ns: string; readonly topic: string; readonly queues: readonly number[] }
  | { readonly type: 'pauseState'; readonly ns: string; readonly topic: string; readonly paused: boolean }
  | { readonly type: 'purge'; readonly ns: string; readonly topic: string; readonly queue: number; readonly dlq: boolean }
  | {
      readonly type: 'expire';
      readonly ns: string;
      readonly topic: string;
      readonly queue: number;
      readonly count: number;
      readonly toDlq: boolean;
    }
  | {
      readonly type: 'dedup';
      readonly ns: string;
      readonly topic: string;
      readonly key: string;
      readonly id: string;
      readonly queue: number;
      readonly expiresAt: number;
    };

/**
 * Writes a point-in-time view of the broker's state as records into `sink`.
 * The view is captured synchronously when the function is called; the
 * returned iterator writes it out a slice per `next()`, so a rewrite can
 * yield to the event loop between slices while the live state moves on.
 */
export type SnapshotSource = (sink: RecordSink) => Iterator<void>;

export interface ReplayStats {
  readonly records: number;
  readonly bytes: number;
  /** Bytes of a torn record cut off the end of the last file (0 when clean). */
  readonly truncatedBytes: number;
  readonly files: readonly string[];
}

export interface RewriteStats {
  readonly records: number;
  readonly bytes: number;
  readonly seconds: number;
}

export type FsyncPolicy = 'always' | 'everysec' | 'no';

export interface Store {
  /** Where the broker appends records. */
  readonly sink: RecordSink;
  /**
   * Set while the store is failed (a write or fsync failed): every
   * durable() rejects, and the broker refuses mutations up front rather
   * than apply ones that cannot become durable. A store may leave this
   * state by itself (the FileStore rebuilds its AOF from the snapshot
   * source), so it is read at each mutation, never cached.
   */
  readonly failure: Error | undefined;
  /**
   * Resolves when every record appended so far is durable under the fsync
   * policy (written, or written and fsynced under `always`); rejects with a
   * StoreUnavailableError (src/aof/errors.ts) when its write or fsync failed. All records of
   * one event-loop turn share one promise (group commit).
   */
  durable(): Promise<void>;
  /** Replays every stored record in order. Called once, before any append. */
  replay(apply: (rec: LogRecord) => void): Promise<ReplayStats>;
  /** Gives the store the state view used by rewrites (automatic and on demand). */
  setSnapshotSource(source: SnapshotSource): void;
  /** Compacts now; resolves when the new base is in place. A rewrite already running is joined. */
  rewrite(): Promise<RewriteStats>;
  /** Flushes, fsyncs and closes. */
  close(): Promise<void>;
}
