/**
 * gRPC over one HTTP/2 connection (h2c, prior knowledge), straight on
 * node:http2: unary calls, server streams and bidirectional streams, as the gRPC HTTP/2 protocol
 * frames them (5-byte prefix: compressed flag, uint32 length; status in the
 * trailers, or in the headers of a trailers-only response).
 *
 * Why not the grpc-js client: per call it costs several times the CPU of a
 * bare HTTP/2 request (resolver, load balancer, retry and interceptor
 * layers), which made the client, not the broker, the ceiling of every
 * benchmark. This client needs none of those layers: one address, no
 * retries. With TLS options the connection is `https:` (h2 over TLS, ALPN),
 * verified against the given CA and carrying the client certificate if any.
 */
import http2, { type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders } from 'node:http2';
import type { ClientTlsOptions } from '../types.js';

/** The end of a call: gRPC status code, message, and the trailers that carried them. */
export interface CallStatus {
  code: number;
  details: string;
  trailers: IncomingHttpHeaders;
}

/** gRPC status codes this file produces itself. */
export const Code = { OK: 0, CANCELLED: 1, UNKNOWN: 2, DEADLINE_EXCEEDED: 4, INTERNAL: 13, UNAVAILABLE: 14 } as const;

const EMPTY = Buffer.alloc(0);

/** Splits a byte stream into gRPC messages. */
class MessageReader {
  private pending: Buffer = EMPTY;

  /** The complete messages in `chunk` and what came before it; views, not copies. */
  push(chunk: Buffer): Buffer[] {
    let buf = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const out: Buffer[] = [];
    while (buf.length >= 5) {
      const length = buf.readUInt32BE(1);
      if (buf.length < 5 + length) break;
      if (buf[0] !== 0) throw new Error('compressed message, but no compression was offered');
      out.push(buf.subarray(5, 5 + length));
      buf = buf.subarray(5 + length);
    }
    this.pending = buf;
    return out;
  }

  get partial(): boolean {
    return this.pending.length > 0;
  }
}

/** The gRPC message prefix: a compressed flag and a uint32 length. */
export const MESSAGE_PREFIX_BYTES = 5;

/** Writes the prefix of an uncompressed message of `length` bytes at the start of `buf`. */
export function writeMessagePrefix(buf: Buffer, length: number): void {
  buf[0] = 0;
  buf.writeUInt32BE(length, 1);
}

function frame(message: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + message.length);
  out[0] = 0;
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

function decodeDetails(raw: unknown): string {
  if (typeof raw !== 'string') return '';
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/** The status of a finished stream: trailers, else a trailers-only response's headers. */
function statusOf(headers: IncomingHttpHeaders | undefined, trailers: IncomingHttpHeaders | undefined): CallStatus {
  const source = trailers?.['grpc-status'] !== undefined ? trailers : headers;
  if (source?.['grpc-status'] === undefined) {
    const http = headers?.[':status'];
    return {
      code: http === undefined ? Code.UNAVAILABLE : Code.UNKNOWN,
      details: http === undefined ? 'connection closed before the response' : `HTTP ${http} without a gRPC status`,
      trailers: {},
    };
  }
  return { code: Number(source['grpc-status']), details: decodeDetails(source['grpc-message']), trailers: source };
}

export interface CallHandlers {
  /** The response headers arrived: the server accepted the call. */
  onHeaders(): void;
  onMessage(bytes: Buffer): void;
  /** Called once, last. */
  onEnd(status: CallStatus): void;
}

export interface OpenCall {
  /** Ends the call now; `onEnd` gets `status` (first one wins). */
  abort(status: CallStatus): void;
  cancel(): void;
}

/** A call whose request side stays open: many request messages (`write`), then `end`. */
export interface OpenBidiCall extends OpenCall {
  /** Writes one message; false when HTTP/2's buffer is full: wait for `onDrain`. */
  write(message: Uint8Array): boolean;
  /** `write` for a message already behind its 5-byte gRPC prefix (see `MESSAGE_PREFIX_BYTES`): no copy. */
  writeFramed(framed: Buffer): boolean;
  /** Half-closes: no more requests; the responses go on until the status. */
  end(): void;
}

export interface BidiHandlers extends CallHandlers {
  /** What `write` returned false for has left. */
  onDrain(): void;
}

const failed = (code: number, details: string): CallStatus => ({ code, details, trailers: {} });

/**
 * The HTTP/2 flow-control window this client grants the broker, per stream
 * and for the connection, for what it receives: HTTP/2's default, 64 KiB,
 * held a Subscribe stream to that much unread between the client's window
 * updates. The broker grants clients the same (docs/PROTOCOL.md, "gRPC").
 */
const RECEIVE_WINDOW = 1 << 20;

export class GrpcTransport {
  private session: ClientHttp2Session | undefined;
  /** Open calls, to cancel them on close(). */
  private readonly calls = new Set<OpenCall>();
  private closed = false;

  /** `authority`: `http://host:port`, or `https://host:port` with `tls`; `metadata`: sent with every call (e.g. `x-api-key`). */
  constructor(
    private readonly authority: string,
    private readonly metadata: Readonly<Record<string, string>> = {},
    private readonly tls?: ClientTlsOptions,
  ) {}

  /** The live connection, or a new one: a closed or failed session is replaced on the next call. */
  private connection(): ClientHttp2Session {
    if (this.closed) throw new Error('client is closed');
    const current = this.session;
    if (current && !current.closed && !current.destroyed) return current;
    const session = http2.connect(this.authority, { ...this.tls, settings: { initialWindowSize: RECEIVE_WINDOW } });
    session.once('connect', () => session.setLocalWindowSize(RECEIVE_WINDOW));
    const forget = (): void => {
      if (this.session === session) this.session = undefined;
    };
    // Each stream reports the failure to its own caller; the session is dropped.
    session.on('error', forget);
    session.on('goaway', forget);
    session.on('close', forget);
    this.session = session;
    return session;
  }

  /** One request, any number of response messages, then a status. */
  call(path: string, request: Uint8Array, timeoutMs: number | undefined, handlers: CallHandlers): OpenCall {
    const { call, stream } = this.open(path, timeoutMs, handlers);
    stream?.end(frame(request));
    return call;
  }

  /** Any number of requests (`write`, then `end`), any number of responses, then a status. No deadline. */
  bidi(path: string, handlers: BidiHandlers): OpenBidiCall {
    const { call, stream } = this.open(path, undefined, handlers);
    if (stream === undefined) return { ...call, write: () => true, writeFramed: () => true, end() {} };
    stream.on('drain', () => handlers.onDrain());
    // The server ended the call (its status came): a stream closes only once both sides ended.
    stream.on('end', () => {
      if (!stream.writableEnded) stream.end();
    });
    return {
      abort: call.abort,
      cancel: call.cancel,
      write: (message) => stream.write(frame(message)),
      writeFramed: (framed) => stream.write(framed),
      end: () => {
        if (!stream.closed) stream.end();
      },
    };
  }

  private open(path: string, timeoutMs: number | undefined, handlers: CallHandlers): { call: OpenCall; stream: ClientHttp2Stream | undefined } {
    const headers: http2.OutgoingHttpHeaders = {
      ...this.metadata,
      ':method': 'POST',
      ':path': path,
      'content-type': 'application/grpc',
      te: 'trailers',
    };
    if (timeoutMs !== undefined) headers['grpc-timeout'] = `${Math.max(1, Math.ceil(timeoutMs))}m`;
    let stream: ClientHttp2Stream;
    try {
      stream = this.connection().request(headers);
    } catch (err) {
      const status = failed(Code.UNAVAILABLE, (err as Error).message);
      queueMicrotask(() => handlers.onEnd(status));
      return { call: { abort() {}, cancel() {} }, stream: undefined };
    }
    const reader = new MessageReader();
    let responseHeaders: IncomingHttpHeaders | undefined;
    let trailers: IncomingHttpHeaders | undefined;
    let failure: CallStatus | undefined;
    const call: OpenCall = {
      abort(status) {
        failure ??= status;
        if (!stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL);
      },
      cancel: () => call.abort(failed(Code.CANCELLED, 'cancelled by the client')),
    };
    this.calls.add(call);
    stream.on('response', (h) => {
      responseHeaders = h;
      // A trailers-only response (an immediate error) is no acceptance.
      if (h['grpc-status'] === undefined) handlers.onHeaders();
    });
    stream.on('trailers', (t) => (trailers = t));
    stream.on('data', (chunk: Buffer) => {
      let messages: Buffer[];
      try {
        messages = reader.push(chunk);
      } catch (err) {
        call.abort(failed(Code.INTERNAL, (err as Error).message));
        return;
      }
      for (const m of messages) if (!failure) handlers.onMessage(m);
    });
    stream.on('error', (err: Error) => {
      failure ??= failed(Code.UNAVAILABLE, err.message);
    });
    stream.on('close', () => {
      this.calls.delete(call);
      let status = failure ?? statusOf(responseHeaders, trailers);
      if (status.code === Code.OK && reader.partial) status = failed(Code.INTERNAL, 'the stream ended inside a message');
      handlers.onEnd(status);
    });
    return { call, stream };
  }

  /** One request, one response. Rejects only with a CallStatus. */
  unary(path: string, request: Uint8Array, timeoutMs: number | undefined): Promise<Buffer> {
    return new Promise<Buffer>((resolve, reject) => {
      let response: Buffer | undefined;
      let timer: NodeJS.Timeout | undefined;
      const call = this.call(path, request, timeoutMs, {
        onHeaders() {},
        onMessage(bytes) {
          response ??= bytes;
        },
        onEnd(status) {
          if (timer) clearTimeout(timer);
          if (status.code !== Code.OK) reject(status);
          else if (response === undefined) reject(failed(Code.INTERNAL, 'the server sent no response message'));
          else resolve(response);
        },
      });
      // The server enforces grpc-timeout too; this also covers a server that never reads it.
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => call.abort(failed(Code.DEADLINE_EXCEEDED, `no answer within ${timeoutMs} ms`)), timeoutMs);
      }
    });
  }

  /** Cancels open calls and closes the connection. */
  close(): void {
    this.closed = true;
    for (const call of [...this.calls]) call.cancel();
    this.session?.close();
    this.session = undefined;
  }
}
