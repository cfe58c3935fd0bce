/**
 * docs/PROTOCOL.md, "Subscribe" and "SSE": the SSE subscription's in-flight
 * bound (`?max_inflight=N`, prefetch), read as the SubscribeRequest field it
 * is on every front, on a raw socket and through HttpClient. With 10
 * pending and a bound of 2, two are pushed, then one more per ack, and the
 * rest stays pending; a bad value is INVALID_ARGUMENT (400) naming the
 * field; absent, the front's default bound.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpClient } from '../../src/client/http/index.js';
import type { ClientMessage } from '../../src/client/types.js';
import { eventually, type Harness, rawSubscribe, req, sseMessages, startHarness } from './harness.js';

/** The broker's bound (and the front's default, as the server wires it): 51 is past it. */
const LIMIT = 50;

let h: Harness;
let client: HttpClient;
beforeAll(async () => {
  // A long ack deadline: what is in flight stays in flight for the whole test.
  h = await startHarness({ broker: { ackTimeoutMs: 60_000, limits: { maxInflightPerSubscription: LIMIT } }, sseMaxInflight: LIMIT });
  client = new HttpClient({ baseUrl: `${h.base}/`, timeoutMs: 5_000 });
  await h.broker.createNamespace('p');
});
afterAll(async () => {
  await client.close();
  await h.stop();
});

let topicSeq = 0;
async function topicWith(n: number): Promise<{ name: string; q0: string }> {
  const name = `t${++topicSeq}`;
  await h.broker.createTopic('p', name, 1);
  for (let i = 0; i < n; i++) await h.broker.publish('p', name, Buffer.from(String(i)));
  return { name, q0: `/v1/namespaces/p/topics/${name}/queues/0` };
}

const queueStats = (t: string) => {
  const q = h.broker.topicStats('p', t).queues[0]!;
  return { pending: q.pending, inFlight: q.inFlight, acked: q.acked };
};

const settle = () => new Promise((r) => setTimeout(r, 100));

describe('SSE subscribe with max_inflight', () => {
  it('pushes 2 of 10, then one more per ack; the rest stays pending', async () => {
    const t = await topicWith(10);
    const conn = await rawSubscribe(h.port, `${t.q0}/subscribe?auto_ack=false&max_inflight=2`);
    try {
      const r = await conn.untilResponse((x) => sseMessages(x.body).length === 2);
      await settle();
      expect(sseMessages(conn.response.body).map((m) => m.payload)).toEqual([0, 1]);
      expect(queueStats(t.name)).toEqual({ pending: 8, inFlight: 2, acked: 0 });
      const ack = await req(h.base, 'POST', `${t.q0}/ack`, { message_ids: [sseMessages(r.body)[0].id] });
      expect(ack.status).toBe(200);
      await conn.untilResponse((x) => sseMessages(x.body).length === 3);
      await settle();
      expect(sseMessages(conn.response.body).map((m) => m.payload)).toEqual([0, 1, 2]);
      expect(queueStats(t.name)).toEqual({ pending: 7, inFlight: 2, acked: 1 });
    } finally {
      conn.destroy();
    }
  });

  it('absent: the default bound, every pending message is pushed (as before)', async () => {
    const t = await topicWith(10);
    const conn = await rawSubscribe(h.port, `${t.q0}/subscribe`);
    try {
      await conn.untilResponse((x) => sseMessages(x.body).length === 10);
      expect(queueStats(t.name)).toEqual({ pending: 0, inFlight: 10, acked: 0 });
    } finally {
      conn.destroy();
    }
  });

  it('0, past the limit, negative, a fraction, a word or past uint32 is INVALID_ARGUMENT (400) naming max_inflight', async () => {
    const t = await topicWith(3);
    for (const v of ['0', String(LIMIT + 1), '-1', '1.5', 'abc', String(2 ** 32)]) {
      const r = await req(h.base, 'GET', `${t.q0}/subscribe?max_inflight=${v}`);
      expect(r.status, v).toBe(400);
      expect(r.json, v).toMatchObject({ success: false, message: expect.stringMatching(/max_inflight/) });
    }
    // The core's words, as TCP and gRPC give them.
    expect((await req(h.base, 'GET', `${t.q0}/subscribe?max_inflight=0`)).json.message).toMatch(`max_inflight 0 is out of range: use 1..${LIMIT}`);
    expect(queueStats(t.name)).toEqual({ pending: 3, inFlight: 0, acked: 0 });
  });

  it('is ignored with auto_ack', async () => {
    const t = await topicWith(5);
    const conn = await rawSubscribe(h.port, `${t.q0}/subscribe?auto_ack=true&max_inflight=0`);
    try {
      expect(conn.response.head).toMatch(/^HTTP\/1\.1 200/);
      await conn.untilResponse((x) => sseMessages(x.body).length === 5);
      await eventually(() => queueStats(t.name).acked === 5);
      expect(queueStats(t.name)).toEqual({ pending: 0, inFlight: 0, acked: 5 });
    } finally {
      conn.destroy();
    }
  });
});

describe('HttpClient subscribe with maxInflight', () => {
  it('sends it: 2 of 10 pushed, one more per ack', async () => {
    const t = await topicWith(10);
    const got: ClientMessage[] = [];
    const sub = await client.subscribe('p', t.name, 0, { autoAck: false, maxInflight: 2, onMessage: (m) => got.push(m) });
    try {
      await eventually(() => got.length === 2);
      await settle();
      expect(got).toHaveLength(2);
      expect(queueStats(t.name)).toEqual({ pending: 8, inFlight: 2, acked: 0 });
      await client.ack('p', t.name, 0, [got[0]!.id]);
      await eventually(() => got.length === 3);
      await settle();
      expect(got).toHaveLength(3);
      expect(queueStats(t.name)).toEqual({ pending: 7, inFlight: 2, acked: 1 });
    } finally {
      await sub.close();
    }
  });

  it('a bad bound is INVALID_ARGUMENT naming max_inflight', async () => {
    const t = await topicWith(1);
    await expect(client.subscribe('p', t.name, 0, { autoAck: false, maxInflight: 0, onMessage: () => {} })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringMatching(/max_inflight/),
    });
  });
});
