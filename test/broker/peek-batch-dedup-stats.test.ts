/**
 * docs/DESIGN.md, "Peek", "Batches", "Deduplication", "Stats": peek, batch publish, deduplication and stats,
 * through the Broker API, with a restart in the middle of a dedup window.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Broker } from '../../src/broker/broker.js';
import { enc, fakeClock, persistentBroker, restart, text } from './helpers.js';

beforeEach(fakeClock);
afterEach(() => {
  vi.useRealTimers();
});

async function publishN(b: Broker, n: number, queueId = 0): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push((await b.publish('ns', 't', enc(`m${i}`), { queueId })).messageId);
  return ids;
}

describe('peek', () => {
  it('pages through pending messages with a cursor, head first, without consuming', async () => {
    const { broker: b } = await persistentBroker(1);
    await publishN(b, 25);
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = b.peek('ns', 't', 0, { cursor, limit: 10 });
      seen.push(...page.messages.map(text));
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => `m${i}`));
    expect(b.topicStats('ns', 't').pending).toBe(25);
    await b.close();
  });

  it('desc starts at the tail; previewBytes cuts payloads and payloadSize keeps the full size', async () => {
    const { broker: b } = await persistentBroker(1);
    await b.publish('ns', 't', enc('hello world'));
    await b.publish('ns', 't', enc('bye'));
    const page = b.peek('ns', 't', 0, { order: 'desc', previewBytes: 5 });
    expect(page.messages.map((m) => [text(m), m.payloadSize])).toEqual([
      ['bye', 3],
      ['hello', 11],
    ]);
    expect(page.nextCursor).toBeUndefined();
    const first = b.peek('ns', 't', 0, { order: 'desc', limit: 1 });
    expect(b.peek('ns', 't', 0, { order: 'desc', cursor: first.nextCursor }).messages.map(text)).toEqual(['hello world']);
    await b.close();
  });

  it('a cursor stays valid while the head is consumed', async () => {
    const { broker: b } = await persistentBroker(1);
    await publishN(b, 10);
    const p1 = b.peek('ns', 't', 0, { limit: 5 });
    await b.consume('ns', 't', 0, 3, true);
    expect(b.peek('ns', 't', 0, { cursor: p1.nextCursor, limit: 5 }).messages.map(text)).toEqual(['m5', 'm6', 'm7', 'm8', 'm9']);
    await b.close();
  });

  it('rejects a limit outside 1..100, an unknown order and a foreign cursor; 0 means the default, as on the wire', async () => {
    const { broker: b } = await persistentBroker(1);
    await b.publish('ns', 't', enc('hello'));
    expect(b.peek('ns', 't', 0, { limit: 0, previewBytes: 0 }).messages.map(text)).toEqual(['hello']);
    expect(() => b.peek('ns', 't', 0, { limit: -1 })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => b.peek('ns', 't', 0, { limit: 101 })).toThrow(/1\.\.100/);
    expect(() => b.peek('ns', 't', 0, { order: 'up' as 'asc' })).toThrow(/order/);
    expect(() => b.peek('ns', 't', 0, { cursor: 'garbage' })).toThrow(/cursor/);
    expect(() => b.peek('ns', 't', 5)).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
    await b.close();
  });
});

describe('batch publish', () => {
  it('partial: publishes the valid entries and reports each failure by index', async () => {
    const { broker: b } = await persistentBroker(2);
    const res = await b.publishBatch(
      'ns',
      't',
      [{ payload: enc('a') }, { payload: enc('b'), queueId: 7 }, { payload: enc('c'), delayMs: -5 }, { payload: enc('d'), queueId: 1 }],
      'partial',
    );
    expect(res.map((r) => r.ok)).toEqual([true, false, false, true]);
    expect(res[1]).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
    expect(res[2]).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT' } });
    expect(res[3]).toMatchObject({ ok: true, queueId: 1 });
    expect(b.topicStats('ns', 't').pending).toBe(2);
    await b.close();
  });

  it('atomic: one invalid entry publishes nothing and the error names its index; a valid batch is one group commit', async () => {
    const { broker: b, store } = await persistentBroker(1);
    await expect(
      b.publishBatch('ns', 't', [{ payload: enc('a') }, { payload: enc('b'), headers: { h: 1 as unknown as string } }], 'atomic'),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('batch entry 1') });
    expect(b.topicStats('ns', 't').pending).toBe(0);
    const durable = vi.spyOn(store, 'durable');
    const res = await b.publishBatch('ns', 't', [{ payload: enc('a') }, { payload: enc('b'), delayMs: 100 }, { payload: enc('c') }], 'atomic');
    expect(durable).toHaveBeenCalledTimes(1);
    expect(res.every((r) => r.ok)).toBe(true);
    expect((await b.consume('ns', 't', 0, 10, true)).map(text)).toEqual(['a', 'c']);
    await expect(
      b.publishBatch('ns', 't', [{ payload: enc('a') }, { payload: enc('b'), headers: { big: 'x'.repeat(70_000) } }], 'atomic'),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('batch entry 1') });
    expect(b.topicStats('ns', 't').pending).toBe(0);
    await expect(b.publishBatch('ns', 't', [], 'atomic')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(b.publishBatch('ns', 't', [{ payload: enc('a') }], 'all' as 'atomic')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await b.close();
  });
});

describe('deduplication', () => {
  it('a repeat within the window answers the original id and queue and enqueues nothing', async () => {
    const { broker: b } = await persistentBroker(3);
    const first = await b.publish('ns', 't', enc('a'), { dedupId: 'order-1' });
    const again = await b.publish('ns', 't', enc('a'), { dedupId: 'order-1' });
    expect(again).toEqual({ messageId: first.messageId, queueId: first.queueId, duplicate: true });
    expect(b.topicStats('ns', 't').pending).toBe(1);
    // Still a duplicate once the original was consumed.
    await b.consume('ns', 't', first.queueId, 10, true);
    expect((await b.publish('ns', 't', enc('a'), { dedupId: 'order-1' })).duplicate).toBe(true);
    await b.close();
  });

  it('after the window a repeat is a new message; a window of 0 never deduplicates', async () => {
    const { broker: b } = await persistentBroker(1, { policy: { dedupWindowMs: 1000 } });
    const first = await b.publish('ns', 't', enc('a'), { dedupId: 'k' });
    vi.advanceTimersByTime(1000);
    const later = await b.publish('ns', 't', enc('a'), { dedupId: 'k' });
    expect(later.messageId).not.toBe(first.messageId);
    expect(later.duplicate).toBeUndefined();
    await b.setTopicPolicy('ns', 't', { dedupWindowMs: 0 });
    await b.publish('ns', 't', enc('a'), { dedupId: 'z' });
    expect((await b.publish('ns', 't', enc('a'), { dedupId: 'z' })).duplicate).toBeUndefined();
    expect(b.topicStats('ns', 't').pending).toBe(4);
    await b.close();
  });

  it('repeats inside one batch are answered by the first', async () => {
    const { broker: b } = await persistentBroker(1);
    const res = await b.publishBatch('ns', 't', [{ payload: enc('a'), dedupId: 'k' }, { payload: enc('a'), dedupId: 'k' }], 'atomic');
    expect(res[1]).toMatchObject({ ok: true, duplicate: true, messageId: (res[0] as { messageId: string }).messageId });
    expect(b.topicStats('ns', 't').pending).toBe(1);
    await b.close();
  });

  it('the window survives a restart and a rewrite, and still ends on time', async () => {
    let { broker, store } = await persistentBroker(1, { policy: { dedupWindowMs: 10_000 } });
    const first = await broker.publish('ns', 't', enc('a'), { dedupId: 'k', delayMs: 500 });
    vi.advanceTimersByTime(4000);
    ({ broker, store } = await restart(broker, store));
    expect(await broker.publish('ns', 't', enc('a'), { dedupId: 'k' })).toMatchObject({ messageId: first.messageId, duplicate: true });
    ({ broker, store } = await restart(broker, store, { rewriteFirst: true }));
    expect(await broker.publish('ns', 't', enc('a'), { dedupId: 'k' })).toMatchObject({ messageId: first.messageId, duplicate: true });
    vi.advanceTimersByTime(6000);
    expect((await broker.publish('ns', 't', enc('a'), { dedupId: 'k' })).duplicate).toBeUndefined();
    expect(broker.topicStats('ns', 't').pending).toBe(2);
    await broker.close();
  });

  it('rejects an empty or over-long dedup id', async () => {
    const { broker: b } = await persistentBroker(1);
    await expect(b.publish('ns', 't', enc('a'), { dedupId: '' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(b.publish('ns', 't', enc('a'), { dedupId: 'x'.repeat(257) })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await b.close();
  });
});

describe('stats', () => {
  it('depths per queue and topic: pending, in flight, delayed, DLQ depth, oldest pending age', async () => {
    const { broker: b } = await persistentBroker(2, { policy: { retry: { maxRetries: 0 } } });
    await publishN(b, 3, 0);
    await b.publish('ns', 't', enc('x'), { queueId: 1, delayMs: 5000 });
    vi.advanceTimersByTime(250);
    const [m] = await b.consume('ns', 't', 0, 1, false);
    let s = b.topicStats('ns', 't');
    expect(s).toMatchObject({ namespace: 'ns', topic: 't', queueCount: 2, pending: 2, inFlight: 1, delayed: 1, dlqDepth: 0 });
    expect(s.queues.map((q) => [q.pending, q.inFlight, q.delayed])).toEqual([
      [2, 1, 0],
      [0, 0, 1],
    ]);
    expect(s.oldestPendingAgeMs).toBe(250);
    expect(s.queues[1]!.oldestPendingAgeMs).toBe(0);
    // An auto-ack consume counts as acked.
    await b.publish('ns', 't', enc('auto'), { queueId: 1 });
    await b.consume('ns', 't', 1, 1, true);
    expect(b.topicStats('ns', 't').queues[1]!.acked).toBe(1);
    s = b.topicStats('ns', 't');
    // A delayed publish counts as published when it is published, and only then.
    expect(s.queues.map((q) => q.published)).toEqual([3, 2]);
    vi.advanceTimersByTime(5000);
    expect(b.topicStats('ns', 't').queues.map((q) => [q.published, q.pending, q.delayed])).toEqual([
      [3, 2, 0],
      [2, 1, 0],
    ]);
    await b.nack('ns', 't', 0, [m!.id]);
    s = b.topicStats('ns', 't');
    expect(s).toMatchObject({ inFlight: 0, dlqDepth: 1, deadLettered: 1 });
    await b.close();
  });

  it('totals and rates: published, acked, redelivered, dead-lettered; rates over the last seconds', async () => {
    const { broker: b } = await persistentBroker(1);
    for (let sec = 0; sec < 30; sec++) {
      await publishN(b, 10);
      const got = await b.consume('ns', 't', 0, 10, false);
      await b.ack('ns', 't', 0, got.map((m) => m.id));
      vi.advanceTimersByTime(1000);
    }
    await publishN(b, 1);
    await b.consume('ns', 't', 0, 1, false);
    vi.advanceTimersByTime(1000);
    await b.consume('ns', 't', 0, 1, true);
    const s = b.topicStats('ns', 't');
    // 300 acked, plus the redelivered one taken with auto-ack.
    expect(s).toMatchObject({ published: 301, acked: 301, redelivered: 1, deadLettered: 0 });
    expect(s.publishRate).toBeGreaterThan(8);
    expect(s.publishRate).toBeLessThan(11);
    expect(s.ackRate).toBeGreaterThan(7);
    await b.close();
  });

  it('after a restart depths are the same and totals start again from zero', async () => {
    let { broker, store } = await persistentBroker(1);
    await publishN(broker, 3);
    await broker.publish('ns', 't', enc('d'), { delayMs: 1000 });
    await broker.consume('ns', 't', 0, 1, true);
    ({ broker, store } = await restart(broker, store));
    expect(broker.topicStats('ns', 't')).toMatchObject({ pending: 2, delayed: 1, published: 0, acked: 0 });
    await broker.close();
  });
});
