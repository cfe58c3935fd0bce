/**
 * A real HTTP front on port 0 over an in-memory broker, and raw request
 * helpers that show exactly what goes over the wire.
 */
import { connect, type Socket } from 'node:net';
import { request as httpRequest } from 'node:http';
import { pino } from 'pino';
import { Broker, type BrokerOptions } from '../../src/broker/broker.js';
import { startHttpServer } from '../../src/server/http/index.js';
import type { FrontHandle } from '../../src/server/front.js';

export interface Harness {
  broker: Broker;
  front: FrontHandle;
  base: string;
  port: number;
  stop(): Promise<void>;
}

export interface HarnessOptions {
  broker?: BrokerOptions;
  maxBodyBytes?: number;
  sseHeartbeatMs?: number;
  sseMaxInflight?: number;
}

export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const broker = new Broker(opts.broker);
  const front = await startHttpServer(broker, {
    host: '127.0.0.1',
    port: 0,
    maxBodyBytes: opts.maxBodyBytes ?? 1024 * 1024,
    sseHeartbeatMs: opts.sseHeartbeatMs ?? 15_000,
    sseMaxInflight: opts.sseMaxInflight ?? 100,
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
  private data = '';
  private waiters: (() => void)[] = [];
  closed = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      this.data += d;
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

  get text(): string {
    return this.data;
  }

  send(text: string): void {
    this.socket.write(text);
  }

  /** Waits until the received text satisfies `test` (or the time limit). */
  async until(test: (text: string) => boolean, timeoutMs = 5_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (!test(this.data)) {
      if (this.closed) throw new Error(`connection closed; received: ${this.data.slice(0, 500)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out; received: ${this.data.slice(-500)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.data;
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
