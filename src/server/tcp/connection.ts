/**
 * One TCP connection: frames in, commands run, replies out in request order.
 *
 * - Pipelining (docs/PROTOCOL.md, "Replies and pipelining": replies come
 *   in the order of the requests): every frame takes a slot in a FIFO reply queue when
 *   it is read; a slot is written when it and every slot before it are
 *   settled, so a publish waiting for its fsync holds back the replies
 *   behind it, never reorders them.
 * - Coalescing: replies are built into shared slabs (FrameWriter) and leave
 *   in one socket write per event-loop turn, or sooner past FLUSH_BYTES.
 * - Backpressure (docs/DESIGN.md, "Subscriptions": a client that never
 *   reads): when the socket's write buffer is full, or the replies owed
 *   weigh too much (MAX_WEIGHT: one per reply, `batch_size` per consume
 *   or consume_dlq,
 *   so that a chunk of pipelined consumes cannot pop the queues into
 *   memory), the connection stops parsing frames, stops reading the socket
 *   and pauses its subscriptions until they drain. Memory per connection is
 *   then bounded by the socket buffers, one read chunk and about
 *   MAX_WEIGHT messages.
 * - A subscription's pushed frames go through the same queue, so they come
 *   after the "subscribed" reply and after every reply before it.
 * - API keys (docs/PROTOCOL.md, "Authentication: the first frame"): when the broker has keys, the first frame must be
 *   `auth`; any other first frame, or a wrong key, is answered with an
 *   UNAUTHENTICATED error frame and the connection is closed. The key is
 *   checked once per connection; each command then costs one flag test, or
 *   for a key limited in scope one table lookup (and one Set lookup).
 */
import type { Socket } from 'node:net';
import type { Access } from '../../auth/access.js';
import type { Logger } from 'pino';
import type { Subscription, SubscriptionHandler } from '../../broker/broker.js';
import { type ApiKeys, FULL_ACCESS, NO_API_KEYS, type Principal, missingKey, requestNamespace } from '../../auth/api-keys.js';
import type { BrokerError } from '../../broker/errors.js';
import type { Delivery } from '../../broker/message.js';
import { type ResizeNotice, resizeNoticeMessage } from '../../protocol/message.js';
import { exhausted } from '../../broker/errors.js';
import { type BrokerAccess, DEFAULT_MAX_SUBSCRIPTIONS_PER_CONNECTION, subscriptionLimitMessage } from '../front.js';
import { subscribe } from '../commands/table.js';
import { AUTH, type TcpOp, isCommand } from './actions.js';
import { badRequestReason, errorReason } from './errors.js';
import { ENCODING_JSON, ENCODING_PROTOBUF, type Encoding, FrameReader, FrameWriter, ReadResult } from '../../protocol/frame.js';
import { type TcpRequest, decodeJsonCommand } from './json-codec.js';
import { decodePbCommand } from './pb-codec.js';
import { type JsonStyle, NATIVE_JSON } from '../json-payload.js';
import { writeError, writeOk, writePush } from './reply.js';

type SubscribeInput = ReturnType<typeof subscribe.input>;

/** Weight of the replies owed (settled or not) at which the connection stops reading. */
const MAX_WEIGHT = 4096;
/** Reading resumes once the weight is back under this. */
const RESUME_WEIGHT = 1024;
const KEEPALIVE_MS = 60_000;
/** Written slots kept at the head of the queue before it is compacted. */
const COMPACT_AFTER = 1024;
/** Written-but-unsent reply bytes that trigger a write before the turn ends. */
const FLUSH_BYTES = 256 * 1024;

interface Slot {
  done: boolean;
  readonly encoding: Encoding;
  readonly requestId: string | undefined;
  op: TcpOp | undefined;
  result: unknown;
  /** Set for an error reply. */
  reason: string | undefined;
  /** Set for a pushed message waiting behind earlier replies. */
  push: Delivery | undefined;
  /** A framing error: the connection ends after this frame. */
  last: boolean;
  /** Its share of MAX_WEIGHT: 1, or the batch size of a consume. */
  weight: number;
}

function slot(encoding: Encoding, requestId: string | undefined): Slot {
  return { done: false, encoding, requestId, op: undefined, result: undefined, reason: undefined, push: undefined, last: false, weight: 1 };
}

class PushTarget implements SubscriptionHandler {
  sub: Subscription | undefined;

  constructor(
    private readonly conn: Connection,
    readonly encoding: Encoding,
    readonly requestId: string | undefined,
  ) {}

  message(msg: Delivery): void {
    this.conn.push(this, msg);
  }

  notice(n: ResizeNotice): void {
    this.conn.push(this, resizeNoticeMessage(n));
  }

  end(reason: BrokerError | undefined): void {
    this.conn.subscriptionEnded(this, reason);
  }

  batchEnd(): void {
    this.conn.batchEnd();
  }
}

export class Connection {
  private readonly reader: FrameReader;
  private readonly out = new FrameWriter();
  private readonly queue: Slot[] = [];
  private head = 0;
  private readonly targets = new Set<PushTarget>();
  /** Sum of the weights of the slots in the queue. */
  private weight = 0;

  /** The socket's write buffer is full: wait for 'drain'. */
  private writeBlocked = false;
  /** Reading and subscriptions are paused (writeBlocked or the replies owed weigh too much). */
  private paused = false;
  /** No more frames are read: after a framing error or during shutdown. */
  private stopped = false;
  private closed = false;
  private flushScheduled = false;
  private pumping = false;
  /** Close once every reply owed is written (framing error, shutdown, or the peer ended). */
  private ending = false;
  /** Every complete frame received has been taken from the reader. */
  private inputDrained = true;

  /** An `auth` frame was accepted, or the broker has no keys. */
  private authenticated: boolean;
  principal: Principal = FULL_ACCESS;
  /** The principal's scope is checked per command (it is not FULL_ACCESS-like). */
  private restricted = false;
  private readonly remote: string | undefined;

  /** Encoding and request id of the command being run (for `subscribe`). */
  private curEncoding: Encoding = ENCODING_JSON;
  private curRequestId: string | undefined;

  /** Resolves when the socket is closed. */
  readonly closedPromise: Promise<void>;
  private resolveClosed!: () => void;
  private endScheduled = false;

  private readonly flushTick = (): void => {
    this.flushScheduled = false;
    this.flush();
  };

  constructor(
    readonly broker: BrokerAccess,
    private readonly socket: Socket,
    private readonly maxFrameBytes: number,
    private readonly log: Logger,
    private readonly apiKeys: ApiKeys = NO_API_KEYS,
    private readonly maxSubscriptions = DEFAULT_MAX_SUBSCRIPTIONS_PER_CONNECTION,
    private readonly jsonStyle: JsonStyle = NATIVE_JSON,
  ) {
    this.authenticated = !apiKeys.enabled;
    this.remote = socket.remoteAddress;
    this.closedPromise = new Promise<void>((resolve) => {
      this.resolveClosed = resolve;
    });
    this.reader = new FrameReader(maxFrameBytes);
    socket.setNoDelay(true);
    // Idle connections are kept; keepalive probes only find peers
    // that vanished, so that their subscriptions end.
    socket.setKeepAlive(true, KEEPALIVE_MS);
    socket.on('data', (chunk: Buffer) => {
      // Ending: what comes now is never answered; it is read only to see the peer's FIN.
      if (this.endScheduled) return;
      this.reader.push(chunk);
      this.inputDrained = false;
      this.pump();
    });
    socket.on('drain', () => {
      this.writeBlocked = false;
      this.updateFlow();
    });
    socket.on('error', (err) => {
      log.debug({ err, remote: socket.remoteAddress }, 'tcp connection error');
    });
    // The server is half-open: a client may send its requests and shut its
    // write side; the replies still go out, then the connection ends.
    socket.on('end', () => {
      this.ending = true;
      this.maybeEnd();
    });
    socket.on('close', () => this.onClose());
  }

  /** Server shutdown: stop reading, end subscriptions, answer what was read, then end. */
  shutdown(): void {
    if (this.closed) return;
    this.stopReading();
    for (const t of [...this.targets]) {
      t.sub?.close();
      this.subscriptionEnded(t, undefined, 'UNAVAILABLE: server is shutting down');
    }
    this.ending = true;
    this.maybeEnd();
  }

  destroy(): void {
    this.socket.destroy();
  }

  // ------------------------------------------------------------------ reading

  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      const reader = this.reader;
      while (!this.paused && !this.stopped && this.weight < MAX_WEIGHT) {
        const r = reader.next();
        if (r === ReadResult.NeedMore) {
          this.inputDrained = true;
          break;
        }
        if (r === ReadResult.Frame) this.runFrame(reader);
        else this.framingError(r, reader);
        if (this.out.pendingBytes >= FLUSH_BYTES) this.flush();
      }
    } finally {
      this.pumping = false;
    }
    this.updateFlow();
    this.scheduleFlush();
    this.maybeEnd();
  }

  private runFrame(reader: FrameReader): void {
    const enc = reader.encoding;
    if (enc !== ENCODING_JSON && enc !== ENCODING_PROTOBUF) {
      if (!this.authenticated) {
        this.refuseUnauthenticated(ENCODING_JSON, undefined);
        return;
      }
      // The framing is intact: answer and go on (docs/PROTOCOL.md, "Extensions on TCP").
      this.settleError(this.reserve(ENCODING_JSON, undefined), badRequestReason(`unknown encoding byte ${enc}: use 0 (JSON) or 1 (protobuf)`));
      return;
    }
    let req: TcpRequest;
    try {
      req = enc === ENCODING_JSON ? decodeJsonCommand(reader.buf, reader.start, reader.end) : decodePbCommand(reader.buf, reader.start, reader.end);
    } catch (err) {
      // A decoder's bug costs one INTERNAL error frame (logged), not the whole process.
      const reason = errorReason(err, this.log, undefined);
      if (!this.authenticated) this.refuseUnauthenticated(enc, undefined);
      else this.settleError(this.reserve(enc, undefined), reason);
      return;
    }
    const op = req.op;
    // API keys: nothing but auth (not even a decoding error) is answered before it
    if (!this.authenticated && op !== AUTH) {
      this.refuseUnauthenticated(enc, req.requestId);
      return;
    }
    const args = req.args;
    // consume and consume_dlq weigh what they may pop
    const s = this.reserve(enc, req.requestId, op !== undefined && isCommand(op) && op.reply.deliveries ? Math.max(1, (args as { batchSize: number }).batchSize) : 1);
    if (op === undefined) {
      this.settleError(s, badRequestReason(req.error!.message));
      return;
    }
    this.curEncoding = enc;
    this.curRequestId = req.requestId;
    try {
      if (op === AUTH) {
        this.authenticate((args as { apiKey: string }).apiKey);
        this.settleOk(s, op, undefined);
        return;
      }
      if (this.restricted) this.apiKeys.authorize(this.principal, op as Access, requestNamespace(args as object), 'tcp', this.remote, this.log);
      if (!isCommand(op)) {
        this.subscribe(args as SubscribeInput);
        this.settleOk(s, op, undefined);
        return;
      }
      const result = op.run(this.broker.serving(), args, this.principal);
      if (result instanceof Promise) {
        result.then(
          (r: unknown) => this.settleOk(s, op, r),
          (err: unknown) => this.settleError(s, errorReason(err, this.log, op.name)),
        );
      } else {
        this.settleOk(s, op, result);
      }
    } catch (err) {
      // a refused key: the connection is not to be used further
      if (op === AUTH) this.closeAfter(s);
      this.settleError(s, errorReason(err, this.log, op.name));
    }
  }

  // --------------------------------------------------------------------- auth

  /** The `auth` command. With auth off any key is accepted, so clients may always send it. */
  private authenticate(apiKey: string): void {
    this.principal = this.apiKeys.require(apiKey, 'tcp', this.remote, this.log);
    this.restricted = !this.principal.unrestricted;
    this.authenticated = true;
  }

  /** A first frame other than auth while the broker has keys: answer UNAUTHENTICATED, then close. */
  private refuseUnauthenticated(enc: Encoding, requestId: string | undefined): void {
    this.apiKeys.reject('tcp', 'missing', this.remote, this.log);
    const s = this.reserve(enc, requestId);
    this.closeAfter(s);
    this.settleError(s, errorReason(missingKey('tcp'), this.log, undefined));
  }

  /** The connection ends once `s` is written; nothing after it is read. */
  private closeAfter(s: Slot): void {
    s.last = true;
    this.stopReading();
  }

  /** A zero or oversized length prefix: the framing is lost, so answer and close. */
  private framingError(r: ReadResult, reader: FrameReader): void {
    const enc = reader.encoding === ENCODING_PROTOBUF ? ENCODING_PROTOBUF : ENCODING_JSON;
    const reason =
      r === ReadResult.ZeroLength
        ? badRequestReason('frame length 0: a frame holds at least its encoding byte; closing the connection')
        : badRequestReason(`frame length ${reader.length} exceeds the maximum of ${this.maxFrameBytes} bytes (limits.max_frame); closing the connection`);
    this.log.debug({ remote: this.socket.remoteAddress, length: reader.length }, 'tcp framing error');
    const s = this.reserve(enc, undefined);
    this.closeAfter(s);
    this.settleError(s, reason);
  }

  private stopReading(): void {
    this.stopped = true;
    this.socket.pause();
  }

  // ------------------------------------------------------------- reply queue

  private reserve(encoding: Encoding, requestId: string | undefined, weight = 1): Slot {
    const s = slot(encoding, requestId);
    // a batch_size out of range is refused by the core: its weight is moot
    s.weight = weight > 0 && weight <= MAX_WEIGHT ? weight : 1;
    this.weight += s.weight;
    this.queue.push(s);
    return s;
  }

  private settleOk(s: Slot, op: TcpOp, result: unknown): void {
    s.done = true;
    s.op = op;
    s.result = result;
    this.advance();
  }

  private settleError(s: Slot, reason: string): void {
    s.done = true;
    s.reason = reason;
    this.advance();
  }

  /** Writes every settled slot at the head of the queue, in order. */
  private advance(): void {
    if (this.closed) return;
    const q = this.queue;
    let wrote = false;
    while (this.head < q.length && q[this.head]!.done) {
      const s = q[this.head]!;
      q[this.head++] = undefined as unknown as Slot;
      this.weight -= s.weight;
      this.write(s);
      wrote = true;
      if (s.last) {
        this.ending = true;
        break;
      }
      if (this.out.pendingBytes >= FLUSH_BYTES) this.flush();
    }
    if (this.head === q.length) {
      q.length = 0;
      this.head = 0;
    } else if (this.head >= COMPACT_AFTER && this.head * 2 >= q.length) {
      // A connection that always has a reply in flight never empties the
      // queue: drop the written head now and then (amortised O(1)).
      q.splice(0, this.head);
      this.head = 0;
    }
    if (!wrote) return;
    if (!this.pumping) {
      // Nothing left to wait for: write now rather than a tick later
      // (one request in flight: that tick is latency).
      if (this.head === 0) this.flush();
      else this.scheduleFlush();
      this.updateFlow();
    }
    this.maybeEnd();
  }

  private write(s: Slot): void {
    if (s.push !== undefined) writePush(this.out, s.encoding, s.requestId, s.push, this.jsonStyle);
    else if (s.reason !== undefined) writeError(this.out, s.encoding, s.requestId, s.reason);
    else writeOk(this.out, s.encoding, s.requestId, s.op!, s.result, this.jsonStyle);
  }

  private get queued(): number {
    return this.queue.length - this.head;
  }

  // ----------------------------------------------------------- subscriptions

  get subscriptionCount(): number {
    return this.targets.size;
  }

  private subscribe(args: SubscribeInput): void {
    // Answered as an error frame; the connection and its other subscriptions go on.
    if (this.targets.size >= this.maxSubscriptions) throw exhausted(subscriptionLimitMessage(this.maxSubscriptions, 'TCP connection'));
    const target = new PushTarget(this, this.curEncoding, this.curRequestId);
    // Throws BrokerError synchronously (unknown queue...): answered as an error frame.
    // args holds autoAck and maxInflight (absent: the broker's default): the options as they are.
    target.sub = this.broker.serving().subscribe(args.namespace, args.topic, args.queueId, target, args);
    this.targets.add(target);
    if (this.paused) target.sub.pause();
  }

  /** A pushed message: written now, or queued behind replies still waiting. */
  push(target: PushTarget, msg: Delivery): void {
    if (this.closed || !this.targets.has(target)) return;
    if (this.queued === 0) {
      writePush(this.out, target.encoding, target.requestId, msg, this.jsonStyle);
      if (this.out.pendingBytes >= FLUSH_BYTES) this.flush();
      else this.scheduleFlush();
    } else {
      const s = this.reserve(target.encoding, target.requestId);
      s.done = true;
      s.push = msg;
      this.updateFlow();
    }
  }

  batchEnd(): void {
    this.flush();
  }

  /** The broker ended a subscription (or the server shuts down): an error frame tells the client. */
  subscriptionEnded(target: PushTarget, reason: BrokerError | undefined, text?: string): void {
    if (!this.targets.delete(target) || this.closed) return;
    const s = this.reserve(target.encoding, target.requestId);
    this.settleError(s, text ?? (reason ? errorReason(reason, this.log, 'subscribe') : 'UNAVAILABLE: subscription ended'));
  }

  // ------------------------------------------------------------------ writing

  private scheduleFlush(): void {
    if (this.flushScheduled || this.out.pendingBytes === 0) return;
    this.flushScheduled = true;
    // After the current microtasks: every reply settled in this turn
    // (e.g. one group commit) leaves in the same write.
    process.nextTick(this.flushTick);
  }

  private flush(): void {
    if (this.closed) return;
    const parts = this.out.take();
    if (parts.length === 0) return;
    let ok: boolean;
    if (parts.length === 1) ok = this.socket.write(parts[0]!);
    else {
      this.socket.cork();
      ok = true;
      for (const p of parts) ok = this.socket.write(p);
      this.socket.uncork();
    }
    if (!ok && !this.writeBlocked) {
      this.writeBlocked = true;
      this.updateFlow();
    }
  }

  /** Pauses or resumes reading and subscriptions from the write and queue state. */
  private updateFlow(): void {
    if (this.closed) return;
    const w = this.weight;
    const block = this.writeBlocked || w >= MAX_WEIGHT || (this.paused && w > RESUME_WEIGHT);
    if (block && !this.paused) {
      this.paused = true;
      this.socket.pause();
      for (const t of this.targets) t.sub?.pause();
    } else if (!block && this.paused) {
      this.paused = false;
      for (const t of this.targets) t.sub?.resume();
      if (!this.stopped) {
        this.socket.resume();
        this.pump();
      }
    }
  }

  private maybeEnd(): void {
    if (!this.ending || this.closed || this.queued > 0 || this.endScheduled) return;
    // frames read before the peer's end are still answered (they may wait behind backpressure)
    if (!this.stopped && !this.inputDrained) return;
    this.endScheduled = true;
    this.flush();
    this.socket.end();
    // A paused socket never reports the peer's FIN, so 'close' would wait
    // for the timer below (5 s at every shutdown): read on, dropping the bytes.
    this.socket.resume();
    // A peer that never reads would keep the socket open: cut it after a grace period.
    setTimeout(() => this.socket.destroy(), 5000).unref();
  }

  private onClose(): void {
    this.closed = true;
    for (const t of this.targets) t.sub?.close();
    this.targets.clear();
    this.queue.length = 0;
    this.head = 0;
    this.weight = 0;
    this.resolveClosed();
  }
}
