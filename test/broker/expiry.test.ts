/**
 * Message expiry and the per-topic ack timeout (docs/DESIGN.md, "Expiry",
 * "Consume"), through the Broker API with every clock faked: an expired
 * message is never delivered (consume, push, after a nack or a lease
 * expiry, after a steal), is counted, optionally dead-lettered, and its
 * expiry time survives restarts and rewrites.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Broker } from '../../src/broker/broker.js';
import { enc, fakeClock, persistentBroker, recorder, restart, text, turns } from './helpers.js';

beforeEach(fakeClock);
afterEach(() => {
  vi.useRealTimers();
});

const texts = async (p: Promise<readonly { payload: Uint8Array }[]>): Promise<string[]> => (await p).map((m) => text(m as never));

describe('a message with ttlMs', () => {
  it('is never consumed once its ttl passed; counted as expired, not as acked or dead-lettered', async () => {
    const { broker: b } = await persistentBroker(1);
    await b.publish('ns', 't', enc('short'), { ttlMs: 100 });
    await b.publish('ns', 't', enc('long'), { ttlMs: 10_000 });
    await b.publish('ns', 't', enc('plain'));
    vi.advanceTimersByTime(99);
    expect(b.peek('ns', 't', 0).messages.map(text)).toEqual(['short', 'long', 'plain']);
    vi.advanceTimersByTime(1);
    expect(await texts(b.consume('ns', 't', 0, 10, true))).toEqual(['long', 'plain']);
    expect(b.topicStats('ns', 't')).toMatchObject({ pending: 0, expired: 1, acked: 2, deadLettered: 0, dlqDepth: 0, queues: [{ expired: 1 }] });
    await b.close();
  });

  it('an expired message behind a live head is skipped, and the run after it delivered, in order', async () => {
    const { broker: b } = await persistentBroker(1);
    await b.publish('ns', 't', enc('a'));
    await b.publish('ns', 't', enc('b'), { ttlMs: 50 });
    await b.publish('ns', 't', enc('c'));
    await b.publish('ns', 't', enc('d'), { ttlMs: 50 });
    vi.advanceTimersByTime(50);
    expect(await texts(b.consume('ns', 't', 0, 2, false))).toEqual(['a', 'c']);
    expect(b.topicStats('ns', 't')).toMatchObject({ pending: 1, inFlight: 2, expired: 1 });
    // A batch that reaches an expired tail expires it too.
    await b.publish('ns', 't', enc('e'));
    expect(await texts(b.consume('ns', 't', 0, 5, false))).toEqual(['e']);
    expect(b.topicStats('ns', 't')).toMatchObject({ pending: 0, inFlight: 3, expired: 2 });
    await b.close();
  });

  it('the head sweep expires heads without a consume, so depths stay honest', async () => {
    const { broker: b } = await persistentBroker(2);
    for (let i = 0; i < 4; i++) await b.publish('ns', 't', enc(`m${i}`), { ttlMs: 100 });
    expect(b.topicStats('ns', 't')).toMatchObject({ pending: 4, expired: 0 });
    vi.advanceTimersByTime(1000);
    expect(b.topicStats('ns', 't')).toMatchObject({ pending: 0, expired: 4, queues: [{ expired: 2 }, { expired: 2 }] });
    await b.close();
  });

  it('is never pushed to a subscriber', async () => {
    const { broker: b } = await persistentBroker(1);
    await b.publish('ns', 't', enc('gone'), { ttlMs: 10 });
    await b.publish('ns', 't', enc('kept'));
    vi.advanceTimersByTime(10);
    const r = recorder();
    b.subscribe('ns', 't', 0, r.handler, { autoAck: true });
    await turns();
    expect(r.messages.map(text)).toEqual(['kept']);
    expect(b.topicStats('ns', 't')).toMatchObject({ expired: 1 });
    await b.close();
  });

  it('is not delivered again after a nack or a lease that ended past its ttl', async () => {
    const { broker: b } = await persistentBroker(1, { ackTimeoutMs: 1000 });
    await b.publish('ns', 't', enc('nacked'), { ttlMs: 500 });
    await b.publish('ns', 't', enc('leased'), { ttlMs: 1500 });
    const [n, l] = await b.consume('ns', 't', 0, 2, false);
    expect([text(n!), text(l!)]).toEqual(['nacked', 'leased']);
    // A retry held past the expiry is visible again at 600 ms, then dropped at the head.
    expect(await b.nack('ns', 't', 0, [n!.id], { delayMs: 600 })).toMatchObject({ delayed: 1 });
    vi.advanceTimersByTime(700);
    expect(b.topicStats('ns', 't')).toMatchObject({ pending: 1, inFlight: 1, delayed: 0 });
    // The lease of 'leased' ends at 1 s: requeued; it expires at 1.5 s.
    vi.advanceTimersByTime(800);
    expect(await b.consume('ns', 't', 0, 10, true)).toEqual([]);
    expect(b.topicStats('ns', 't')).toMatchObject({ pending: 0, expired: 2, redelivered: 0 });
    await b.close();
  });

  it('is not delivered after a steal: an empty queue takes its sibling’s live messages only', async () => {
    const { broker: b } = await persistentBroker(2);
    for (let i = 0; i < 4; i++) await b.publish('ns', 't', enc(`dead${i}`), { queueId: 1, ttlMs: 10 });
    for (let i = 0; i < 2; i++) await b.publish('ns', 't', enc(`live${i}`), { queueId: 1 });
    vi.advanceTimersByTime(10);
    // Queue 0 is empty: it steals the tail half of queue 1 (dead3, live0, live1).
    expect(await texts(b.consume('ns', 't', 0, 10, true))).toEqual(['live0', 'live1']);
    expect(await b.consume('ns', 't', 1, 10, true)).toEqual([]);
    expect(b.topicStats('ns', 't')).toMatchObject({ pending: 0, expired: 4, acked: 2 });
    await b.close();
  });

  it('a queue holding only expired messages steals from a sibling on consume', async () => {
    const { broker: b } = await persistentBroker(2);
    await b.publish('ns', 't', enc('dead'), { queueId: 0, ttlMs: 10 });
    for (let i = 0; i < 2; i++) await b.publish('ns', 't', enc(`live${i}`), { queueId: 1 });
    vi.advanceTimersByTime(10);
    expect(await texts(b.consume('ns', 't', 0, 10, true))).toEqual(['live1']);
    await b.close();
  });

  it('rejects a ttl that is not a whole number of ms in 1..365 days, or not longer than the delay, and publishes nothing', async () => {
    const { broker: b } = await persistentBroker(1);
    await b.publish('ns', 't', enc('kept'));
    for (const ttlMs of [0, -1, 1.5, 365 * 86_400_000 + 1, Number.NaN]) {
      await expect(b.publish('ns', 't', enc('x'), { ttlMs })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('ttl_ms') });
    }
    await expect(b.publish('ns', 't', enc('x'), { ttlMs: 1000, delayMs: 1000 })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining('expire before it is visible'),
    });
    await expect(b.publish('ns', 'nope', enc('x'), { ttlMs: 1000 })).rejects.toMatchObject({ code: 'NOT_FOUND', message: expect.stringContaining("'nope'") });
    await expect(b.publishBatch('ns', 't', [{ payload: enc('a') }, { payload: enc('b'), ttlMs: -5 }], 'atomic')).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining('batch entry 1'),
    });
    expect(b.topicStats('ns', 't')).toMatchObject({ pending: 1, published: 1, delayed: 0 });
    expect(await texts(b.consume('ns', 't', 0, 10, true))).toEqual(['kept']);
    await b.close();
  });
});

describe("the topic's messageTtlMs", () => {
  it('applies to messages published after it is set; the shorter of it and a ttlMs wins', async () => {
    const { broker: b } = await persistentBroker(1);
    await b.publish('ns', 't', enc('before'));
    await b.setTopicPolicy('ns', 't', { messageTtlMs: 100 });
    await b.publish('ns', 't', enc('topic ttl'));
    await b.publish('ns', 't', enc('longer ttl'), { ttlMs: 10_000 });
    await b.publish('ns', 't', enc('shorter ttl'), { ttlMs: 50 });
    vi.advanceTimersByTime(50);
    expect(b.peek('ns', 't', 0).messages.map(text)).toEqual(['before', 'topic ttl', 'longer ttl', 'shorter ttl']);
    expect(await texts(b.consume('ns', 't', 0, 10, false))).toEqual(['before', 'topic ttl', 'longer ttl']);
    await b.setTopicPolicy('ns', 't', { messageTtlMs: 0 });
    await b.publish('ns', 't', enc('after off'));
    // The leases end at 1 s: the three come back to the head, where the two that expired are dropped.
    vi.advanceTimersByTime(100_000);
    expect(await texts(b.consume('ns', 't', 0, 10, true))).toEqual(['before', 'after off']);
    expect(b.topicStats('ns', 't')).toMatchObject({ expired: 3, redelivered: 1 });
    await b.close();
  });

  it('with deadLetterExpired: to the dead-letter queue with reason expired; there it never expires, and a redrive is a fresh life', async () => {
    const { broker: b } = await persistentBroker(1, { policy: { messageTtlMs: 100, deadLetterExpired: true } });
    const { messageId } = await b.publish('ns', 't', enc('late'), { headers: { k: 'v' } });
    vi.advanceTimersByTime(1000); // the sweep
    expect(b.topicStats('ns', 't')).toMatchObject({ pending: 0, expired: 1, deadLettered: 1, dlqDepth: 1 });
    const [dead] = b.peekDlq('ns', 't').messages;
    expect(dead).toMatchObject({ id: messageId, headers: { k: 'v', _dlq_reason: 'expired', _delivery_count: '0' } });
    vi.advanceTimersByTime(100_000);
    expect(b.topicStats('ns', 't')).toMatchObject({ dlqDepth: 1, expired: 1 });
    await b.setTopicPolicy('ns', 't', { messageTtlMs: 0 });
    await b.redriveDlq('ns', 't');
    vi.advanceTimersByTime(100_000);
    expect((await b.consume('ns', 't', 0, 1, true)).map((m) => [m.id, text(m), m.headers])).toEqual([[messageId, 'late', { k: 'v' }]]);
    await b.close();
  });

  it('rejects values out of range naming the field, and changes nothing', async () => {
    const { broker: b } = await persistentBroker(1);
    const before = b.listTopics('ns')[0]!.policy;
    for (const [input, field] of [
      [{ messageTtlMs: -1 }, 'message_ttl_ms'],
      [{ messageTtlMs: 365 * 86_400_000 + 1 }, 'message_ttl_ms'],
      [{ ackTimeoutMs: -1 }, 'ack_timeout_ms'],
      [{ ackTimeoutMs: 12 * 3_600_000 + 1 }, 'ack_timeout_ms'],
      [{ ackTimeoutMs: 0.5 }, 'ack_timeout_ms'],
      [{ deadLetterExpired: 'yes' as unknown as boolean }, 'dead_letter_expired'],
    ] as const) {
      await expect(b.setTopicPolicy('ns', 't', input)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining(field) });
    }
    await expect(b.setTopicPolicy('ns', 'nope', { messageTtlMs: 10 })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(b.listTopics('ns')[0]!.policy).toEqual(before);
    await b.close();
  });
});

describe("the topic's ackTimeoutMs", () => {
  it('sets the ack deadline of later deliveries; those in flight keep theirs; 0 is the broker default again', async () => {
    const { broker: b } = await persistentBroker(1, { ackTimeoutMs: 1000 });
    await b.publish('ns', 't', enc('a'));
    await b.publish('ns', 't', enc('b'));
    await b.publish('ns', 't', enc('c'));
    const [a] = await b.consume('ns', 't', 0, 1, false);
    await b.setTopicPolicy('ns', 't', { ackTimeoutMs: 200 });
    const [bb] = await b.consume('ns', 't', 0, 1, false);
    vi.advanceTimersByTime(200);
    // 'b' (200 ms) is back; 'a' (taken under the broker's 1 s) is still in flight.
    expect(b.topicStats('ns', 't')).toMatchObject({ inFlight: 1, pending: 2 });
    expect(b.peek('ns', 't', 0).messages.map(text)).toEqual(['b', 'c']);
    await b.ack('ns', 't', 0, [a!.id]);
    await b.setTopicPolicy('ns', 't', { ackTimeoutMs: 0 });
    const [again] = await b.consume('ns', 't', 0, 1, false);
    expect([again!.id, again!.deliveryCount]).toEqual([bb!.id, 2]);
    vi.advanceTimersByTime(999);
    expect(b.topicStats('ns', 't')).toMatchObject({ inFlight: 1 });
    vi.advanceTimersByTime(1);
    expect(b.topicStats('ns', 't')).toMatchObject({ inFlight: 0, pending: 2 });
    await b.close();
  });

  it('is longer than the broker default too, and applies to dead-letter consumes', async () => {
    const { broker: b } = await persistentBroker(1, { ackTimeoutMs: 1000, policy: { ackTimeoutMs: 5000, retry: { maxRetries: 0 } } });
    await b.publish('ns', 't', enc('x'));
    const [m] = await b.consume('ns', 't', 0, 1, false);
    await b.nack('ns', 't', 0, [m!.id]);
    const [d] = await b.consumeDlq('ns', 't', 1, false);
    vi.advanceTimersByTime(4999);
    expect(b.topicStats('ns', 't')).toMatchObject({ inFlight: 1, dlqDepth: 0 });
    vi.advanceTimersByTime(1);
    expect(b.topicStats('ns', 't')).toMatchObject({ inFlight: 0, dlqDepth: 1 });
    expect(d!.id).toBe(m!.id);
    await b.close();
  });
});

describe('expiry across restarts (docs/DESIGN.md, "Recovery")', () => {
  for (const rewriteFirst of [false, true]) {
    it(`keeps each message's expiry time and the policy${rewriteFirst ? ' through a rewrite' : ''}`, async () => {
      let { broker, store } = await persistentBroker(1, { policy: { ackTimeoutMs: 300, messageTtlMs: 10_000, deadLetterExpired: true } });
      await broker.publish('ns', 't', enc('topic ttl'));
      await broker.publish('ns', 't', enc('own ttl'), { ttlMs: 500 });
      await broker.publish('ns', 't', enc('held'), { delayMs: 100, ttlMs: 2000 });
      const [inflight] = await broker.consume('ns', 't', 0, 1, false);
      expect(text(inflight!)).toBe('topic ttl');
      const policy = broker.listTopics('ns')[0]!.policy;
      ({ broker, store } = await restart(broker, store, { rewriteFirst }));
      expect(broker.listTopics('ns')[0]!.policy).toEqual(policy);
      expect(policy).toMatchObject({ ackTimeoutMs: 300, messageTtlMs: 10_000, deadLetterExpired: true });
      // The in-flight one is pending again (recovery); nothing expired yet.
      expect(broker.topicStats('ns', 't')).toMatchObject({ pending: 2, delayed: 1, expired: 0 });
      vi.advanceTimersByTime(500);
      expect(await texts(broker.consume('ns', 't', 0, 10, false))).toEqual(['topic ttl', 'held']);
      expect(broker.topicStats('ns', 't')).toMatchObject({ expired: 1, dlqDepth: 1 });
      // A rewrite after the expiry and in-flight messages past their expiry while down.
      ({ broker, store } = await restart(broker, store, { rewriteFirst }));
      vi.advanceTimersByTime(10_000);
      expect(await broker.consume('ns', 't', 0, 10, true)).toEqual([]);
      expect(broker.topicStats('ns', 't')).toMatchObject({ pending: 0, expired: 2, dlqDepth: 3 });
      expect(broker.peekDlq('ns', 't').messages.map((m) => [text(m), m.headers?._dlq_reason])).toEqual([
        ['own ttl', 'expired'],
        ['topic ttl', 'expired'],
        ['held', 'expired'],
      ]);
      await broker.close();
    });
  }

  it('replays expire records to the same state (a restart right after an expiry)', async () => {
    let { broker, store } = await persistentBroker(2);
    for (let i = 0; i < 6; i++) await broker.publish('ns', 't', enc(`m${i}`), i % 2 === 0 ? { ttlMs: 100 } : {});
    vi.advanceTimersByTime(100);
    // Queue 0 (m0, m2, m4) held only expired messages: expired, then it steals m5 from queue 1.
    expect(await texts(broker.consume('ns', 't', 0, 1, true))).toEqual(['m5']);
    const peeks = [0, 1].map((q) => broker.peek('ns', 't', q).messages.map(text));
    ({ broker, store } = await restart(broker, store));
    expect([0, 1].map((q) => broker.peek('ns', 't', q).messages.map(text))).toEqual(peeks);
    await broker.close();
  });
});

describe('a broker without persistence', () => {
  it('expires the same way', async () => {
    const b = new Broker();
    await b.createNamespace('ns');
    await b.createTopic('ns', 't', 1, { messageTtlMs: 10 });
    await b.publish('ns', 't', enc('x'));
    vi.advanceTimersByTime(10);
    expect(await b.consume('ns', 't', 0, 1, true)).toEqual([]);
    expect(b.topicStats('ns', 't').expired).toBe(1);
    await b.close();
  });
});
