/**
 * Raw-socket helpers for the TCP front tests. Frames are built and parsed
 * here by hand and protobuf bodies with the generated protobuf-es code, so
 * the tests do not lean on the server's own codecs.
 */
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { type Socket, connect } from 'node:net';
import pino from 'pino';
import { Broker, type Limits } from '../../src/broker/broker.js';
import type { ConnectionLimits, FrontHandle } from '../../src/server/front.js';
import { startTcpServer } from '../../src/server/tcp/index.js';
import {
  type TCPCommand,
  TCPCommandSchema,
  type TCPResponse,
  TCPResponseSchema,
} from '../../gen/mqlite/v1/mqlite_pb.js';
import type { MessageInitShape } from '@bufbuild/protobuf';

export const silent = pino({ level: 'silent' });

export interface Harness {
  broker: Broker;
  server: FrontHandle;
  port: number;
  close(): Promise<void>;
}

export async function startHarness(
  opts: { maxFrameBytes?: number; ackTimeoutMs?: number; drainTimeoutMs?: number; limits?: Partial<Limits> } & ConnectionLimits = {},
): Promise<Harness> {
  const broker = new Broker({ ackTimeoutMs: opts.ackTimeoutMs, drainTimeoutMs: opts.drainTimeoutMs, limits: opts.limits, logger: silent });
  const server = await startTcpServer(broker, {
    host: '127.0.0.1',
    port: 0,
    maxFrameBytes: opts.maxFrameBytes ?? 1024 * 1024,
    maxConnections: opts.maxConnections,
    maxSubscriptionsPerConnection: opts.maxSubscriptionsPerConnection,
    logger: silent,
  });
  return {
    broker,
    server,
    port: server.port,
    async close() {
      await server.close();
      await broker.close();
    },
  };
}

export function frame(encoding: number, body: Uint8Array | string): Buffer {
  const b = typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.from(body);
  const h = Buffer.alloc(5);
  h.writeUInt32BE(b.length + 1, 0);
  h[4] = encoding;
  return Buffer.concat([h, b]);
}

export function jsonFrame(cmd: unknown): Buffer {
  return frame(0, JSON.stringify(cmd));
}

export function pbFrame(cmd: MessageInitShape<typeof TCPCommandSchema>): Buffer {
  return frame(1, toBinary(TCPCommandSchema, create(TCPCommandSchema, cmd)));
}

/** The `error` of a protobuf TCPResponse body (status must be "error"). */
export function decodePbError(body: Uint8Array): string {
  const r = fromBinary(TCPResponseSchema, body);
  if (r.status !== 'error') throw new Error(`expected an error reply, got status ${JSON.stringify(r.status)}`);
  return r.error;
}

export interface RawFrame {
  encoding: number;
  body: Buffer;
}

/** A raw socket that collects whole frames. */
export class RawClient {
  private buf = Buffer.alloc(0);
  private frames: RawFrame[] = [];
  private waiters: (() => void)[] = [];
  ended = false;
  readonly closed: Promise<void>;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buf = Buffer.concat([this.buf, chunk]);
      while (this.buf.length >= 5) {
        const len = this.buf.readUInt32BE(0);
        if (this.buf.length < 4 + len) break;
        this.frames.push({ encoding: this.buf[4]!, body: this.buf.subarray(5, 4 + len) });
        this.buf = this.buf.subarray(4 + len);
      }
      this.wake();
    });
    socket.on('error', () => {});
    this.closed = new Promise((resolve) =>
      socket.on('close', () => {
        this.ended = true;
        this.wake();
        resolve();
      }),
    );
  }

  static open(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port }, () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  write(data: Buffer | Uint8Array): void {
    this.socket.write(data);
  }

  get received(): number {
    return this.frames.length;
  }

  /** The next frame; rejects when the connection ends first or after `ms`. */
  async next(ms = 5000): Promise<RawFrame> {
    const deadline = Date.now() + ms;
    while (this.frames.length === 0) {
      if (this.ended) throw new Error('connection closed before a frame arrived');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no frame within ${ms} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.frames.shift()!;
  }

  async json(ms?: number): Promise<{ status: string; data?: any; error?: string; request_id?: string; [k: string]: any }> {
    const f = await this.next(ms);
    if (f.encoding !== 0) throw new Error(`expected a JSON frame, got encoding ${f.encoding}`);
    return JSON.parse(f.body.toString('utf8'));
  }

  async pb(ms?: number): Promise<TCPResponse> {
    const f = await this.next(ms);
    if (f.encoding !== 1) throw new Error(`expected a protobuf frame, got encoding ${f.encoding}: ${f.body.toString()}`);
    return fromBinary(TCPResponseSchema, f.body);
  }

  /** Sends a JSON command and returns its reply. */
  async jsonCall(cmd: unknown): Promise<Awaited<ReturnType<RawClient['json']>>> {
    this.write(jsonFrame(cmd));
    return this.json();
  }

  async pbCall(cmd: MessageInitShape<typeof TCPCommandSchema>): Promise<TCPResponse> {
    this.write(pbFrame(cmd));
    return this.pb();
  }

  /** Resolves when the server closed the connection. */
  async waitClosed(ms = 5000): Promise<void> {
    let t: NodeJS.Timeout | undefined;
    await Promise.race([
      this.closed,
      new Promise((_, reject) => {
        t = setTimeout(() => reject(new Error(`connection still open after ${ms} ms`)), ms);
      }),
    ]);
    clearTimeout(t);
  }

  close(): void {
    this.socket.destroy();
  }
}

export type { TCPCommand };

/** Polls `probe` until it returns a value: it only waits, it asserts no timing. */
export async function until<T>(probe: () => Promise<T | undefined>, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
