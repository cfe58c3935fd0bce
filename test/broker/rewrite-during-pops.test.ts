/**
 * A rewrite writes its snapshot out a slice at a time while the broker
 * goes on. Delivery counts are saved copy-on-write by the pops that happen
 * meanwhile: the snapshot must hold each message's count as it was when
 * the snapshot was taken, or replay would count those pops twice.
 */
import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../src/aof/memory-store.js';
import { Broker } from '../../src/broker/broker.js';
import { enc } from './helpers.js';

describe('rewrite while messages are consumed', () => {
  it('keeps delivery counts exact across the restart', async () => {
    // One 1,024-record slice per event-loop turn; queue 0 is written out before queue 1.
    const store = new MemoryStore([], { sliceRecords: 1 });
    const { broker } = await Broker.open({ store });
    await broker.createNamespace('ns');
    await broker.createTopic('ns', 't', 2, { retry: { maxRetries: 10 } });
    const N = 10_000;
    for (const q of [0, 1]) {
      for (let i = 0; i < N; i += 500) await Promise.all(Array.from({ length: 500 }, (_, j) => broker.publish('ns', 't', enc(`${q}:${i + j}`), { queueId: q })));
    }
    // Delivered once before the snapshot, then requeued: count 1 when it is taken.
    const early = await broker.consume('ns', 't', 1, 100, false);
    await broker.nack('ns', 't', 1, early.map((m) => m.id), { delayMs: 0 });

    const rewrite = broker.rewrite();
    // Queue 1's head is popped before the snapshot reaches it.
    const during: string[] = [];
    for (let i = 0; i < 4; i++) {
      during.push(...(await broker.consume('ns', 't', 1, 50, false)).map((m) => m.id));
      await new Promise((r) => setImmediate(r));
    }
    await rewrite;
    expect(during.length).toBe(200);

    const { broker: again } = await Broker.open({ store: store.reopen() });
    const counts = new Map<string, number>();
    for (const q of [0, 1]) {
      for (;;) {
        const batch = await again.consume('ns', 't', q, 1000, true);
        if (batch.length === 0) break;
        for (const m of batch) counts.set(m.id, m.deliveryCount);
      }
    }
    expect(counts.size).toBe(2 * N);
    const earlySet = new Set(early.map((m) => m.id));
    const duringSet = new Set(during);
    const wrong: string[] = [];
    for (const [id, count] of counts) {
      // Deliveries before the restart, plus this one.
      const expected = 1 + (earlySet.has(id) ? 1 : 0) + (duringSet.has(id) ? 1 : 0);
      if (count !== expected) wrong.push(`${id}: ${count} (expected ${expected})`);
    }
    expect(wrong).toEqual([]);
  });
});
