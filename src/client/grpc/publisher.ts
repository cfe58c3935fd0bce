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
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { type PublishStreamEntry, PublishStreamEntrySchema, PublishStreamRequestSchema, PublishStreamResponseSchema } from '../../../gen/mqlite/v1/mqlite_pb.js';
import { mqliteServiceDefinition } from '../../protocol/grpc-definition.js';
import { ClientError, type PublishExtras } from '../types.js';
import { publishFields } from './features.js';
import { type CallStatus, Code, type GrpcTransport, type OpenBidiCall } from './transport.js';

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

interface Waiting {
  readonly entry: PublishStreamEntry;
  readonly resolve: (r: StreamPublishResult) => void;
  readonly reject: (err: ClientError) => void;
  sentAt: number;
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
      const id = this.nextId++;
      const entry = create(PublishStreamEntrySchema, { correlationId: BigInt(id), publish: { namespace, topic, ...publishFields(payload, opts) } });
      this.queue.push({ entry, resolve, reject, sentAt: 0 });
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
      const entries: PublishStreamEntry[] = new Array(n);
      for (let i = 0; i < n; i++) {
        const w = queue[start + i]!;
        w.sentAt = now;
        entries[i] = w.entry;
        this.inFlight.set(Number(w.entry.correlationId), w);
      }
      start += n;
      const ok = call.write(toBinary(PublishStreamRequestSchema, create(PublishStreamRequestSchema, { entries })));
      if (!ok) {
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
    let res;
    try {
      res = fromBinary(PublishStreamResponseSchema, bytes);
    } catch (err) {
      call.abort({ code: Code.INTERNAL, details: `a PublishStream answer did not decode: ${(err as Error).message}`, trailers: {} });
      return;
    }
    for (const r of res.results) {
      const id = Number(r.correlationId);
      const w = this.inFlight.get(id);
      if (w === undefined) {
        // correlation_id 0: the broker could not read one of our messages; its publishes would wait forever.
        call.abort({ code: Code.INTERNAL, details: `the broker answered a publish this stream did not send (correlation_id ${r.correlationId}): ${r.errorCode} ${r.error}`, trailers: {} });
        return;
      }
      this.inFlight.delete(id);
      if (r.errorCode !== '') w.reject(new ClientError(r.errorCode, r.error));
      else w.resolve({ messageId: r.messageId, queueId: r.queueId, duplicate: r.duplicate });
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
      for (const w of all) {
        const p = w.entry.publish!;
        this.unary(p.namespace, p.topic, p.payload, {
          headers: p.headers,
          routingKey: p.routingKey || undefined,
          queueId: p.queueId,
          dedupId: p.dedupId || undefined,
          delayMs: optionalNumber(p.delayMs),
          deliverAtMs: optionalNumber(p.deliverAtMs),
          ttlMs: optionalNumber(p.ttlMs),
        }).then(w.resolve, w.reject);
      }
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

function optionalNumber(v: bigint | undefined): number | undefined {
  return v === undefined ? undefined : Number(v);
}
