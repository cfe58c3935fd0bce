/**
 * A broker with the gRPC front on a real port (port 0), and an independent
 * client that shares none of our generated code: @grpc/proto-loader loading
 * proto/mqlite/v1/mqlite.proto with @grpc/grpc-js.
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Broker, type BrokerOptions } from '../../src/broker/broker.js';
import { MemoryStore } from '../../src/aof/memory-store.js';
import { startGrpcServer } from '../../src/server/grpc/index.js';
import type { ConnectionLimits, FrontHandle } from '../../src/server/front.js';

export const PROTO = join(import.meta.dirname, '../../proto/mqlite/v1/mqlite.proto');

const LOADER_OPTIONS: protoLoader.Options = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true };

/** A client constructor for MQLiteService from a .proto file, as any gRPC user would build it. */
export function serviceFromProto(path: string): grpc.ServiceClientConstructor {
  const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(path, LOADER_OPTIONS)) as any;
  return pkg.mqlite.v1.MQLiteService as grpc.ServiceClientConstructor;
}

/**
 * The proto of an old client: `PublishRequest.queue_id` is a plain int32
 * there (docs/PROTOCOL.md, "PublishRequest.queue_id").
 */
export function oldClientProto(): string {
  const text = readFileSync(PROTO, 'utf8').replace('optional int32 queue_id = 6;', 'int32 queue_id = 6;');
  if (!text.includes('  int32 queue_id = 6;')) throw new Error('the proto no longer declares PublishRequest.queue_id as expected');
  const dir = mkdtempSync(join(tmpdir(), 'mqlite-old-proto-'));
  const file = join(dir, 'mqlite.proto');
  writeFileSync(file, text);
  return file;
}

export interface RawStatus {
  code: grpc.status;
  details: string;
}

/** A unary call on the raw client, as a promise; errors keep their status. */
export function call<T = any>(client: grpc.Client, method: string, req: object): Promise<T> {
  return new Promise((resolve, reject) => {
    (client as any)[method](req, (err: grpc.ServiceError | null, res: T) => (err ? reject(err) : resolve(res)));
  });
}

/** The status of a call that must fail (the test fails if it succeeds). */
export async function failure(p: Promise<unknown>): Promise<RawStatus> {
  try {
    const res = await p;
    throw new Error(`expected the call to fail, it answered ${JSON.stringify(res)}`);
  } catch (err) {
    const e = err as grpc.ServiceError;
    if (typeof e.code !== 'number') throw err;
    return { code: e.code, details: e.details };
  }
}

export interface Fixture {
  broker: Broker;
  front: FrontHandle;
  raw: grpc.Client;
  address: string;
  stop(): Promise<void>;
}

/** `opened`: a broker already built (e.g. by `Broker.open` over a store, to test a restart); else one from `broker`. */
export async function startFixture(
  opts: { broker?: BrokerOptions; opened?: Broker; maxMessageBytes?: number; maxUnansweredPerStream?: number } & ConnectionLimits = {},
): Promise<Fixture> {
  const broker = opts.opened ?? new Broker(opts.broker);
  const front = await startGrpcServer(broker, {
    host: '127.0.0.1',
    port: 0,
    maxMessageBytes: opts.maxMessageBytes ?? 1024 * 1024,
    maxConnections: opts.maxConnections,
    maxSubscriptionsPerConnection: opts.maxSubscriptionsPerConnection,
    maxUnansweredPerStream: opts.maxUnansweredPerStream,
    logger: pino({ level: 'silent' }),
  });
  const address = `127.0.0.1:${front.port}`;
  const Service = serviceFromProto(PROTO);
  const raw = new Service(address, grpc.credentials.createInsecure());
  return {
    broker,
    front,
    raw,
    address,
    async stop() {
      raw.close();
      await front.close();
      await broker.close();
    },
  };
}

/** Polls `cond` (running `step` before each check, if given) until it holds. */
export async function waitFor(cond: () => boolean, what: string, timeoutMs = 5000, step?: () => Promise<void>): Promise<void> {
  const start = Date.now();
  for (;;) {
    if (step) await step();
    if (cond()) return;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, step ? 50 : 5));
  }
}

/**
 * A TCP relay in front of the server whose server-to-client direction can be
 * stalled: a reader that stops reading its socket, as a slow network client
 * does. (A grpc-js client that merely stops reading its stream keeps
 * granting HTTP/2 window and buffers in its own process.)
 */
export async function stallableRelay(targetPort: number) {
  const { createServer, connect } = await import('node:net');
  const pairs: { down: import('node:net').Socket; up: import('node:net').Socket }[] = [];
  let stalled = false;
  const server = createServer((down) => {
    const up = connect(targetPort, '127.0.0.1');
    down.pipe(up);
    up.on('data', (chunk: Buffer) => {
      if (!down.write(chunk)) up.pause();
    });
    down.on('drain', () => {
      if (!stalled) up.resume();
    });
    const drop = (): void => {
      up.destroy();
      down.destroy();
    };
    up.on('error', drop).on('close', drop);
    down.on('error', drop).on('close', drop);
    pairs.push({ down, up });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as import('node:net').AddressInfo).port,
    stall(): void {
      stalled = true;
      for (const p of pairs) p.up.pause();
    },
    resume(): void {
      stalled = false;
      for (const p of pairs) p.up.resume();
    },
    close(): Promise<void> {
      for (const p of pairs) p.up.destroy(), p.down.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** A memory store whose durable() waits for `open()`: publishes are applied, their answers held. */
export class GatedStore extends MemoryStore {
  private gate: Promise<void>;
  private release!: () => void;
  constructor() {
    super();
    this.gate = new Promise((r) => (this.release = r));
  }
  open(): void {
    this.release();
  }
  override durable(): Promise<void> {
    return this.gate.then(() => super.durable());
  }
}
