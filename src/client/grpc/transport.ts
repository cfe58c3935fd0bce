/**
 * gRPC over one HTTP/2 connection (h2c, prior knowledge), straight on
 * node:http2: unary calls and server streams, as the gRPC HTTP/2 protocol
 * frames them (5-byte prefix: compressed flag, uint32 length; status in the
 * trailers, or in the headers of a trailers-only response).
 *
 * Why not the grpc-js client: per call it costs several times the CPU of a
 * bare HTTP/2 request (resolver, load balancer, retry and interceptor
 * layers), which made the client, not the broker, the ceiling of every
 * benchmark. This client needs none of those layers: one address, no TLS,
 * no retries.
 */
import http2, { type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders } from 'node:http2';

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

export interface ServerStreamHandlers {
  /** The response headers arrived: the server accepted the call. */
  onHeaders(): void;
  onMessage(bytes: Buffer): void;
  /** Called once, last. */
  onEnd(status: CallStatus): void;
}

export interface ServerStreamCall {
  cancel(): void;
}

export class GrpcTransport {
  private session: ClientHttp2Session | undefined;
  /** Open calls, to cancel them on close(). */
  private readonly calls = new Set<ServerStreamCall>();
  private closed = false;

  constructor(private readonly authority: string) {}

  /** The live connection, or a new one: a closed or failed session is replaced on the next call. */
  private connection(): ClientHttp2Session {
    if (this.closed) throw new Error('client is closed');
    const current = this.session;
    if (current && !current.closed && !current.destroyed) return current;
    const session = http2.connect(this.authority);
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

  /** Tracks `call` while `stream` is open. */
  private track(stream: ClientHttp2Stream, call: ServerStreamCall): void {
    this.calls.add(call);
    stream.once('close', () => this.calls.delete(call));
  }

  private open(path: string, timeoutMs: number | undefined): ClientHttp2Stream {
    const headers: http2.OutgoingHttpHeaders = {
      ':method': 'POST',
      ':path': path,
      'content-type': 'application/grpc',
      te: 'trailers',
    };
    if (timeoutMs !== undefined) headers['grpc-timeout'] = `${Math.max(1, Math.ceil(timeoutMs))}m`;
    return this.connection().request(headers);
  }

  /** One request, one response. Rejects only with a CallStatus. */
  unary(path: string, request: Uint8Array, timeoutMs: number | undefined): Promise<Buffer> {
    return new Promise<Buffer>((resolve, reject) => {
      let stream: ClientHttp2Stream;
      try {
        stream = this.open(path, timeoutMs);
      } catch (err) {
        reject({ code: Code.UNAVAILABLE, details: (err as Error).message, trailers: {} } satisfies CallStatus);
        return;
      }
      const reader = new MessageReader();
      let response: Buffer | undefined;
      let headers: IncomingHttpHeaders | undefined;
      let trailers: IncomingHttpHeaders | undefined;
      let failure: CallStatus | undefined;
      const abort = (status: CallStatus): void => {
        failure ??= status;
        if (!stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL);
      };
      this.track(stream, { cancel: () => abort({ code: Code.CANCELLED, details: 'client closed', trailers: {} }) });
      const timer =
        timeoutMs === undefined
          ? undefined
          : setTimeout(() => abort({ code: Code.DEADLINE_EXCEEDED, details: `no answer within ${timeoutMs} ms`, trailers: {} }), timeoutMs);
      stream.on('response', (h) => (headers = h));
      stream.on('trailers', (t) => (trailers = t));
      stream.on('data', (chunk: Buffer) => {
        try {
          for (const m of reader.push(chunk)) response ??= m;
        } catch (err) {
          abort({ code: Code.INTERNAL, details: (err as Error).message, trailers: {} });
        }
      });
      stream.on('error', (err: Error) => {
        failure ??= { code: Code.UNAVAILABLE, details: err.message, trailers: {} };
      });
      stream.on('close', () => {
        if (timer) clearTimeout(timer);
        const status = failure ?? statusOf(headers, trailers);
        if (status.code !== Code.OK) return reject(status);
        if (response === undefined || reader.partial) {
          return reject({ code: Code.INTERNAL, details: 'the server sent no complete response message', trailers: {} } satisfies CallStatus);
        }
        resolve(response);
      });
      stream.end(frame(request));
    });
  }

  /** One request, a stream of responses. */
  serverStream(path: string, request: Uint8Array, handlers: ServerStreamHandlers): ServerStreamCall {
    let stream: ClientHttp2Stream;
    try {
      stream = this.open(path, undefined);
    } catch (err) {
      const failed = { code: Code.UNAVAILABLE, details: (err as Error).message, trailers: {} };
      queueMicrotask(() => handlers.onEnd(failed));
      return { cancel() {} };
    }
    const reader = new MessageReader();
    let headers: IncomingHttpHeaders | undefined;
    let trailers: IncomingHttpHeaders | undefined;
    let failure: CallStatus | undefined;
    const abort = (status: CallStatus): void => {
      failure ??= status;
      if (!stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL);
    };
    const call: ServerStreamCall = { cancel: () => abort({ code: Code.CANCELLED, details: 'cancelled by the client', trailers: {} }) };
    this.track(stream, call);
    stream.on('response', (h) => {
      headers = h;
      // A trailers-only response (an immediate error) is no acceptance.
      if (h['grpc-status'] === undefined) handlers.onHeaders();
    });
    stream.on('trailers', (t) => (trailers = t));
    stream.on('data', (chunk: Buffer) => {
      let messages: Buffer[];
      try {
        messages = reader.push(chunk);
      } catch (err) {
        abort({ code: Code.INTERNAL, details: (err as Error).message, trailers: {} });
        return;
      }
      for (const m of messages) if (!failure) handlers.onMessage(m);
    });
    stream.on('error', (err: Error) => {
      failure ??= { code: Code.UNAVAILABLE, details: err.message, trailers: {} };
    });
    stream.on('close', () => handlers.onEnd(failure ?? statusOf(headers, trailers)));
    stream.end(frame(request));
    return call;
  }

  /** Cancels open calls and closes the connection. */
  close(): void {
    this.closed = true;
    for (const call of [...this.calls]) call.cancel();
    this.session?.close();
    this.session = undefined;
  }
}
