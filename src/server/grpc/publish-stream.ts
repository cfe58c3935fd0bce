/**
 * `PublishStream`: many publishes on one bidirectional stream
 * (docs/PROTOCOL.md, "PublishStream").
 *
 * - Each entry is the `publish` command of the table, as unary `Publish`:
 *   the same access check, input mapping and Broker call (so the one
 *   commit path: logged, applied, answered once durable), and the same
 *   result; its answer carries the entry's `correlation_id`.
 * - An entry that fails is answered with its error code and reason; the
 *   stream goes on. A message that does not decode is answered once, with
 *   `correlation_id` 0, and the stream goes on too.
 * - Answers that become ready in the same turn (one group commit) leave in
 *   one response message: one HTTP/2 write for many publishes.
 * - Flow control: at most `maxUnanswered` publishes read and not yet
 *   answered, and nothing read while the write side is full (`write()`
 *   returned false, until 'drain'). Paused, grpc-js stops reading the
 *   HTTP/2 stream, so HTTP/2 flow control holds the client's writes back.
 * - The client half-closes when it is done: the stream ends (OK) once its
 *   last publish is answered. A cancelled stream drops its answers; what
 *   was published stays published.
 */
import type { MethodDefinition, ServerDuplexStream } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { Broker } from '../../broker/broker.js';
import type { BrokerAccess } from '../front.js';
import { invalid, isBrokerError } from '../../broker/errors.js';
import type { PublishResult } from '../../broker/types.js';
import { FULL_ACCESS, type Principal } from '../../auth/api-keys.js';
import { MalformedRequest, mqliteServiceDefinition } from '../../protocol/grpc-definition.js';
import { publish } from '../commands/table.js';
import { malformed, statusOf } from './errors.js';
import { type CorrelationId, decodePublishStreamRequest, encodePublishStreamResponse, type StreamEntry, StreamResult } from './publish-stream-codec.js';
import type { CallAuthorizer } from './index.js';
import { sendBufferedTogether, type LiveStream } from './subscribe.js';

/** Publishes of one stream read and not yet answered, past which it stops reading (as the TCP front's MAX_WEIGHT). */
export const DEFAULT_MAX_UNANSWERED = 4096;

type Call = ServerDuplexStream<StreamEntry[] | MalformedRequest, Buffer>;

/** The method as the server registers it: its messages read and written by publish-stream-codec.ts. */
export const publishStreamDefinition: MethodDefinition<StreamEntry[] | MalformedRequest, Buffer> = {
  ...(mqliteServiceDefinition.publishStream as unknown as MethodDefinition<StreamEntry[] | MalformedRequest, Buffer>),
  requestDeserialize: decodePublishStreamRequest,
  responseSerialize: (bytes: Buffer) => bytes,
};

export function publishStreamHandler(broker: BrokerAccess, live: Set<LiveStream>, log: Logger, maxUnanswered: number, authorize?: CallAuthorizer) {
  return (call: Call): void => {
    // The key once, at open; each entry's namespace against its scope below.
    let principal: Principal = FULL_ACCESS;
    if (authorize !== undefined) {
      try {
        principal = authorize(call, publish, undefined);
      } catch (err) {
        call.emit('error', statusOf(err, log, 'PublishStream'));
        return;
      }
    }
    new PublishStream(call, broker, live, log, maxUnanswered, authorize, principal).start();
  };
}

class PublishStream implements LiveStream {
  /** Publishes read and not answered yet (answered: in `ready` or written). */
  private unanswered = 0;
  /** Answers not written yet: they leave together at the end of the turn. */
  private ready: StreamResult[] = [];
  private flushScheduled = false;
  private writeBlocked = false;
  private reading = true;
  private inputEnded = false;
  /** Our own flag: grpc-js fires 'cancelled' even after a normal end (STACK.md). */
  private done = false;
  private readonly flush = (): void => this.writeReady();

  constructor(
    private readonly call: Call,
    private readonly broker: BrokerAccess,
    private readonly live: Set<LiveStream>,
    private readonly log: Logger,
    private readonly maxUnanswered: number,
    private readonly authorize: CallAuthorizer | undefined,
    private readonly principal: Principal,
  ) {}

  start(): void {
    const call = this.call;
    sendBufferedTogether(call);
    this.live.add(this);
    call.on('data', (req: StreamEntry[] | MalformedRequest) => this.read(req));
    call.on('end', () => {
      this.inputEnded = true;
      this.endIfDone();
    });
    call.on('drain', () => {
      this.writeBlocked = false;
      this.updateReading();
    });
    call.on('cancelled', () => this.finish());
    call.on('error', () => this.finish());
  }

  /** Shutdown: ends the stream with `status` (UNAVAILABLE); unanswered publishes are not answered. */
  end(status: Parameters<LiveStream['end']>[0]): void {
    if (!this.finish()) return;
    this.call.emit('error', status);
  }

  private finish(): boolean {
    if (this.done) return false;
    this.done = true;
    this.live.delete(this);
    return true;
  }

  private read(req: StreamEntry[] | MalformedRequest): void {
    if (this.done) return;
    if (req instanceof MalformedRequest) {
      this.unanswered++;
      this.answerError(0, malformed(req));
    } else {
      const entries = req;
      let broker: Broker;
      try {
        // a cluster node standing by answers every entry UNAVAILABLE, naming the owner
        broker = this.broker.serving();
      } catch (err) {
        for (let i = 0; i < entries.length; i++) {
          this.unanswered++;
          this.answerError(entries[i]!.correlationId, err);
        }
        this.updateReading();
        return;
      }
      const maxBatch = broker.limits.maxBatch;
      if (entries.length > maxBatch) {
        const err = invalid(`a PublishStreamRequest holds at most ${maxBatch} entries (limits.max_batch), this one ${entries.length}: send fewer per message; none of them was published`);
        for (let i = 0; i < entries.length; i++) {
          this.unanswered++;
          this.answerError(entries[i]!.correlationId, err);
        }
      } else {
        for (let i = 0; i < entries.length; i++) this.publishEntry(broker, entries[i]!);
      }
    }
    this.updateReading();
  }

  private publishEntry(broker: Broker, entry: StreamEntry): void {
    this.unanswered++;
    const correlationId = entry.correlationId;
    const req = entry.publish;
    if (req === undefined) {
      this.answerError(correlationId, invalid(`publish stream entry with correlation_id ${correlationId}: 'publish' (field 2) is missing: each entry carries a PublishRequest; nothing was published`));
      return;
    }
    let result: Promise<PublishResult>;
    try {
      const principal = this.authorize === undefined ? this.principal : this.authorize(this.call, publish, req);
      // A native promise: Promise.resolve hands it back as it is.
      result = Promise.resolve(publish.run(broker, publish.input(req), principal));
    } catch (err) {
      this.answerError(correlationId, err);
      return;
    }
    result.then(
      (r) => this.answer(new StreamResult(correlationId, r.messageId, r.queueId, r.duplicate === true, '', '')),
      (err: unknown) => this.answerError(correlationId, err),
    );
  }

  private answerError(correlationId: CorrelationId, err: unknown): void {
    const errorCode = isBrokerError(err) ? err.code : 'INTERNAL';
    // statusOf logs an internal error and hides its detail, as for a unary call.
    const error = statusOf(err, this.log, 'PublishStream').details;
    this.answer(new StreamResult(correlationId, '', 0, false, errorCode, error));
  }

  private answer(result: StreamResult): void {
    if (this.done) return;
    this.ready.push(result);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      // After the promises settled by this group commit: their answers go together.
      process.nextTick(this.flush);
    }
  }

  private writeReady(): void {
    this.flushScheduled = false;
    if (this.done || this.ready.length === 0) return;
    const results = this.ready;
    this.ready = [];
    this.unanswered -= results.length;
    if (!this.call.write(encodePublishStreamResponse(results))) this.writeBlocked = true;
    this.updateReading();
    this.endIfDone();
  }

  private updateReading(): void {
    if (this.done) return;
    const want = !this.writeBlocked && this.unanswered < this.maxUnanswered;
    if (want === this.reading) return;
    this.reading = want;
    if (want) this.call.resume();
    else this.call.pause();
  }

  private endIfDone(): void {
    if (!this.inputEnded || this.unanswered > 0 || this.ready.length > 0 || !this.finish()) return;
    this.call.end();
  }
}
