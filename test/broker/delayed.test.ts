/**
 * Delayed publish (docs/DESIGN.md, "Delayed messages"). A message published with `delayMs` or
 * `deliverAt` is invisible until then, held in a timer structure (a heap
 * with one timer), made visible by a logged record, and survives a
 * restart; one whose time passed while the broker was down is visible at
 * startup.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { enc, fakeClock, persistentBroker, recorder, restart, text, turns } from './helpers.js';

beforeEach(fakeClock);
afterEach(() => {
  vi.useRealTimers();
});

describe('delayed publish', () => {
  it('is invisible until its delay passes, then goes to the tail of its queue', async () => {
    const { broker: b } = await persistentBroker(1);
    const r = await b.publish('ns', 't', enc('later'), { delayMs: 1000 });
    expect(r.queueId).toBe(0);
    await b.publish('ns', 't', enc('now'));
    expect(b.topicStats('ns', 't')).toMatchObject({ pending: 1, delayed: 1, queues: [{ delayed: 1 }] });
    expect(b.peek('ns', 't', 0).messages.map(text)).toEqual(['now']);
    vi.advanceTimersByTime(999);
    expect((await b.consume('ns', 't', 0, 10, true)).map(text)).toEqual(['now']);
    await b.publish('ns', 't', enc('after'));
    vi.advanceTimersByTime(1);
    const got = await b.consume('ns', 't', 0, 10, true);
    expect(got.map(text)).toEqual(['after', 'later']);
    expect(got[1]!.id).toBe(r.messageId);
    await b.close();
  });

  it('deliverAt is an absolute Unix time in ms; a past one is visible at once', async () => {
    const { broker: b } = await persistentBroker(1);
    await b.publish('ns', 't', enc('past'), { deliverAt: Date.now() - 10 });
    await b.publish('ns', 't', enc('future'), { deliverAt: Date.now() + 50 });
    expect((await b.consume('ns', 't', 0, 10, true)).map(text)).toEqual(['past']);
    vi.advanceTimersByTime(50);
    expect((await b.consume('ns', 't', 0, 10, true)).map(text)).toEqual(['future']);
    await b.close();
  });

  it('rejects both delay and deliverAt, negative or too long delays', async () => {
    const { broker: b } = await persistentBroker(1);
    await expect(b.publish('ns', 't', enc('x'), { delayMs: 1, deliverAt: Date.now() })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining('one of them'),
    });
    await expect(b.publish('ns', 't', enc('x'), { delayMs: -1 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(b.publish('ns', 't', enc('x'), { delayMs: 31 * 24 * 3600 * 1000 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(b.publish('ns', 't', enc('x'), { deliverAt: Number.NaN })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(b.topicStats('ns', 't')).toMatchObject({ pending: 0, delayed: 0 });
    await b.close();
  });

  it('many delayed messages become visible in time order (one timer for the earliest)', async () => {
    const { broker: b } = await persistentBroker(1);
    const delays = Array.from({ length: 200 }, (_, i) => ((i * 7919) % 1000) + 1);
    for (const d of delays) await b.publish('ns', 't', enc(String(d)), { delayMs: d });
    expect(vi.getTimerCount()).toBeLessThanOrEqual(3);
    vi.advanceTimersByTime(1000);
    const got = (await b.consume('ns', 't', 0, 1000, true)).map((m) => Number(text(m)));
    expect(got).toEqual([...delays].sort((x, y) => x - y));
    await b.close();
  });

  it('wakes a waiting subscriber when it becomes visible', async () => {
    vi.useRealTimers();
    const { broker: b } = await persistentBroker(1);
    const r = recorder();
    b.subscribe('ns', 't', 0, r.handler, { autoAck: true });
    await b.publish('ns', 't', enc('x'), { delayMs: 20 });
    await turns();
    expect(r.messages).toHaveLength(0);
    await new Promise((res) => setTimeout(res, 40));
    await turns();
    expect(r.messages.map(text)).toEqual(['x']);
    await b.close();
  });

  it('survives a restart and a rewrite; one whose time passed while down is visible at startup', async () => {
    let { broker, store } = await persistentBroker(2);
    await broker.publish('ns', 't', enc('soon'), { delayMs: 1000, queueId: 1 });
    await broker.publish('ns', 't', enc('late'), { delayMs: 60_000, queueId: 1 });
    ({ broker, store } = await restart(broker, store, { rewriteFirst: true }));
    expect(broker.topicStats('ns', 't')).toMatchObject({ pending: 0, delayed: 2 });
    await broker.close();
    vi.advanceTimersByTime(5000);
    ({ broker, store } = await restart(broker, store));
    expect(broker.topicStats('ns', 't')).toMatchObject({ pending: 1, delayed: 1 });
    expect((await broker.consume('ns', 't', 1, 10, true)).map(text)).toEqual(['soon']);
    vi.advanceTimersByTime(55_000);
    expect((await broker.consume('ns', 't', 1, 10, true)).map(text)).toEqual(['late']);
    await broker.close();
  });

  it('one held on a queue that a shrink removes becomes visible on an active queue', async () => {
    const { broker: b } = await persistentBroker(2, { drainTimeoutMs: 100 });
    await b.publish('ns', 't', enc('x'), { queueId: 1, delayMs: 1000 });
    await b.resizeTopic('ns', 't', 1);
    expect(b.listTopics('ns')[0]!.queueCount).toBe(1);
    expect(b.topicStats('ns', 't').queues.map((q) => q.delayed)).toEqual([1]);
    vi.advanceTimersByTime(1000);
    const got = await b.consume('ns', 't', 0, 10, true);
    expect(got.map((m) => [text(m), m.queueId])).toEqual([['x', 0]]);
    await b.close();
  });

  it('a delayed message of a deleted topic never shows up in a new topic of the same name', async () => {
    const { broker: b } = await persistentBroker(1);
    await b.publish('ns', 't', enc('x'), { delayMs: 100 });
    await b.deleteTopic('ns', 't');
    await b.createTopic('ns', 't', 1);
    vi.advanceTimersByTime(200);
    expect(b.topicStats('ns', 't')).toMatchObject({ pending: 0, delayed: 0 });
    await b.close();
  });
});
