/**
 * The extensions over HTTP, on a real port: every route's success reply in the
 * envelope with snake_case fields, and its errors (400 with the reason for
 * a bad shape or a range the broker refuses, 404 unknown, 409 conflicting
 * state), mapped by the front's one error table.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Harness, req, startHarness } from './harness.js';

let h: Harness;
const get = (path: string) => req(h.base, 'GET', path);
const post = (path: string, body?: unknown) => req(h.base, 'POST', path, body);
const put = (path: string, body?: unknown) => req(h.base, 'PUT', path, body);

const T = '/v1/namespaces/f/topics/t';
const Q0 = `${T}/queues/0`;
let topicNo = 0;

beforeAll(async () => {
  h = await startHarness({ broker: { ackTimeoutMs: 60_000 } });
  await h.broker.createNamespace('f');
});
afterAll(async () => {
  await h.stop();
});
// A fresh one-queue topic `f/t` per test.
beforeEach(async () => {
  if (topicNo++ > 0) await h.broker.deleteTopic('f', 't');
  await h.broker.createTopic('f', 't', 1);
});

function expectError(r: { status: number; json: any }, status: number, message: RegExp | string): void {
  expect(r.status).toBe(status);
  expect(r.json.success).toBe(false);
  if (typeof message === 'string') expect(r.json.message).toBe(message);
  else expect(r.json.message).toMatch(message);
}

async function consumeOne(path = Q0): Promise<any> {
  const r = await post(`${path}/consume`, { batch_size: 1 });
  expect(r.json.data).toHaveLength(1);
  return r.json.data[0];
}

describe('POST .../publish with delay_ms, deliver_at_ms, dedup_id', () => {
  it('delay_ms holds the message: counted as delayed, not pending, not consumable', async () => {
    const r = await post(`${T}/publish`, { payload: { n: 1 }, delay_ms: 60_000 });
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ success: true, data: { message_id: expect.any(String), queue_id: 0 } });
    expect(h.broker.topicStats('f', 't')).toMatchObject({ pending: 0, delayed: 1 });
    expect((await post(`${Q0}/consume`)).json.data).toEqual([]);
  });

  it('deliver_at_ms in the past is visible at once', async () => {
    await post(`${T}/publish`, { payload: 'now', deliver_at_ms: Date.now() - 1000 });
    expect((await consumeOne()).payload).toBe('now');
  });

  it('a repeated dedup_id answers the original ids with duplicate: true and enqueues nothing', async () => {
    const first = await post(`${T}/publish`, { payload: 1, dedup_id: 'order-17' });
    expect(first.json.data.duplicate).toBeUndefined();
    const again = await post(`${T}/publish`, { payload: 2, dedup_id: 'order-17' });
    expect(again.status).toBe(200);
    expect(again.json.data).toEqual({ message_id: first.json.data.message_id, queue_id: 0, duplicate: true });
    expect(h.broker.topicStats('f', 't').pending).toBe(1);
  });

  it('400 for a mistyped field (front) and for values the broker refuses', async () => {
    expectError(await post(`${T}/publish`, { payload: 1, delay_ms: '5s' }), 400, 'field "delay_ms" must be an integer');
    expectError(await post(`${T}/publish`, { payload: 1, deliver_at_ms: 1.5 }), 400, 'field "deliver_at_ms" must be an integer');
    expectError(await post(`${T}/publish`, { payload: 1, dedup_id: 7 }), 400, 'field "dedup_id" must be a string');
    expectError(await post(`${T}/publish`, { payload: 1, delay_ms: -1 }), 400, /delay_ms -1 is out of range/);
    expectError(await post(`${T}/publish`, { payload: 1, delay_ms: 10, deliver_at_ms: Date.now() }), 400, /both set/);
    expectError(await post(`${T}/publish`, { payload: 1, dedup_id: 'x'.repeat(257) }), 400, /dedup_id must be a string of 1\.\.256/);
    expect(h.broker.topicStats('f', 't')).toMatchObject({ pending: 0, delayed: 0 });
  });
});

describe('POST .../publish-batch', () => {
  it('partial: one item per entry, failures by index with code and reason, duplicates flagged', async () => {
    const r = await post(`${T}/publish-batch`, {
      mode: 'partial',
      entries: [{ payload: 'a', dedup_id: 'd1' }, { payload: 'b', queue_id: 9 }, { payload: 'c', dedup_id: 'd1' }, { payload: 'd', delay_ms: 60_000, headers: { k: 'v' } }],
    });
    expect(r.status).toBe(200);
    const [a, b, c, d] = r.json.data;
    expect(a).toEqual({ ok: true, message_id: expect.any(String), queue_id: 0, duplicate: false });
    expect(b).toEqual({ ok: false, error_code: 'NOT_FOUND', error: expect.stringMatching(/queue 9/) });
    expect(c).toEqual({ ok: true, message_id: a.message_id, queue_id: 0, duplicate: true });
    expect(d).toMatchObject({ ok: true, duplicate: false });
    expect(h.broker.topicStats('f', 't')).toMatchObject({ pending: 1, delayed: 1 });
  });

  it('mode defaults to partial', async () => {
    const r = await post(`${T}/publish-batch`, { entries: [{ payload: 1 }, { payload: 2, queue_id: 5 }] });
    expect(r.json.data.map((x: any) => x.ok)).toEqual([true, false]);
  });

  it('atomic: all published, or the batch error with its status and nothing published', async () => {
    const ok = await post(`${T}/publish-batch`, { mode: 'atomic', entries: [{ payload: 1 }, { payload: 2 }] });
    expect(ok.json.data).toHaveLength(2);
    expect(ok.json.data.every((x: any) => x.ok)).toBe(true);
    const bad = await post(`${T}/publish-batch`, { mode: 'atomic', entries: [{ payload: 3 }, { payload: 4, queue_id: 9 }] });
    expectError(bad, 404, /^batch entry 1: queue 9 .*nothing was published$/);
    const invalid = await post(`${T}/publish-batch`, { mode: 'atomic', entries: [{ payload: 5, delay_ms: -5 }] });
    expectError(invalid, 400, /^batch entry 0: delay_ms -5/);
    expect(h.broker.topicStats('f', 't').pending).toBe(2);
  });

  it('400 for a malformed body, an entry without payload (named by index), an empty batch, an unknown mode', async () => {
    expectError(await post(`${T}/publish-batch`, {}), 400, /field "entries" is required/);
    expectError(await post(`${T}/publish-batch`, { entries: {} }), 400, 'field "entries" must be an array of messages');
    expectError(await post(`${T}/publish-batch`, { entries: [{ payload: 1 }, { headers: {} }] }), 400, 'entries[1]: field "payload" is required (any JSON value)');
    expectError(await post(`${T}/publish-batch`, { entries: [7] }), 400, 'entries[0]: must be an object');
    expectError(await post(`${T}/publish-batch`, { entries: [{ payload: 1, delay_ms: 'x' }] }), 400, 'entries[0]: field "delay_ms" must be an integer');
    expectError(await post(`${T}/publish-batch`, { entries: [] }), 400, /a batch holds 1\.\./);
    expectError(await post(`${T}/publish-batch`, { mode: 'some', entries: [{ payload: 1 }] }), 400, /batch mode "some" is invalid/);
    expectError(await post(`${T}/publish-batch`, { mode: 2, entries: [{ payload: 1 }] }), 400, 'field "mode" must be a string');
    expect(h.broker.topicStats('f', 't').pending).toBe(0);
  });

  it('404 for an unknown topic', async () => {
    expectError(await post('/v1/namespaces/f/topics/nope/publish-batch', { entries: [{ payload: 1 }] }), 404, /topic 'nope'/);
  });
});

describe('POST .../queues/:queueId/nack', () => {
  it('delay_ms 0 requeues at the head; no delay_ms uses the backoff (held); ids not in flight are ignored', async () => {
    await post(`${T}/publish`, { payload: 1 });
    const m = await consumeOne();
    const r = await post(`${Q0}/nack`, { message_ids: [m.id, 'not-in-flight'], delay_ms: 0 });
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ success: true, data: { requeued: 1, delayed: 0, dead_lettered: 0 } });
    const again = await consumeOne();
    expect(again).toMatchObject({ id: m.id, delivery_count: 2 });
    const held = await post(`${Q0}/nack`, { message_ids: [again.id] });
    expect(held.json.data).toEqual({ requeued: 0, delayed: 1, dead_lettered: 0 });
    expect(h.broker.topicStats('f', 't')).toMatchObject({ pending: 0, delayed: 1, inFlight: 0 });
  });

  it('past max_retries the message is dead-lettered', async () => {
    await put(`${T}/policy`, { max_retries: 0 });
    await post(`${T}/publish`, { payload: 1 });
    const m = await consumeOne();
    expect((await post(`${Q0}/nack`, { message_ids: [m.id] })).json.data).toEqual({ requeued: 0, delayed: 0, dead_lettered: 1 });
    expect(h.broker.topicStats('f', 't').dlqDepth).toBe(1);
  });

  it('400 for missing ids, a bad delay, a bad queue id', async () => {
    expectError(await post(`${Q0}/nack`, { message_ids: 'x' }), 400, 'field "message_ids" must be an array of strings');
    expectError(await post(`${Q0}/nack`, { message_ids: ['x'], delay_ms: 'soon' }), 400, 'field "delay_ms" must be an integer');
    expectError(await post(`${Q0}/nack`, { message_ids: ['x'], delay_ms: -3 }), 400, /delay_ms -3 is out of range/);
    expectError(await post(`${T}/queues/zero/nack`, { message_ids: ['x'] }), 400, /queue id must be an integer/);
    expectError(await post('/v1/namespaces/f/topics/nope/queues/0/nack', { message_ids: ['x'] }), 404, /topic 'nope'/);
  });
});

describe('POST .../queues/:queueId/renew', () => {
  it('extends the lease of in-flight messages', async () => {
    await post(`${T}/publish`, { payload: 1 });
    const m = await consumeOne();
    const r = await post(`${Q0}/renew`, { message_ids: [m.id], extend_ms: 120_000 });
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ success: true, message: 'leases renewed' });
  });

  it('409 for a message not in flight (expired, acked, never delivered); 400 for a bad extend_ms', async () => {
    await post(`${T}/publish`, { payload: 1 });
    const m = await consumeOne();
    await post(`${Q0}/ack`, { message_ids: [m.id] });
    expectError(await post(`${Q0}/renew`, { message_ids: [m.id], extend_ms: 1000 }), 409, /is not in flight/);
    expectError(await post(`${Q0}/renew`, { message_ids: [m.id] }), 400, 'field "extend_ms" is required (an integer)');
    expectError(await post(`${Q0}/renew`, { message_ids: [m.id], extend_ms: 0 }), 400, /extend_ms 0 is out of range/);
    expectError(await post(`${Q0}/renew`, { message_ids: 'x', extend_ms: 1 }), 400, 'field "message_ids" must be an array of strings');
  });
});

describe('GET .../queues/:queueId/peek', () => {
  beforeEach(async () => {
    for (let i = 1; i <= 5; i++) await post(`${T}/publish`, { payload: i * 11111, headers: { i: String(i) } });
  });

  it('pages from the head with a cursor, without consuming; Message + payload_size; next_cursor null at the end', async () => {
    const p1 = await get(`${Q0}/peek?limit=2`);
    expect(p1.status).toBe(200);
    expect(p1.json.data.messages.map((m: any) => m.payload)).toEqual([11111, 22222]);
    expect(p1.json.data.messages[0]).toMatchObject({ namespace: 'f', topic: 't', queue_id: 0, headers: { i: '1' }, delivery_count: 0, payload_size: 5 });
    expect(typeof p1.json.data.next_cursor).toBe('string');
    const p2 = await get(`${Q0}/peek?limit=2&cursor=${p1.json.data.next_cursor}`);
    expect(p2.json.data.messages.map((m: any) => m.payload)).toEqual([33333, 44444]);
    const p3 = await get(`${Q0}/peek?limit=2&cursor=${p2.json.data.next_cursor}`);
    expect(p3.json.data).toEqual({ messages: [expect.objectContaining({ payload: 55555 })], next_cursor: null });
    expect(h.broker.topicStats('f', 't')).toMatchObject({ pending: 5, inFlight: 0 });
  });

  it('order=desc from the tail; preview_bytes cuts payloads, payload_size keeps the full size', async () => {
    const d = await get(`${Q0}/peek?order=desc&limit=3`);
    expect(d.json.data.messages.map((m: any) => m.payload)).toEqual([55555, 44444, 33333]);
    const p = await get(`${Q0}/peek?limit=1&preview_bytes=2`);
    // The first two bytes of `11111` are still a JSON document.
    expect(p.json.data.messages[0]).toMatchObject({ payload: 11, payload_size: 5 });
  });

  it('a cut that is not JSON any more is shown as base64', async () => {
    const one = await post(`${T}/queues/0/consume`, { batch_size: 10, auto_ack: true });
    expect(one.json.data).toHaveLength(5);
    await post(`${T}/publish`, { payload: 'hello' });
    const p = await get(`${Q0}/peek?preview_bytes=3`);
    expect(p.json.data.messages[0]).toMatchObject({ payload: Buffer.from('"he').toString('base64'), payload_encoding: 'base64', payload_size: 7 });
  });

  it('400 for a bad limit, order, preview or cursor; 404 for an unknown queue', async () => {
    expectError(await get(`${Q0}/peek?limit=ten`), 400, /limit must be an integer/);
    expectError(await get(`${Q0}/peek?limit=-1`), 400, /limit -1 is out of range: use 1\.\.100/);
    expectError(await get(`${Q0}/peek?limit=101`), 400, /limit 101 is out of range/);
    expectError(await get(`${Q0}/peek?order=sideways`), 400, /order "sideways" is invalid/);
    expectError(await get(`${Q0}/peek?preview_bytes=-1`), 400, /preview_bytes -1 is invalid/);
    expectError(await get(`${Q0}/peek?cursor=garbage`), 400, /cursor "garbage" is not one this broker returned/);
    expectError(await get(`${T}/queues/3/peek`), 404, /queue 3/);
  });
});

describe('dead-letter queue: GET .../dlq, POST .../dlq/consume, POST .../dlq/redrive', () => {
  /** Dead-letters `n` messages through nack with max_retries 0. */
  async function deadLetter(n: number): Promise<string[]> {
    await put(`${T}/policy`, { max_retries: 0 });
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      await post(`${T}/publish`, { payload: { dead: i } });
      const m = await consumeOne();
      await post(`${Q0}/nack`, { message_ids: [m.id] });
      ids.push(m.id);
    }
    return ids;
  }

  it('GET .../dlq pages the dead letters, with the reason and delivery count in their headers', async () => {
    const ids = await deadLetter(3);
    const r = await get(`${T}/dlq?limit=2`);
    expect(r.status).toBe(200);
    expect(r.json.data.messages.map((m: any) => m.id)).toEqual(ids.slice(0, 2));
    expect(r.json.data.messages[0].headers).toEqual({ _dlq_reason: 'nacked', _delivery_count: '1' });
    expect(r.json.data.messages[0].payload).toEqual({ dead: 0 });
    const rest = await get(`${T}/dlq?limit=2&cursor=${r.json.data.next_cursor}`);
    expect(rest.json.data).toEqual({ messages: [expect.objectContaining({ id: ids[2] })], next_cursor: null });
    const desc = await get(`${T}/dlq?order=desc&limit=1`);
    expect(desc.json.data.messages[0].id).toBe(ids[2]);
  });

  it('consume takes them in flight at queue id -1; they are acked on .../queues/-1/ack', async () => {
    const [id] = await deadLetter(1);
    const r = await post(`${T}/dlq/consume`, { batch_size: 5 });
    expect(r.status).toBe(200);
    expect(r.json.data).toEqual([expect.objectContaining({ id, queue_id: -1 })]);
    expect(h.broker.topicStats('f', 't')).toMatchObject({ dlqDepth: 0, inFlight: 1 });
    expect((await post(`${T}/queues/-1/ack`, { message_ids: [id] })).status).toBe(200);
    expect(h.broker.topicStats('f', 't')).toMatchObject({ dlqDepth: 0, inFlight: 0 });
  });

  it('consume with auto_ack, and without a body (one message)', async () => {
    await deadLetter(3);
    expect((await post(`${T}/dlq/consume`)).json.data).toHaveLength(1);
    expect((await post(`${T}/dlq/consume`, { batch_size: 10, auto_ack: true })).json.data).toHaveLength(2);
    expect((await post(`${T}/dlq/consume`, { batch_size: 10 })).json.data).toEqual([]);
  });

  it('redrive moves them back to the topic (max, or all), without their dead-letter headers', async () => {
    const ids = await deadLetter(3);
    expect((await post(`${T}/dlq/redrive`, { max: 1 })).json).toEqual({ success: true, data: { moved: 1 } });
    expect((await post(`${T}/dlq/redrive`)).json.data).toEqual({ moved: 2 });
    expect((await post(`${T}/dlq/redrive`, {})).json.data).toEqual({ moved: 0 });
    const back = (await post(`${Q0}/consume`, { batch_size: 10 })).json.data;
    expect(back.map((m: any) => m.id)).toEqual(ids);
    expect(back[0]).toMatchObject({ headers: {}, delivery_count: 1 });
  });

  it('400 for bad shapes and ranges; 404 for an unknown topic', async () => {
    expectError(await post(`${T}/dlq/consume`, { batch_size: 'all' }), 400, 'field "batch_size" must be an integer');
    expectError(await post(`${T}/dlq/consume`, { auto_ack: 'yes' }), 400, 'field "auto_ack" must be true or false');
    expectError(await post(`${T}/dlq/consume`, { batch_size: 100_000 }), 400, /batch_size/);
    expectError(await post(`${T}/dlq/redrive`, { max: -1 }), 400, /max -1 is invalid/);
    expectError(await post(`${T}/dlq/redrive`, { max: 'all' }), 400, 'field "max" must be an integer');
    expectError(await get(`${T}/dlq?limit=x`), 400, /limit must be an integer/);
    for (const r of [
      await get('/v1/namespaces/f/topics/nope/dlq'),
      await post('/v1/namespaces/f/topics/nope/dlq/consume'),
      await post('/v1/namespaces/f/topics/nope/dlq/redrive'),
    ]) {
      expectError(r, 404, /topic 'nope'/);
    }
  });
});

describe('PUT .../policy', () => {
  it('changes what is given, keeps the rest, answers the whole policy; GET .../topics shows it', async () => {
    const r = await put(`${T}/policy`, { max_retries: 3, retry_base_ms: 200 });
    expect(r.status).toBe(200);
    const policy = { max_retries: 3, retry_base_ms: 200, retry_cap_ms: 60_000, dedup_window_ms: 3_600_000, ack_timeout_ms: 0, message_ttl_ms: 0, dead_letter_expired: false };
    expect(r.json).toEqual({ success: true, data: policy });
    const r2 = await put(`${T}/policy`, { dedup_window_ms: 0 });
    expect(r2.json.data).toEqual({ ...policy, dedup_window_ms: 0 });
    expect((await put(`${T}/policy`, {})).json.data).toEqual({ ...policy, dedup_window_ms: 0 });
    const topics = (await get('/v1/namespaces/f/topics')).json.data;
    expect(topics).toEqual([{ name: 't', queue_count: 1, version: 0, policy: { ...policy, dedup_window_ms: 0 }, paused: false }]);
  });

  it('400 for a wrong type, a range the broker refuses (nothing changes), no body; 404 unknown topic', async () => {
    expectError(await put(`${T}/policy`, { max_retries: '3' }), 400, 'field "max_retries" must be an integer');
    expectError(await put(`${T}/policy`, { retry_base_ms: 500, retry_cap_ms: 100 }), 400, /retry\.cap_ms 100 is below retry\.base_ms 500/);
    expectError(await put(`${T}/policy`, { max_retries: -2 }), 400, /max_retries -2 is out of range/);
    expectError(await put(`${T}/policy`), 400, 'request body is required: a JSON object');
    expectError(await put('/v1/namespaces/f/topics/nope/policy', { max_retries: 1 }), 404, /topic 'nope'/);
    expect(h.broker.listTopics('f')[0]!.policy.retry).toEqual({ maxRetries: -1, baseMs: 1000, capMs: 60_000 });
  });
});

describe('GET .../stats', () => {
  it('depths, totals, rates and ages of the topic and each queue, snake_case', async () => {
    await h.broker.resizeTopic('f', 't', 2);
    await post(`${T}/publish`, { payload: 1, queue_id: 0 });
    await post(`${T}/publish`, { payload: 2, queue_id: 1 });
    await post(`${T}/publish`, { payload: 3, queue_id: 1, delay_ms: 60_000 });
    await consumeOne();
    const r = await get(`${T}/stats`);
    expect(r.status).toBe(200);
    const s = r.json.data;
    expect(s).toEqual({
      namespace: 'f',
      topic: 't',
      queue_count: 2,
      version: 1,
      draining: false,
      dlq_depth: 0,
      pending: 1,
      in_flight: 1,
      delayed: 1,
      published: 3,
      acked: 0,
      redelivered: 0,
      dead_lettered: 0,
      expired: 0,
      publish_rate: expect.any(Number),
      ack_rate: expect.any(Number),
      oldest_pending_age_ms: expect.any(Number),
      policy: { max_retries: -1, retry_base_ms: 1000, retry_cap_ms: 60_000, dedup_window_ms: 3_600_000, ack_timeout_ms: 0, message_ttl_ms: 0, dead_letter_expired: false },
      paused: false,
      purged: 0,
      queues: [
        expect.objectContaining({ queue_id: 0, pending: 0, in_flight: 1, delayed: 0, published: 1 }),
        expect.objectContaining({ queue_id: 1, pending: 1, in_flight: 0, delayed: 1, published: 2 }),
      ],
    });
    expect(Object.keys(s.queues[0]).sort()).toEqual(
      ['ack_rate', 'acked', 'dead_lettered', 'delayed', 'expired', 'in_flight', 'oldest_pending_age_ms', 'pending', 'publish_rate', 'published', 'queue_id', 'redelivered'],
    );
  });

  it('404 for an unknown namespace or topic', async () => {
    expectError(await get('/v1/namespaces/f/topics/nope/stats'), 404, /topic 'nope'/);
    expectError(await get('/v1/namespaces/none/topics/t/stats'), 404, /namespace 'none'/);
  });
});
