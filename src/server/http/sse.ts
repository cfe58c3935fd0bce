/**
 * One SSE subscription (docs/PROTOCOL.md "HTTP (REST + SSE)": `event: message` whose `data:`
 * is the Message as JSON on one line, pushed as soon as a message is
 * available). The broker pushes into this handler synchronously; the text
 * of a run of messages is joined and handed to the stream as one chunk (one
 * socket write per run, not per message).
 *
 * Backpressure (docs/DESIGN.md "Subscriptions": a slow subscriber never makes the
 * server buffer without limit): bytes handed to the stream are counted until
 * the stream has passed them on towards the socket, which @hono/node-server
 * only does while the socket accepts writes. Past `highWaterBytes` the
 * subscription is paused, and resumed when that count falls below half of
 * it; undelivered messages simply stay queued in the broker.
 */
import type { Logger } from 'pino';
import type { SSEStreamingApi } from 'hono/streaming';
import type { Subscription, SubscriptionHandler } from '../../broker/subscription.js';
import type { BrokerError } from '../../broker/errors.js';
import type { Delivery } from '../../broker/message.js';
import { type ResizeNotice, resizeNoticeMessage } from '../../protocol/message.js';
import { type JsonStyle, messageJson, NATIVE_JSON } from '../json-payload.js';

/** A chunk is handed to the stream once this much text is waiting, even mid-run. */
const FLUSH_CHARS = 64 * 1024;

const encoder = new TextEncoder();

/**
 * `event: message` with the message JSON on one `data:` line. A stored JSON
 * payload may contain raw line breaks, which in valid JSON can only be
 * whitespace between tokens, so they are replaced by spaces (same value).
 */
export function messageEvent(msg: Delivery, style: JsonStyle = NATIVE_JSON): string {
  let json = messageJson(msg, style);
  if (json.includes('\n') || json.includes('\r')) json = json.replace(/\r\n|\r|\n/g, ' ');
  return `event: message\ndata: ${json}\n\n`;
}

export const HEARTBEAT = ': heartbeat\n\n';

export interface SseSessionOptions {
  heartbeatMs: number;
  highWaterBytes: number;
  log: Logger;
  requestId: string;
  /** How payloads are shown (docs/PROTOCOL.md, "Compatibility mode"). */
  style?: JsonStyle;
}

export class SseSession implements SubscriptionHandler {
  subscription: Subscription | undefined;
  /** Messages written to the stream (for the access log). */
  delivered = 0;
  private stream: SSEStreamingApi | undefined;
  private pending = '';
  /** Bytes handed to the stream that it has not yet passed on. */
  private queuedBytes = 0;
  private pausedByUs = false;
  private flushScheduled = false;
  private done = false;
  private heartbeat: NodeJS.Timeout | undefined;
  private finished: (() => void) | undefined;

  constructor(private readonly opts: SseSessionOptions) {}

  // SubscriptionHandler: called by the broker.

  message(msg: Delivery): void {
    this.delivered++;
    this.append(messageEvent(msg, this.opts.style));
  }

  notice(n: ResizeNotice): void {
    this.append(messageEvent(resizeNoticeMessage(n)));
  }

  end(reason: BrokerError | undefined): void {
    this.finish(reason?.message ?? 'subscription ended');
  }

  batchEnd(): void {
    this.flush();
  }

  // Life of the stream.

  /**
   * Body of `streamSSE`: stays pending until the client goes away or the
   * subscription ends (STACK.md, "Hono SSE": the stream ends when it returns).
   */
  run(stream: SSEStreamingApi): Promise<void> {
    this.stream = stream;
    // An opening comment so that the client sees the stream start at once.
    this.pending = `: subscribed\n\n${this.pending}`;
    this.flush();
    return new Promise<void>((resolve) => {
      if (this.done) {
        resolve();
        return;
      }
      this.finished = resolve;
      stream.onAbort(() => this.disconnected());
      if (this.opts.heartbeatMs > 0) {
        this.heartbeat = setInterval(() => this.beat(), this.opts.heartbeatMs);
        this.heartbeat.unref();
      }
    });
  }

  /** The server is closing: tell the client and end the stream. */
  shutdown(): void {
    this.finish('server shutting down');
  }

  private disconnected(): void {
    if (this.done) return;
    this.done = true;
    this.release();
    this.opts.log.debug({ requestId: this.opts.requestId, delivered: this.delivered }, 'sse client disconnected');
    this.finished?.();
  }

  /** Ends the stream from our side, after what is already written. */
  private finish(reason: string): void {
    if (this.done) return;
    this.done = true;
    this.release();
    this.pending += `event: end\ndata: ${JSON.stringify({ success: false, message: reason })}\n\n`;
    this.flush();
    this.opts.log.debug({ requestId: this.opts.requestId, delivered: this.delivered, reason }, 'sse stream ended');
    this.finished?.();
  }

  private release(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    // Its in-flight messages now follow the ack rules (docs/PROTOCOL.md "HTTP (REST + SSE)").
    this.subscription?.close();
  }

  private beat(): void {
    // A congested stream has data on its way already; no need to add to it.
    if (this.done || this.queuedBytes > 0) return;
    this.append(HEARTBEAT);
  }

  private append(text: string): void {
    if (this.done) return;
    this.pending += text;
    if (this.pending.length >= FLUSH_CHARS) this.flush();
    else if (!this.flushScheduled) {
      // Flushed by batchEnd() after a run, or at the latest by this microtask.
      this.flushScheduled = true;
      queueMicrotask(this.flushTask);
    }
    if (!this.pausedByUs && this.queuedBytes + this.pending.length > this.opts.highWaterBytes) {
      this.pausedByUs = true;
      this.subscription?.pause();
    }
  }

  private readonly flushTask = (): void => {
    this.flushScheduled = false;
    this.flush();
  };

  private flush(): void {
    const stream = this.stream;
    if (stream === undefined || this.pending === '' || stream.aborted) return;
    const chunk = encoder.encode(this.pending);
    this.pending = '';
    this.queuedBytes += chunk.byteLength;
    // StreamingApi.write settles once the chunk has moved on towards the socket.
    void stream.write(chunk).then(() => this.written(chunk.byteLength));
  }

  private written(bytes: number): void {
    this.queuedBytes -= bytes;
    if (this.pausedByUs && this.queuedBytes + this.pending.length <= this.opts.highWaterBytes / 2) {
      this.pausedByUs = false;
      if (!this.done) this.subscription?.resume();
    }
  }
}
