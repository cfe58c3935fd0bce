/**
 * Queue-feature state through real AOF files: policies, held messages, the
 * dead-letter queue, dedup windows and delivery counts survive a restart
 * from a rewritten base plus the incremental file written after it.
 */
import { appendFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { FileStore } from '../../src/aof/file-store.js';
import { Broker } from '../../src/broker/broker.js';
import { enc, text } from './helpers.js';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

const openAt = async (dir: string) =>
  (await Broker.open({ store: await FileStore.open({ dir, fsync: 'always', rewriteMinSize: 1 << 30, rewritePercentage: 100 }) })).broker;

describe('queue-feature state in AOF files', () => {
  it('survives a rewrite and a restart from files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mqlite-features-'));
    dirs.push(dir);
    let b = await openAt(dir);
    await b.createNamespace('ns');
    await b.createTopic('ns', 't', 2, { retry: { maxRetries: 1, baseMs: 60_000, capMs: 60_000 }, dedupWindowMs: 600_000 });
    const orig = await b.publish('ns', 't', enc('once'), { dedupId: 'k1', queueId: 0 });
    await b.publish('ns', 't', enc('later'), { delayMs: 3_600_000, queueId: 1 });
    await b.publish('ns', 't', enc('dead'), { queueId: 1 });
    const [d1] = await b.consume('ns', 't', 1, 1, false);
    await b.nack('ns', 't', 1, [d1!.id], { delayMs: 0 });
    const [d2] = await b.consume('ns', 't', 1, 1, false);
    expect(await b.nack('ns', 't', 1, [d2!.id])).toMatchObject({ deadLettered: 1 });
    await b.rewrite();
    // After the rewrite: a retry waiting in the incremental file.
    await b.publish('ns', 't', enc('retry'), { queueId: 1 });
    const [r] = await b.consume('ns', 't', 1, 1, false);
    expect(await b.nack('ns', 't', 1, [r!.id])).toMatchObject({ delayed: 1 });
    await b.close();

    b = await openAt(dir);
    expect(b.listTopics('ns')[0]!.policy).toEqual({ retry: { maxRetries: 1, baseMs: 60_000, capMs: 60_000 }, dedupWindowMs: 600_000, ackTimeoutMs: 0, messageTtlMs: 0, deadLetterExpired: false });
    expect(b.topicStats('ns', 't')).toMatchObject({ pending: 1, delayed: 2, dlqDepth: 1 });
    expect(await b.publish('ns', 't', enc('once'), { dedupId: 'k1' })).toMatchObject({ messageId: orig.messageId, duplicate: true });
    expect(b.peekDlq('ns', 't').messages.map((m) => [text(m), m.headers])).toEqual([['dead', { _dlq_reason: 'nacked', _delivery_count: '2' }]]);
    await b.redriveDlq('ns', 't');
    await b.close();

    b = await openAt(dir);
    expect(b.topicStats('ns', 't')).toMatchObject({ pending: 2, delayed: 2, dlqDepth: 0 });
    await b.close();
  });
});

/** Polls `cond` every 20 ms for up to 5 s (the expiry sweep runs once a second). */
async function eventually(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 250 && !cond(); i++) await new Promise((r) => setTimeout(r, 20));
  expect(cond()).toBe(true);
}

/**
 * A record framed as the AOF was before expiry existed (src/aof/codec.ts):
 * u32 length, u32 crc32, then the body built here by hand from the old layout.
 */
function oldFrame(parts: (Buffer | number | string)[]): Buffer {
  const body = Buffer.concat(
    parts.map((p) => {
      if (Buffer.isBuffer(p)) return p;
      if (typeof p === 'string') {
        const s = Buffer.from(p);
        const len = Buffer.alloc(2);
        len.writeUInt16BE(s.length);
        return Buffer.concat([len, s]);
      }
      const f = Buffer.alloc(8);
      f.writeDoubleBE(p);
      return f;
    }),
  );
  const head = Buffer.alloc(8);
  head.writeUInt32BE(body.length, 0);
  head.writeUInt32BE(crc32(body), 4);
  return Buffer.concat([head, body]);
}
const u8 = (n: number): Buffer => Buffer.from([n]);
const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};

describe('expiry and the topic ack timeout in AOF files (docs/DESIGN.md, "Expiry")', () => {
  it("keep the policy and each message's expiry time across a rewrite and restarts", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mqlite-expiry-'));
    dirs.push(dir);
    let b = await openAt(dir);
    await b.createNamespace('ns');
    await b.createTopic('ns', 't', 1, { ackTimeoutMs: 90_000, messageTtlMs: 3_600_000 });
    await b.publish('ns', 't', enc('short'), { ttlMs: 400 });
    await b.rewrite();
    // After the rewrite: a policy change and publishes in the incremental file.
    await b.setTopicPolicy('ns', 't', { deadLetterExpired: true });
    await b.publish('ns', 't', enc('short too'), { ttlMs: 400 });
    await b.publish('ns', 't', enc('topic ttl'));
    await b.close();

    b = await openAt(dir);
    const policy = { retry: { maxRetries: -1, baseMs: 1000, capMs: 60_000 }, dedupWindowMs: 3_600_000, ackTimeoutMs: 90_000, messageTtlMs: 3_600_000, deadLetterExpired: true };
    expect(b.listTopics('ns')[0]!.policy).toEqual(policy);
    // The expiry times came back with the messages: the short ones expire, to the DLQ.
    await eventually(() => b.topicStats('ns', 't').expired === 2);
    expect(b.peek('ns', 't', 0).messages.map(text)).toEqual(['topic ttl']);
    expect(b.peekDlq('ns', 't').messages.map((m) => [text(m), m.headers?._dlq_reason])).toEqual([
      ['short', 'expired'],
      ['short too', 'expired'],
    ]);
    await b.rewrite();
    await b.close();

    b = await openAt(dir);
    expect(b.listTopics('ns')[0]!.policy).toEqual(policy);
    expect(b.topicStats('ns', 't')).toMatchObject({ pending: 1, dlqDepth: 2 });
    await b.close();
  });

  it('an AOF written before expiry existed still loads, with the new policy fields at their defaults', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mqlite-expiry-old-'));
    dirs.push(dir);
    let b = await openAt(dir);
    await b.createNamespace('ns');
    await b.createTopic('ns', 't', 1);
    await b.close();
    const incr = readdirSync(dir).find((f) => f.endsWith('.incr.aof'))!;
    // TopicPolicy (13): ns, topic, four f64; PublishEx (14) with the dedup flag (2): no expiry field.
    appendFileSync(join(dir, incr), oldFrame([u8(13), 'ns', 't', 3, 100, 400, 60_000]));
    appendFileSync(
      join(dir, incr),
      oldFrame([u8(14), 'ns', 't', u32(0), u8(2), u32(0), 0, 'key-1', Date.now() + 60_000, 'old-id', Date.now(), Buffer.from([0, 0]), u32(3), Buffer.from('old')]),
    );
    b = await openAt(dir);
    expect(b.listTopics('ns')[0]!.policy).toEqual({
      retry: { maxRetries: 3, baseMs: 100, capMs: 400 },
      dedupWindowMs: 60_000,
      ackTimeoutMs: 0,
      messageTtlMs: 0,
      deadLetterExpired: false,
    });
    expect(await b.publish('ns', 't', enc('again'), { dedupId: 'key-1' })).toMatchObject({ messageId: 'old-id', duplicate: true });
    expect((await b.consume('ns', 't', 0, 5, true)).map((m) => [m.id, text(m)])).toEqual([['old-id', 'old']]);
    expect(b.topicStats('ns', 't').expired).toBe(0);
    await b.close();
  });
});
