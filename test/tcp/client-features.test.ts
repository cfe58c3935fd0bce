/**
 * TcpClient implements QueueFeaturesClient (the extensions) over a real port, in
 * both encodings: every method, its errors as typed ClientErrors, and the
 * flows end to end (delay, nack -> DLQ -> peek -> redrive, dedup, atomic
 * batch, renew of an expired lease).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TcpClient } from '../../src/client/tcp/index.js';
import { ClientError } from '../../src/client/types.js';
import { type Harness, startHarness, until } from './helpers.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ ackTimeoutMs: 100 });
});
afterAll(async () => {
  await h.close();
});

const text = (b: Uint8Array): string => Buffer.from(b).toString('utf8');

for (const encoding of ['json', 'protobuf'] as const) {
  describe(`TcpClient queue features (${encoding})`, () => {
    const ns = `feat-${encoding}`;
    let c: TcpClient;
    let n = 0;
    const topic = async (queues = 1): Promise<string> => {
      const name = `t${++n}`;
      await c.createTopic(ns, name, queues);
      return name;
    };
    beforeAll(async () => {
      c = await TcpClient.connect({ host: '127.0.0.1', port: h.port, encoding });
      await c.createNamespace(ns);
    });
    afterAll(async () => {
      await c.close();
    });

    it('publishEx: dedup answers the original ids with duplicate; a delayed message shows up later', async () => {
      const t = await topic();
      const first = await c.publishEx(ns, t, '{"n":1}', { dedupId: 'k' });
      expect(first.duplicate).toBe(false);
      expect(await c.publishEx(ns, t, '{"n":2}', { dedupId: 'k' })).toEqual({ ...first, duplicate: true });
      await c.publishEx(ns, t, '"later"', { delayMs: 30 });
      await c.publishEx(ns, t, '"at"', { deliverAtMs: Date.now() + 30 });
      expect((await c.topicStats(ns, t)).delayed).toBe(2);
      const got: string[] = [];
      await until(async () => {
        got.push(...(await c.consume(ns, t, 0, { batchSize: 10, autoAck: true })).map((m) => text(m.payload)));
        return got.length === 3 ? true : undefined;
      });
      expect(got.sort()).toEqual(['"at"', '"later"', '{"n":1}']);
      await expect(c.publishEx(ns, t, 'x', { delayMs: -1 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    });

    it('publishBatch: partial reports failures by index; atomic publishes nothing on failure', async () => {
      const t = await topic(2);
      const items = await c.publishBatch(
        ns,
        t,
        [{ payload: '1' }, { payload: '2', queueId: 9 }, { payload: '3', dedupId: 'd' }, { payload: '4', dedupId: 'd' }],
        'partial',
      );
      expect(items.map((i) => i.ok)).toEqual([true, false, true, true]);
      expect(items[1]).toMatchObject({ ok: false, code: 'NOT_FOUND' });
      expect(items[3]).toMatchObject({ ok: true, duplicate: true, messageId: (items[2] as { messageId: string }).messageId });
      const before = (await c.topicStats(ns, t)).pending;
      await expect(c.publishBatch(ns, t, [{ payload: 'a' }, { payload: 'b', delayMs: -5 }], 'atomic')).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
        message: expect.stringMatching(/^batch entry 1: .*nothing was published/),
      });
      expect((await c.topicStats(ns, t)).pending).toBe(before);
    });

    it('nack -> DLQ -> peek -> consumeDlq -> redrive, with the policy set through the client', async () => {
      const t = await topic();
      expect(await c.setTopicPolicy(ns, t, { maxRetries: 0 })).toEqual({ maxRetries: 0, retryBaseMs: 1000, retryCapMs: 60_000, dedupWindowMs: 3_600_000, ackTimeoutMs: 0, messageTtlMs: 0, deadLetterExpired: false });
      await c.publish(ns, t, '{"job":1}');
      const [m] = await c.consume(ns, t, 0);
      expect(await c.nack(ns, t, 0, [m!.id])).toEqual({ requeued: 0, delayed: 0, deadLettered: 1 });
      const page = await c.peek(ns, t, 0, { dlq: true });
      expect(page.nextCursor).toBeUndefined();
      expect(page.messages).toHaveLength(1);
      expect(page.messages[0]).toMatchObject({ id: m!.id, queueId: -1, payloadSize: 9, headers: { _dlq_reason: 'nacked', _delivery_count: '1' } });
      expect(text(page.messages[0]!.payload)).toBe('{"job":1}');
      const stats = await c.topicStats(ns, t);
      expect(stats).toMatchObject({ namespace: ns, topic: t, queueCount: 1, version: 0n, dlqDepth: 1, deadLettered: 1, policy: { maxRetries: 0 } });
      expect(stats.queues.map((q) => q.queueId)).toEqual([0]);

      const [dead] = await c.consumeDlq(ns, t, { batchSize: 5 });
      expect(dead).toMatchObject({ id: m!.id, queueId: -1 });
      expect(await c.nack(ns, t, -1, [dead!.id], { delayMs: 0 })).toEqual({ requeued: 1, delayed: 0, deadLettered: 0 });
      expect(await c.redriveDlq(ns, t)).toBe(1);
      expect(await c.redriveDlq(ns, t, 5)).toBe(0);
      const [back] = await c.consume(ns, t, 0, { autoAck: true });
      expect(back).toMatchObject({ id: m!.id, deliveryCount: 1 });
      await expect(c.redriveDlq(ns, 'nope')).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await expect(c.setTopicPolicy(ns, t, { retryBaseMs: 10, retryCapMs: 5 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    });

    it('publishEx ttlMs and the policy fields of expiry and ack timeout (docs/DESIGN.md, "Expiry")', async () => {
      const t = await topic();
      expect(await c.setTopicPolicy(ns, t, { ackTimeoutMs: 60_000, messageTtlMs: 3_600_000, deadLetterExpired: true })).toMatchObject({
        ackTimeoutMs: 60_000,
        messageTtlMs: 3_600_000,
        deadLetterExpired: true,
      });
      await c.publishEx(ns, t, '"brief"', { ttlMs: 30 });
      await c.publishEx(ns, t, '"kept"', { ttlMs: 60_000 });
      await until(async () => ((await c.topicStats(ns, t)).expired === 1 ? true : undefined));
      const stats = await c.topicStats(ns, t);
      expect(stats).toMatchObject({ expired: 1, pending: 1, dlqDepth: 1, queues: [{ expired: 1 }] });
      expect((await c.consume(ns, t, 0, { batchSize: 5, autoAck: true })).map((m) => text(m.payload))).toEqual(['"kept"']);
      await expect(c.publishEx(ns, t, '"x"', { ttlMs: -1 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('ttl_ms') });
      await expect(c.setTopicPolicy(ns, t, { ackTimeoutMs: -1 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('ack_timeout_ms') });
    });

    it('peek pages with a cursor, desc order and a preview; nothing is consumed', async () => {
      const t = await topic();
      for (let i = 0; i < 5; i++) await c.publish(ns, t, `"m${i}"`);
      const first = await c.peek(ns, t, 0, { limit: 3 });
      expect(first.messages.map((m) => text(m.payload))).toEqual(['"m0"', '"m1"', '"m2"']);
      const second = await c.peek(ns, t, 0, { limit: 3, cursor: first.nextCursor });
      expect(second.messages.map((m) => text(m.payload))).toEqual(['"m3"', '"m4"']);
      expect(second.nextCursor).toBeUndefined();
      const desc = await c.peek(ns, t, 0, { order: 'desc', limit: 1, previewBytes: 2 });
      expect(desc.messages).toHaveLength(1);
      expect(desc.messages[0]!.payloadSize).toBe(4);
      expect(text(desc.messages[0]!.payload)).toBe('"m');
      expect((await c.topicStats(ns, t)).pending).toBe(5);
      await expect(c.peek(ns, t, 0, { limit: 1000 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    });

    it('renewLease extends a live lease; renewing an expired lease is FAILED_PRECONDITION', async () => {
      const t = await topic();
      await c.publish(ns, t, '"a"');
      await c.publish(ns, t, '"b"');
      const [a, b] = await c.consume(ns, t, 0, { batchSize: 2 });
      await c.renewLease(ns, t, 0, [a!.id], 60_000);
      // b's 100 ms lease runs out and it is pending again; a's renewed lease holds
      await until(async () => ((await c.topicStats(ns, t)).pending === 1 ? true : undefined));
      const err = await c.renewLease(ns, t, 0, [b!.id], 60_000).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ClientError);
      expect(err).toMatchObject({ code: 'FAILED_PRECONDITION', message: expect.stringContaining(b!.id) });
      await c.ack(ns, t, 0, [a!.id]);
      await expect(c.renewLease(ns, t, 0, [a!.id], 0)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    });

    it('a value the wire cannot carry fails that call alone: the next replies still match their requests', async () => {
      const t = await topic();
      const bad = c.renewLease(ns, t, 0, ['x'], 1.5);
      const listed = c.listNamespaces();
      await expect(bad).rejects.toBeDefined();
      expect(await listed).toContain(ns);
    });
  });
}
