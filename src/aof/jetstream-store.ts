/**
 * The JetStream Store: the log and its snapshots live in one NATS JetStream
 * stream, replicated by the engine (docs/DESIGN.md, "Recovery" for what a
 * store promises). It passes the same contract suite as the file and
 * memory stores (test/aof/store-contract.test.ts).
 *
 * - Group commit: the records of one event-loop turn are one message on the
 *   log subject (split in parts when over the server's max payload, a part
 *   header saying more follows); durable() resolves on the PubAck, so with
 *   `replicas: 3` acked means stored on a majority of the engine's nodes.
 * - Fencing: every message carries the expected last sequence of its
 *   subject. An append the engine rejects (another writer appended) puts the
 *   store in the failed state for good: every durable() rejects and the
 *   broker refuses changes, never a silent divergence.
 * - Rewrite: the snapshot is written on the snapshot subject in parts, then
 *   an end marker on its own subject names the parts and the log sequence
 *   they cover; then what came before is purged. Replay = the snapshot of
 *   the last end marker + the log after its cut, so a rewrite that stopped
 *   halfway is never read.
 */
import { connect, DeliverPolicy, headers, RetentionPolicy, StorageType } from 'nats';
import type { JetStreamClient, JetStreamManager, MsgHdrs, NatsConnection } from 'nats';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { decodeFrames, RecordEncoder } from './codec.js';
import { StoreUnavailableError } from './errors.js';
import type { LogRecord, RecordSink, ReplayStats, RewriteStats, SnapshotSource, Store } from './store.js';

export interface JetStreamStoreOptions {
  /** nats:// URLs of the engine's nodes. */
  readonly servers: readonly string[];
  /** Names the stream and its subjects (the cluster name). */
  readonly name: string;
  /** Stream replicas (1 or 3 usually); used when the stream is created. */
  readonly replicas?: number;
  /** Milliseconds to wait for the engine at startup and for each ack. */
  readonly timeoutMs?: number;
  /** Records per snapshot slice before a rewrite yields to the event loop. */
  readonly sliceRecords?: number;
  /**
   * Bytes appended to the log since the last snapshot that start a rewrite
   * on their own (0: only on demand). Keeps replay, and so a takeover, short.
   */
  readonly rewriteMinBytes?: number;
  /**
   * Log messages appended since the last snapshot that start a rewrite on
   * their own (default 10,000): replay reads messages at about ten thousand
   * a second, so this bounds a takeover's replay to about a second.
   */
  readonly rewriteMinMessages?: number;
  /** Names this writer in the ids of its messages (the node id). */
  readonly writer?: string;
  /**
   * Runs after a rewrite's end marker is stored, just before the purge of
   * what it replaces: tests use it to let another writer in at that moment.
   */
  readonly beforePurge?: () => Promise<void>;
}

const H_MORE = 'Mqlite-More';
const H_SNAP_FIRST = 'Mqlite-Snap-First';
const H_SNAP_CUT = 'Mqlite-Snap-Cut';
const H_SNAP_LAST = 'Mqlite-Snap-Last';
/** On a fence (an empty log message): the node that took ownership (docs/DESIGN.md, "Cluster"). */
const H_OWNER = 'Mqlite-Owner';
/** Room left in a message for its headers and the protocol line. */
const HEADER_ROOM = 1024;
/**
 * Group commit under load (see linger()): after a log append of at least
 * LINGER_FROM bytes, a batch under half its size waits up to LINGER_MS for
 * more. One publish at a time never waits: its appends are small.
 */
const LINGER_FROM = 16 * 1024;
const LINGER_MS = 1;

interface Batch {
  readonly bytes: Buffer;
  /**
   * The last batch a snapshot covers (its cut): it ends its log message, so
   * that what came after the snapshot was taken is replayed after the cut.
   */
  cut?: boolean;
  /** Instead of a log append: a write run in its place in the order (a snapshot). */
  run?: () => Promise<number>;
  /** Log messages this store had written once this batch was acked. */
  parts: number;
  readonly done: Promise<number>;
  resolve(seq: number): void;
  reject(err: Error): void;
}

/**
 * `chunks` (`size` bytes in all) as engine messages of `max` bytes, the last
 * shorter; one empty message when there are no bytes, so that a snapshot
 * always has a first part. Each is a new buffer, never written over (the
 * client may still hold a message it sent; see the constructor), made when
 * its turn comes, and the chunks are let go as they are copied: a rewrite
 * holds the state once, plus the message going out.
 */
function* messagesOf(chunks: (Buffer | undefined)[], size: number, max: number): Generator<Buffer> {
  if (size === 0) {
    yield Buffer.alloc(0);
    return;
  }
  let ci = 0;
  let co = 0;
  for (let left = size; left > 0; ) {
    const msg = Buffer.allocUnsafe(Math.min(max, left));
    for (let at = 0; at < msg.length; ) {
      const c = chunks[ci]!;
      const n = Math.min(c.length - co, msg.length - at);
      c.copy(msg, at, co, co + n);
      at += n;
      co += n;
      if (co === c.length) {
        chunks[ci++] = undefined;
        co = 0;
      }
    }
    left -= msg.length;
    yield msg;
  }
}

function batch(bytes: Buffer): Batch {
  let resolve!: (seq: number) => void;
  let reject!: (err: Error) => void;
  const done = new Promise<number>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  done.catch(() => {});
  return { bytes, done, resolve, reject, parts: 0 };
}

/**
 * The bytes of `group` as one buffer: a view when they lie end to end in
 * one slab (the encoder's batches of turns in a row do), else a copy.
 */
function joined(group: readonly Batch[], size: number): Buffer {
  const first = group[0]!.bytes;
  let end = first.byteOffset + first.length;
  for (let i = 1; i < group.length; i++) {
    const b = group[i]!.bytes;
    if (b.buffer !== first.buffer || b.byteOffset !== end) return Buffer.concat(group.map((g) => g.bytes), size);
    end += b.length;
  }
  return Buffer.from(first.buffer, first.byteOffset, size);
}

/**
 * A connection to the engine that reconnects by itself; the engine
 * unreachable at first is an error naming the servers and what to do.
 */
export async function connectEngine(servers: readonly string[], timeout: number, name: string): Promise<NatsConnection> {
  try {
    return await connect({ servers: [...servers], timeout, maxReconnectAttempts: -1, name });
  } catch (err) {
    throw new Error(
      `JetStream unreachable at ${servers.join(', ')}: ${(err as Error).message}. ` +
        `Start nats-server with JetStream (-js) there, or fix persistence.jetstream.servers (env MQLITE_NATS_URL).`,
    );
  }
}

/** A stream name NATS accepts, from the cluster name. */
export function streamName(name: string): string {
  return `MQLITE_${name.replace(/[^A-Za-z0-9_-]/g, '_')}`;
}

export class JetStreamStore implements Store {
  readonly sink: RecordSink;
  private failed: Error | undefined;
  private readonly encoder: RecordEncoder;
  private scheduled = false;
  /** Batches taken from the encoder and not yet acked, oldest first. */
  private readonly queue: Batch[] = [];
  private writing = false;
  /** Bytes of the last log append, and whether the batch at the head of the queue waited already. */
  private lastAppend = 0;
  private lingered = false;
  /** A linger in progress: ends early once the queue holds `bytes`. */
  private lingering: { bytes: number; resolve(): void } | undefined;
  /**
   * Sequence of the last message in the stream (what the next write
   * expects). Every write is serialized through the queue, so it moves only
   * by our own writes unless another node wrote.
   */
  private lastSeq = 0;
  /** Log messages written by this store since it was opened. */
  private logParts = 0;
  /** The promise of the last batch handed to the queue: what durable() waits for. */
  private tail: Promise<number> | undefined;
  private source: SnapshotSource | undefined;
  private rewriting: Promise<RewriteStats> | undefined;
  private closed = false;
  private readonly maxPart: number;
  private readonly logSubj: string;
  private readonly snapSubj: string;
  /** The end markers of whole snapshots: the last one names the snapshot to replay. */
  private readonly snapEndSubj: string;
  readonly stream: string;
  /** Prefix of this store's message ids: a retried append is stored once (the stream's duplicate window). */
  private readonly idPrefix: string;
  private nextId = 0;
  /** Log messages the replay read after the snapshot. */
  replayedLogMessages = 0;
  /** Log bytes and messages appended since the last snapshot. */
  private sinceSnapshot = 0;
  private messagesSinceSnapshot = 0;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly opts: JetStreamStoreOptions,
  ) {
    this.stream = streamName(opts.name);
    this.logSubj = `mqlite.${opts.name}.log`;
    this.snapSubj = `mqlite.${opts.name}.snap`;
    this.snapEndSubj = `mqlite.${opts.name}.snapend`;
    this.idPrefix = `${opts.writer ?? 'mqlite'}.${Date.now().toString(36)}.${Math.random().toString(36).slice(2, 8)}.`;
    this.maxPart = Math.max(1024, nc.info!.max_payload - HEADER_ROOM);
    // Slabs of one message: the batches of turns in a row lie end to end, and go as one view (joined()).
    // A slab is never written over (no recycle(), unlike the file store): an append that timed
    // out while the connection was down still sits, by reference, in the client's reconnect
    // buffer, and goes out once it reconnects, under the message id its retry shares.
    this.encoder = new RecordEncoder(this.maxPart, () => this.schedule());
    this.sink = this.encoder;
  }

  /**
   * Connects to the engine and makes sure the stream exists. The engine
   * unreachable is an error naming the servers tried.
   */
  static async open(opts: JetStreamStoreOptions): Promise<JetStreamStore> {
    const timeout = opts.timeoutMs ?? 5000;
    const nc = await connectEngine(opts.servers, timeout, `mqlite:${opts.name}`);
    try {
      const jsm = await nc.jetstreamManager({ timeout });
      const store = new JetStreamStore(nc, nc.jetstream({ timeout }), jsm, opts);
      await store.ensureStream();
      return store;
    } catch (err) {
      await nc.close().catch(() => {});
      throw new Error(
        `JetStream at ${opts.servers.join(', ')} cannot hold the log: ${(err as Error).message}. ` +
          `Is JetStream enabled (nats-server -js) on enough nodes for ${opts.replicas ?? 1} replicas?`,
      );
    }
  }

  private async ensureStream(): Promise<void> {
    const subjects = [this.logSubj, this.snapSubj, this.snapEndSubj];
    try {
      const info = await this.jsm.streams.info(this.stream);
      // a stream made before the end markers had their own subject
      if (!info.config.subjects.includes(this.snapEndSubj)) await this.jsm.streams.update(this.stream, { ...info.config, subjects });
    } catch (err) {
      if (!/not found/i.test((err as Error).message)) throw err;
      await this.jsm.streams.add({
        name: this.stream,
        subjects,
        num_replicas: this.opts.replicas ?? 1,
        storage: StorageType.File,
        retention: RetentionPolicy.Limits,
      });
    }
  }

  get failure(): Error | undefined {
    return this.failed;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.collect();
    });
  }

  /** Takes this turn's records as one batch and starts writing if idle. */
  private collect(): void {
    if (this.encoder.size === 0) return;
    const b = batch(this.encoder.take());
    if (this.failed !== undefined) {
      b.reject(this.failed);
    } else {
      this.queue.push(b);
      void this.pump();
      const l = this.lingering;
      if (l !== undefined) {
        let queued = 0;
        for (const q of this.queue) queued += q.bytes.length;
        if (queued >= l.bytes) l.resolve();
      }
    }
    this.tail = b.done;
  }

  /**
   * Writes the queue in order, one append at a time. The batches of the
   * turns that passed while an append was out go together as one message
   * (up to the engine's message size): under load the engine sees few
   * large appends rather than one per turn.
   */
  private async pump(): Promise<void> {
    if (this.writing) return;
    this.writing = true;
    try {
      while (this.queue.length > 0) {
        const first = this.queue[0]!;
        let n = 1;
        let size = first.bytes.length;
        if (first.run === undefined) {
          for (let next = this.queue[n]; next !== undefined && next.run === undefined && this.queue[n - 1]!.cut !== true && size + next.bytes.length <= this.maxPart; next = this.queue[++n]) size += next.bytes.length;
          if (size < this.lastAppend / 2 && this.lastAppend >= LINGER_FROM && !this.lingered) {
            this.lingered = true;
            await this.linger(this.lastAppend / 2);
            continue;
          }
          this.lingered = false;
          this.lastAppend = size;
        }
        const group = this.queue.slice(0, n);
        if (this.failed !== undefined) {
          for (const b of group) b.reject(this.failed);
        } else {
          try {
            const bytes = n === 1 ? first.bytes : joined(group, size);
            const seq = first.run !== undefined ? await first.run() : await this.publishParts(this.logSubj, bytes, undefined);
            for (const b of group) {
              b.parts = this.logParts;
              b.resolve(seq);
            }
            if (first.run === undefined) this.grew(bytes.length);
          } catch (err) {
            this.fail(err as Error, 'an append');
            for (const b of group) b.reject(this.failed!);
          }
        }
        this.queue.splice(0, n);
      }
    } finally {
      this.writing = false;
    }
  }

  /**
   * Waits up to LINGER_MS for the queue to hold `bytes`, then takes what
   * came meanwhile. Under load, clients send their next publishes as the
   * answers of an append reach them; without this the first few of them
   * would go as an append of their own, and the rest wait a whole round
   * trip behind it: measured, 1.4 times the publishes a second with this
   * at 64 in flight (README, "Running a cluster").
   */
  private async linger(bytes: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      this.lingering = { bytes, resolve };
      timer = setTimeout(resolve, LINGER_MS);
    });
    clearTimeout(timer);
    this.lingering = undefined;
    this.collect();
  }

  /** Starts a rewrite once the log since the last snapshot passed rewriteMinBytes. */
  private grew(bytes: number): void {
    this.sinceSnapshot += bytes;
    this.messagesSinceSnapshot++;
    const min = this.opts.rewriteMinBytes ?? 0;
    const due = (min > 0 && this.sinceSnapshot >= min) || this.messagesSinceSnapshot >= (this.opts.rewriteMinMessages ?? 10_000);
    if (due && this.rewriting === undefined && this.source !== undefined && !this.closed) {
      this.rewrite().catch(() => {});
    }
  }

  /**
   * Appends one message fenced on the stream's last sequence. A timeout or
   * an engine without a leader (a node lost, an election running) is
   * retried with the same message id until the store's timeout has passed
   * twice: the stream stores it once and answers the retry as a duplicate.
   * The sequence it expects refused is never retried: another node wrote.
   */
  private async append(subj: string, data: Uint8Array, h: MsgHdrs | undefined): Promise<number> {
    const timeout = this.opts.timeoutMs ?? 5000;
    const msgID = this.idPrefix + (this.nextId++).toString(36);
    const giveUp = performance.now() + 2 * timeout;
    // Short attempts: a request to a stream leader that just died is never answered, and the
    // next leader is elected within seconds; a retry stored twice is answered as a duplicate.
    const attempt = Math.min(timeout, 1000);
    for (let wait = 50; ; wait = Math.min(wait * 2, 500)) {
      try {
        const ack = await this.js.publish(subj, data, { headers: h, msgID, expect: { lastSequence: this.lastSeq, streamName: this.stream }, timeout: attempt });
        return ack.seq;
      } catch (err) {
        if (this.failed !== undefined) throw this.failed;
        if (/wrong last sequence/i.test((err as Error).message) || this.closed || performance.now() + wait > giveUp) throw err;
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }

  /** Publishes `bytes` in parts, each fenced on the subject's last sequence; returns the last part's sequence. */
  private async publishParts(subj: string, bytes: Buffer, last: MsgHdrs | undefined): Promise<number> {
    let off = 0;
    do {
      const end = Math.min(bytes.length, off + this.maxPart);
      const more = end < bytes.length;
      let h: MsgHdrs | undefined;
      if (more) {
        h = headers();
        h.set(H_MORE, '1');
      } else {
        h = last;
      }
      this.lastSeq = await this.append(subj, bytes.subarray(off, end), h);
      if (subj === this.logSubj) this.logParts++;
      off = end;
    } while (off < bytes.length);
    return this.lastSeq;
  }

  private fail(err: Error, what: string): void {
    if (this.failed !== undefined) return;
    const fenced = /wrong last sequence/i.test(err.message);
    this.failed = new StoreUnavailableError(
      fenced
        ? `JetStream stream ${this.stream} refused ${what}: another node wrote to it (${err.message}). ` +
            `This node no longer owns the broker and takes no more changes; restart it to follow the current owner.`
        : `JetStream stream ${this.stream} at ${this.opts.servers.join(', ')} failed ${what}: ${err.message}. ` +
            `Changes are refused; restart this node once the engine is reachable.`,
    );
  }

  /**
   * Appends the fence of a new owner (docs/DESIGN.md, "Cluster"): an empty
   * log message naming `owner`, expecting the last sequence replay saw.
   * Once it is stored, every append of an earlier owner is refused by the
   * engine. Rejects when another node wrote since the replay: replay again.
   */
  async fence(owner: string): Promise<void> {
    const h = headers();
    h.set(H_OWNER, owner);
    const job = batch(Buffer.alloc(0));
    job.run = () => this.publishParts(this.logSubj, Buffer.alloc(0), h);
    this.collect();
    this.queue.push(job);
    this.tail = job.done;
    void this.pump();
    await job.done;
  }

  /**
   * Fails the store for good with `reason` (docs/DESIGN.md, "Cluster": a
   * node that stands down). An append being retried stops at its next
   * attempt, and what waits for it is answered UNAVAILABLE at once.
   */
  abandon(reason: string): void {
    if (this.failed === undefined) this.failed = new StoreUnavailableError(reason);
  }

  async durable(): Promise<void> {
    this.collect();
    if (this.failed !== undefined) throw this.failed;
    const t = this.tail;
    if (t !== undefined) await t;
  }

  async replay(apply: (rec: LogRecord) => void): Promise<ReplayStats> {
    let records = 0;
    let bytes = 0;
    const decode = (buf: Buffer, what: string): void => {
      const res = decodeFrames(buf, 0, buf.length, 0, apply);
      if (res.problem !== undefined) {
        throw new Error(`JetStream stream ${this.stream}: bad record in ${what} at byte ${res.problem.offset}: ${res.problem.detail}`);
      }
      records += res.records;
      bytes += buf.length;
    };
    let cut = 0;
    // The last whole snapshot: a rewrite that stopped halfway (its node died or was deposed)
    // left parts on the snapshot subject but no end marker.
    const end = await this.lastOf(this.snapEndSubj);
    if (end !== undefined) {
      const first = Number(end.header.get(H_SNAP_FIRST));
      const last = Number(end.header.get(H_SNAP_LAST));
      cut = Number(end.header.get(H_SNAP_CUT));
      if (!Number.isSafeInteger(first) || !Number.isSafeInteger(last) || !Number.isSafeInteger(cut)) {
        throw new Error(`JetStream stream ${this.stream}: the snapshot end marker at ${end.seq} has no valid ${H_SNAP_FIRST}, ${H_SNAP_LAST} and ${H_SNAP_CUT} headers`);
      }
      decode(await this.read(this.snapSubj, first, last), `the snapshot at ${first}`);
    }
    this.lastSeq = (await this.jsm.streams.info(this.stream)).state.last_seq;
    const lastLog = await this.lastOf(this.logSubj);
    if (lastLog !== undefined) {
      if (lastLog.seq > cut) decode(await this.read(this.logSubj, cut + 1, lastLog.seq), `the log after ${cut}`);
    }
    return { records, bytes, truncatedBytes: 0, files: [] };
  }

  private async lastOf(subj: string): Promise<{ seq: number; header: MsgHdrs } | undefined> {
    try {
      const m = await this.jsm.streams.getMessage(this.stream, { last_by_subj: subj });
      return { seq: m.seq, header: m.header };
    } catch (err) {
      if (/no message found|not found/i.test((err as Error).message)) return undefined;
      throw err;
    }
  }

  /**
   * The messages of `subj` from sequence `from` to `to`, joined, as one
   * buffer: an ordered consumer filtered on the subject, which the engine
   * streams in batches.
   */
  private async read(subj: string, from: number, to: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    let messages = 0;
    let last = from - 1;
    const consumer = await this.js.consumers.get(this.stream, { filterSubjects: subj, deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: from });
    const stream = await consumer.consume({ max_messages: 1024 });
    // A consumer whose server died, or a stream electing a leader, can go quiet: a replay that
    // waits for nothing fails (the takeover tries again) rather than hang.
    const timeout = this.opts.timeoutMs ?? 5000;
    let lastAt = performance.now();
    const watchdog = setInterval(() => {
      if (performance.now() - lastAt > timeout) void stream.close();
    }, Math.min(timeout, 1000));
    try {
      for await (const m of stream) {
        lastAt = performance.now();
        messages++;
        if (m.seq > to) break;
        last = m.seq;
        if (m.data.length > 0) parts.push(Buffer.from(m.data));
        if (m.seq === to) break;
      }
    } finally {
      clearInterval(watchdog);
      await stream.close();
    }
    if (last < to) throw new Error(`JetStream stream ${this.stream}: reading ${subj} stalled at sequence ${last} of ${to} (no message for ${timeout} ms)`);
    if (subj === this.logSubj) this.replayedLogMessages = messages;
    return Buffer.concat(parts);
  }

  setSnapshotSource(source: SnapshotSource): void {
    this.source = source;
  }

  rewrite(): Promise<RewriteStats> {
    if (this.rewriting !== undefined) return this.rewriting;
    if (this.closed) return Promise.reject(new StoreUnavailableError(`JetStream store ${this.stream} is closed`));
    if (this.failed !== undefined) return Promise.reject(this.failed);
    const source = this.source;
    if (source === undefined) return Promise.reject(new Error('AOF rewrite needs a snapshot source (setSnapshotSource)'));
    this.rewriting = this.runRewrite(source).finally(() => {
      this.rewriting = undefined;
    });
    return this.rewriting;
  }

  /**
   * Cut: the records appended until now are covered by the snapshot taken at
   * this instant; the log message holding the last of them is the cut.
   */
  private async runRewrite(source: SnapshotSource): Promise<RewriteStats> {
    const started = performance.now();
    this.collect();
    const coveredBatch = this.queue.at(-1);
    // Records of later turns must not join its log message: the cut would cover them, and
    // replay would skip them although the snapshot does not hold them.
    if (coveredBatch !== undefined) coveredBatch.cut = true;
    const partsNow = this.logParts;
    const covered = this.tail;
    // The snapshot's bytes are taken from the encoder after every step, as views of its slabs:
    // its state is held once, never grown into one buffer by doubling and copying.
    const snap = new RecordEncoder(this.maxPart);
    const chunks: (Buffer | undefined)[] = [];
    let size = 0;
    const it = source(snap);
    let n = 0;
    const slice = this.opts.sliceRecords ?? 1024;
    for (;;) {
      const done = it.next().done === true;
      const chunk = snap.take();
      if (chunk.length > 0) {
        chunks.push(chunk);
        size += chunk.length;
      }
      if (done) break;
      if (++n % slice === 0) await yieldToLoop();
    }
    const cut = covered !== undefined ? await covered : (await this.lastOf(this.logSubj))?.seq ?? 0;
    try {
      // The parts, then an empty end marker (on its own subject) naming where they start and end
      // and the log sequence they cover, then the purge, all one job in its place in the queue of
      // writes: no append of ours lands between them.
      const partsAtCut = coveredBatch !== undefined ? coveredBatch.parts : partsNow;
      const job = batch(Buffer.alloc(0));
      job.run = async () => {
        let first = 0;
        for (const part of messagesOf(chunks, size, this.maxPart)) {
          await this.publishParts(this.snapSubj, part, undefined);
          if (first === 0) first = this.lastSeq;
        }
        const last = this.lastSeq;
        const seq = await this.publishParts(this.snapEndSubj, Buffer.alloc(0), this.endHeader(first, last, cut));
        this.sinceSnapshot = 0;
        this.messagesSinceSnapshot = 0;
        // A node deposed while it rewrote (and so fenced) leaves the stream alone.
        if ((await this.jsm.streams.info(this.stream)).state.last_seq !== seq || this.failed !== undefined) return seq;
        await this.opts.beforePurge?.();
        // One purge of the whole stream below a sequence: the earlier snapshots, their end markers
        // and the log up to the cut. With no log message after the cut, everything before this
        // snapshot's first part. It never reaches past this snapshot's end marker, so what a new
        // owner wrote since the check above stays, whatever the timing. (A snapshot that stopped
        // halfway or an earlier one can sit above the cut when log messages follow it: the next
        // rewrite's purge takes them.)
        const below = this.logParts === partsAtCut ? first : cut + 1;
        if (below > 1) await this.jsm.streams.purge(this.stream, { seq: below });
        return seq;
      };
      this.queue.push(job);
      void this.pump();
      await job.done;
    } catch (err) {
      this.fail(err as Error, 'a snapshot');
      throw this.failed!;
    }
    return { records: snap.records, bytes: size, seconds: (performance.now() - started) / 1000 };
  }

  private endHeader(first: number, last: number, cut: number): MsgHdrs {
    const h = headers();
    h.set(H_SNAP_FIRST, String(first));
    h.set(H_SNAP_LAST, String(last));
    h.set(H_SNAP_CUT, String(cut));
    return h;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.rewriting?.catch(() => {});
    this.collect();
    await this.tail?.catch(() => {});
    this.closed = true;
    await this.nc.close();
  }
}
