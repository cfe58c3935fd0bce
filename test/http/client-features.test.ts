/**
 * HttpClient's QueueFeaturesClient calls (the extensions) against a real front,
 * over each transport: results decoded to the client types, failures as
 * ClientError with the broker's code.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HttpClient } from '../../src/client/http/index.js';
import { type Harness, rejection, startHarness } from './harness.js';

const text = (p: Uint8Array): string => Buffer.from(p).toString('utf8');

for (const transport of ['http', 'fetch', 'raw'] as const) {
  describe(`QueueFeaturesClient over ${transport}`, () => {
    let h: Harness;
    let client: HttpClient;
    let n = 0;

    beforeAll(async () => {
      h = await startHarness({ broker: { ackTimeoutMs: 60_000 } });
      client = new HttpClient({ baseUrl: h.base, timeoutMs: 5_000, transport });
      await client.createNamespace('q');
    });
    afterAll(async () => {
      await client.close();
      await h.stop();
    });
    beforeEach(async () => {
      if (n++ > 0) await client.deleteTopic('q', 't');
      await client.createTopic('q', 't', 1);
    });


    it('publishEx: dedupId answers the original with duplicate; delayMs and deliverAtMs hold the message', async () => {
      const a = await client.publishEx('q', 't', '{"n":1}', { dedupId: 'k' });
      expect(a).toEqual({ messageId: expect.any(String), queueId: 0, duplicate: false });
      expect(await client.publishEx('q', 't', '{"n":2}', { dedupId: 'k' })).toEqual({ ...a, duplicate: true });
      await client.publishEx('q', 't', 'later', { delayMs: 60_000, headers: { h: '1' } });
      await client.publishEx('q', 't', 'at', { deliverAtMs: Date.now() + 60_000 });
      expect(await client.topicStats('q', 't')).toMatchObject({ pending: 1, delayed: 2 });
      expect((await rejection(client.publishEx('q', 't', 'x', { delayMs: -1 }))).code).toBe('INVALID_ARGUMENT');
    });

    it('publishBatch: partial items by index; atomic failure rejects and publishes nothing', async () => {
      const items = await client.publishBatch('q', 't', [{ payload: 'a' }, { payload: 'b', queueId: 4 }, { payload: new Uint8Array([1, 2]), dedupId: 'x' }], 'partial');
      expect(items[0]).toEqual({ ok: true, messageId: expect.any(String), queueId: 0, duplicate: false });
      expect(items[1]).toEqual({ ok: false, code: 'NOT_FOUND', error: expect.stringMatching(/queue 4/) });
      expect(items[2]).toMatchObject({ ok: true, duplicate: false });
      const err = await rejection(client.publishBatch('q', 't', [{ payload: 'c' }, { payload: 'd', queueId: 4 }], 'atomic'));
      expect(err.code).toBe('NOT_FOUND');
      expect(err.message).toMatch(/^batch entry 1: .*nothing was published$/);
      expect((await client.topicStats('q', 't')).pending).toBe(2);
    });

    it('nack and renewLease; renewing a lease no longer held is FAILED_PRECONDITION', async () => {
      await client.publish('q', 't', 'm');
      const [m] = await client.consume('q', 't', 0);
      await client.renewLease('q', 't', 0, [m!.id], 90_000);
      expect(await client.nack('q', 't', 0, [m!.id], { delayMs: 0 })).toEqual({ requeued: 1, delayed: 0, deadLettered: 0 });
      const [again] = await client.consume('q', 't', 0);
      expect(again!.deliveryCount).toBe(2);
      expect(await client.nack('q', 't', 0, [again!.id])).toEqual({ requeued: 0, delayed: 1, deadLettered: 0 });
      const err = await rejection(client.renewLease('q', 't', 0, [again!.id], 1000));
      expect(err.code).toBe('FAILED_PRECONDITION');
      expect(err.message).toMatch(/not in flight/);
    });

    it('peek: pages with a cursor, desc order, payload preview with the full size', async () => {
      for (const p of ['"one"', '"two"', '"three"']) await client.publish('q', 't', p);
      const p1 = await client.peek('q', 't', 0, { limit: 2 });
      expect(p1.messages.map((m) => text(m.payload))).toEqual(['"one"', '"two"']);
      expect(p1.messages[0]).toMatchObject({ namespace: 'q', topic: 't', queueId: 0, payloadSize: 5, deliveryCount: 0 });
      expect(p1.nextCursor).toEqual(expect.any(String));
      const p2 = await client.peek('q', 't', 0, { limit: 2, cursor: p1.nextCursor });
      expect(p2.messages.map((m) => text(m.payload))).toEqual(['"three"']);
      expect(p2.nextCursor).toBeUndefined();
      const desc = await client.peek('q', 't', 0, { order: 'desc', limit: 1, previewBytes: 3 });
      expect(desc.messages.map((m) => [text(m.payload), m.payloadSize])).toEqual([['"th', 7]]);
      expect((await rejection(client.peek('q', 't', 0, { limit: 500 }))).code).toBe('INVALID_ARGUMENT');
      expect((await rejection(client.peek('q', 't', 7))).code).toBe('NOT_FOUND');
    });

    it('dead-letter queue: peek (dlq), consumeDlq, ack at queue -1, redriveDlq', async () => {
      expect(await client.setTopicPolicy('q', 't', { maxRetries: 0 })).toEqual({ maxRetries: 0, retryBaseMs: 1000, retryCapMs: 60_000, dedupWindowMs: 3_600_000, ackTimeoutMs: 0, messageTtlMs: 0, deadLetterExpired: false });
      for (let i = 0; i < 3; i++) {
        await client.publish('q', 't', String(i));
        const [m] = await client.consume('q', 't', 0);
        expect((await client.nack('q', 't', 0, [m!.id])).deadLettered).toBe(1);
      }
      const page = await client.peek('q', 't', 99, { dlq: true });
      expect(page.messages.map((m) => text(m.payload))).toEqual(['0', '1', '2']);
      expect(page.messages[0]!.headers).toEqual({ _dlq_reason: 'nacked', _delivery_count: '1' });
      const [d] = await client.consumeDlq('q', 't');
      expect(d).toMatchObject({ queueId: -1 });
      await client.ack('q', 't', -1, [d!.id]);
      expect(await client.redriveDlq('q', 't', 1)).toBe(1);
      expect(await client.redriveDlq('q', 't')).toBe(1);
      expect(await client.consumeDlq('q', 't', { batchSize: 5, autoAck: true })).toEqual([]);
      expect((await client.consume('q', 't', 0, { batchSize: 5 })).map((m) => text(m.payload))).toEqual(['1', '2']);
    });

    it('setTopicPolicy keeps what is not given; errors carry the broker code', async () => {
      await client.setTopicPolicy('q', 't', { retryBaseMs: 10, retryCapMs: 20 });
      expect(await client.setTopicPolicy('q', 't', { dedupWindowMs: 0 })).toEqual({ maxRetries: -1, retryBaseMs: 10, retryCapMs: 20, dedupWindowMs: 0, ackTimeoutMs: 0, messageTtlMs: 0, deadLetterExpired: false });
      expect((await rejection(client.setTopicPolicy('q', 't', { retryCapMs: 1 }))).code).toBe('INVALID_ARGUMENT');
      expect((await rejection(client.setTopicPolicy('q', 'nope', { maxRetries: 1 }))).code).toBe('NOT_FOUND');
    });

    it('publishEx ttlMs and the expiry and ack-timeout policy fields (docs/DESIGN.md, "Expiry")', async () => {
      await client.createTopic('q', 'ttl', 1);
      expect(await client.setTopicPolicy('q', 'ttl', { ackTimeoutMs: 45_000, messageTtlMs: 600_000, deadLetterExpired: false })).toMatchObject({
        ackTimeoutMs: 45_000,
        messageTtlMs: 600_000,
        deadLetterExpired: false,
      });
      await client.publishEx('q', 'ttl', '"brief"', { ttlMs: 30 });
      await client.publishBatch('q', 'ttl', [{ payload: '"kept"', ttlMs: 60_000 }], 'atomic');
      for (let i = 0; i < 250 && (await client.topicStats('q', 'ttl')).expired === 0; i++) await new Promise((r) => setTimeout(r, 20));
      expect(await client.topicStats('q', 'ttl')).toMatchObject({ expired: 1, pending: 1, dlqDepth: 0 });
      expect((await client.consume('q', 'ttl', 0, { batchSize: 5, autoAck: true })).map((m) => text(m.payload))).toEqual(['"kept"']);
      expect((await rejection(client.publishEx('q', 'ttl', '"x"', { ttlMs: 0 }))).code).toBe('INVALID_ARGUMENT');
      expect((await rejection(client.setTopicPolicy('q', 'ttl', { messageTtlMs: -1 }))).message).toMatch(/message_ttl_ms/);
    });

    it('topicStats decodes every field (version as bigint, per-queue stats)', async () => {
      await client.resizeTopic('q', 't', 2);
      await client.publish('q', 't', '1', { queueId: 1 });
      const s = await client.topicStats('q', 't');
      expect(s).toEqual({
        namespace: 'q',
        topic: 't',
        queueCount: 2,
        version: 1n,
        draining: false,
        dlqDepth: 0,
        pending: 1,
        inFlight: 0,
        delayed: 0,
        published: 1,
        acked: 0,
        redelivered: 0,
        deadLettered: 0,
        expired: 0,
        publishRate: expect.any(Number),
        ackRate: expect.any(Number),
        oldestPendingAgeMs: expect.any(Number),
        policy: { maxRetries: -1, retryBaseMs: 1000, retryCapMs: 60_000, dedupWindowMs: 3_600_000, ackTimeoutMs: 0, messageTtlMs: 0, deadLetterExpired: false },
        paused: false,
        purged: 0,
        queues: [expect.objectContaining({ queueId: 0, pending: 0 }), expect.objectContaining({ queueId: 1, pending: 1, published: 1 })],
      });
      expect((await rejection(client.topicStats('q', 'nope'))).code).toBe('NOT_FOUND');
    });
  });
}
