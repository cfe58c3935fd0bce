/**
 * The Store contract (src/aof/store.ts): every backend replays exactly
 * what was appended, in order, for every record kind; survives a restart;
 * and compacts through the snapshot source without losing a record
 * appended while the rewrite runs.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FileStore } from '../../src/aof/file-store.js';
import { JetStreamStore } from '../../src/aof/jetstream-store.js';
import { MemoryStore } from '../../src/aof/memory-store.js';
import { startNats, stopAll, type NatsNode } from '../engine/nats-server.js';
import type { Store } from '../../src/aof/store.js';
import { append, comparable, everyKind, Model, openStore, publishRecord, replayAll, tempDir } from './helpers.js';

interface Backend {
  /** A fresh, empty store. */
  fresh(): Promise<Store>;
  /** Closes `store` and opens the same records again (a restart). */
  restart(store: Store): Promise<Store>;
  cleanup(): void;
}

function fileBackend(): Backend {
  const t = tempDir();
  return {
    fresh: () => openStore(t.dir),
    async restart(store) {
      await store.close();
      return openStore(t.dir);
    },
    cleanup: t.cleanup,
  };
}

function memoryBackend(): Backend {
  return {
    fresh: async () => new MemoryStore([], { sliceRecords: 2 }),
    async restart(store) {
      await store.close();
      return (store as MemoryStore).reopen();
    },
    cleanup: () => {},
  };
}

/** A real one-node nats-server; each backend gets its own stream (its own cluster name). */
let nats: NatsNode | undefined;
let streams = 0;
beforeAll(async () => {
  nats = await startNats();
});
afterAll(stopAll);

function jetstreamBackend(): Backend {
  const name = `contract${++streams}`;
  const open = () => JetStreamStore.open({ servers: [nats!.url], name, replicas: 1, sliceRecords: 2 });
  return {
    fresh: open,
    async restart(store) {
      await store.close();
      return open();
    },
    cleanup: () => {},
  };
}

describe.each([
  { name: 'FileStore', make: fileBackend },
  { name: 'MemoryStore', make: memoryBackend },
  { name: 'JetStreamStore', make: jetstreamBackend },
])('Store contract: $name', ({ make }) => {
  let backend: Backend;
  let open: Store[] = [];
  const track = (s: Store): Store => (open.push(s), s);

  afterEach(async () => {
    for (const s of open) await s.close().catch(() => {});
    open = [];
    backend.cleanup();
  });

  describe('replay returns exactly what was appended, in order', () => {
    it('every record kind round-trips', async () => {
      backend = make();
      const store = track(await backend.fresh());
      expect(await replayAll(store)).toEqual([]);
      const records = everyKind();
      append(store, records);
      await store.durable();
      const again = track(await backend.restart(store));
      expect(comparable(await replayAll(again))).toEqual(comparable(records));
    });

    it('appends across restarts keep their order', async () => {
      backend = make();
      let store = track(await backend.fresh());
      await replayAll(store);
      const first = Array.from({ length: 500 }, () => publishRecord(64));
      append(store, first);
      await store.durable();
      store = track(await backend.restart(store));
      expect(comparable(await replayAll(store))).toEqual(comparable(first));
      const second = Array.from({ length: 300 }, () => publishRecord(2000));
      for (const rec of second) {
        append(store, [rec]);
        if (rec.id.endsWith('7')) await store.durable();
      }
      await store.durable();
      store = track(await backend.restart(store));
      expect(comparable(await replayAll(store))).toEqual(comparable([...first, ...second]));
    });
  });

  describe('rewrite compacts to the same state', () => {
    it('keeps every record appended before, during and after the rewrite', async () => {
      backend = make();
      let store = track(await backend.fresh());
      await replayAll(store);
      const model = new Model();
      store.setSnapshotSource(model.snapshot);
      const before = Array.from({ length: 2000 }, () => publishRecord(200));
      for (const rec of before) model.publish(store, rec);
      model.ack(store, before.slice(0, 1500).map((r) => r.id));
      await store.durable();

      const rewriting = store.rewrite();
      // Appended while the snapshot is being written out.
      for (let i = 0; i < 20; i++) {
        model.publish(store, publishRecord(200));
        if (i === 10) model.ack(store, [before[1600]!.id]);
        await new Promise((r) => setImmediate(r));
      }
      const stats = await rewriting;
      // The snapshot holds the 500 left before the rewrite, plus those appended until it was taken.
      expect(stats.records).toBeGreaterThanOrEqual(500);
      expect(stats.records).toBeLessThanOrEqual(520);
      model.publish(store, publishRecord(200));
      await store.durable();

      store = track(await backend.restart(store));
      const replayed = new Model();
      await store.replay(replayed.apply);
      expect(replayed.ids()).toEqual(model.ids());
    });

    it('a rewrite asked for while one runs joins it', async () => {
      backend = make();
      const store = track(await backend.fresh());
      await replayAll(store);
      const model = new Model();
      store.setSnapshotSource(model.snapshot);
      for (let i = 0; i < 300; i++) model.publish(store, publishRecord(10));
      const a = store.rewrite();
      const b = store.rewrite();
      expect(b).toBe(a);
      await a;
    });
  });
});

describe('FileStore: stats count what was written', () => {
  it('bytes, records and batches', async () => {
    const t = tempDir();
    try {
      const store = await openStore(t.dir);
      await replayAll(store);
      append(store, [publishRecord(10), publishRecord(10)]);
      await store.durable();
      append(store, [publishRecord(10)]);
      await store.durable();
      const s = store.stats();
      expect(s.records).toBe(3);
      expect(s.batches).toBe(2);
      expect(s.bytes).toBeGreaterThan(30);
      expect(s.aofSize).toBe(s.bytes);
      await store.close();
      expect(store instanceof FileStore).toBe(true);
    } finally {
      t.cleanup();
    }
  });
});
