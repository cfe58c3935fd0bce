/**
 * docs/PROTOCOL.md, "Subscribe": a Subscribe stream's in-flight bound
 * (`SubscribeRequest.max_inflight`, prefetch), from an independent client
 * (proto-loader) and through GrpcClient. With 10 pending and a bound of 2,
 * two are pushed, then one more per ack, and the rest stays pending; a bad
 * value is INVALID_ARGUMENT naming the field; absent, the broker's default.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GrpcClient } from '../../src/client/grpc/index.js';
import type { ClientMessage } from '../../src/client/types.js';
import { call, startFixture, waitFor, type Fixture } from './harness.js';

/** The broker's bound: 51 is past it. */
const LIMIT = 50;

interface RawMessage {
  id: string;
  payload: Buffer;
}

let f: Fixture;
let client: GrpcClient;
beforeAll(async () => {
  // A long ack deadline: what is in flight stays in flight for the whole test.
  f = await startFixture({ broker: { ackTimeoutMs: 60_000, limits: { maxInflightPerSubscription: LIMIT } } });
  client = new GrpcClient({ host: '127.0.0.1', port: f.front.port, timeoutMs: 5000 });
  await call(f.raw, 'CreateNamespace', { name: 'p' });
});
afterAll(async () => {
  await client.close();
  await f.stop();
});

let topicSeq = 0;
async function topicWith(n: number): Promise<string> {
  const name = `t${++topicSeq}`;
  await call(f.raw, 'CreateTopic', { namespace: 'p', name, queue_count: 1 });
  for (let i = 0; i < n; i++) await call(f.raw, 'Publish', { namespace: 'p', topic: name, payload: Buffer.from(String(i)) });
  return name;
}

async function queueStats(t: string): Promise<{ pending: string; in_flight: string; acked: string }> {
  const q = (await call(f.raw, 'GetTopicStats', { namespace: 'p', topic: t })).stats.queues[0];
  return { pending: q.pending, in_flight: q.in_flight, acked: q.acked };
}

const settle = () => new Promise((r) => setTimeout(r, 100));

/** A raw Subscribe stream that records what it receives and how it ended. */
function subscribe(req: object) {
  const stream = (f.raw as any).Subscribe(req) as grpc.ClientReadableStream<RawMessage>;
  const received: RawMessage[] = [];
  let ended: grpc.ServiceError | undefined;
  const started = new Promise<void>((resolve, reject) => {
    stream.once('metadata', () => resolve());
    stream.once('error', reject);
  });
  stream.on('error', (err: grpc.ServiceError) => (ended = err));
  stream.on('data', (m: RawMessage) => received.push(m));
  return { stream, received, started, ended: () => ended };
}

const req = (t: string, extra: Record<string, unknown>) => ({ namespace: 'p', topic: t, queue_id: 0, auto_ack: false, ...extra });

describe('Subscribe with max_inflight', () => {
  it('pushes 2 of 10, then one more per ack; the rest stays pending', async () => {
    const t = await topicWith(10);
    const s = subscribe(req(t, { max_inflight: 2 }));
    try {
      await s.started;
      await waitFor(() => s.received.length === 2, '2 messages');
      await settle();
      expect(s.received.map((m) => m.payload.toString())).toEqual(['0', '1']);
      expect(await queueStats(t)).toEqual({ pending: '8', in_flight: '2', acked: '0' });
      await call(f.raw, 'Ack', { namespace: 'p', topic: t, queue_id: 0, message_ids: [s.received[0]!.id] });
      await waitFor(() => s.received.length === 3, 'one more message');
      await settle();
      expect(s.received.map((m) => m.payload.toString())).toEqual(['0', '1', '2']);
      expect(await queueStats(t)).toEqual({ pending: '7', in_flight: '2', acked: '1' });
    } finally {
      s.stream.cancel();
    }
  });

  it('absent: the broker default, every pending message is pushed (as before the field)', async () => {
    const t = await topicWith(10);
    const s = subscribe(req(t, {}));
    try {
      await waitFor(() => s.received.length === 10, '10 messages');
      expect(await queueStats(t)).toEqual({ pending: '0', in_flight: '10', acked: '0' });
    } finally {
      s.stream.cancel();
    }
  });

  it('0 sent is a real 0 (the field is optional): INVALID_ARGUMENT naming max_inflight, as past the limit', async () => {
    const t = await topicWith(3);
    for (const v of [0, LIMIT + 1]) {
      const s = subscribe(req(t, { max_inflight: v }));
      await expect(s.started).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: `max_inflight ${v} is out of range: use 1..${LIMIT}` });
    }
    expect(await queueStats(t)).toEqual({ pending: '3', in_flight: '0', acked: '0' });
  });

  it('is ignored with auto_ack, as on HTTP', async () => {
    const t = await topicWith(5);
    const s = subscribe(req(t, { auto_ack: true, max_inflight: 0 }));
    try {
      await waitFor(() => s.received.length === 5, '5 messages');
      expect(await queueStats(t)).toEqual({ pending: '0', in_flight: '0', acked: '5' });
    } finally {
      s.stream.cancel();
    }
  });
});

describe('GrpcClient subscribe with maxInflight', () => {
  it('sends it: 2 of 10 pushed, one more per ack', async () => {
    const t = await topicWith(10);
    const got: ClientMessage[] = [];
    const sub = await client.subscribe('p', t, 0, { autoAck: false, maxInflight: 2, onMessage: (m) => got.push(m) });
    try {
      await waitFor(() => got.length === 2, '2 messages');
      await settle();
      expect(got).toHaveLength(2);
      expect(await queueStats(t)).toEqual({ pending: '8', in_flight: '2', acked: '0' });
      await client.ack('p', t, 0, [got[0]!.id]);
      await waitFor(() => got.length === 3, 'one more message');
      await settle();
      expect(got).toHaveLength(3);
      expect(await queueStats(t)).toEqual({ pending: '7', in_flight: '2', acked: '1' });
    } finally {
      await sub.close();
    }
  });

  it('a bad bound is INVALID_ARGUMENT naming max_inflight', async () => {
    const t = await topicWith(1);
    await expect(client.subscribe('p', t, 0, { autoAck: false, maxInflight: 0, onMessage: () => {} })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringMatching(/max_inflight/),
    });
  });
});
