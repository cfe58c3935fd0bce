/**
 * A real HTTP front on port 0 over an in-memory broker, and raw request
 * helpers that show exactly what goes over the wire.
 */
import { connect, type Socket } from 'node:net';
import { request as httpRequest } from 'node:http';
import { pino } from 'pino';
import { expect } from 'vitest';
import { ClientError } from '../../src/client/types.js';
import { Broker, type BrokerOptions } from '../../src/broker/broker.js';
import { type HttpFrontHandle, startHttpServer } from '../../src/server/http/index.js';

export interface Harness {
  broker: Broker;
  front: HttpFrontHandle;
  base: string;
  port: number;
  stop(): Promise<void>;
}

export interface HarnessOptions {
  broker?: BrokerOptions;
  maxBodyBytes?: number;
  sseHeartbeatMs?: number;
  sseMaxInflight?: number;
  maxConnections?: number;
}

export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const broker = new Broker(opts.broker);
  const front = await startHttpServer(broker, {
    host: '127.0.0.1',
    port: 0,
    maxBodyBytes: opts.maxBodyBytes ?? 1024 * 1024,
    sseHeartbeatMs: opts.sseHeartbeatMs ?? 15_000,
    sseMaxInflight: opts.sseMaxInflight ?? 100,
    maxConnections: opts.maxConnections,
    logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
  });
  let stopped = false;
  return {
    broker,
    front,
    port: front.port,
    base: `http://127.0.0.1:${front.port}`,
    async stop() {
      if (stopped) return;
      stopped = true;
      await front.close();
      await broker.close();
    },
  };
}

export interface JsonReply {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

/** One request with fetch; `body` is sent as given (a string is not re-encoded). */
export async function req(base: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<JsonReply> {
  const init: RequestInit = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
  }
  const res = await fetch(base + path, init);
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** A request through node:http with a body written in chunks (no Content-Length: chunked). */
export function chunkedRequest(port: number, path: string, chunks: Buffer[]): Promise<{ status: number; text: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const r = httpRequest({ host: '127.0.0.1', port, path, method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text, headers: res.headers }));
      res.on('error', reject);
    });
    // The server may answer and close before the whole body is sent.
    r.on('error', reject);
    let i = 0;
    const next = (): void => {
      if (i >= chunks.length) {
        r.end();
        return;
      }
      const ok = r.write(chunks[i++]!);
      if (ok) setImmediate(next);
      else r.once('drain', next);
    };
    next();
  });
}

/** A raw TCP connection that collects everything the server sends. */
export class RawConnection {
  readonly socket: Socket;
  private chunks: Buffer[] = [];
  private waiters: (() => void)[] = [];
  closed = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => {
      this.chunks.push(d);
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  static open(port: number): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => resolve(new RawConnection(s)));
      s.once('error', reject);
    });
  }

  get raw(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0] ?? Buffer.alloc(0);
  }

  get text(): string {
    return this.raw.toString('utf8');
  }

  /** The response so far: head, and body with any chunked framing removed. */
  get response(): HttpResponseText {
    return parseHttpResponse(this.raw);
  }

  send(text: string): void {
    this.socket.write(text);
  }

  /** Waits until the received text satisfies `test` (or the time limit). */
  async until(test: (text: string) => boolean, timeoutMs = 5_000): Promise<string> {
    return this.untilResponse((r) => test(r.all), timeoutMs).then((r) => r.all);
  }

  /** Waits until the parsed response satisfies `test`. */
  async untilResponse(test: (r: HttpResponseText) => boolean, timeoutMs = 5_000): Promise<HttpResponseText> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = this.response;
      if (test(r)) return r;
      if (this.closed) throw new Error(`connection closed; received: ${r.all.slice(0, 500)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out; received: ${r.all.slice(-500)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  destroy(): void {
    this.socket.destroy();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}

export interface HttpResponseText {
  /** Everything received, as text. */
  all: string;
  /** Status line and headers (empty until complete). */
  head: string;
  /** The body, chunked framing removed. */
  body: string;
  /** The terminating zero-size chunk was received. */
  ended: boolean;
}

export function parseHttpResponse(raw: Buffer): HttpResponseText {
  const all = raw.toString('utf8');
  const sep = raw.indexOf('\r\n\r\n');
  if (sep < 0) return { all, head: '', body: '', ended: false };
  const head = raw.subarray(0, sep).toString('latin1');
  if (!/^transfer-encoding: chunked$/im.test(head)) return { all, head, body: raw.subarray(sep + 4).toString('utf8'), ended: false };
  const parts: Buffer[] = [];
  let pos = sep + 4;
  let ended = false;
  for (;;) {
    const eol = raw.indexOf('\r\n', pos);
    if (eol < 0) break;
    const size = parseInt(raw.subarray(pos, eol).toString('latin1'), 16);
    if (size === 0) {
      ended = true;
      break;
    }
    if (eol + 2 + size + 2 > raw.length) break;
    parts.push(raw.subarray(eol + 2, eol + 2 + size));
    pos = eol + 2 + size + 2;
  }
  return { all, head, body: Buffer.concat(parts).toString('utf8'), ended };
}

/** Opens a raw SSE request; resolves once the response head has arrived. */
export async function rawSubscribe(port: number, path: string, headers = ''): Promise<RawConnection> {
  const conn = await RawConnection.open(port);
  conn.send(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n${headers}\r\n`);
  await conn.untilResponse((r) => r.head !== '');
  return conn;
}

/** Polls `cond` until true (for state that changes on the server side). */
export async function eventually(cond: () => boolean | Promise<boolean>, timeoutMs = 5_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The `data:` JSON of each `event: message` in raw SSE text. */
export function sseMessages(text: string): any[] {
  const out: any[] = [];
  const re = /event: message\ndata: (.*)\n\n/g;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) out.push(JSON.parse(m[1]!));
  return out;
}

/** The ClientError a client call rejects with (fails the test if it resolves or throws something else). */
export async function rejection(p: Promise<unknown>): Promise<ClientError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ClientError);
  return err as ClientError;
}
