/**
 * What only the JetStream store does: fencing of a second writer, records
 * over the engine's max payload, and the engine unreachable at startup.
 * Against a real one-node nats-server (test/engine/nats-server.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JetStreamStore } from '../../src/aof/jetstream-store.js';
import { StoreUnavailableError } from '../../src/aof/errors.js';
import { freePort, startNats, stopAll, type NatsNode } from '../engine/nats-server.js';
import { append, comparable, publishRecord, replayAll } from './helpers.js';

let nats: NatsNode;
beforeAll(async () => {
  nats = await startNats();
});
afterAll(stopAll);

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

  it('the engine unreachable at startup is an error naming the servers', async () => {
    const url = `nats://127.0.0.1:${await freePort()}`;
    await expect(JetStreamStore.open({ servers: [url], name: 'none', timeoutMs: 1000 })).rejects.toThrow(
      new RegExp(`JetStream unreachable at ${url}.*persistence\\.jetstream\\.servers`),
    );
  });
});
