/**
 * A gRPC publisher on one `PublishStream` (docs/PROTOCOL.md,
 * "PublishStream"; docs/CLIENT.md, "Publishing over a gRPC stream"): each
 * `publish()` resolves with its answer, matched by correlation id.
 *
 * - Packing: the publishes made in one turn leave in one stream message
 *   (up to `maxPerMessage`), as the server packs the answers of one group
 *   commit: one HTTP/2 write each way for many publishes.
 * - Flow control: at most `maxInFlight` publishes sent and not answered
 *   (the rest wait here, in order), and nothing written while HTTP/2's
 *   buffer is full (until 'drain'): the server's own bound and flow control
 *   then never have to push back on a well-behaved client.
 * - The stream opens at the first publish and stays open. If it ends while
 *   publishes wait for answers (connection lost, shutdown) they fail with
 *   that error (`retryable`: they may or may not have been applied; a
 *   publish with a dedup id can be sent again exactly); the next publish
 *   opens a new stream. A broker without PublishStream (UNIMPLEMENTED: it
 *   published nothing) gets every publish as a unary Publish instead.
 * - `timeoutMs`: a publish not answered within it ends the stream with
 *   DEADLINE_EXCEEDED (one timer per stream, not per publish).
 */
import { mqliteServiceDefinition } from '../../protocol/grpc-definition.js';
import { ProtoReader, WIRE_LEN, WIRE_VARINT, lenHeaderSize, varintSize, writeLenHeader, writeVarint } from '../../protocol/proto-wire.js';
import { measurePublishRequest, writePublishRequest } from '../../protocol/publish-request.js';
import { ClientError, type PublishExtras } from '../types.js';
import { type CallStatus, Code, type GrpcTransport, MESSAGE_PREFIX_BYTES, type OpenBidiCall, writeMessagePrefix } from './transport.js';

export interface StreamPublishResult {
  messageId: string;
  queueId: number;
  duplicate: boolean;
}

export interface GrpcPublisherOptions {
  /** Publishes sent and not yet answered before more wait (default 4096, the broker's own bound per stream). */
  maxInFlight?: number;
  /** Publishes per stream message at most (default 256; must not pass the broker's limits.max_batch). */
  maxPerMessage?: number;
  /** A publish not answered within this ends the stream (its publishes fail, retryable); none when undefined. */
  timeoutMs?: number;
}

type Publish = (namespace: string, topic: string, payload: Uint8Array | string, opts: PublishExtras) => Promise<StreamPublishResult>;

/** A publish until its answer: what it sends, and whom to tell. */
class Waiting {
  sentAt = 0;
  constructor(
    readonly id: number,
    readonly namespace: string,
    readonly topic: string,
    readonly payload: Uint8Array | string,
    readonly opts: PublishExtras,
    readonly resolve: (r: StreamPublishResult) => void,
    readonly reject: (err: ClientError) => void,
  ) {}
}

/** One PublishStreamResult as read (publisher-side: ids are this stream's counter, numbers). */
interface Answer {
  correlationId: number;
  messageId: string;
  queueId: number;
  duplicate: boolean;
  errorCode: string;
  error: string;
}

const T_ENTRY = (1 << 3) | WIRE_LEN;
const T_CORRELATION = (1 << 3) | WIRE_VARINT;
const T_PUBLISH_FIELD = 2;

/** A PublishStreamRequest holding `batch`, behind its gRPC message prefix. */
function encodeRequest(batch: readonly Waiting[]): Buffer {
  const sizes: number[] = new Array(batch.length);
  let total = 0;
  for (let i = 0; i < batch.length; i++) {
    const w = batch[i]!;
    const inner = measurePublishRequest(w.namespace, w.topic, w.payload, w.opts);
    const entry = 1 + varintSize(w.id) + lenHeaderSize(T_PUBLISH_FIELD, inner) + inner;
    sizes[i] = inner;
    total += 1 + varintSize(entry) + entry;
  }
  const buf = Buffer.allocUnsafe(MESSAGE_PREFIX_BYTES + total);
  writeMessagePrefix(buf, total);
  let pos = MESSAGE_PREFIX_BYTES;
  for (let i = 0; i < batch.length; i++) {
    const w = batch[i]!;
    const inner = measurePublishRequest(w.namespace, w.topic, w.payload, w.opts);
    buf[pos++] = T_ENTRY;
    pos = writeVarint(buf, pos, 1 + varintSize(w.id) + lenHeaderSize(T_PUBLISH_FIELD, inner) + inner);
    buf[pos++] = T_CORRELATION;
    pos = writeVarint(buf, pos, w.id);
    pos = writeLenHeader(buf, pos, T_PUBLISH_FIELD, sizes[i]!);
    pos = writePublishRequest(buf, pos);
  }
  return buf;
}

const responseReader = new ProtoReader(Buffer.alloc(0), 0, 0);
const resultReader = new ProtoReader(Buffer.alloc(0), 0, 0);

/** Reads each PublishStreamResult of a PublishStreamResponse into `answer` and hands it to `each`. */
function readResponse(bytes: Buffer, answer: Answer, each: (a: Answer) => boolean): void {
  const r = responseReader.reset(bytes, 0, bytes.length);
  while (!r.done) {
    const t = r.tag();
    if (t !== T_ENTRY) {
      r.skip(t & 7);
      continue;
    }
    r.len();
    const e = resultReader.reset(bytes, r.rs, r.re);
    answer.correlationId = 0;
    answer.messageId = '';
    answer.queueId = 0;
    answer.duplicate = false;
    answer.errorCode = '';
    answer.error = '';
    while (!e.done) {
      const f = e.tag();
      switch (f) {
        case T_CORRELATION:
          answer.correlationId = Number(e.uint64());
          break;
        case (2 << 3) | WIRE_LEN:
          answer.messageId = e.string();
          break;
        case (3 << 3) | WIRE_VARINT:
          answer.queueId = e.int32();
          break;
        case (4 << 3) | WIRE_VARINT:
          answer.duplicate = e.bool();
          break;
        case (5 << 3) | WIRE_LEN:
          answer.errorCode = e.string();
          break;
        case (6 << 3) | WIRE_LEN:
          answer.error = e.string();
          break;
        default:
          e.skip(f & 7);
      }
    }
    if (!each(answer)) return;
  }
}

const UNIMPLEMENTED = 12;
const PATH = mqliteServiceDefinition.publishStream.path;

export class GrpcPublisher {
  private call: OpenBidiCall | undefined;
  /** Sent, not answered, by correlation id; in the order sent. */
  private readonly inFlight = new Map<number, Waiting>();
  /** Not sent yet, in order. */
  private queue: Waiting[] = [];
  private nextId = 1;
  private flushScheduled = false;
  private blocked = false;
  /** The broker has no PublishStream: every publish goes to `unary`. */
  private unsupported = false;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  /** close() waiting for the last answer. */
  private idle: (() => void) | undefined;
  private readonly maxInFlight: number;
  private readonly maxPerMessage: number;
  private readonly flush = (): void => this.send();
  /** The answer being read (one object, reused). */
  private readonly answer: Answer = { correlationId: 0, messageId: '', queueId: 0, duplicate: false, errorCode: '', error: '' };
  /** Settles the publish `a` answers; false stops reading (the stream is aborted). */
  private readonly settle = (a: Answer): boolean => {
    const w = this.inFlight.get(a.correlationId);
    if (w === undefined) {
      // correlation_id 0: the broker could not read one of our messages; its publishes would wait forever.
      this.call?.abort({ code: Code.INTERNAL, details: `the broker answered a publish this stream did not send (correlation_id ${a.correlationId}): ${a.errorCode} ${a.error}`, trailers: {} });
      return false;
    }
    this.inFlight.delete(a.correlationId);
    if (a.errorCode !== '') w.reject(new ClientError(a.errorCode, a.error));
    else w.resolve({ messageId: a.messageId, queueId: a.queueId, duplicate: a.duplicate });
    return true;
  };

  constructor(
    private readonly transport: GrpcTransport,
    /** Unary Publish, for a broker without PublishStream. */
    private readonly unary: Publish,
    /** A failed stream's status as the client's error. */
    private readonly errorOf: (status: CallStatus) => ClientError,
    private readonly opts: GrpcPublisherOptions = {},
  ) {
    this.maxInFlight = opts.maxInFlight ?? 4096;
    this.maxPerMessage = opts.maxPerMessage ?? 256;
  }

  /** Publishes on the stream; resolves once the broker answered this publish (durable), or rejects with its error. */
  publish(namespace: string, topic: string, payload: Uint8Array | string, opts: PublishExtras = {}): Promise<StreamPublishResult> {
    if (this.closed) return Promise.reject(new ClientError('CLOSED', 'this publisher is closed: open a new one'));
    if (this.unsupported) return this.unary(namespace, topic, payload, opts);
    return new Promise<StreamPublishResult>((resolve, reject) => {
      this.queue.push(new Waiting(this.nextId++, namespace, topic, payload, opts, resolve, reject));
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        // The publishes of this turn leave together.
        process.nextTick(this.flush);
      }
    });
  }

  /** Publishes waiting for an answer or to be sent. */
  get pending(): number {
    return this.inFlight.size + this.queue.length;
  }

  /** Waits for every publish made so far to be answered, then half-closes the stream. Later publishes fail with CLOSED. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.pending > 0) await new Promise<void>((resolve) => (this.idle = resolve));
    this.call?.end();
    this.call = undefined;
    this.stopTimer();
  }

  private send(): void {
    this.flushScheduled = false;
    if (this.blocked || this.queue.length === 0) return;
    const call = (this.call ??= this.open());
    const now = this.opts.timeoutMs === undefined ? 0 : Date.now();
    let start = 0;
    const queue = this.queue;
    while (start < queue.length && this.inFlight.size < this.maxInFlight) {
      const n = Math.min(queue.length - start, this.maxPerMessage, this.maxInFlight - this.inFlight.size);
      const batch = start === 0 && n === queue.length ? queue : queue.slice(start, start + n);
      for (const w of batch) {
        w.sentAt = now;
        this.inFlight.set(w.id, w);
      }
      start += n;
      if (!call.writeFramed(encodeRequest(batch))) {
        this.blocked = true;
        break;
      }
    }
    this.queue = start === queue.length ? [] : queue.slice(start);
    if (this.timer === undefined && this.opts.timeoutMs !== undefined) this.armTimer(this.opts.timeoutMs);
  }

  private open(): OpenBidiCall {
    const call = this.transport.bidi(PATH, {
      onHeaders() {},
      onMessage: (bytes) => this.answered(call, bytes),
      onDrain: () => {
        this.blocked = false;
        this.send();
      },
      onEnd: (status) => this.ended(call, status),
    });
    return call;
  }

  private answered(call: OpenBidiCall, bytes: Buffer): void {
    try {
      readResponse(bytes, this.answer, this.settle);
    } catch (err) {
      call.abort({ code: Code.INTERNAL, details: `a PublishStream answer did not decode: ${(err as Error).message}`, trailers: {} });
      return;
    }
    if (this.queue.length > 0 && !this.flushScheduled) this.send();
    this.checkIdle();
  }

  private checkIdle(): void {
    if (this.idle !== undefined && this.pending === 0) {
      this.idle();
      this.idle = undefined;
    }
  }

  private ended(call: OpenBidiCall, status: CallStatus): void {
    if (this.call === call) this.call = undefined;
    this.blocked = false;
    this.stopTimer();
    const waiting = [...this.inFlight.values()];
    this.inFlight.clear();
    if (status.code === UNIMPLEMENTED && !this.unsupported) {
      // Nothing was published: every publish goes as a unary call from now on.
      this.unsupported = true;
      const all = [...waiting, ...this.queue];
      this.queue = [];
      for (const w of all) this.unary(w.namespace, w.topic, w.payload, w.opts).then(w.resolve, w.reject);
      this.checkIdle();
      return;
    }
    if (waiting.length === 0) {
      // An idle stream ended (the broker closed it): the next publish opens another.
      if (this.queue.length > 0) this.send();
      this.checkIdle();
      return;
    }
    const err =
      status.code === Code.OK
        ? new ClientError('TRANSPORT', `the publish stream ended before ${waiting.length} publishes were answered`)
        : this.errorOf(status);
    for (const w of waiting) w.reject(err);
    // Never sent: they go on a new stream.
    if (this.queue.length > 0) this.send();
    this.checkIdle();
  }

  private armTimer(ms: number): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const timeout = this.opts.timeoutMs!;
      const oldest = this.inFlight.values().next();
      if (oldest.done === true) return;
      const age = Date.now() - oldest.value.sentAt;
      if (age >= timeout) {
        this.call?.abort({ code: Code.DEADLINE_EXCEEDED, details: `a publish was not answered within ${timeout} ms`, trailers: {} });
        return;
      }
      this.armTimer(timeout - age);
    }, ms);
    this.timer.unref();
  }

  private stopTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
