/**
 * docs/PROTOCOL.md, "Subscribe": a subscription's in-flight bound
 * (`max_inflight`, prefetch) over TCP, in JSON and in protobuf, on a raw
 * socket and through TcpClient. With 10 pending and a bound of 2, two are
 * pushed, then one more per ack, and the rest stays pending; a bad value is
 * INVALID_ARGUMENT naming the field; absent, the broker's default bound.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TCPResponse } from '../../gen/mqlite/v1/mqlite_pb.js';
import { TcpClient } from '../../src/client/tcp/index.js';
import type { ClientMessage } from '../../src/client/types.js';
import { type Harness, RawClient, jsonFrame, pbFrame, startHarness, until } from './helpers.js';

/** The broker's bound: 51 is past it. */
const LIMIT = 50;

let h: Harness;
beforeAll(async () => {
  // A long ack deadline: what is in flight stays in flight for the whole test.
  h = await startHarness({ ackTimeoutMs: 60_000, limits: { maxInflightPerSubscription: LIMIT } });
  await h.broker.createNamespace('p');
});
afterAll(async () => {
  await h.close();
});

let topicSeq = 0;
/** A topic of one queue with `n` messages pending. */
async function topicWith(n: number): Promise<string> {
  const name = `t${++topicSeq}`;
  await h.broker.createTopic('p', name, 1);
  for (let i = 0; i < n; i++) await h.broker.publish('p', name, Buffer.from(String(i)));
  return name;
}

const queueStats = (t: string) => {
  const q = h.broker.topicStats('p', t).queues[0]!;
  return { pending: q.pending, inFlight: q.inFlight, acked: q.acked };
};

const settle = () => new Promise((r) => setTimeout(r, 100));

const sub = (t: string, extra: Record<string, unknown>) => ({ namespace: 'p', topic: t, queue_id: 0, auto_ack: false, ...extra });

describe('JSON subscribe with max_inflight', () => {
  it('pushes 2 of 10, then one more per ack; the rest stays pending', async () => {
    const t = await topicWith(10);
    const c = await RawClient.open(h.port);
    try {
      expect(await c.jsonCall({ action: 'subscribe', request_id: 'sub', data: sub(t, { max_inflight: 2 }) })).toEqual({ status: 'ok', request_id: 'sub', data: 'subscribed' });
      const first = [await c.json(), await c.json()];
      expect(first.map((f) => f.data.payload)).toEqual([0, 1]);
      await settle();
      expect(c.received).toBe(0);
      expect(queueStats(t)).toEqual({ pending: 8, inFlight: 2, acked: 0 });

      c.write(jsonFrame({ action: 'ack', request_id: 'ack', data: { namespace: 'p', topic: t, queue_id: 0, message_ids: [first[0]!.data.id] } }));
      // The ack reply and the one message its slot lets in, in either order.
      const next = [await c.json(), await c.json()];
      expect(next.find((f) => f.request_id === 'ack')).toEqual({ status: 'ok', request_id: 'ack', data: 'messages acknowledged' });
      expect(next.find((f) => f.request_id === 'sub')!.data.payload).toBe(2);
      await settle();
      expect(c.received).toBe(0);
      expect(queueStats(t)).toEqual({ pending: 7, inFlight: 2, acked: 1 });
    } finally {
      c.close();
    }
  });

  it('absent: the broker default, every pending message is pushed (as before the field)', async () => {
    const t = await topicWith(10);
    const c = await RawClient.open(h.port);
    try {
      expect((await c.jsonCall({ action: 'subscribe', data: sub(t, {}) })).data).toBe('subscribed');
      for (let i = 0; i < 10; i++) expect((await c.json()).data.payload).toBe(i);
      expect(queueStats(t)).toEqual({ pending: 0, inFlight: 10, acked: 0 });
    } finally {
      c.close();
    }
  });

  it('null is absent', async () => {
    const t = await topicWith(3);
    const c = await RawClient.open(h.port);
    try {
      expect((await c.jsonCall({ action: 'subscribe', data: sub(t, { max_inflight: null }) })).data).toBe('subscribed');
      await until(async () => (queueStats(t).inFlight === 3 ? true : undefined));
    } finally {
      c.close();
    }
  });

  it('0, past the limit, negative, a fraction or a string is INVALID_ARGUMENT naming max_inflight; nothing leaves the queue', async () => {
    const t = await topicWith(3);
    const c = await RawClient.open(h.port);
    try {
      for (const v of [0, LIMIT + 1, -1, 1.5, '2', 2 ** 32]) {
        const r = await c.jsonCall({ action: 'subscribe', data: sub(t, { max_inflight: v }) });
        expect(r.status, JSON.stringify(v)).toBe('error');
        expect(r.error, JSON.stringify(v)).toMatch(/^INVALID_ARGUMENT: .*max_inflight/);
      }
      expect(await c.jsonCall({ action: 'subscribe', data: sub(t, { max_inflight: 0 }) })).toEqual({
        status: 'error',
        error: `INVALID_ARGUMENT: max_inflight 0 is out of range: use 1..${LIMIT}`,
      });
      expect(queueStats(t)).toEqual({ pending: 3, inFlight: 0, acked: 0 });
    } finally {
      c.close();
    }
  });

  it('the limit itself is accepted', async () => {
    const t = await topicWith(1);
    const c = await RawClient.open(h.port);
    try {
      expect((await c.jsonCall({ action: 'subscribe', data: sub(t, { max_inflight: LIMIT }) })).data).toBe('subscribed');
    } finally {
      c.close();
    }
  });

  it('is ignored with auto_ack, as on HTTP: 0 is not refused and everything is pushed and acked', async () => {
    const t = await topicWith(5);
    const c = await RawClient.open(h.port);
    try {
      expect((await c.jsonCall({ action: 'subscribe', data: sub(t, { auto_ack: true, max_inflight: 0 }) })).data).toBe('subscribed');
      for (let i = 0; i < 5; i++) expect((await c.json()).data.payload).toBe(i);
      expect(queueStats(t)).toEqual({ pending: 0, inFlight: 0, acked: 5 });
    } finally {
      c.close();
    }
  });
});

describe('protobuf subscribe with max_inflight', () => {
  const pbSub = (t: string, maxInflight?: number) =>
    pbFrame({ action: 'subscribe', requestId: 'sub', data: { case: 'subscribe', value: { namespace: 'p', topic: t, queueId: 0, autoAck: false, maxInflight } } });
  const payloadOf = (r: TCPResponse): string => (r.data.case === 'subscribeMessage' ? Buffer.from(r.data.value.payload).toString() : `not a message: ${r.data.case}`);

  it('pushes 2 of 10, then one more per ack; the rest stays pending', async () => {
    const t = await topicWith(10);
    const c = await RawClient.open(h.port);
    try {
      c.write(pbSub(t, 2));
      expect((await c.pb()).status).toBe('ok');
      const first = [await c.pb(), await c.pb()];
      expect(first.map(payloadOf)).toEqual(['0', '1']);
      await settle();
      expect(c.received).toBe(0);
      expect(queueStats(t)).toEqual({ pending: 8, inFlight: 2, acked: 0 });
      const id = first[0]!.data.case === 'subscribeMessage' ? first[0]!.data.value.id : '';
      c.write(pbFrame({ action: 'ack', requestId: 'ack', data: { case: 'ack', value: { namespace: 'p', topic: t, queueId: 0, messageIds: [id] } } }));
      const next = [await c.pb(), await c.pb()];
      expect(next.find((f) => f.requestId === 'ack')!.status).toBe('ok');
      expect(payloadOf(next.find((f) => f.requestId === 'sub')!)).toBe('2');
      await settle();
      expect(c.received).toBe(0);
      expect(queueStats(t)).toEqual({ pending: 7, inFlight: 2, acked: 1 });
    } finally {
      c.close();
    }
  });

  it('absent: every pending message is pushed (as before the field)', async () => {
    const t = await topicWith(10);
    const c = await RawClient.open(h.port);
    try {
      c.write(pbSub(t));
      expect((await c.pb()).status).toBe('ok');
      for (let i = 0; i < 10; i++) expect(payloadOf(await c.pb())).toBe(String(i));
      expect(queueStats(t)).toEqual({ pending: 0, inFlight: 10, acked: 0 });
    } finally {
      c.close();
    }
  });

  it('0 sent is a real 0 (the field is optional), refused like a value past the limit', async () => {
    const t = await topicWith(3);
    const c = await RawClient.open(h.port);
    try {
      for (const v of [0, LIMIT + 1, 2 ** 32 - 1]) {
        c.write(pbSub(t, v));
        const r = await c.pb();
        expect(r.status, String(v)).toBe('error');
        expect(r.error, String(v)).toBe(`INVALID_ARGUMENT: max_inflight ${v} is out of range: use 1..${LIMIT}`);
      }
      expect(queueStats(t)).toEqual({ pending: 3, inFlight: 0, acked: 0 });
    } finally {
      c.close();
    }
  });
});

describe('TcpClient subscribe with maxInflight', () => {
  for (const encoding of ['json', 'protobuf'] as const) {
    it(`sends it (${encoding}): 2 of 10 pushed, one more per ack`, async () => {
      const t = await topicWith(10);
      const c = await TcpClient.connect({ host: '127.0.0.1', port: h.port, encoding });
      try {
        const got: ClientMessage[] = [];
        await c.subscribe('p', t, 0, { autoAck: false, maxInflight: 2, onMessage: (m) => got.push(m) });
        await until(async () => (got.length === 2 ? true : undefined));
        await settle();
        expect(got).toHaveLength(2);
        expect(queueStats(t)).toEqual({ pending: 8, inFlight: 2, acked: 0 });
        await c.ack('p', t, 0, [got[0]!.id]);
        await until(async () => (got.length === 3 ? true : undefined));
        await settle();
        expect(got).toHaveLength(3);
        expect(queueStats(t)).toEqual({ pending: 7, inFlight: 2, acked: 1 });
      } finally {
        await c.close();
      }
    });

    it(`a bad bound is INVALID_ARGUMENT naming max_inflight (${encoding})`, async () => {
      const t = await topicWith(1);
      const c = await TcpClient.connect({ host: '127.0.0.1', port: h.port, encoding });
      try {
        await expect(c.subscribe('p', t, 0, { autoAck: false, maxInflight: 0, onMessage: () => {} })).rejects.toMatchObject({
          code: 'INVALID_ARGUMENT',
          message: expect.stringMatching(/max_inflight/),
        });
      } finally {
        await c.close();
      }
    });
  }
});
