/**
 * Queue-feature state through real AOF files: policies, held messages, the
 * dead-letter queue, dedup windows and delivery counts survive a restart
 * from a rewritten base plus the incremental file written after it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
    await b.createTopic('ns', 't', 2, { retry: { maxRetries: 1, baseMs: 60_000, capMs: 60_000 }, dedupWindowMs: 600_000, ackTimeoutMs: 0, messageTtlMs: 0, deadLetterExpired: false });
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
