/**
 * docs/PROTOCOL.md, "PublishStream": many publishes on one bidirectional
 * stream, seen from an independent client (proto-loader + grpc-js): an
 * answer per publish with its correlation_id, errors that answer one
 * publish and leave the stream open, and flow control.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Broker } from '../../src/broker/broker.js';
import { call, GatedStore, PROTO, serviceFromProto, stallableRelay, startFixture, waitFor, type Fixture } from './harness.js';

const { status } = grpc;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface RawResult {
  correlation_id: string;
  message_id: string;
  queue_id: number;
  duplicate: boolean;
  error_code: string;
  error: string;
}

/** A PublishStream call that records every answer and how the stream ended. */
function openStream(client: grpc.Client) {
  const stream = (client as any).PublishStream() as grpc.ClientDuplexStream<object, { results: RawResult[] }>;
  const results = new Map<string, RawResult>();
  let answers = 0;
  let ended: { code: grpc.status; details: string } | undefined;
  stream.on('data', (res: { results: RawResult[] }) => {
    for (const r of res.results) {
      answers++;
      results.set(r.correlation_id, r);
    }
  });
  stream.on('error', (err: grpc.ServiceError) => (ended = { code: err.code, details: err.details }));
  stream.on('status', (s: grpc.StatusObject) => (ended ??= { code: s.code, details: s.details }));
  return {
    stream,
    results,
    answers: () => answers,
    ended: () => ended,
    send(entries: { id: number; publish?: object }[]): boolean {
      return stream.write({ entries: entries.map((e) => ({ correlation_id: String(e.id), publish: e.publish })) });
    },
  };
}

async function drainQueue(f: Fixture, namespace: string, topic: string, queues: number): Promise<{ id: string; payload: Buffer }[]> {
  const out: { id: string; payload: Buffer }[] = [];
  for (let q = 0; q < queues; q++) {
    for (;;) {
      const { messages } = await call(f.raw, 'Consume', { namespace, topic, queue_id: q, batch_size: 50, auto_ack: true });
      if (messages.length === 0) break;
      out.push(...messages);
    }
  }
  return out;
}

let f: Fixture;

beforeAll(async () => {
  f = await startFixture({ broker: { limits: { maxPayloadBytes: 1024, maxBatch: 50 } } });
  await call(f.raw, 'CreateNamespace', { name: 'ps' });
  await call(f.raw, 'CreateTopic', { namespace: 'ps', name: 'orders', queue_count: 2 });
  await call(f.raw, 'CreateTopic', { namespace: 'ps', name: 'bad', queue_count: 1 });
  await call(f.raw, 'CreateTopic', { namespace: 'ps', name: 'malformed', queue_count: 1 });
  await call(f.raw, 'CreateTopic', { namespace: 'ps', name: 'big', queue_count: 1 });
});
afterAll(() => f.stop());

describe('an answer per publish, matched by correlation_id', () => {
  it('publishes entries sent one per message and packed, answers each with its id once durable, and ends OK after the client half-closes', async () => {
    const s = openStream(f.raw);
    const total = 600;
    let id = 1;
    // 100 messages of one entry, then 50 messages of ten entries.
    for (let i = 0; i < 100; i++, id++) s.send([{ id, publish: { namespace: 'ps', topic: 'orders', payload: Buffer.from(`m${id}`) } }]);
    while (id <= total) {
      const batch = [];
      for (let j = 0; j < 10; j++, id++) batch.push({ id, publish: { namespace: 'ps', topic: 'orders', payload: Buffer.from(`m${id}`) } });
      s.send(batch);
    }
    s.stream.end();
    await waitFor(() => s.ended() !== undefined, 'the stream to end', 10_000);
    expect(s.ended()!.code).toBe(status.OK);
    expect(s.answers()).toBe(total);
    for (let c = 1; c <= total; c++) {
      const r = s.results.get(String(c))!;
      expect(r.error_code).toBe('');
      expect(r.message_id).not.toBe('');
    }
    const consumed = await drainQueue(f, 'ps', 'orders', 2);
    expect(consumed).toHaveLength(total);
    const byId = new Map(consumed.map((m) => [m.id, m.payload.toString()]));
    for (let c = 1; c <= total; c++) {
      const r = s.results.get(String(c))!;
      expect(byId.get(r.message_id)).toBe(`m${c}`);
    }
  });

  it('answers a dedup_id repeated on the stream with the original ids and duplicate: true', async () => {
    const s = openStream(f.raw);
    const p = { namespace: 'ps', topic: 'orders', payload: Buffer.from('once'), dedup_id: 'order-1' };
    s.send([{ id: 1, publish: p }]);
    await waitFor(() => s.answers() === 1, 'the first answer');
    s.send([{ id: 2, publish: p }]);
    s.stream.end();
    await waitFor(() => s.ended() !== undefined, 'the stream to end');
    expect(s.results.get('2')).toMatchObject({ message_id: s.results.get('1')!.message_id, duplicate: true, error_code: '' });
    expect(await drainQueue(f, 'ps', 'orders', 2)).toHaveLength(1);
  });
});

describe('errors answer one publish; the stream goes on', () => {
  it('answers each bad entry with its code and a reason naming the field, publishes the good ones around them, and loses none', async () => {
    const s = openStream(f.raw);
    const at = { namespace: 'ps', topic: 'bad' };
    s.send([
      { id: 1, publish: { ...at, payload: Buffer.from('good-1') } },
      { id: 2 }, // no publish at all
      { id: 3, publish: { namespace: 'ps', topic: 'nope', payload: Buffer.from('x') } },
      { id: 4, publish: { ...at, payload: Buffer.from('x'), delay_ms: '10', deliver_at_ms: '10' } },
      { id: 5, publish: { ...at, payload: Buffer.alloc(2048) } },
      { id: 6, publish: { ...at, payload: Buffer.from('x'), queue_id: 7 } },
      { id: 7, publish: { ...at, payload: Buffer.from('good-2') } },
    ]);
    // After the errors, the same stream still publishes.
    await waitFor(() => s.answers() === 7, 'seven answers');
    s.send([{ id: 8, publish: { ...at, payload: Buffer.from('good-3') } }]);
    s.stream.end();
    await waitFor(() => s.ended() !== undefined, 'the stream to end');
    expect(s.ended()!.code).toBe(status.OK);

    const r = (id: number) => s.results.get(String(id))!;
    expect(r(2)).toMatchObject({ error_code: 'INVALID_ARGUMENT', message_id: '' });
    expect(r(2).error).toMatch(/correlation_id 2: 'publish' \(field 2\) is missing/);
    expect(r(3)).toMatchObject({ error_code: 'NOT_FOUND' });
    expect(r(3).error).toMatch(/nope/);
    expect(r(4)).toMatchObject({ error_code: 'INVALID_ARGUMENT' });
    expect(r(4).error).toMatch(/delay_ms/);
    expect(r(4).error).toMatch(/deliver_at/);
    expect(r(5).error_code).toMatch(/INVALID_ARGUMENT|RESOURCE_EXHAUSTED/);
    expect(r(5).error).toMatch(/payload/);
    expect(r(6)).toMatchObject({ error_code: 'NOT_FOUND' });
    expect(r(6).error).toMatch(/queue/);
    for (const good of [1, 7, 8]) expect(r(good)).toMatchObject({ error_code: '', error: '' });

    const consumed = await drainQueue(f, 'ps', 'bad', 1);
    expect(consumed.map((m) => m.payload.toString()).sort()).toEqual(['good-1', 'good-2', 'good-3']);
    expect(new Set(consumed.map((m) => m.id))).toEqual(new Set([r(1).message_id, r(7).message_id, r(8).message_id]));
  });

  it('answers every entry of a message over limits.max_batch with INVALID_ARGUMENT, publishes none of them, and goes on', async () => {
    const s = openStream(f.raw);
    const entries = Array.from({ length: 51 }, (_, i) => ({ id: i + 1, publish: { namespace: 'ps', topic: 'big', payload: Buffer.from('x') } }));
    s.send(entries);
    s.send([{ id: 100, publish: { namespace: 'ps', topic: 'big', payload: Buffer.from('after') } }]);
    s.stream.end();
    await waitFor(() => s.ended() !== undefined, 'the stream to end');
    expect(s.ended()!.code).toBe(status.OK);
    for (let i = 1; i <= 51; i++) {
      expect(s.results.get(String(i))).toMatchObject({ error_code: 'INVALID_ARGUMENT' });
      expect(s.results.get(String(i))!.error).toMatch(/at most 50 entries \(limits\.max_batch\), this one 51/);
    }
    expect(s.results.get('100')!.error_code).toBe('');
    const consumed = await drainQueue(f, 'ps', 'big', 1);
    expect(consumed.map((m) => m.payload.toString())).toEqual(['after']);
  });

  it('answers a message that does not decode with correlation_id 0 and INVALID_ARGUMENT, and publishes what comes after', async () => {
    // A raw client that sends bytes as they are: a stream message that is not a PublishStreamRequest.
    const raw = new grpc.Client(f.address, grpc.credentials.createInsecure());
    const stream = raw.makeBidiStreamRequest(
      '/mqlite.v1.MQLiteService/PublishStream',
      (b: Buffer) => b,
      (b: Buffer) => b,
    );
    const typed = openStream(f.raw); // for the good message's encoding only
    typed.stream.end();
    const received: Buffer[] = [];
    let ended: grpc.StatusObject | undefined;
    stream.on('data', (b: Buffer) => received.push(b));
    stream.on('status', (st: grpc.StatusObject) => (ended = st));
    stream.on('error', () => {});
    stream.write(Buffer.from([0x0a, 0xff, 0xff])); // field 1, length-delimited, length past the end
    // PublishStreamRequest{entries:[{correlation_id: 5, publish:{namespace:"ps", topic:"malformed", payload:"ok"}}]}
    const publishReq = Buffer.concat([Buffer.from([0x0a, 2]), Buffer.from('ps'), Buffer.from([0x12, 9]), Buffer.from('malformed'), Buffer.from([0x1a, 2]), Buffer.from('ok')]);
    const entry = Buffer.concat([Buffer.from([0x08, 5, 0x12, publishReq.length]), publishReq]);
    stream.write(Buffer.concat([Buffer.from([0x0a, entry.length]), entry]));
    stream.end();
    await waitFor(() => ended !== undefined, 'the raw stream to end');
    raw.close();
    expect(ended!.code).toBe(status.OK);
    const text = received.map((b) => b.toString('latin1')).join('');
    expect(text).toMatch(/INVALID_ARGUMENT/);
    expect(text).toMatch(/malformed mqlite\.v1\.PublishStreamRequest/);
    const consumed = await drainQueue(f, 'ps', 'malformed', 1);
    expect(consumed.map((m) => m.payload.toString())).toEqual(['ok']);
  });
});

describe('flow control', () => {
  it('reads at most maxUnansweredPerStream publishes ahead of their answers, then the rest once answers go out', async () => {
    const store = new GatedStore();
    const broker = new Broker({ store });
    const g = await startFixture({ opened: broker, maxUnansweredPerStream: 8 });
    try {
      broker.createNamespace('fc');
      broker.createTopic('fc', 't', 1);
      const s = openStream(g.raw);
      const total = 100;
      for (let i = 1; i <= total; i++) s.send([{ id: i, publish: { namespace: 'fc', topic: 't', payload: Buffer.from(`m${i}`) } }]);
      s.stream.end();
      await waitFor(() => broker.stats().pending >= 8, 'eight publishes applied');
      await sleep(300);
      // Not one more read while none is answered.
      expect(broker.stats().pending).toBe(8);
      expect(s.answers()).toBe(0);

      store.open();
      await waitFor(() => s.ended() !== undefined, 'the stream to end', 10_000);
      expect(s.ended()!.code).toBe(status.OK);
      expect(s.answers()).toBe(total);
      expect(broker.stats().pending).toBe(total);
    } finally {
      await g.stop();
    }
  });

  it('stops reading while its answers cannot be written (a client that does not read), and publishes everything once it reads again', async () => {
    const g = await startFixture({ maxUnansweredPerStream: 1_000_000 });
    const relay = await stallableRelay(g.front.port);
    const Service = serviceFromProto(PROTO);
    const slow = new Service(`127.0.0.1:${relay.port}`, grpc.credentials.createInsecure());
    try {
      g.broker.createNamespace('wb');
      g.broker.createTopic('wb', 't', 1);
      await call(slow, 'ListNamespaces', {}); // connected, settings exchanged
      relay.stall();
      const s = openStream(slow);
      const total = 40_000;
      for (let i = 0; i < total; i += 50) {
        s.send(Array.from({ length: 50 }, (_, j) => ({ id: i + j + 1, publish: { namespace: 'wb', topic: 't', payload: Buffer.from('x') } })));
      }
      s.stream.end();
      await waitFor(() => g.broker.stats().pending > 0, 'the first publishes');
      let before = -1;
      // Until reading stopped: the count no longer moves.
      await waitFor(() => {
        const now = g.broker.stats().pending;
        const still = now === before;
        before = now;
        return still;
      }, 'the server to stop reading', 10_000, async () => void (await sleep(200)));
      expect(g.broker.stats().pending).toBeLessThan(total);
      expect(s.answers()).toBe(0);

      relay.resume();
      await waitFor(() => s.ended() !== undefined, 'the stream to end', 30_000);
      expect(s.ended()!.code).toBe(status.OK);
      expect(s.answers()).toBe(total);
      expect(g.broker.stats().pending).toBe(total);
    } finally {
      slow.close();
      await relay.close();
      await g.stop();
    }
  });

  it('ends with UNAVAILABLE at shutdown; what was answered before stays published', async () => {
    const store = new GatedStore();
    const broker = new Broker({ store });
    const g = await startFixture({ opened: broker });
    try {
      broker.createNamespace('sd');
      broker.createTopic('sd', 't', 1);
      store.open();
      const s = openStream(g.raw);
      s.send([{ id: 1, publish: { namespace: 'sd', topic: 't', payload: Buffer.from('before') } }]);
      await waitFor(() => s.answers() === 1, 'the first answer');
      await g.front.close();
      await waitFor(() => s.ended() !== undefined, 'the stream to end');
      expect(s.ended()).toMatchObject({ code: status.UNAVAILABLE, details: 'server shutting down' });
      expect(s.results.get('1')!.error_code).toBe('');
      expect(broker.stats().pending).toBe(1);
    } finally {
      await g.stop();
    }
  });
});
