/**
 * Lease renew (docs/DESIGN.md, "Leases"). `renew` moves the ack deadline of in-flight
 * messages to now + extendMs (as SQS ChangeMessageVisibility); renewing a
 * message that is no longer in flight is FAILED_PRECONDITION naming it.
 * Deadlines are not persisted: a restart makes in-flight messages pending.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { brokerWithTopic, enc, fakeClock, persistentBroker, restart, text } from './helpers.js';

beforeEach(fakeClock);
afterEach(() => {
  vi.useRealTimers();
});

describe('lease renew', () => {
  it('keeps a message in flight past ack_timeout, until the renewed deadline', async () => {
    const b = await brokerWithTopic(1, { ackTimeoutMs: 1000 });
    await b.publish('ns', 't', enc('a'));
    await b.publish('ns', 't', enc('b'));
    const [a, bb] = await b.consume('ns', 't', 0, 2, false);
    vi.advanceTimersByTime(500);
    await b.renew('ns', 't', 0, [a!.id], 3000);
    vi.advanceTimersByTime(600);
    // b's deadline passed; a's lease runs to 3500.
    expect(b.stats()).toMatchObject({ pending: 1, inflight: 1 });
    vi.advanceTimersByTime(2399);
    expect(b.stats()).toMatchObject({ pending: 1, inflight: 1 });
    vi.advanceTimersByTime(1);
    const again = await b.consume('ns', 't', 0, 10, true);
    expect(again.map((m) => [text(m), m.deliveryCount])).toEqual([
      ['a', 2],
      ['b', 2],
    ]);
    expect(bb).toBeDefined();
    await b.close();
  });

  it('may also shorten a lease: the deadline is now + extendMs', async () => {
    const b = await brokerWithTopic(1, { ackTimeoutMs: 10_000 });
    await b.publish('ns', 't', enc('a'));
    const [a] = await b.consume('ns', 't', 0, 1, false);
    await b.renew('ns', 't', 0, [a!.id], 100);
    vi.advanceTimersByTime(100);
    expect(b.stats()).toMatchObject({ pending: 1, inflight: 0 });
    await b.close();
  });

  it('renewing an expired, acked or unknown message is FAILED_PRECONDITION naming it, and renews none', async () => {
    const b = await brokerWithTopic(1, { ackTimeoutMs: 1000 });
    for (const p of ['a', 'b', 'c']) await b.publish('ns', 't', enc(p));
    const [a, bb] = await b.consume('ns', 't', 0, 2, false);
    await b.ack('ns', 't', 0, [bb!.id]);
    await expect(b.renew('ns', 't', 0, [a!.id, bb!.id], 5000)).rejects.toMatchObject({
      code: 'FAILED_PRECONDITION',
      message: expect.stringContaining(`'${bb!.id}'`),
    });
    await expect(b.renew('ns', 't', 0, ['nope'], 5000)).rejects.toMatchObject({ code: 'FAILED_PRECONDITION' });
    vi.advanceTimersByTime(1000);
    // a was not renewed by the failed call: its deadline passed.
    await expect(b.renew('ns', 't', 0, [a!.id], 5000)).rejects.toMatchObject({ code: 'FAILED_PRECONDITION' });
    await expect(b.renew('ns', 't', 0, [a!.id], 0)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await b.close();
  });

  it('a renewed lease is not persisted: a restart makes the message pending again', async () => {
    let { broker, store } = await persistentBroker(1);
    await broker.publish('ns', 't', enc('a'));
    const [a] = await broker.consume('ns', 't', 0, 1, false);
    await broker.renew('ns', 't', 0, [a!.id], 60_000);
    ({ broker, store } = await restart(broker, store));
    expect(broker.stats()).toMatchObject({ pending: 1, inflight: 0 });
    await broker.close();
  });

  it('at volume, renewed and acked leases do not pile up, and exactly the unacked expire', async () => {
    const b = await brokerWithTopic(1, { ackTimeoutMs: 1000 });
    for (let i = 0; i < 5000; i++) await b.publish('ns', 't', enc(String(i)));
    const unacked: string[] = [];
    for (let i = 0; i < 50; i++) {
      const batch = await b.consume('ns', 't', 0, 100, false);
      const ids = batch.map((m) => m.id);
      await b.renew('ns', 't', 0, ids, 2000 + i);
      await b.renew('ns', 't', 0, ids, 3000 + i);
      unacked.push(text(batch.at(-1)!));
      await b.ack('ns', 't', 0, ids.slice(0, -1));
    }
    const leases = (b as unknown as { leases: { size: number } }).leases;
    expect(leases.size).toBeLessThan(2100);
    vi.advanceTimersByTime(2999);
    expect(b.stats()).toMatchObject({ pending: 0, inflight: 50 });
    vi.advanceTimersByTime(100);
    // One expiry per millisecond, each back to the head: the last to expire comes first.
    expect((await b.consume('ns', 't', 0, 1000, true)).map(text)).toEqual(unacked.reverse());
    await b.close();
  });
});
