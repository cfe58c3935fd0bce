/**
 * How the HttpClient moves bytes:
 *
 * - `http` (the default): `node:http` with a keep-alive Agent.
 * - `fetch`: undici under Node, keep-alive by default.
 * - `raw`: a lean HTTP/1.1 keep-alive client over `node:net` for the unary
 *   calls (streams still go through node:http), made for load generation.
 *
 * An `https:` base URL uses node:https / node:tls with the client's TLS
 * options (CA, client certificate); fetch takes none of them (Node's fetch
 * has no per-call CA), so it only reaches brokers the system trusts.
 *
 * Why not only fetch: measured here with 32 concurrent publishers on a
 * loaded 2-core machine, one publish cost the client about 1.3 ms of CPU
 * with fetch, 0.13-0.2 ms with node:http and 0.04-0.06 ms with `raw`,
 * against about 0.1 ms for the server to serve it. A load generator that
 * shares the two cores with the server then mostly measures itself.
 * node:http (and raw) also let close() release their sockets at once, so a
 * CLI exits without waiting for idle keep-alive connections to time out.
 */
import { Agent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { ClientTlsOptions } from '../types.js';

export interface TransportReply {
  status: number;
  text: string;
}

export interface TransportStream {
  status: number;
  /** Body chunks; ends when the server ends the response. */
  body: AsyncIterable<Uint8Array>;
  /** Drops the connection. */
  cancel(): void;
}

export interface Transport {
  request(method: string, url: string, body: string | undefined, timeoutMs: number): Promise<TransportReply>;
  /** A long response (SSE): resolves with the status once the head arrived. */
  stream(url: string, headers: Record<string, string>): Promise<TransportStream>;
  close(): void;
}

/** Headers every request of a transport carries (e.g. `x-api-key`). */
export type ExtraHeaders = Readonly<Record<string, string>>;

export class FetchTransport implements Transport {
  constructor(
    private readonly extra: ExtraHeaders = {},
    tls?: ClientTlsOptions,
  ) {
    if (tls?.ca !== undefined || tls?.cert !== undefined || tls?.key !== undefined) {
      throw new Error('the fetch transport cannot use a CA or client certificate (Node\'s fetch takes none): use the http or raw transport');
    }
  }

  async request(method: string, url: string, body: string | undefined, timeoutMs: number): Promise<TransportReply> {
    const res = await fetch(url, {
      method,
      headers: body === undefined ? this.extra : { ...this.extra, 'content-type': 'application/json' },
      body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    return { status: res.status, text: await res.text() };
  }

  async stream(url: string, headers: Record<string, string>): Promise<TransportStream> {
    const abort = new AbortController();
    const res = await fetch(url, { headers: { ...this.extra, ...headers }, signal: abort.signal });
    const body = res.body ?? new ReadableStream<Uint8Array>({ start: (c) => c.close() });
    return { status: res.status, body, cancel: () => abort.abort() };
  }

  close(): void {
    // fetch's connection pool is global: nothing of ours to release.
  }
}

export class NodeHttpTransport implements Transport {
  private readonly agent: Agent;
  private readonly secure: boolean;

  constructor(
    baseUrl: string,
    private readonly extra: ExtraHeaders = {},
    private readonly tls: ClientTlsOptions = {},
  ) {
    this.secure = baseUrl.startsWith('https:');
    this.agent = this.secure ? new HttpsAgent({ keepAlive: true, ...tls }) : new Agent({ keepAlive: true });
  }

  request(method: string, url: string, body: string | undefined, timeoutMs: number): Promise<TransportReply> {
    return new Promise<TransportReply>((resolve, reject) => {
      const headers: Record<string, string | number> = { ...this.extra };
      if (body !== undefined) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = Buffer.byteLength(body);
      }
      const req = (this.secure ? httpsRequest : httpRequest)(url, { method, headers, agent: this.agent }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        res.on('error', reject);
      });
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`no reply within ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  stream(url: string, headers: Record<string, string>): Promise<TransportStream> {
    return new Promise<TransportStream>((resolve, reject) => {
      // Its own connection, never returned to the pool.
      const req = (this.secure ? httpsRequest : httpRequest)(url, { headers: { ...this.extra, ...headers }, agent: false, ...(this.secure ? this.tls : {}) }, (res: IncomingMessage) => {
        resolve({ status: res.statusCode ?? 0, body: res, cancel: () => req.destroy() });
      });
      req.on('error', reject);
      req.end();
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/**
 * Idle connections older than this are dropped rather than reused: the
 * server closes idle keep-alive connections after 5 s (Node's default), and
 * a request written as it does so would fail.
 */
const RAW_IDLE_MS = 4_000;

/** One keep-alive connection of RawHttpTransport: one request at a time. */
class RawConnection {
  lastUsed = 0;
  private closed = false;
  private chunks: Buffer[] = [];
  private size = 0;
  private pending: { resolve: (r: TransportReply) => void; reject: (e: Error) => void } | undefined;
  /** Whether the last reply allows another request on this connection. */
  reusable = true;

  private constructor(private readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('error', (err) => this.fail(err));
    socket.on('close', () => {
      this.closed = true;
      this.fail(new Error('connection closed before the reply was complete'));
    });
  }

  /** `tls`: an https connection (verified before the first request). */
  static open(host: string, port: number, tls: ClientTlsOptions | undefined): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = tls ? tlsConnect({ host, port, ...tls }) : connect(port, host);
      socket.once(tls ? 'secureConnect' : 'connect', () => {
        socket.off('error', reject);
        resolve(new RawConnection(socket));
      });
      socket.once('error', reject);
    });
  }

  get usable(): boolean {
    return !this.closed && this.reusable;
  }

  exchange(request: string, timeoutMs: number): Promise<TransportReply> {
    return new Promise<TransportReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(new Error(`no reply within ${timeoutMs} ms`));
        this.destroy();
      }, timeoutMs);
      this.pending = {
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.chunks = [];
      this.size = 0;
      this.socket.write(request);
    });
  }

  destroy(): void {
    this.closed = true;
    this.socket.destroy();
  }

  private fail(err: Error): void {
    const p = this.pending;
    this.pending = undefined;
    p?.reject(err);
  }

  private onData(d: Buffer): void {
    if (this.pending === undefined) {
      // Bytes nobody asked for: the connection is out of step.
      this.destroy();
      return;
    }
    this.chunks.push(d);
    this.size += d.length;
    const buf = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.size);
    this.chunks = [buf];
    const reply = parseReply(buf);
    if (reply === undefined) return;
    if (reply === 'bad') {
      this.fail(new Error(`malformed HTTP reply: ${JSON.stringify(buf.toString('latin1', 0, 200))}`));
      this.destroy();
      return;
    }
    this.reusable = reply.keepAlive && reply.consumed === buf.length;
    const p = this.pending;
    this.pending = undefined;
    p.resolve({ status: reply.status, text: reply.text });
  }
}

interface ParsedReply {
  status: number;
  text: string;
  keepAlive: boolean;
  /** Bytes of the buffer that this reply took. */
  consumed: number;
}

/** A complete HTTP/1.1 reply at the start of `buf`; undefined while incomplete. */
function parseReply(buf: Buffer): ParsedReply | 'bad' | undefined {
  let start = 0;
  for (;;) {
    const headEnd = buf.indexOf('\r\n\r\n', start);
    if (headEnd < 0) return undefined;
    const head = buf.toString('latin1', start, headEnd);
    const status = Number(head.slice(9, 12));
    if (!head.startsWith('HTTP/1.') || !Number.isInteger(status)) return 'bad';
    // An interim reply (100 Continue) has no body: the real one follows.
    if (status >= 100 && status < 200) {
      start = headEnd + 4;
      continue;
    }
    let length = -1;
    let chunked = false;
    let keepAlive = head.startsWith('HTTP/1.1');
    for (const line of head.split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon < 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim().toLowerCase();
      if (name === 'content-length') length = Number(value);
      else if (name === 'transfer-encoding') chunked = value.includes('chunked');
      else if (name === 'connection') keepAlive = value.includes('keep-alive') || (keepAlive && !value.includes('close'));
    }
    const bodyStart = headEnd + 4;
    if (chunked) {
      const parts: Buffer[] = [];
      let pos = bodyStart;
      for (;;) {
        const eol = buf.indexOf('\r\n', pos);
        if (eol < 0) return undefined;
        const size = parseInt(buf.toString('latin1', pos, eol), 16);
        if (!Number.isInteger(size) || size < 0) return 'bad';
        if (size === 0) {
          // No trailers from our server: the last chunk ends with one more CRLF.
          if (buf.length < eol + 4) return undefined;
          return { status, text: Buffer.concat(parts).toString('utf8'), keepAlive, consumed: eol + 4 };
        }
        if (buf.length < eol + 2 + size + 2) return undefined;
        parts.push(buf.subarray(eol + 2, eol + 2 + size));
        pos = eol + 2 + size + 2;
      }
    }
    if (length < 0) return 'bad'; // replies without a length (read to close) are not supported
    if (buf.length < bodyStart + length) return undefined;
    return { status, text: buf.toString('utf8', bodyStart, bodyStart + length), keepAlive, consumed: bodyStart + length };
  }
}

export class RawHttpTransport implements Transport {
  private readonly host: string;
  private readonly port: number;
  private readonly origin: string;
  private readonly idle: RawConnection[] = [];
  private readonly streams: NodeHttpTransport;
  /** The extra headers as request-head lines, built once. */
  private readonly extraLines: string;

  private readonly tls: ClientTlsOptions | undefined;

  constructor(baseUrl: string, extra: ExtraHeaders = {}, tls?: ClientTlsOptions) {
    const url = new URL(baseUrl);
    this.extraLines = Object.entries(extra)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('');
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`the raw transport speaks http and https only, not ${url.protocol}`);
    const secure = url.protocol === 'https:';
    this.host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    this.port = Number(url.port || (secure ? 443 : 80));
    this.origin = url.origin;
    this.tls = secure ? (tls ?? {}) : undefined;
    this.streams = new NodeHttpTransport(baseUrl, extra, tls);
  }

  async request(method: string, url: string, body: string | undefined, timeoutMs: number): Promise<TransportReply> {
    const path = url.startsWith(this.origin) ? url.slice(this.origin.length) || '/' : url;
    let text = `${method} ${path} HTTP/1.1\r\nHost: ${this.host}:${this.port}\r\n${this.extraLines}`;
    if (body !== undefined) text += `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`;
    text += '\r\n';
    if (body !== undefined) text += body;
    const conn = await this.connection();
    try {
      const reply = await conn.exchange(text, timeoutMs);
      if (conn.usable) {
        conn.lastUsed = performance.now();
        this.idle.push(conn);
      } else conn.destroy();
      return reply;
    } catch (err) {
      conn.destroy();
      throw err;
    }
  }

  stream(url: string, headers: Record<string, string>): Promise<TransportStream> {
    return this.streams.stream(url, headers);
  }

  close(): void {
    for (const c of this.idle.splice(0)) c.destroy();
    this.streams.close();
  }

  private async connection(): Promise<RawConnection> {
    const now = performance.now();
    for (let conn = this.idle.pop(); conn !== undefined; conn = this.idle.pop()) {
      if (conn.usable && now - conn.lastUsed < RAW_IDLE_MS) return conn;
      conn.destroy();
    }
    return RawConnection.open(this.host, this.port, this.tls);
  }
}
