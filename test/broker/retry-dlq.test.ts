/**
 * docs/DESIGN.md, "Nack, retries and dead letters": per-topic retry policy, nack with backoff, the
 * dead-letter queue (list, peek, consume, redrive), and their survival of a
 * restart and of an AOF rewrite.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Broker, DEFAULT_POLICY, DLQ_QUEUE_ID } from '../../src/broker/broker.js';
import { enc, fakeClock, persistentBroker, recorder, restart, text, turns } from './helpers.js';

beforeEach(fakeClock);
afterEach(() => {
  vi.useRealTimers();
});

const policy = (maxRetries: number, baseMs = 100, capMs = 400) => ({ retry: { maxRetries, baseMs, capMs } });

describe('per-topic policy', () => {
  it('defaults: retry forever, 1 s base, 60 s cap, 1 h dedup window; shown by listTopics and topicStats', async () => {
    const b = new Broker();
    await b.createNamespace('ns');
    await b.createTopic('ns', 't', 1);
    expect(b.listTopics('ns')[0]!.policy).toEqual({ retry: { maxRetries: -1, baseMs: 1000, capMs: 60_000 }, dedupWindowMs: 3_600_000, ackTimeoutMs: 0, messageTtlMs: 0, deadLetterExpired: false });
    expect(b.topicStats('ns', 't').policy).toEqual(DEFAULT_POLICY);
    await b.close();
  });

  it('is set at create and changed by setTopicPolicy (what is left out is kept), and survives restart and rewrite', async () => {
    let { broker, store } = await persistentBroker(1, { policy: { retry: { maxRetries: 3 } } });
    expect(broker.listTopics('ns')[0]!.policy).toEqual({ retry: { maxRetries: 3, baseMs: 1000, capMs: 60_000 }, dedupWindowMs: 3_600_000, ackTimeoutMs: 0, messageTtlMs: 0, deadLetterExpired: false });
    const now = await broker.setTopicPolicy('ns', 't', { retry: { capMs: 5000 }, dedupWindowMs: 60_000, ackTimeoutMs: 0, messageTtlMs: 0, deadLetterExpired: false });
    expect(now).toEqual({ retry: { maxRetries: 3, baseMs: 1000, capMs: 5000 }, dedupWindowMs: 60_000, ackTimeoutMs: 0, messageTtlMs: 0, deadLetterExpired: false });
    ({ broker, store } = await restart(broker, store));
    expect(broker.listTopics('ns')[0]!.policy).toEqual(now);
    ({ broker, store } = await restart(broker, store, { rewriteFirst: true }));
    expect(broker.listTopics('ns')[0]!.policy).toEqual(now);
    await broker.close();
  });

  it('rejects values out of range with INVALID_ARGUMENT naming the field, and changes nothing', async () => {
    const { broker } = await persistentBroker(1);
    await expect(broker.setTopicPolicy('ns', 't', { retry: { maxRetries: -2 } })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining('max_retries'),
    });
    await expect(broker.setTopicPolicy('ns', 't', { retry: { baseMs: 500, capMs: 100 } })).rejects.toMatchObject({
      message: expect.stringContaining('cap_ms'),
    });
    await expect(broker.setTopicPolicy('ns', 't', { dedupWindowMs: 1.5 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(broker.createTopic('ns', 'u', 1, { retry: { baseMs: -1 } })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(broker.listTopics('ns').map((t) => t.name)).toEqual(['t']);
    expect(broker.listTopics('ns')[0]!.policy).toEqual(DEFAULT_POLICY);
    await expect(broker.setTopicPolicy('ns', 'nope', {})).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await broker.close();
  });
});

describe('nack: redelivery after a delay', () => {
  it('an explicit delay holds the message out of the queue until then; it comes back with delivery_count + 1', async () => {
    const { broker: b } = await persistentBroker(1);
    await b.publish('ns', 't', enc('a'));
    await b.publish('ns', 't', enc('b'));
    const [m] = await b.consume('ns', 't', 0, 1, false);
    expect(await b.nack('ns', 't', 0, [m!.id], { delayMs: 500 })).toEqual({ requeued: 0, delayed: 1, deadLettered: 0 });
    expect(b.topicStats('ns', 't')).toMatchObject({ pending: 1, inFlight: 0, delayed: 1 });
    vi.advanceTimersByTime(499);
    expect((await b.consume('ns', 't', 0, 10, true)).map(text)).toEqual(['b']);
    vi.advanceTimersByTime(1);
    const again = await b.consume('ns', 't', 0, 10, true);
    expect(again.map((x) => [text(x), x.id, x.deliveryCount])).toEqual([['a', m!.id, 2]]);
    await b.close();
  });

  it('delay 0 puts it back at the head at once; unknown and acked ids are ignored', async () => {
    const { broker: b } = await persistentBroker(1);
    await b.publish('ns', 't', enc('a'));
    await b.publish('ns', 't', enc('b'));
    const [m] = await b.consume('ns', 't', 0, 1, false);
    expect(await b.nack('ns', 't', 0, [m!.id, 'unknown'], { delayMs: 0 })).toEqual({ requeued: 1, delayed: 0, deadLettered: 0 });
    expect((await b.consume('ns', 't', 0, 10, true)).map(text)).toEqual(['a', 'b']);
    expect(await b.nack('ns', 't', 0, [m!.id])).toEqual({ requeued: 0, delayed: 0, deadLettered: 0 });
    await expect(b.nack('ns', 't', 0, [m!.id], { delayMs: -1 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await b.close();
  });

  it("frees the subscription's in-flight slot, so it receives the next message at once", async () => {
    vi.useRealTimers();
    const { broker: b } = await persistentBroker(1);
    const r = recorder();
    b.subscribe('ns', 't', 0, r.handler, { autoAck: false, maxInflight: 1 });
    await b.publish('ns', 't', enc('a'));
    await b.publish('ns', 't', enc('b'));
    await turns();
    expect(r.messages.map(text)).toEqual(['a']);
    await b.nack('ns', 't', 0, [r.messages[0]!.id], { delayMs: 60_000 });
    await turns();
    expect(r.messages.map(text)).toEqual(['a', 'b']);
    await b.close();
  });

  it('without a delay, waits base * 2^(n-1) capped, with jitter in [d/2, d]', async () => {
    const { broker: b } = await persistentBroker(1, { policy: policy(-1, 100, 400) });
    await b.publish('ns', 't', enc('a'));
    for (const d of [100, 200, 400, 400]) {
      const [m] = await b.consume('ns', 't', 0, 1, false);
      await b.nack('ns', 't', 0, [m!.id]);
      vi.advanceTimersByTime(d / 2 - 1);
      expect(b.topicStats('ns', 't').delayed).toBe(1);
      vi.advanceTimersByTime(d / 2 + 1);
      expect(b.topicStats('ns', 't')).toMatchObject({ delayed: 0, pending: 1 });
    }
    await b.close();
  });

  it('a nacked message waiting for its retry survives a restart (and a rewrite), with its delivery count', async () => {
    let { broker, store } = await persistentBroker(1);
    await broker.publish('ns', 't', enc('a'));
    const [m] = await broker.consume('ns', 't', 0, 1, false);
    await broker.nack('ns', 't', 0, [m!.id], { delayMs: 1000 });
    ({ broker, store } = await restart(broker, store, { rewriteFirst: true }));
    expect(broker.topicStats('ns', 't')).toMatchObject({ pending: 0, delayed: 1 });
    vi.advanceTimersByTime(1000);
    const [again] = await broker.consume('ns', 't', 0, 1, false);
    expect([again!.id, again!.deliveryCount]).toEqual([m!.id, 2]);
    // The second restart comes after its retry time: visible at startup.
    await broker.nack('ns', 't', 0, [again!.id], { delayMs: 1000 });
    await broker.close();
    vi.advanceTimersByTime(5000);
    ({ broker, store } = await restart(broker, store));
    expect(broker.topicStats('ns', 't')).toMatchObject({ pending: 1, delayed: 0 });
    expect((await broker.consume('ns', 't', 0, 1, true))[0]!.deliveryCount).toBe(3);
    await broker.close();
  });
});

describe('dead-letter queue', () => {
  it('past max_retries a nacked message moves to the DLQ with _dlq_reason and _delivery_count headers', async () => {
    const { broker: b } = await persistentBroker(1, { policy: policy(1) });
    await b.publish('ns', 't', enc('a'), { headers: { k: 'v' } });
    let [m] = await b.consume('ns', 't', 0, 1, false);
    expect(await b.nack('ns', 't', 0, [m!.id], { delayMs: 0 })).toMatchObject({ requeued: 1 });
    [m] = await b.consume('ns', 't', 0, 1, false);
    expect(await b.nack('ns', 't', 0, [m!.id], { delayMs: 0 })).toMatchObject({ deadLettered: 1 });
    expect(b.topicStats('ns', 't')).toMatchObject({ pending: 0, inFlight: 0, dlqDepth: 1, deadLettered: 1 });
    const page = b.peekDlq('ns', 't');
    expect(page.messages.map((x) => [x.id, text(x), x.headers, x.queueId])).toEqual([[m!.id, 'a', { k: 'v', _dlq_reason: 'nacked', _delivery_count: '2' }, -1]]);
    expect(b.peek('ns', 't', DLQ_QUEUE_ID)).toEqual(page);
    await b.close();
  });

  it('an ack deadline passing too many times dead-letters with reason ack_timeout', async () => {
    const { broker: b } = await persistentBroker(1, { policy: policy(0) });
    await b.publish('ns', 't', enc('a'));
    await b.consume('ns', 't', 0, 1, false);
    vi.advanceTimersByTime(1001);
    expect(b.peekDlq('ns', 't').messages.map((x) => x.headers)).toEqual([{ _dlq_reason: 'ack_timeout', _delivery_count: '1' }]);
    await b.close();
  });

  it('is consumed like a queue: in flight until acked, back at its head when the lease passes', async () => {
    const { broker: b } = await persistentBroker(1, { policy: policy(0) });
    for (const p of ['a', 'b']) {
      await b.publish('ns', 't', enc(p));
      const [m] = await b.consume('ns', 't', 0, 1, false);
      await b.nack('ns', 't', 0, [m!.id]);
    }
    const [d] = await b.consumeDlq('ns', 't', 1, false);
    expect([text(d!), d!.queueId]).toEqual(['a', -1]);
    expect(b.topicStats('ns', 't')).toMatchObject({ dlqDepth: 1, inFlight: 1 });
    vi.advanceTimersByTime(1001);
    const both = await b.consumeDlq('ns', 't', 10, false);
    expect(both.map(text)).toEqual(['a', 'b']);
    await b.ack('ns', 't', -1, both.map((x) => x.id));
    expect(b.topicStats('ns', 't')).toMatchObject({ dlqDepth: 0, inFlight: 0 });
    await b.close();
  });

  it('redrive moves messages back to the topic without the DLQ headers and with a fresh delivery count', async () => {
    const { broker: b } = await persistentBroker(2, { policy: policy(0) });
    for (const p of ['a', 'b', 'c']) {
      await b.publish('ns', 't', enc(p), { queueId: 0, headers: { k: p } });
      const [m] = await b.consume('ns', 't', 0, 1, false);
      await b.nack('ns', 't', 0, [m!.id]);
    }
    expect(await b.redriveDlq('ns', 't', { max: 2 })).toEqual({ moved: 2 });
    expect(b.topicStats('ns', 't')).toMatchObject({ dlqDepth: 1, pending: 2 });
    const back = [...(await b.consume('ns', 't', 0, 10, true)), ...(await b.consume('ns', 't', 1, 10, true))];
    expect(back.map((x) => [text(x), x.headers, x.deliveryCount]).sort()).toEqual([
      ['a', { k: 'a' }, 1],
      ['b', { k: 'b' }, 1],
    ]);
    expect(await b.redriveDlq('ns', 't')).toEqual({ moved: 1 });
    expect(await b.redriveDlq('ns', 't')).toEqual({ moved: 0 });
    await expect(b.redriveDlq('ns', 't', { max: 0 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await b.close();
  });

  it('survives a restart and a rewrite, including a DLQ message in flight', async () => {
    let { broker, store } = await persistentBroker(1, { policy: policy(0) });
    for (const p of ['a', 'b', 'c']) {
      await broker.publish('ns', 't', enc(p));
      const [m] = await broker.consume('ns', 't', 0, 1, false);
      await broker.nack('ns', 't', 0, [m!.id]);
    }
    await broker.consumeDlq('ns', 't', 1, false);
    ({ broker, store } = await restart(broker, store));
    expect(broker.peekDlq('ns', 't').messages.map(text)).toEqual(['a', 'b', 'c']);
    await broker.consumeDlq('ns', 't', 1, false);
    ({ broker, store } = await restart(broker, store, { rewriteFirst: true }));
    const page = broker.peekDlq('ns', 't');
    expect(page.messages.map((x) => [text(x), x.headers?._dlq_reason, x.deliveryCount])).toEqual([
      ['a', 'nacked', 2],
      ['b', 'nacked', 0],
      ['c', 'nacked', 0],
    ]);
    await broker.close();
  });
});
