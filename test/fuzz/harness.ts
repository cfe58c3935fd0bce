/**
 * Shared ground of the fuzz tests (hostile input). Each
 * fuzz file runs the built broker in a child process with small limits, so
 * that a crash shows as an exit, its RSS can be read from /proc, and the
 * limits are reached by the fuzzer.
 *
 * Before fuzzing, a namespace with an unguessable name gets messages, some
 * consumed and acked (every call answered ok), the rest left pending.
 * After fuzzing, `verifyAfter` checks the hardening promise: the process is
 * alive, every front still answers a normal request, RSS stayed under a
 * bound, the pending messages are all there (same ids, payloads, order), the
 * acked ones did not come back, and nothing was logged at error level (an
 * error log is how every front reports an internal error).
 *
 * `FUZZ_RUNS=N` runs N cases per property instead of the bounded default.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { type Socket, connect } from 'node:net';
import { create, type DescField, type DescMessage, fromBinary, ScalarType, toBinary } from '@bufbuild/protobuf';
import { type Client, makeGenericClientConstructor, credentials, type ServiceError } from '@grpc/grpc-js';
import fc from 'fast-check';
import { expect } from 'vitest';
import { type ServerProcess, startServerProcess } from '../../bench/server-process.js';
import { ListNamespacesResponseSchema, MQLiteService, TCPResponseSchema } from '../../gen/mqlite/v1/mqlite_pb.js';

/** Cases per property: FUZZ_RUNS when set, else the bounded default of the file. */
export function runs(fallback: number): number {
  const n = Number(process.env.FUZZ_RUNS);
  return Number.isInteger(n) && n > 0 ? n : fallback;
}

/**
 * fast-check parameters of a property: `runs(fallback)` cases, and on
 * failure the list of every failing case met, not only the shrunk one (after
 * a case kills the server every later case fails too, so the first one
 * matters).
 */
export function params(fallback: number): { numRuns: number; verbose: fc.VerbosityLevel } {
  return { numRuns: runs(fallback), verbose: fc.VerbosityLevel.Verbose };
}

/** The limits the fuzzed server runs with: small, so that the fuzzer reaches them. */
export const LIMITS = {
  max_frame: 64 * 1024,
  max_body: 64 * 1024,
  max_payload: 16 * 1024,
  max_batch: 100,
  max_headers: 8,
  max_queues_per_topic: 16,
};

/** The namespace and topic the fuzzer may use (and break) freely. */
export const PLAY_NS = 'play';
export const PLAY_TOPIC = 't';

/** RSS may grow by this much over its value after seeding. */
const RSS_GROWTH_BOUND = 150 * 1024 * 1024;
const SEED_MESSAGES = 24;
const SEED_ACKED_PER_QUEUE = 5;

interface SeedMessage {
  id: string;
  queueId: number;
  payload: { seq: number; token: string };
}

export interface FuzzServer {
  readonly proc: ServerProcess;
  readonly ports: ServerProcess['ports'];
  /** Throws when the server process has exited. */
  assertAlive(): void;
  /** Creates the playground again if the fuzzer deleted it (so later cases still reach deep paths); empties it now and then. */
  ensurePlayground(): Promise<void>;
  /** The checks after fuzzing (see the file's comment). */
  verifyAfter(): Promise<void>;
  readonly rss: { start: number; max: number };
  stop(): Promise<void>;
}

function readRss(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

export async function httpJson(port: number, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    body: body === undefined ? undefined : JSON.stringify(body),
    headers: { 'content-type': 'application/json' },
  });
  return { status: res.status, body: await res.json() };
}

async function ok(port: number, method: string, path: string, body?: unknown): Promise<any> {
  const r = await httpJson(port, method, path, body);
  if (r.status >= 300 || r.body.success !== true) throw new Error(`${method} ${path} answered ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.data;
}

export async function startFuzzServer(): Promise<FuzzServer> {
  const errorLogs: Record<string, unknown>[] = [];
  const proc = await startServerProcess({
    fsync: 'everysec',
    extraConfig: { limits: LIMITS },
    onLog: (rec) => {
      // pino levels: 50 error, 60 fatal. Internal errors of every front are logged at error.
      if (typeof rec.level === 'number' && rec.level >= 50) errorLogs.push(rec);
    },
  });
  let exited: number | null | undefined;
  void proc.exitCode.then((code) => {
    exited = code;
  });
  const http = proc.ports.http;

  // ---- the secret namespace: acked and pending messages that fuzzing must not touch ----
  const secret = `fz-${randomBytes(12).toString('hex')}`;
  await ok(http, 'POST', '/v1/namespaces', { name: secret });
  await ok(http, 'POST', `/v1/namespaces/${secret}/topics`, { name: 'keep', queue_count: 2 });
  const topicPath = `/v1/namespaces/${secret}/topics/keep`;
  const seeded: SeedMessage[] = [];
  for (let seq = 0; seq < SEED_MESSAGES; seq++) {
    const payload = { seq, token: randomBytes(8).toString('hex') };
    const r = await ok(http, 'POST', `${topicPath}/publish`, { payload, queue_id: seq % 2 });
    seeded.push({ id: r.message_id, queueId: r.queue_id, payload });
  }
  const acked = new Set<string>();
  for (const q of [0, 1]) {
    const msgs: { id: string }[] = await ok(http, 'POST', `${topicPath}/queues/${q}/consume`, { batch_size: SEED_ACKED_PER_QUEUE });
    expect(msgs).toHaveLength(SEED_ACKED_PER_QUEUE);
    await ok(http, 'POST', `${topicPath}/queues/${q}/ack`, { message_ids: msgs.map((m) => m.id) });
    for (const m of msgs) acked.add(m.id);
  }
  const pending = seeded.filter((m) => !acked.has(m.id));

  const assertAlive = (): void => {
    if (exited !== undefined) throw new Error(`the server process exited (code ${exited}) during fuzzing: an earlier case killed it (its stderr is above)`);
  };
  // ---- the playground the fuzzer's well-formed commands aim at ----
  let playgroundUses = 0;
  const ensurePlayground = async (): Promise<void> => {
    assertAlive();
    // What the fuzzer publishes there is legitimate state, not a leak: drop it
    // now and then, so that the RSS bound measures the server, not the store.
    if (++playgroundUses % 25 === 0) await httpJson(http, 'DELETE', `/v1/namespaces/${PLAY_NS}`);
    const ns = await httpJson(http, 'POST', '/v1/namespaces', { name: PLAY_NS });
    const topic = await httpJson(http, 'POST', `/v1/namespaces/${PLAY_NS}/topics`, { name: PLAY_TOPIC, queue_count: 2 });
    // 201 created, or 409 already there
    for (const r of [ns, topic]) if (r.status !== 201 && r.status !== 409) throw new Error(`playground setup answered ${r.status} ${JSON.stringify(r.body)}`);
  };
  await ensurePlayground();
  for (let i = 0; i < 10; i++) await ok(http, 'POST', `/v1/namespaces/${PLAY_NS}/topics/${PLAY_TOPIC}/publish`, { payload: { i } });

  const rss = { start: readRss(proc.pid), max: 0 };
  rss.max = rss.start;
  const sampler = setInterval(() => {
    if (exited !== undefined) return;
    try {
      rss.max = Math.max(rss.max, readRss(proc.pid));
    } catch {
      // the process is gone: assertAlive reports it
    }
  }, 100);
  sampler.unref();



  return {
    proc,
    ports: proc.ports,
    rss,
    assertAlive,
    ensurePlayground,
    async verifyAfter() {
      assertAlive();
      rss.max = Math.max(rss.max, readRss(proc.pid));
      const mib = (n: number): string => (n / 1024 / 1024).toFixed(1);
      console.info(`server RSS: ${mib(rss.start)} MiB after seeding, at most ${mib(rss.max)} MiB while fuzzing`);
      expect(rss.max, `RSS grew from ${rss.start} to ${rss.max} bytes`).toBeLessThan(rss.start + RSS_GROWTH_BOUND);

      // Every front answers a normal request.
      expect((await httpJson(http, 'GET', '/health')).body).toEqual({ status: 'ok' });
      expect(await ok(http, 'GET', '/v1/namespaces')).toContain(secret);
      expect(await tcpListNamespaces(proc.ports.tcp)).toContain(secret);
      expect(await grpcListNamespaces(proc.ports.grpc)).toContain(secret);

      // The pending messages are all there, in order, and the acked ones did not come back.
      for (const q of [0, 1]) {
        const page = await ok(http, 'GET', `${topicPath}/queues/${q}/peek?limit=100`);
        const got = (page.messages as { id: string; payload: unknown }[]).map((m) => ({ id: m.id, payload: m.payload }));
        const want = pending.filter((m) => m.queueId === q).map((m) => ({ id: m.id, payload: m.payload }));
        expect(got).toEqual(want);
        for (const m of got) expect(acked.has(m.id)).toBe(false);
      }
      const stats = await ok(http, 'GET', `${topicPath}/stats`);
      expect({ pending: stats.pending, in_flight: stats.in_flight }).toEqual({ pending: pending.length, in_flight: 0 });

      expect(errorLogs, `error-level logs: ${JSON.stringify(errorLogs.slice(0, 3))}`).toEqual([]);
      assertAlive();
    },
    async stop() {
      clearInterval(sampler);
      await proc.stop();
    },
  };
}

// ---------------------------------------------------------------- TCP frames

export interface Frame {
  encoding: number;
  body: Buffer;
}

import { frame } from '../tcp/helpers.js';

export { frame };

/** A raw TCP connection that splits what it receives into frames and remembers how it ended. */
export class FrameConn {
  private buf: Buffer = Buffer.alloc(0);
  readonly frames: Frame[] = [];
  closed = false;
  private waiters: (() => void)[] = [];

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
      while (this.buf.length >= 5) {
        const len = this.buf.readUInt32BE(0);
        if (len === 0) throw new Error('the server sent a frame of length 0');
        if (this.buf.length < 4 + len) break;
        this.frames.push({ encoding: this.buf[4]!, body: Buffer.from(this.buf.subarray(5, 4 + len)) });
        this.buf = this.buf.subarray(4 + len);
      }
      this.wake();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  static open(port: number): Promise<FrameConn> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port }, () => resolve(new FrameConn(s)));
      s.once('error', reject);
    });
  }

  /** Bytes received after the last whole frame (non-zero at close: a torn reply). */
  get leftover(): number {
    return this.buf.length;
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /**
   * Waits until `done()` holds or the connection closes. A server that does
   * neither within `ms` hung: that is a failure (a liveness bound, not a
   * timing target).
   */
  async until(done: () => boolean, ms = 15_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!done() && !this.closed) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`server hung: no answer within ${ms} ms (${this.frames.length} frames received)`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  untilClosed(ms?: number): Promise<void> {
    return this.until(() => false, ms);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

export interface Reply {
  status: 'ok' | 'error';
  error: string;
  requestId: string | undefined;
}

/** Decodes a reply frame and asserts it is well-formed: a known encoding, a status, a reason on errors. */
export function checkReply(f: Frame): Reply {
  let r: Reply;
  if (f.encoding === 0) {
    const o = JSON.parse(f.body.toString('utf8')) as { status?: unknown; error?: unknown; request_id?: unknown };
    expect(o).toBeTypeOf('object');
    expect(['ok', 'error']).toContain(o.status);
    if (o.status === 'error') expect(o.error).toBeTypeOf('string');
    if (o.request_id !== undefined) expect(o.request_id).toBeTypeOf('string');
    r = { status: o.status as Reply['status'], error: (o.error as string) ?? '', requestId: o.request_id as string | undefined };
  } else {
    expect(f.encoding, 'reply encoding').toBe(1);
    const m = fromBinary(TCPResponseSchema, f.body);
    expect(['ok', 'error']).toContain(m.status);
    r = { status: m.status as Reply['status'], error: m.error, requestId: m.requestId || undefined };
  }
  if (r.status === 'error') {
    expect(r.error.length, 'an error reply carries a reason').toBeGreaterThan(0);
    expect(r.error, 'no internal error').not.toMatch(/^INTERNAL/);
  }
  return r;
}

async function tcpListNamespaces(port: number): Promise<string[]> {
  const c = await FrameConn.open(port);
  try {
    c.socket.write(frame(0, JSON.stringify({ action: 'list_namespaces', data: {} })));
    await c.until(() => c.frames.length >= 1);
    const o = JSON.parse(c.frames[0]!.body.toString('utf8'));
    expect(o.status).toBe('ok');
    return o.data as string[];
  } finally {
    c.destroy();
  }
}

// ---------------------------------------------------------------- gRPC

/** A grpc-js client for any method path, with Buffers in and out (no decoding). */
export function rawGrpcClient(port: number): Client {
  const identity = (b: Buffer): Buffer => b;
  const def = Object.fromEntries(
    MQLiteService.methods.map((m) => [
      m.localName,
      {
        path: `/${MQLiteService.typeName}/${m.name}`,
        requestStream: false,
        responseStream: m.methodKind === 'server_streaming',
        requestSerialize: identity,
        requestDeserialize: identity,
        responseSerialize: identity,
        responseDeserialize: identity,
      },
    ]),
  );
  const Ctor = makeGenericClientConstructor(def, 'MQLiteService');
  return new Ctor(`127.0.0.1:${port}`, credentials.createInsecure(), { 'grpc.max_send_message_length': -1 });
}

export function unaryRaw(client: Client, path: string, body: Buffer, deadlineMs = 15_000): Promise<{ err: ServiceError | null; body?: Buffer }> {
  const identity = (b: Buffer): Buffer => b;
  return new Promise((resolve) => {
    client.makeUnaryRequest(path, identity, identity, body, { deadline: Date.now() + deadlineMs }, (err, res) =>
      resolve({ err: err ?? null, body: res }),
    );
  });
}

async function grpcListNamespaces(port: number): Promise<string[]> {
  const client = rawGrpcClient(port);
  try {
    const r = await unaryRaw(client, `/${MQLiteService.typeName}/ListNamespaces`, Buffer.alloc(0));
    expect(r.err).toBeNull();
    return fromBinary(ListNamespacesResponseSchema, r.body!).namespaces;
  } finally {
    client.close();
  }
}

// ---------------------------------------------------------------- protobuf arbitraries

/** Names the fuzzer mixes in: the playground (so commands reach deep paths), unknown, empty, too long, not allowed. */
export const NAME_POOL = [PLAY_NS, PLAY_TOPIC, PLAY_NS, PLAY_TOPIC, 'nope', '', 'x'.repeat(129), 'ü名-前', '../etc', 'a b', '\u0000'];

export const nameArb = fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...NAME_POOL) }, { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) });

const INT32_EDGES = [0, 1, -1, 2, 99, 100, 101, 2 ** 31 - 1, -(2 ** 31), 16, 17];
const int32Arb = fc.oneof(fc.constantFrom(...INT32_EDGES), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }));
const uint32Arb = fc.oneof(fc.constantFrom(0, 1, 2 ** 32 - 1), fc.integer({ min: 0, max: 2 ** 32 - 1 }));
const int64Arb = fc.oneof(
  fc.constantFrom(0n, 1n, -1n, 2n ** 63n - 1n, -(2n ** 63n), 2n ** 53n + 1n, 3_600_000n),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
);
const uint64Arb = fc.oneof(fc.constantFrom(0n, 1n, 2n ** 64n - 1n), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }));

function scalarArb(t: ScalarType): fc.Arbitrary<unknown> {
  switch (t) {
    case ScalarType.STRING:
      return nameArb;
    case ScalarType.BYTES:
      return fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.constant(new Uint8Array(LIMITS.max_payload + 1)));
    case ScalarType.BOOL:
      return fc.boolean();
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return int32Arb;
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return uint32Arb;
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return int64Arb;
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return uint64Arb;
    default:
      return fc.double();
  }
}

/**
 * Most commands aim at the playground (`namespace` and `topic` fields),
 * queue 0 or 1 and small batches, so that they get past the lookups and
 * reach the deep paths; the rest take any value.
 */
export function aimed<T>(fieldName: string, any: fc.Arbitrary<T>): fc.Arbitrary<T | string | number> {
  const target = AIM[fieldName];
  return target === undefined ? any : fc.oneof({ weight: 3, arbitrary: target }, { weight: 1, arbitrary: any });
}

const AIM: Record<string, fc.Arbitrary<string | number>> = {
  namespace: fc.constant(PLAY_NS),
  topic: fc.constant(PLAY_TOPIC),
  queue_id: fc.constantFrom(0, 1),
  batch_size: fc.integer({ min: 1, max: 5 }),
};

function fieldArb(f: DescField, depth: number): fc.Arbitrary<unknown> {
  switch (f.fieldKind) {
    case 'scalar':
      return aimed(f.name, scalarArb(f.scalar));
    case 'enum':
      return fc.integer({ min: -2, max: 5 });
    case 'message':
      return depth < 3 ? messageInitArb(f.message, depth + 1) : fc.constant(undefined);
    case 'list': {
      const item =
        f.listKind === 'scalar' ? scalarArb(f.scalar) : f.listKind === 'enum' ? fc.integer({ min: -2, max: 5 }) : depth < 3 ? messageInitArb(f.message, depth + 1) : fc.constant({});
      return fc.array(item, { maxLength: 4 });
    }
    case 'map': {
      const value = f.mapKind === 'scalar' ? scalarArb(f.scalar) : f.mapKind === 'enum' ? fc.integer({ min: -2, max: 5 }) : fc.constant({});
      return fc.dictionary(fc.string({ unit: 'binary', maxLength: 12 }), value, { maxKeys: 10 });
    }
  }
}

/** An init object for `create(desc, ...)` with any subset of its (non-oneof) fields set to edge or random values. */
export function messageInitArb(desc: DescMessage, depth = 0): fc.Arbitrary<Record<string, unknown>> {
  const fields: Record<string, fc.Arbitrary<unknown>> = {};
  for (const f of desc.fields) if (f.oneof === undefined) fields[f.localName] = fieldArb(f, depth);
  return fc.record(fields, { requiredKeys: desc.fields.filter((f) => f.name === 'namespace' || f.name === 'topic').map((f) => f.localName) }) as fc.Arbitrary<Record<string, unknown>>;
}

/** Encoded bytes of a random valid message of `desc`. */
export function encodedArb(desc: DescMessage): fc.Arbitrary<Uint8Array> {
  return messageInitArb(desc).map((init) => toBinary(desc, create(desc, init as never)));
}

// ---------------------------------------------------------------- byte mutations

function varint(n: bigint): number[] {
  const out: number[] = [];
  let v = BigInt.asUintN(64, n);
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}

/**
 * One mutation of protobuf bytes, as data so that a counterexample prints
 * readably: set or flip a byte, insert or delete bytes, truncate, append a
 * field with any number and wire type, an overlong varint, or a
 * length-delimited field whose length runs past the end.
 */
export type Mutation =
  | { set: number; value: number }
  | { flip: number; bit: number }
  | { insertAt: number; bytes: number[] }
  | { deleteAt: number; count: number }
  | { truncateAt: number }
  | { appendField: bigint; wire: number; tail: number[] }
  | { overlongAt: number; withTag: boolean }
  | { pastEndField: number; length: bigint };

export const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ set: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ flip: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ insertAt: fc.nat(), bytes: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 16 }) }),
  fc.record({ deleteAt: fc.nat(), count: fc.integer({ min: 1, max: 16 }) }),
  fc.record({ truncateAt: fc.nat() }),
  fc.record({ appendField: fc.bigInt({ min: 0n, max: 2n ** 35n }), wire: fc.integer({ min: 0, max: 7 }), tail: fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 12 }) }),
  fc.record({ overlongAt: fc.nat(), withTag: fc.boolean() }),
  fc.record({ pastEndField: fc.integer({ min: 1, max: 40 }), length: fc.bigInt({ min: 1n, max: 2n ** 64n - 1n }) }),
);

function applyMutation(b: Uint8Array, m: Mutation): Uint8Array {
  const n = b.length;
  if ('set' in m) {
    if (n === 0) return Uint8Array.of(m.value);
    const o = Uint8Array.from(b);
    o[m.set % n] = m.value;
    return o;
  }
  if ('flip' in m) {
    if (n === 0) return b;
    const o = Uint8Array.from(b);
    o[m.flip % n]! ^= 1 << m.bit;
    return o;
  }
  if ('insertAt' in m) {
    const at = m.insertAt % (n + 1);
    return Uint8Array.from([...b.subarray(0, at), ...m.bytes, ...b.subarray(at)]);
  }
  if ('deleteAt' in m) {
    if (n === 0) return b;
    const at = m.deleteAt % n;
    return Uint8Array.from([...b.subarray(0, at), ...b.subarray(at + m.count)]);
  }
  if ('truncateAt' in m) return b.subarray(0, n === 0 ? 0 : m.truncateAt % n);
  if ('appendField' in m) return Uint8Array.from([...b, ...varint((m.appendField << 3n) | BigInt(m.wire)), ...m.tail]);
  if ('overlongAt' in m) {
    const at = m.overlongAt % (n + 1);
    const over = [...(m.withTag ? [0x18] : []), ...new Array<number>(11).fill(0xff), 0x01];
    return Uint8Array.from([...b.subarray(0, at), ...over, ...b.subarray(at)]);
  }
  return Uint8Array.from([...b, ...varint((BigInt(m.pastEndField) << 3n) | 2n), ...varint(m.length), 0x01]);
}

export function mutate(bytes: Uint8Array, muts: readonly Mutation[]): Uint8Array {
  return muts.reduce(applyMutation, bytes);
}

export const mutationsArb = fc.array(mutationArb, { minLength: 1, maxLength: 4 });
