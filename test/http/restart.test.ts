/**
 * Each queue feature survives a restart in the middle of
 * its life, driven over HTTP with a real AOF: a delayed message, a nacked
 * message waiting for its retry, the dead-letter queue, the dedup window
 * and the topic policy.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { FileStore } from '../../src/aof/file-store.js';
import { Broker } from '../../src/broker/broker.js';
import { HttpClient } from '../../src/client/http/index.js';
import { startHttpServer } from '../../src/server/http/index.js';
import { eventually } from './harness.js';

const silent = pino({ level: 'silent' });
const dir = mkdtempSync(join(tmpdir(), 'mqlite-http-restart-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Running {
  client: HttpClient;
  stop(): Promise<void>;
}

async function start(): Promise<Running> {
  const store = await FileStore.open({ dir, fsync: 'always', rewriteMinSize: 1 << 30, rewritePercentage: 0, logger: silent });
  const { broker } = await Broker.open({ store, logger: silent, ackTimeoutMs: 60_000 });
  const front = await startHttpServer(broker, { host: '127.0.0.1', port: 0, maxBodyBytes: 1 << 20, sseHeartbeatMs: 15_000, sseMaxInflight: 100, logger: silent });
  const client = new HttpClient({ baseUrl: `http://127.0.0.1:${front.port}`, timeoutMs: 5_000 });
  return {
    client,
    async stop() {
      await client.close();
      await front.close();
      await broker.close();
    },
  };
}

const text = (p: Uint8Array): string => Buffer.from(p).toString('utf8');

describe('queue-feature state across a restart, over HTTP', () => {
  it('delayed messages, nacked messages waiting for retry, the DLQ, the dedup window and the policy survive', async () => {
    const first = await start();
    const c1 = first.client;
    await c1.createNamespace('r');
    await c1.createTopic('r', 't', 1);
    await c1.setTopicPolicy('r', 't', { maxRetries: 1, retryBaseMs: 60_000, retryCapMs: 120_000 });
    // Delayed: one far in the future, one due shortly (visible once the broker is back).
    await c1.publishEx('r', 't', '"far"', { delayMs: 3_600_000 });
    // 2 s: long enough to still be delayed at the check below on a loaded machine.
    await c1.publishEx('r', 't', '"soon"', { delayMs: 2_000 });
    // Dedup window.
    const original = await c1.publishEx('r', 't', '"once"', { dedupId: 'order-1' });
    // Nacked, waiting for the backoff (60-120 s): still waiting after the restart.
    const [once] = await c1.consume('r', 't', 0);
    expect(text(once!.payload)).toBe('"once"');
    expect((await c1.nack('r', 't', 0, [once!.id])).delayed).toBe(1);
    // Dead-lettered: past max_retries 1 at its second delivery.
    await c1.publish('r', 't', '"dead"');
    const [dead1] = await c1.consume('r', 't', 0);
    await c1.nack('r', 't', 0, [dead1!.id], { delayMs: 0 });
    const [dead2] = await c1.consume('r', 't', 0);
    expect(dead2!.deliveryCount).toBe(2);
    expect((await c1.nack('r', 't', 0, [dead2!.id])).deadLettered).toBe(1);
    expect(await c1.topicStats('r', 't')).toMatchObject({ pending: 0, inFlight: 0, delayed: 3, dlqDepth: 1 });
    await first.stop();

    const second = await start();
    const c2 = second.client;
    expect((await c2.topicStats('r', 't')).policy).toEqual({ maxRetries: 1, retryBaseMs: 60_000, retryCapMs: 120_000, dedupWindowMs: 3_600_000, ackTimeoutMs: 0, messageTtlMs: 0, deadLetterExpired: false });
    // The dedup window is still open: the original's ids, nothing enqueued.
    expect(await c2.publishEx('r', 't', '"again"', { dedupId: 'order-1' })).toEqual({ ...original, duplicate: true });
    // The dead letter, with its reason and delivery count.
    const dlq = await c2.peek('r', 't', 0, { dlq: true });
    expect(dlq.messages.map((m) => [m.id, m.headers])).toEqual([[dead2!.id, { _dlq_reason: 'nacked', _delivery_count: '2' }]]);
    // The message due soon becomes visible; the far one and the nacked one stay held.
    let got: string[] = [];
    await eventually(async () => {
      got = got.concat((await c2.consume('r', 't', 0, { batchSize: 10, autoAck: true })).map((m) => text(m.payload)));
      return got.length > 0;
    }, 10_000, 'the delayed message');
    expect(got).toEqual(['"soon"']);
    expect(await c2.topicStats('r', 't')).toMatchObject({ pending: 0, delayed: 2, dlqDepth: 1 });
    expect(await c2.redriveDlq('r', 't')).toBe(1);
    const [back] = await c2.consume('r', 't', 0);
    expect(back).toMatchObject({ id: dead2!.id, headers: {}, deliveryCount: 1 });
    await second.stop();
  });
});
