/**
 * The extensions on the gRPC front (src/server/grpc/README.md, "Extensions"): the
 * publish extension fields and the eight RPCs PublishBatch, Nack,
 * RenewLease, Peek, ConsumeDlq, RedriveDlq, SetTopicPolicy and
 * GetTopicStats, each with its success and its errors, called by an
 * independent client (proto-loader + grpc-js) over a real socket.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, failure, startFixture, waitFor, type Fixture } from './harness.js';

const { status } = grpc;
let f: Fixture;
let ns = 0;

beforeAll(async () => {
  f = await startFixture({ broker: { limits: { maxBatch: 10 } } });
});
afterAll(() => f.stop());

/** A fresh namespace with topic `t` of `queues` queues. */
async function topic(queues = 1): Promise<string> {
  const name = `qf-${++ns}`;
  await call(f.raw, 'CreateNamespace', { name });
  await call(f.raw, 'CreateTopic', { namespace: name, name: 't', queue_count: queues });
  return name;
}

const text = (m: { payload: Buffer }): string => m.payload.toString();
const stats = async (namespace: string): Promise<any> => (await call(f.raw, 'GetTopicStats', { namespace, topic: 't' })).stats;
const consume = async (namespace: string, queue_id = 0, batch_size = 10, auto_ack = true): Promise<any[]> =>
  (await call(f.raw, 'Consume', { namespace, topic: 't', queue_id, batch_size, auto_ack })).messages;

describe('Publish: dedup_id answers a repeat with the original, duplicate: true', () => {
  it('enqueues the first, answers the repeat with its ids, and leaves publishes without dedup_id alone', async () => {
    const n = await topic(2);
    const first = await call(f.raw, 'Publish', { namespace: n, topic: 't', payload: Buffer.from('a'), dedup_id: 'order-1' });
    expect(first.duplicate).toBe(false);
    const again = await call(f.raw, 'Publish', { namespace: n, topic: 't', payload: Buffer.from('b'), dedup_id: 'order-1' });
    expect(again).toEqual({ message_id: first.message_id, queue_id: first.queue_id, duplicate: true });
    const plain = await call(f.raw, 'Publish', { namespace: n, topic: 't', payload: Buffer.from('c') });
    expect(plain.duplicate).toBe(false);
    expect((await stats(n)).published).toBe('2');
    const got = [...(await consume(n, 0)), ...(await consume(n, 1))];
    expect(got.map(text).sort()).toEqual(['a', 'c']);
  });

  it('deduplicates nothing once the window is 0 (policy)', async () => {
    const n = await topic();
    await call(f.raw, 'SetTopicPolicy', { namespace: n, topic: 't', dedup_window_ms: 0 });
    await call(f.raw, 'Publish', { namespace: n, topic: 't', payload: Buffer.from('a'), dedup_id: 'k' });
    const again = await call(f.raw, 'Publish', { namespace: n, topic: 't', payload: Buffer.from('b'), dedup_id: 'k' });
    expect(again.duplicate).toBe(false);
    expect((await consume(n)).map(text)).toEqual(['a', 'b']);
  });
});

describe('Publish: delay_ms and deliver_at_ms keep a message invisible until then', () => {
  it('a delayed message is invisible (counted as delayed, not peeked, not consumed), then delivered', async () => {
    const n = await topic();
    // Invisibility is shown on an hour-long delay and delivery on a short
    // one, so no assertion races the clock.
    await call(f.raw, 'Publish', { namespace: n, topic: 't', payload: Buffer.from('hours'), delay_ms: 3_600_000 });
    await call(f.raw, 'Publish', { namespace: n, topic: 't', payload: Buffer.from('now') });
    expect(await stats(n)).toMatchObject({ pending: '1', delayed: '1' });
    expect((await call(f.raw, 'Peek', { namespace: n, topic: 't', queue_id: 0 })).messages.map((p: any) => text(p.message))).toEqual(['now']);
    expect((await consume(n)).map(text)).toEqual(['now']);
    const later = await call(f.raw, 'Publish', { namespace: n, topic: 't', payload: Buffer.from('later'), delay_ms: 100 });
    let got: any[] = [];
    await waitFor(() => got.length > 0, 'the delayed message', 5000, async () => {
      got = await consume(n);
    });
    expect(got.map((m) => m.id)).toEqual([later.message_id]);
    expect(await stats(n)).toMatchObject({ pending: '0', delayed: '1' });
  });

  it('deliver_at_ms in the past is visible at once, in the future is held', async () => {
    const n = await topic();
    await call(f.raw, 'Publish', { namespace: n, topic: 't', payload: Buffer.from('past'), deliver_at_ms: Date.now() - 1000 });
    await call(f.raw, 'Publish', { namespace: n, topic: 't', payload: Buffer.from('future'), deliver_at_ms: Date.now() + 3_600_000 });
    expect((await consume(n)).map(text)).toEqual(['past']);
    expect((await stats(n)).delayed).toBe('1');
  });

  it('refuses both fields, a negative or too long delay with INVALID_ARGUMENT; an unknown topic with NOT_FOUND', async () => {
    const n = await topic();
    const both = await failure(call(f.raw, 'Publish', { namespace: n, topic: 't', payload: Buffer.from('x'), delay_ms: 1, deliver_at_ms: Date.now() }));
    expect(both.code).toBe(status.INVALID_ARGUMENT);
    expect(both.details).toMatch(/delay_ms and deliver_at/);
    expect((await failure(call(f.raw, 'Publish', { namespace: n, topic: 't', payload: Buffer.from('x'), delay_ms: -1 }))).code).toBe(status.INVALID_ARGUMENT);
    const tooLong = await failure(call(f.raw, 'Publish', { namespace: n, topic: 't', payload: Buffer.from('x'), delay_ms: '9223372036854775807' }));
    expect(tooLong.code).toBe(status.INVALID_ARGUMENT);
    expect((await failure(call(f.raw, 'Publish', { namespace: n, topic: 'nope', payload: Buffer.from('x'), delay_ms: 5 }))).code).toBe(status.NOT_FOUND);
    expect((await stats(n)).delayed).toBe('0');
  });
});

describe('PublishBatch', () => {
  it('partial (and unspecified): each entry on its own, failures reported by index with the error code', async () => {
    const n = await topic(2);
    const { results } = await call(f.raw, 'PublishBatch', {
      namespace: n,
      topic: 't',
      mode: 'BATCH_MODE_PARTIAL',
      entries: [
        { payload: Buffer.from('a'), queue_id: 0 },
        { payload: Buffer.from('b'), queue_id: 7 },
        { payload: Buffer.from('c'), delay_ms: -5 },
        { payload: Buffer.from('d'), queue_id: 1, headers: { h: 'v' } },
        { payload: Buffer.from('e'), dedup_id: 'd1' },
        { payload: Buffer.from('f'), dedup_id: 'd1' },
      ],
    });
    expect(results.map((r: any) => r.ok)).toEqual([true, false, false, true, true, true]);
    expect(results[0]).toMatchObject({ queue_id: 0, error_code: '', error: '' });
    expect(results[1]).toMatchObject({ ok: false, error_code: 'NOT_FOUND', message_id: '' });
    expect(results[1].error).toMatch(/queue 7/);
    expect(results[2]).toMatchObject({ ok: false, error_code: 'INVALID_ARGUMENT' });
    expect(results[3]).toMatchObject({ ok: true, queue_id: 1, duplicate: false });
    expect(results[5]).toMatchObject({ ok: true, duplicate: true, message_id: results[4].message_id });
    expect((await stats(n)).pending).toBe('3');
    const unspecified = await call(f.raw, 'PublishBatch', { namespace: n, topic: 't', entries: [{ payload: Buffer.from('g') }, { payload: Buffer.from('h'), queue_id: 9 }] });
    expect(unspecified.results.map((r: any) => r.ok)).toEqual([true, false]);
  });

  it('atomic: one invalid entry fails the call with its index and publishes nothing', async () => {
    const n = await topic();
    const err = await failure(
      call(f.raw, 'PublishBatch', {
        namespace: n,
        topic: 't',
        mode: 'BATCH_MODE_ATOMIC',
        entries: [{ payload: Buffer.from('a') }, { payload: Buffer.from('b'), queue_id: 3 }],
      }),
    );
    expect(err.code).toBe(status.NOT_FOUND);
    expect(err.details).toMatch(/batch entry 1.*nothing was published/);
    expect(await stats(n)).toMatchObject({ pending: '0', published: '0' });
    const ok = await call(f.raw, 'PublishBatch', {
      namespace: n,
      topic: 't',
      mode: 'BATCH_MODE_ATOMIC',
      entries: [{ payload: Buffer.from('a') }, { payload: Buffer.from('b'), delay_ms: 3_600_000 }, { payload: Buffer.from('c') }],
    });
    expect(ok.results.every((r: any) => r.ok)).toBe(true);
    expect((await consume(n)).map(text)).toEqual(['a', 'c']);
  });

  it('refuses an empty or oversized batch and an unknown mode with INVALID_ARGUMENT, an unknown topic with NOT_FOUND', async () => {
    const n = await topic();
    expect((await failure(call(f.raw, 'PublishBatch', { namespace: n, topic: 't', entries: [] }))).code).toBe(status.INVALID_ARGUMENT);
    const eleven = Array.from({ length: 11 }, () => ({ payload: Buffer.from('x') }));
    const big = await failure(call(f.raw, 'PublishBatch', { namespace: n, topic: 't', entries: eleven }));
    expect(big.code).toBe(status.INVALID_ARGUMENT);
    expect(big.details).toMatch(/1\.\.10/);
    const mode = await failure(call(f.raw, 'PublishBatch', { namespace: n, topic: 't', mode: 9, entries: [{ payload: Buffer.from('x') }] }));
    expect(mode.code).toBe(status.INVALID_ARGUMENT);
    expect(mode.details).toMatch(/batch mode 9/);
    expect((await failure(call(f.raw, 'PublishBatch', { namespace: n, topic: 'nope', entries: [{ payload: Buffer.from('x') }] }))).code).toBe(status.NOT_FOUND);
    expect((await stats(n)).published).toBe('0');
  });
});

describe('Nack, retries and the dead-letter queue (Peek dlq, ConsumeDlq, RedriveDlq)', () => {
  it('a nacked message is retried; past max_retries it goes to the DLQ with reason and count; it is peeked, consumed, nacked back and redriven', async () => {
    const n = await topic();
    await call(f.raw, 'SetTopicPolicy', { namespace: n, topic: 't', max_retries: 1, retry_base_ms: 50, retry_cap_ms: 50 });
    const pub = await call(f.raw, 'Publish', { namespace: n, topic: 't', payload: Buffer.from('job'), headers: { k: 'v' } });

    // Delivery 1, nacked with the topic's backoff: held, then redelivered.
    let [m] = await consume(n, 0, 1, false);
    expect(m.delivery_count).toBe(1);
    expect(await call(f.raw, 'Nack', { namespace: n, topic: 't', queue_id: 0, message_ids: [m.id] })).toEqual({
      success: true,
      requeued: 0,
      delayed: 1,
      dead_lettered: 0,
    });
    let got: any[] = [];
    await waitFor(() => got.length > 0, 'the retried message', 5000, async () => {
      got = await consume(n, 0, 1, false);
    });
    m = got[0];
    expect(m).toMatchObject({ id: pub.message_id, delivery_count: 2 });

    // Delivery 2 is past max_retries 1: dead-lettered.
    expect(await call(f.raw, 'Nack', { namespace: n, topic: 't', queue_id: 0, message_ids: [m.id] })).toMatchObject({ dead_lettered: 1 });
    expect(await stats(n)).toMatchObject({ pending: '0', in_flight: '0', dlq_depth: '1', dead_lettered: '1', redelivered: '1' });

    const peeked = await call(f.raw, 'Peek', { namespace: n, topic: 't', dlq: true });
    expect(peeked.next_cursor).toBe('');
    expect(peeked.messages).toHaveLength(1);
    expect(peeked.messages[0].message).toMatchObject({ id: pub.message_id, queue_id: -1 });
    expect(peeked.messages[0].message.headers).toEqual({ k: 'v', _dlq_reason: 'nacked', _delivery_count: '2' });

    // Consumed from the DLQ without auto-ack: in flight as queue -1; a nack puts it back at the DLQ's head.
    const [dead] = (await call(f.raw, 'ConsumeDlq', { namespace: n, topic: 't', batch_size: 5 })).messages;
    expect(dead).toMatchObject({ id: pub.message_id, queue_id: -1 });
    expect(await stats(n)).toMatchObject({ dlq_depth: '0', in_flight: '1' });
    expect(await call(f.raw, 'Nack', { namespace: n, topic: 't', queue_id: -1, message_ids: [dead.id] })).toMatchObject({ requeued: 1 });
    expect((await stats(n)).dlq_depth).toBe('1');

    // Redriven: back in the topic, without the DLQ headers and with a fresh count.
    expect(await call(f.raw, 'RedriveDlq', { namespace: n, topic: 't' })).toEqual({ success: true, moved: 1 });
    const [back] = await consume(n);
    expect(back).toMatchObject({ id: pub.message_id, queue_id: 0, delivery_count: 1 });
    expect(back.headers).toEqual({ k: 'v' });
    expect((await stats(n)).dlq_depth).toBe('0');
  });

  it('nack delay_ms 0 requeues at the head at once; ids not in flight are ignored', async () => {
    const n = await topic();
    await call(f.raw, 'Publish', { namespace: n, topic: 't', payload: Buffer.from('a') });
    await call(f.raw, 'Publish', { namespace: n, topic: 't', payload: Buffer.from('b') });
    const [a] = await consume(n, 0, 1, false);
    const res = await call(f.raw, 'Nack', { namespace: n, topic: 't', queue_id: 0, message_ids: [a.id, 'not-in-flight'], delay_ms: 0 });
    expect(res).toEqual({ success: true, requeued: 1, delayed: 0, dead_lettered: 0 });
    const again = await consume(n);
    expect(again.map(text)).toEqual(['a', 'b']);
    expect(again[0].delivery_count).toBe(2);
  });

  it('ConsumeDlq with auto_ack removes the messages; RedriveDlq max moves at most that many', async () => {
    const n = await topic();
    await call(f.raw, 'SetTopicPolicy', { namespace: n, topic: 't', max_retries: 0 });
    for (const p of ['a', 'b', 'c']) await call(f.raw, 'Publish', { namespace: n, topic: 't', payload: Buffer.from(p) });
    const msgs = await consume(n, 0, 3, false);
    expect((await call(f.raw, 'Nack', { namespace: n, topic: 't', queue_id: 0, message_ids: msgs.map((m) => m.id) })).dead_lettered).toBe(3);
    const taken = (await call(f.raw, 'ConsumeDlq', { namespace: n, topic: 't', batch_size: 1, auto_ack: true })).messages;
    expect(taken.map(text)).toEqual(['a']);
    expect(await call(f.raw, 'RedriveDlq', { namespace: n, topic: 't', max: 1 })).toMatchObject({ moved: 1 });
    expect((await consume(n)).map(text)).toEqual(['b']);
    expect(await stats(n)).toMatchObject({ dlq_depth: '1', in_flight: '0' });
  });

  it('errors: NOT_FOUND for an unknown topic, INVALID_ARGUMENT for a bad delay, batch size or max', async () => {
    const n = await topic();
    expect((await failure(call(f.raw, 'Nack', { namespace: n, topic: 'nope', queue_id: 0, message_ids: ['x'] }))).code).toBe(status.NOT_FOUND);
    expect((await failure(call(f.raw, 'Nack', { namespace: n, topic: 't', queue_id: 0, message_ids: ['x'], delay_ms: -1 }))).code).toBe(status.INVALID_ARGUMENT);
    expect((await failure(call(f.raw, 'ConsumeDlq', { namespace: 'nope', topic: 't', batch_size: 1 }))).code).toBe(status.NOT_FOUND);
    expect((await failure(call(f.raw, 'ConsumeDlq', { namespace: n, topic: 't', batch_size: 100_000 }))).code).toBe(status.INVALID_ARGUMENT);
    expect((await failure(call(f.raw, 'RedriveDlq', { namespace: n, topic: 'nope' }))).code).toBe(status.NOT_FOUND);
    expect((await failure(call(f.raw, 'RedriveDlq', { namespace: n, topic: 't', max: -1 }))).code).toBe(status.INVALID_ARGUMENT);
  });
});

describe('RenewLease', () => {
  it('extends an in-flight lease; after an ack the renewal is FAILED_PRECONDITION', async () => {
    const n = await topic();
    await call(f.raw, 'Publish', { namespace: n, topic: 't', payload: Buffer.from('a') });
    const [m] = await consume(n, 0, 1, false);
    expect(await call(f.raw, 'RenewLease', { namespace: n, topic: 't', queue_id: 0, message_ids: [m.id], extend_ms: 60_000 })).toEqual({ success: true });
    await call(f.raw, 'Ack', { namespace: n, topic: 't', queue_id: 0, message_ids: [m.id] });
    const err = await failure(call(f.raw, 'RenewLease', { namespace: n, topic: 't', queue_id: 0, message_ids: [m.id], extend_ms: 60_000 }));
    expect(err.code).toBe(status.FAILED_PRECONDITION);
    expect(err.details).toMatch(/not in flight/);
  });

  it('refuses extend_ms out of range with INVALID_ARGUMENT, an unknown topic with NOT_FOUND', async () => {
    const n = await topic();
    await call(f.raw, 'Publish', { namespace: n, topic: 't', payload: Buffer.from('a') });
    const [m] = await consume(n, 0, 1, false);
    for (const extend_ms of [0, 13 * 3600 * 1000]) {
      const err = await failure(call(f.raw, 'RenewLease', { namespace: n, topic: 't', queue_id: 0, message_ids: [m.id], extend_ms }));
      expect(err.code).toBe(status.INVALID_ARGUMENT);
      expect(err.details).toMatch(/extend_ms/);
    }
    expect((await failure(call(f.raw, 'RenewLease', { namespace: n, topic: 'nope', queue_id: 0, message_ids: [m.id], extend_ms: 1000 }))).code).toBe(status.NOT_FOUND);
  });

  it('renewing a lease that expired is FAILED_PRECONDITION', async () => {
    const short = await startFixture({ broker: { ackTimeoutMs: 100 } });
    try {
      await call(short.raw, 'CreateNamespace', { name: 'lease' });
      await call(short.raw, 'CreateTopic', { namespace: 'lease', name: 't', queue_count: 1 });
      await call(short.raw, 'Publish', { namespace: 'lease', topic: 't', payload: Buffer.from('a') });
      const [m] = (await call(short.raw, 'Consume', { namespace: 'lease', topic: 't', queue_id: 0, batch_size: 1 })).messages;
      let s: any;
      await waitFor(() => s?.pending === '1', 'the lease to expire', 5000, async () => {
        s = (await call(short.raw, 'GetTopicStats', { namespace: 'lease', topic: 't' })).stats;
      });
      const err = await failure(call(short.raw, 'RenewLease', { namespace: 'lease', topic: 't', queue_id: 0, message_ids: [m.id], extend_ms: 60_000 }));
      expect(err.code).toBe(status.FAILED_PRECONDITION);
      expect(err.details).toMatch(/lease expired/);
    } finally {
      await short.stop();
    }
  });
});

describe('Peek', () => {
  it('pages pending messages with a cursor, asc and desc, with a payload preview, and consumes nothing', async () => {
    const n = await topic();
    for (const p of ['one', 'two', 'three', 'four', 'five']) await call(f.raw, 'Publish', { namespace: n, topic: 't', payload: Buffer.from(p) });
    const page1 = await call(f.raw, 'Peek', { namespace: n, topic: 't', queue_id: 0, limit: 2, order: 'PEEK_ORDER_ASC' });
    expect(page1.messages.map((p: any) => text(p.message))).toEqual(['one', 'two']);
    expect(page1.next_cursor).not.toBe('');
    const page2 = await call(f.raw, 'Peek', { namespace: n, topic: 't', queue_id: 0, limit: 2, cursor: page1.next_cursor });
    expect(page2.messages.map((p: any) => text(p.message))).toEqual(['three', 'four']);
    const page3 = await call(f.raw, 'Peek', { namespace: n, topic: 't', queue_id: 0, limit: 2, cursor: page2.next_cursor });
    expect(page3.messages.map((p: any) => text(p.message))).toEqual(['five']);
    expect(page3.next_cursor).toBe('');

    const desc = await call(f.raw, 'Peek', { namespace: n, topic: 't', queue_id: 0, order: 'PEEK_ORDER_DESC', preview_bytes: 2 });
    expect(desc.messages.map((p: any) => text(p.message))).toEqual(['fi', 'fo', 'th', 'tw', 'on']);
    expect(desc.messages.map((p: any) => p.payload_size)).toEqual([4, 4, 5, 3, 3]);
    expect(desc.messages[0].message.delivery_count).toBe(0);

    expect((await consume(n)).map(text)).toEqual(['one', 'two', 'three', 'four', 'five']);
  });

  it('refuses a limit over 100, an unknown order and a bad cursor with INVALID_ARGUMENT, an unknown queue with NOT_FOUND', async () => {
    const n = await topic();
    const limit = await failure(call(f.raw, 'Peek', { namespace: n, topic: 't', queue_id: 0, limit: 101 }));
    expect(limit.code).toBe(status.INVALID_ARGUMENT);
    expect(limit.details).toMatch(/1\.\.100/);
    const order = await failure(call(f.raw, 'Peek', { namespace: n, topic: 't', queue_id: 0, order: 7 }));
    expect(order.code).toBe(status.INVALID_ARGUMENT);
    expect(order.details).toMatch(/order 7/);
    expect((await failure(call(f.raw, 'Peek', { namespace: n, topic: 't', queue_id: 0, cursor: 'garbage' }))).code).toBe(status.INVALID_ARGUMENT);
    expect((await failure(call(f.raw, 'Peek', { namespace: n, topic: 't', queue_id: 4 }))).code).toBe(status.NOT_FOUND);
    expect((await failure(call(f.raw, 'Peek', { namespace: n, topic: 'nope', dlq: true }))).code).toBe(status.NOT_FOUND);
  });
});

describe('SetTopicPolicy', () => {
  it('changes the given fields, keeps the others, and ListTopics shows the policy', async () => {
    const n = await topic();
    const res = await call(f.raw, 'SetTopicPolicy', { namespace: n, topic: 't', max_retries: 3, retry_base_ms: 200 });
    expect(res).toEqual({ success: true, policy: { max_retries: 3, retry_base_ms: '200', retry_cap_ms: '60000', dedup_window_ms: '3600000', ack_timeout_ms: '0', message_ttl_ms: '0', dead_letter_expired: false } });
    const next = await call(f.raw, 'SetTopicPolicy', { namespace: n, topic: 't', dedup_window_ms: 1000 });
    expect(next.policy).toEqual({ max_retries: 3, retry_base_ms: '200', retry_cap_ms: '60000', dedup_window_ms: '1000', ack_timeout_ms: '0', message_ttl_ms: '0', dead_letter_expired: false });
    const { topics } = await call(f.raw, 'ListTopics', { namespace: n });
    expect(topics[0].policy).toEqual(next.policy);
    expect((await stats(n)).policy).toEqual(next.policy);
  });

  it('refuses out-of-range values with INVALID_ARGUMENT (nothing changed), an unknown topic with NOT_FOUND', async () => {
    const n = await topic();
    const err = await failure(call(f.raw, 'SetTopicPolicy', { namespace: n, topic: 't', max_retries: 2, retry_base_ms: -1 }));
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toMatch(/base_ms/);
    expect((await stats(n)).policy.max_retries).toBe(-1);
    expect((await failure(call(f.raw, 'SetTopicPolicy', { namespace: n, topic: 'nope', max_retries: 1 }))).code).toBe(status.NOT_FOUND);
  });
});

describe('GetTopicStats', () => {
  it('counts pending, in flight, delayed, DLQ depth and totals per topic and per queue', async () => {
    const n = await topic(2);
    await call(f.raw, 'SetTopicPolicy', { namespace: n, topic: 't', max_retries: 0 });
    for (const q of [0, 0, 0, 1]) await call(f.raw, 'Publish', { namespace: n, topic: 't', payload: Buffer.from('x'), queue_id: q });
    // Checked before the delayed publish: the core counts a delayed message in
    // `published` neither when held nor when it becomes visible (reported).
    expect(await stats(n)).toMatchObject({ published: '4', queues: [{ published: '3' }, { published: '1' }] });
    await call(f.raw, 'Publish', { namespace: n, topic: 't', payload: Buffer.from('later'), queue_id: 1, delay_ms: 3_600_000 });
    const [a, b] = await consume(n, 0, 2, false);
    await call(f.raw, 'Ack', { namespace: n, topic: 't', queue_id: 0, message_ids: [a.id] });
    await call(f.raw, 'Nack', { namespace: n, topic: 't', queue_id: 0, message_ids: [b.id] });
    const [c] = await consume(n, 0, 1, false);
    const s = await stats(n);
    expect(s).toMatchObject({
      namespace: n,
      topic: 't',
      queue_count: 2,
      version: '0',
      draining: false,
      pending: '1',
      in_flight: '1',
      delayed: '1',
      dlq_depth: '1',
      acked: '1',
      dead_lettered: '1',
    });
    // Rates are sampled by the core on a timer: only their presence is the front's concern.
    expect(typeof s.publish_rate).toBe('number');
    expect(typeof s.ack_rate).toBe('number');
    expect(Number(s.oldest_pending_age_ms)).toBeGreaterThanOrEqual(0);
    expect(s.queues).toHaveLength(2);
    expect(s.queues[0]).toMatchObject({ queue_id: 0, pending: '0', in_flight: '1', delayed: '0', acked: '1', dead_lettered: '1' });
    expect(s.queues[1]).toMatchObject({ queue_id: 1, pending: '1', in_flight: '0', delayed: '1', acked: '0' });
    await call(f.raw, 'Ack', { namespace: n, topic: 't', queue_id: 0, message_ids: [c.id] });
  });

  it('answers NOT_FOUND for an unknown namespace or topic', async () => {
    expect((await failure(call(f.raw, 'GetTopicStats', { namespace: 'nope', topic: 't' }))).code).toBe(status.NOT_FOUND);
    const n = await topic();
    const err = await failure(call(f.raw, 'GetTopicStats', { namespace: n, topic: 'nope' }));
    expect(err.code).toBe(status.NOT_FOUND);
    expect(err.details).toMatch(/nope/);
  });
});

describe('state set through gRPC survives a restart (delayed, nacked for retry, DLQ, dedup window, policy)', () => {
  it('is all there after the broker is reopened from its records', async () => {
    const { MemoryStore } = await import('../../src/aof/memory-store.js');
    const { Broker } = await import('../../src/broker/broker.js');
    const store = new MemoryStore();
    const before = await startFixture({ opened: (await Broker.open({ store })).broker });
    const r = before.raw;
    await call(r, 'CreateNamespace', { name: 'keep' });
    await call(r, 'CreateTopic', { namespace: 'keep', name: 't', queue_count: 1 });
    await call(r, 'SetTopicPolicy', { namespace: 'keep', topic: 't', max_retries: 1, retry_base_ms: 3_600_000, retry_cap_ms: 3_600_000 });
    const first = await call(r, 'Publish', { namespace: 'keep', topic: 't', payload: Buffer.from('once'), dedup_id: 'k' });
    await call(r, 'Publish', { namespace: 'keep', topic: 't', payload: Buffer.from('later'), delay_ms: 3_600_000 });
    const retry = await call(r, 'Publish', { namespace: 'keep', topic: 't', payload: Buffer.from('retry') });
    await call(r, 'Publish', { namespace: 'keep', topic: 't', payload: Buffer.from('dead') });
    await call(r, 'Consume', { namespace: 'keep', topic: 't', queue_id: 0, batch_size: 1, auto_ack: true });
    const [toRetry, toKill] = (await call(r, 'Consume', { namespace: 'keep', topic: 't', queue_id: 0, batch_size: 2 })).messages;
    expect(toRetry.id).toBe(retry.message_id);
    await call(r, 'Nack', { namespace: 'keep', topic: 't', queue_id: 0, message_ids: [toRetry.id] });
    await call(r, 'Nack', { namespace: 'keep', topic: 't', queue_id: 0, message_ids: [toKill.id], delay_ms: 0 });
    const [again] = (await call(r, 'Consume', { namespace: 'keep', topic: 't', queue_id: 0, batch_size: 1 })).messages;
    expect(await call(r, 'Nack', { namespace: 'keep', topic: 't', queue_id: 0, message_ids: [again.id] })).toMatchObject({ dead_lettered: 1 });
    await before.stop();

    const after = await startFixture({ opened: (await Broker.open({ store: store.reopen() })).broker });
    try {
      const s = (await call(after.raw, 'GetTopicStats', { namespace: 'keep', topic: 't' })).stats;
      expect(s).toMatchObject({ pending: '0', in_flight: '0', delayed: '2', dlq_depth: '1' });
      expect(s.policy).toEqual({ max_retries: 1, retry_base_ms: '3600000', retry_cap_ms: '3600000', dedup_window_ms: '3600000', ack_timeout_ms: '0', message_ttl_ms: '0', dead_letter_expired: false });
      const dlq = await call(after.raw, 'Peek', { namespace: 'keep', topic: 't', dlq: true });
      expect(dlq.messages.map((p: any) => [text(p.message), p.message.headers._dlq_reason])).toEqual([['dead', 'nacked']]);
      const repeat = await call(after.raw, 'Publish', { namespace: 'keep', topic: 't', payload: Buffer.from('twice'), dedup_id: 'k' });
      expect(repeat).toMatchObject({ message_id: first.message_id, duplicate: true });
    } finally {
      await after.stop();
    }
  });
});
