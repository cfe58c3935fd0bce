/**
 * docs/DESIGN.md, "Pause" and "Purge", through the Broker API: a paused
 * topic takes publishes and holds deliveries (consume and push), resume
 * delivers in order; a purge removes pending and held messages and
 * answers the count, in-flight messages stay. Both survive a restart from
 * real AOF files, before and after a rewrite.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileStore } from '../../src/aof/file-store.js';
import { Broker } from '../../src/broker/broker.js';
import { brokerWithTopic, enc, recorder, text, turns } from './helpers.js';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

const openAt = async (dir: string) =>
  (await Broker.open({ store: await FileStore.open({ dir, fsync: 'always', rewriteMinSize: 1 << 30, rewritePercentage: 100 }) })).broker;

describe('pause', () => {
  it('holds consume and push, accepts publishes, and resume delivers in order', async () => {
    const b = await brokerWithTopic(2);
    await b.pauseTopic('ns', 't');
    await b.pauseTopic('ns', 't'); // idempotent
    expect(b.listTopics('ns')[0]!.paused).toBe(true);
    expect(b.topicStats('ns', 't').paused).toBe(true);
    const rec = recorder();
    b.subscribe('ns', 't', 1, rec.handler, { autoAck: true });
    for (const s of ['a', 'b', 'c']) await b.publish('ns', 't', enc(s), { queueId: 1 });
    await turns();
    expect(rec.messages).toEqual([]);
    // Queue 0 is empty and its sibling has a backlog: no steal while paused.
    expect(await b.consume('ns', 't', 0, 10, false)).toEqual([]);
    expect(await b.consume('ns', 't', 1, 10, false)).toEqual([]);
    expect(b.topicStats('ns', 't')).toMatchObject({ pending: 3, inFlight: 0 });
    expect(b.peek('ns', 't', 1).messages.map(text)).toEqual(['a', 'b', 'c']);
    await b.resumeTopic('ns', 't');
    await b.resumeTopic('ns', 't');
    await turns();
    expect(rec.messages.map(text)).toEqual(['a', 'b', 'c']);
    expect(b.listTopics('ns')[0]!.paused).toBe(false);
    await b.close();
  });

  it('lets in-flight messages be acked and nacked while paused', async () => {
    const b = await brokerWithTopic(1);
    await b.publish('ns', 't', enc('x'));
    await b.publish('ns', 't', enc('y'));
    const [x, y] = await b.consume('ns', 't', 0, 2, false);
    await b.pauseTopic('ns', 't');
    await b.ack('ns', 't', 0, [x!.id]);
    await b.renew('ns', 't', 0, [y!.id], 10_000);
    expect(await b.nack('ns', 't', 0, [y!.id], { delayMs: 0 })).toMatchObject({ requeued: 1 });
    expect(b.topicStats('ns', 't')).toMatchObject({ pending: 1, inFlight: 0, acked: 1 });
    expect(await b.consume('ns', 't', 0, 1, false)).toEqual([]);
    await b.resumeTopic('ns', 't');
    expect((await b.consume('ns', 't', 0, 1, true)).map(text)).toEqual(['y']);
    await b.close();
  });

  it('refuses an unknown topic with NOT_FOUND', async () => {
    const b = await brokerWithTopic(1);
    await expect(b.pauseTopic('ns', 'nope')).rejects.toMatchObject({ code: 'NOT_FOUND', message: expect.stringContaining('nope') });
    await expect(b.resumeTopic('ns', 'nope')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(b.listTopics('ns')[0]!.paused).toBe(false);
    await b.close();
  });
});

describe('purge', () => {
  it('removes pending and delayed messages of one queue, every queue, or the DLQ; in-flight stay', async () => {
    const b = await brokerWithTopic(2);
    for (const s of ['a0', 'b0']) await b.publish('ns', 't', enc(s), { queueId: 0 });
    for (const s of ['a1', 'b1', 'c1']) await b.publish('ns', 't', enc(s), { queueId: 1 });
    await b.publish('ns', 't', enc('later1'), { queueId: 1, delayMs: 3_600_000 });
    const [inflight] = await b.consume('ns', 't', 1, 1, false);
    expect(await b.purge('ns', 't', { queueId: 1 })).toEqual({ purged: 3 }); // b1, c1, later1
    expect(b.topicStats('ns', 't')).toMatchObject({ pending: 2, delayed: 0, inFlight: 1, purged: 3 });
    expect(b.peek('ns', 't', 1).messages).toEqual([]);
    // The in-flight message finishes by ack.
    await b.ack('ns', 't', 1, [inflight!.id]);
    expect(await b.purge('ns', 't')).toEqual({ purged: 2 });
    expect(await b.purge('ns', 't')).toEqual({ purged: 0 });
    // DLQ
    await b.publish('ns', 't', enc('dead'), { queueId: 0 });
    const [d] = await b.consume('ns', 't', 0, 1, false);
    await b.nack('ns', 't', 0, [d!.id], { deadLetter: true });
    await b.publish('ns', 't', enc('alive'), { queueId: 0 });
    expect(await b.purge('ns', 't', { dlq: true })).toEqual({ purged: 1 });
    expect(b.topicStats('ns', 't')).toMatchObject({ dlqDepth: 0, pending: 1, purged: 6 });
    expect(b.stats()).toMatchObject({ pending: 1 });
    await b.close();
  });

  it('keeps dedup entries: a purged message is not published again', async () => {
    const b = await brokerWithTopic(1);
    const first = await b.publish('ns', 't', enc('x'), { dedupId: 'k' });
    await b.purge('ns', 't');
    expect(await b.publish('ns', 't', enc('x'), { dedupId: 'k' })).toMatchObject({ messageId: first.messageId, duplicate: true });
    await b.close();
  });

  it('refuses bad input with a clear error and purges nothing', async () => {
    const b = await brokerWithTopic(2);
    await b.publish('ns', 't', enc('keep'), { queueId: 0 });
    await expect(b.purge('ns', 't', { queueId: 2 })).rejects.toMatchObject({ code: 'NOT_FOUND', message: expect.stringContaining('queues 0..1') });
    await expect(b.purge('ns', 't', { queueId: 0, dlq: true })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('not both') });
    await expect(b.purge('ns', 'nope')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(b.topicStats('ns', 't')).toMatchObject({ pending: 1, purged: 0 });
    await b.close();
  });
});

describe('pause and purge in AOF files', () => {
  it('survive a restart, a rewrite, and a restart after the rewrite', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mqlite-pause-'));
    dirs.push(dir);
    let b = await openAt(dir);
    await b.createNamespace('ns');
    await b.createTopic('ns', 't', 2);
    await b.createTopic('ns', 'u', 1);
    for (const s of ['a', 'b']) await b.publish('ns', 't', enc(s), { queueId: 0 });
    await b.publish('ns', 't', enc('c'), { queueId: 1 });
    await b.publish('ns', 't', enc('d'), { queueId: 1, delayMs: 3_600_000 });
    await b.purge('ns', 't', { queueId: 1 });
    await b.pauseTopic('ns', 't');
    await b.pauseTopic('ns', 'u');
    await b.resumeTopic('ns', 'u');
    await b.close();

    b = await openAt(dir);
    expect(b.listTopics('ns').map((t) => [t.name, t.paused])).toEqual([['t', true], ['u', false]]);
    expect(b.topicStats('ns', 't')).toMatchObject({ pending: 2, delayed: 0 });
    expect(await b.consume('ns', 't', 0, 5, true)).toEqual([]);
    await b.rewrite();
    await b.publish('ns', 't', enc('e'), { queueId: 1 });
    await b.close();

    b = await openAt(dir);
    expect(b.listTopics('ns')[0]!.paused).toBe(true);
    expect(b.topicStats('ns', 't')).toMatchObject({ pending: 3 });
    await b.resumeTopic('ns', 't');
    expect(await b.purge('ns', 't', { queueId: 1 })).toEqual({ purged: 1 });
    await b.close();

    b = await openAt(dir);
    expect(b.listTopics('ns')[0]!.paused).toBe(false);
    expect((await b.consume('ns', 't', 0, 5, true)).map(text)).toEqual(['a', 'b']);
    expect(b.topicStats('ns', 't')).toMatchObject({ pending: 0 });
    await b.close();
  });
});
