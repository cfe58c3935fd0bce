/**
 * What only the JetStream store does: fencing of a second writer, records
 * over the engine's max payload, and the engine unreachable at startup.
 * Against a real one-node nats-server (test/engine/nats-server.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JetStreamStore } from '../../src/aof/jetstream-store.js';
import { StoreUnavailableError } from '../../src/aof/errors.js';
import { freePort, startNats, stopAll, type NatsNode } from '../engine/nats-server.js';
import { connect } from 'nats';
import { append, comparable, Model, publishRecord, replayAll } from './helpers.js';

let nats: NatsNode;
beforeAll(async () => {
  nats = await startNats();
});
afterAll(stopAll);

/** The ids pending after a new store on stream `name` replays it, sorted. */
async function replayedIds(name: string): Promise<string[]> {
  const again = await JetStreamStore.open({ servers: [nats.url], name, replicas: 1 });
  const replayed = new Model();
  for (const r of await replayAll(again)) replayed.apply(r);
  await again.close();
  return replayed.ids().sort();
}

describe('JetStreamStore', () => {
  it('a second writer fences the first: its next append is refused, the store is failed, nothing of it is replayed', async () => {
    const a = await JetStreamStore.open({ servers: [nats.url], name: 'fence', replicas: 1 });
    await replayAll(a);
    const first = [publishRecord(10)];
    append(a, first);
    await a.durable();
    const b = await JetStreamStore.open({ servers: [nats.url], name: 'fence', replicas: 1 });
    await replayAll(b);
    const second = [publishRecord(10)];
    append(b, second);
    await b.durable();
    append(a, [publishRecord(10)]);
    await expect(a.durable()).rejects.toThrow(StoreUnavailableError);
    expect(a.failure?.message).toMatch(/another node wrote to it/);
    await a.close();
    await b.close();
    const c = await JetStreamStore.open({ servers: [nats.url], name: 'fence', replicas: 1 });
    expect(comparable(await replayAll(c))).toEqual(comparable([...first, ...second]));
    await c.close();
  });

  it('a record larger than the max payload is split in parts and replays whole', async () => {
    const s = await JetStreamStore.open({ servers: [nats.url], name: 'big', replicas: 1 });
    await replayAll(s);
    const recs = [publishRecord(10), publishRecord(3 * 1024 * 1024), publishRecord(10)];
    append(s, recs);
    await s.durable();
    await s.close();
    const again = await JetStreamStore.open({ servers: [nats.url], name: 'big', replicas: 1 });
    expect(comparable(await replayAll(again))).toEqual(comparable(recs));
    await again.close();
  });

  it('rewrites by itself after rewriteMinMessages log messages, so the log a takeover replays stays short', async () => {
    const s = await JetStreamStore.open({ servers: [nats.url], name: 'auto', replicas: 1, rewriteMinMessages: 10 });
    await replayAll(s);
    const model = new Model();
    s.setSnapshotSource(model.snapshot);
    const recs = Array.from({ length: 45 }, () => publishRecord(10));
    for (const [i, r] of recs.entries()) {
      model.publish(s, r);
      if (i % 3 === 2) model.ack(s, [recs[i - 1]!.id]);
      await s.durable(); // one log message each
    }
    await new Promise((r) => setTimeout(r, 300)); // the last rewrite's purge
    await s.close();
    const nc = await connect({ servers: nats.url });
    const info = await (await nc.jetstreamManager()).streams.info('MQLITE_auto', { subjects_filter: '>' });
    await nc.close();
    // 45 publishes and 15 acks were 60 log messages; at most 10 (and the fence-free snapshot) remain
    expect(info.state.subjects!['mqlite.auto.log']).toBeLessThanOrEqual(10);
    const ids = await replayedIds('auto');
    expect(ids).toEqual([...model.ids()].sort());
  });

  it('replays the last whole snapshot: parts of a rewrite that stopped halfway (its node died) are never read', async () => {
    const s = await JetStreamStore.open({ servers: [nats.url], name: 'half', replicas: 1 });
    await replayAll(s);
    const model = new Model();
    s.setSnapshotSource(model.snapshot);
    const recs = Array.from({ length: 8 }, () => publishRecord(10));
    for (const r of recs.slice(0, 5)) model.publish(s, r);
    await s.durable();
    await s.rewrite();
    for (const r of recs.slice(5)) model.publish(s, r);
    model.ack(s, [recs[0]!.id, recs[6]!.id]);
    await s.durable();
    await s.close();
    // a part of the next snapshot, whose writer died before its end marker
    const nc = await connect({ servers: nats.url });
    await nc.jetstream().publish('mqlite.half.snap', new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]));
    await nc.close();
    const ids = await replayedIds('half');
    expect(ids).toEqual([...model.ids()].sort());
  });

  it('a snapshot larger than a message, made while publishes and acks go on, replays whole', async () => {
    const s = await JetStreamStore.open({ servers: [nats.url], name: 'parts', replicas: 1, sliceRecords: 2 });
    await replayAll(s);
    const model = new Model();
    s.setSnapshotSource(model.snapshot);
    // 4 MiB of state: several engine messages (1 MiB each at most)
    const recs = Array.from({ length: 40 }, () => publishRecord(100 * 1024));
    for (const r of recs.slice(0, 30)) model.publish(s, r);
    await s.durable();
    const rewriting = s.rewrite();
    // published while the snapshot is made and written: log messages land between its parts
    for (const r of recs.slice(30)) {
      model.publish(s, r);
      await new Promise((resolve) => setImmediate(resolve));
    }
    model.ack(s, [recs[3]!.id, recs[35]!.id]);
    await Promise.all([rewriting, s.durable()]);
    await s.close();
    const nc = await connect({ servers: nats.url });
    const info = await (await nc.jetstreamManager()).streams.info('MQLITE_parts', { subjects_filter: '>' });
    await nc.close();
    expect(info.state.subjects!['mqlite.parts.snap']).toBeGreaterThanOrEqual(3);
    const ids = await replayedIds('parts');
    expect(ids).toEqual([...model.ids()].sort());
    expect(ids).toHaveLength(38);
  });

  it('records of turns after a snapshot was taken never share the log message its cut names, so replay keeps them', async () => {
    const s = await JetStreamStore.open({ servers: [nats.url], name: 'cut', replicas: 1 });
    await replayAll(s);
    const model = new Model();
    s.setSnapshotSource(model.snapshot);
    // a large append first: the next small batch waits up to 1 ms for more (group commit under load)
    model.publish(s, publishRecord(20 * 1024));
    await s.durable();
    const before = publishRecord(10);
    model.publish(s, before);
    const rewriting = s.rewrite(); // covers `before`
    // the next turns, while `before` waits to be written: after the snapshot, so replayed after its cut
    const after = publishRecord(10);
    await new Promise((r) => setImmediate(r));
    model.publish(s, after);
    await new Promise((r) => setImmediate(r));
    model.ack(s, [before.id]);
    await Promise.all([rewriting, s.durable()]);
    await s.close();
    const ids = await replayedIds('cut');
    expect(ids).toEqual([...model.ids()].sort());
    expect(ids).toContain(after.id);
    expect(ids).not.toContain(before.id);
  });

  it("a rewrite's purge never takes what another writer appended after its end marker (a node deposed just then)", async () => {
    const model = new Model();
    const theirs: ReturnType<typeof publishRecord>[] = [];
    // The moment a deposed node's purge could meet a new owner: after its end marker, before the purge.
    const beforePurge = async (): Promise<void> => {
      const b = await JetStreamStore.open({ servers: [nats.url], name: 'deposed', replicas: 1 });
      await replayAll(b);
      for (let i = 0; i < 3; i++) {
        const r = publishRecord(10);
        theirs.push(r);
        append(b, [r]);
        await b.durable(); // one log message each
      }
      await b.close();
    };
    const s = await JetStreamStore.open({ servers: [nats.url], name: 'deposed', replicas: 1, sliceRecords: 1, beforePurge });
    await replayAll(s);
    s.setSnapshotSource(model.snapshot);
    // 1,000 records: the snapshot takes 20 turns (50 records a slice), the publishes below fewer
    const recs = Array.from({ length: 1004 }, () => publishRecord(10));
    for (const r of recs.slice(0, 1000)) model.publish(s, r);
    await s.durable();
    const rewriting = s.rewrite();
    // log messages after the cut, while the snapshot is made
    for (const r of recs.slice(1000)) {
      model.publish(s, r);
      await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all([rewriting, s.durable()]);
    await s.close();
    const ids = await replayedIds('deposed');
    expect(ids).toEqual([...model.ids(), ...theirs.map((r) => r.id)].sort());
  });

  it('the engine unreachable at startup is an error naming the servers', async () => {
    const url = `nats://127.0.0.1:${await freePort()}`;
    await expect(JetStreamStore.open({ servers: [url], name: 'none', timeoutMs: 1000 })).rejects.toThrow(
      new RegExp(`JetStream unreachable at ${url}.*persistence\\.jetstream\\.servers`),
    );
  });
});
