/**
 * docs/DESIGN.md, "Durability contract (the AOF)": when a mutation is answered as done
 * under each fsync policy, group commit, and failures that are never
 * hidden.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../src/aof/errors.js';
import { nodeFiles, type AofFiles } from '../../src/aof/files.js';
import type { FileStore } from '../../src/aof/file-store.js';
import { captureLogger, openStore, oserror, publishRecord, replayAll, settledWithin, tempDir, tick } from './helpers.js';

/** Releases of fdatasyncs still held when a test ends, so that close() can finish. */
const heldEverywhere: Array<() => void> = [];
let holding = true;

/** Tracks which descriptors belong to incr files, so the manifest's writes are left out. */
function incrTracking(): { files: AofFiles; isIncr(fd: number): boolean } {
  const incrFds = new Set<number>();
  return {
    files: {
      ...nodeFiles,
      open(path, flags) {
        const fd = nodeFiles.open(path, flags);
        if (path.endsWith('.incr.aof')) incrFds.add(fd);
        else incrFds.delete(fd);
        return fd;
      },
    },
    isIncr: (fd) => incrFds.has(fd),
  };
}

/**
 * The real file layer, with every write and fdatasync of an incr file
 * recorded (not the manifest's), and fdatasync optionally held until released.
 */
function recordingFiles(opts: { holdSyncs?: boolean } = {}) {
  const events: string[] = [];
  const held: Array<() => void> = [];
  const tracking = incrTracking();
  const files: AofFiles = {
    ...tracking.files,
    writeSync(fd, data) {
      if (tracking.isIncr(fd)) events.push(`write ${data.length}`);
      nodeFiles.writeSync(fd, data);
    },
    async fdatasync(fd) {
      if (!tracking.isIncr(fd)) return nodeFiles.fdatasync(fd);
      events.push('fdatasync start');
      await nodeFiles.fdatasync(fd);
      if (opts.holdSyncs && holding) {
        await new Promise<void>((release) => {
          held.push(release);
          heldEverywhere.push(release);
        });
      }
      events.push('fdatasync end');
    },
    fdatasyncSync(fd) {
      if (tracking.isIncr(fd)) events.push('fdatasync inline');
      nodeFiles.fdatasyncSync(fd);
    },
  };
  return {
    files,
    events,
    /** Lets the oldest held fdatasync finish. */
    releaseSync(): void {
      held.shift()!();
    },
    heldSyncs: () => held.length,
  };
}

let t: ReturnType<typeof tempDir>;
let stores: FileStore[] = [];
beforeEach(() => {
  holding = true;
  t = tempDir();
});
afterEach(async () => {
  holding = false;
  for (const release of heldEverywhere.splice(0)) release();
  for (const s of stores) await s.close().catch(() => {});
  stores = [];
  t.cleanup();
});

async function open(opts: Parameters<typeof openStore>[1]): Promise<FileStore> {
  const s = await openStore(t.dir, opts);
  stores.push(s);
  await replayAll(s);
  return s;
}

const until = async (cond: () => boolean): Promise<void> => {
  for (let i = 0; i < 2000 && !cond(); i++) await new Promise((r) => setTimeout(r, 1));
  expect(cond()).toBe(true);
};

describe('fsync always: answered only after an fdatasync that started after the write', () => {
  it('durable() waits for the fdatasync covering the record', async () => {
    const rec = recordingFiles({ holdSyncs: true });
    // Every batch on the thread pool, so that a sync can be held while records arrive.
    const store = await open({ fsync: 'always', fs: rec.files, inlineSyncMaxRecords: 0 });
    const p = store.sink;
    p.publish('ns', 't', 0, publishRecord(100, 'ns', 't', 0));
    const first = store.durable();
    const size = store.stats().bytes === 0 ? undefined : store.stats().bytes;
    await until(() => rec.heldSyncs() === 1);
    const one = store.stats().bytes;
    expect(size).toBeUndefined();
    expect(rec.events).toEqual([`write ${one}`, 'fdatasync start']);
    expect(await settledWithin(first)).toBe(false);

    // Appended while the fdatasync runs: not written yet, and not covered by that sync.
    p.publish('ns', 't', 0, publishRecord(100));
    p.publish('ns', 't', 0, publishRecord(100));
    const second = store.durable();
    expect(second).not.toBe(first);
    await tick();
    expect(rec.events.filter((e) => e.startsWith('write'))).toHaveLength(1);

    rec.releaseSync();
    await first;
    expect(await settledWithin(second)).toBe(false);
    await until(() => rec.heldSyncs() === 1);
    // The two records went out in one write, followed by their own fdatasync.
    expect(rec.events.slice(2)).toEqual(['fdatasync end', `write ${store.stats().bytes - one}`, 'fdatasync start']);
    rec.releaseSync();
    await second;
    expect(store.stats().fsyncs).toBe(2);
  });

  it('a batch of a few records is fdatasynced on the event loop, a larger one on the thread pool', async () => {
    const rec = recordingFiles();
    const store = await open({ fsync: 'always', fs: rec.files });
    store.sink.publish('ns', 't', 0, publishRecord(100, 'ns', 't', 0));
    const one = store.durable();
    expect(await settledWithin(one)).toBe(true);
    const first = store.stats().bytes;
    expect(rec.events).toEqual([`write ${first}`, 'fdatasync inline']);
    // More than INLINE_SYNC_MAX_RECORDS (4): other clients are active, the loop goes on while the disk works.
    for (let i = 0; i < 5; i++) store.sink.publish('ns', 't', 0, publishRecord(100));
    await store.durable();
    expect(rec.events.slice(2)).toEqual([`write ${store.stats().bytes - first}`, 'fdatasync start', 'fdatasync end']);
    expect(store.stats().fsyncs).toBe(2);
  });

  it('64 concurrent publishers share few fdatasyncs', async () => {
    const store = await open({ fsync: 'always' });
    const perPublisher = 40;
    await Promise.all(
      Array.from({ length: 64 }, async (_, n) => {
        for (let i = 0; i < perPublisher; i++) {
          store.sink.publish('ns', 't', n, publishRecord(1024));
          await store.durable();
        }
      }),
    );
    const s = store.stats();
    expect(s.records).toBe(64 * perPublisher);
    // One fdatasync per record would be 2560; group commit needs about one per round of the 64 publishers.
    expect(s.fsyncs).toBeLessThanOrEqual(s.records / 16);
    expect(s.fsyncs).toBeGreaterThan(0);
  });
});

describe('fsync everysec: answered when written, fdatasync once a second in the background', () => {
  it('resolves on the write and syncs within about a second', async () => {
    const rec = recordingFiles();
    const store = await open({ fsync: 'everysec', fs: rec.files });
    store.sink.publish('ns', 't', 0, publishRecord(10));
    await store.durable();
    expect(rec.events).toEqual([`write ${store.stats().bytes}`]);
    await until(() => rec.events.includes('fdatasync end'));
    const syncs = store.stats().fsyncs;
    expect(syncs).toBe(1);
    // Nothing new written: no fdatasync for nothing.
    await new Promise((r) => setTimeout(r, 1100));
    expect(store.stats().fsyncs).toBe(syncs);
  });
});

describe('fsync no: answered when written, never fsynced by the store', () => {
  it('resolves on the write without any fdatasync', async () => {
    const rec = recordingFiles();
    const store = await open({ fsync: 'no', fs: rec.files });
    for (let i = 0; i < 10; i++) {
      store.sink.publish('ns', 't', 0, publishRecord(10));
      await store.durable();
    }
    expect(rec.events.every((e) => e.startsWith('write'))).toBe(true);
    expect(store.stats().fsyncs).toBe(0);
  });
});

describe('group commit: the records of one event-loop turn share one write and one promise', () => {
  it('one write, one promise', async () => {
    const rec = recordingFiles();
    const store = await open({ fsync: 'everysec', fs: rec.files });
    store.sink.publish('ns', 't', 0, publishRecord(10));
    const a = store.durable();
    store.sink.publish('ns', 't', 0, publishRecord(10));
    store.sink.ack('ns', 't', ['x']);
    expect(store.durable()).toBe(a);
    await a;
    expect(rec.events).toEqual([`write ${store.stats().bytes}`]);
    expect(store.stats().batches).toBe(1);
  });
});

describe('a failed write or fsync is never hidden', () => {
  function failing(op: 'writeSync' | 'fdatasync', afterOk: number) {
    let calls = 0;
    const tracking = incrTracking();
    const files: AofFiles = {
      ...tracking.files,
      writeSync(fd, data) {
        if (op === 'writeSync' && tracking.isIncr(fd) && calls++ >= afterOk) throw oserror('ENOSPC', 'write');
        nodeFiles.writeSync(fd, data);
      },
      async fdatasync(fd) {
        if (op === 'fdatasync' && tracking.isIncr(fd) && calls++ >= afterOk) throw oserror('EIO', 'fdatasync');
        await nodeFiles.fdatasync(fd);
      },
      fdatasyncSync(fd) {
        if (op === 'fdatasync' && tracking.isIncr(fd) && calls++ >= afterOk) throw oserror('EIO', 'fdatasync');
        nodeFiles.fdatasyncSync(fd);
      },
    };
    return files;
  }

  async function expectRefusals(store: FileStore, osCode: string): Promise<void> {
    // Every later append is refused too: a record after a lost one would leave a hole in the log.
    store.sink.publish('ns', 't', 0, publishRecord(10));
    const later = store.durable();
    await expect(later).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    await expect(later).rejects.toThrow(osCode);
    await expect(store.durable()).rejects.toThrow(/changes are refused until the AOF is rebuilt from memory, retrying every 1s; reads are still served/);
    expect(store.stats().failed).toBe(true);
    expect(store.stats().failures).toBeGreaterThanOrEqual(1);
  }

  it('a failed write rejects its batch with UNAVAILABLE naming the file and the OS error', async () => {
    const { logger, lines } = captureLogger();
    const store = await open({ fsync: 'everysec', fs: failing('writeSync', 1), logger });
    store.sink.publish('ns', 't', 0, publishRecord(10));
    await store.durable();
    store.sink.publish('ns', 't', 0, publishRecord(10));
    const err = await store.durable().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StoreUnavailableError);
    expect((err as StoreUnavailableError).code).toBe('UNAVAILABLE');
    expect((err as StoreUnavailableError).message).toContain('appendonly.aof.1.incr.aof');
    expect((err as StoreUnavailableError).message).toContain('ENOSPC');
    expect(lines.some((l) => l.level === 50 && l.op === 'write')).toBe(true);
    await expectRefusals(store, 'ENOSPC');
  });

  for (const [where, inlineSyncMaxRecords] of [
    ['on the event loop', undefined],
    ['on the thread pool', 0],
  ] as const) {
    it(`a failed fdatasync under always rejects the batch it was to cover (${where})`, async () => {
      const store = await open({ fsync: 'always', fs: failing('fdatasync', 1), inlineSyncMaxRecords });
      store.sink.publish('ns', 't', 0, publishRecord(10));
      await store.durable();
      store.sink.publish('ns', 't', 0, publishRecord(10));
      await expect(store.durable()).rejects.toMatchObject({ code: 'UNAVAILABLE', message: expect.stringContaining('EIO') });
      await expectRefusals(store, 'EIO');
    });
  }

  it('a failed background fdatasync under everysec refuses what follows', async () => {
    const store = await open({ fsync: 'everysec', fs: failing('fdatasync', 0) });
    store.sink.publish('ns', 't', 0, publishRecord(10));
    await store.durable();
    await until(() => store.stats().failed);
    await expectRefusals(store, 'EIO');
  });

  it('after a failure the records written before it are still replayed', async () => {
    const store = await open({ fsync: 'everysec', fs: failing('writeSync', 2) });
    const good = [publishRecord(10), publishRecord(10)];
    for (const r of good) {
      store.sink.publish(r.ns, r.topic, r.queue, r);
      await store.durable();
    }
    store.sink.publish('ns', 't', 0, publishRecord(10));
    await expect(store.durable()).rejects.toThrow();
    await store.close().catch(() => {});
    const again = await openStore(t.dir);
    stores.push(again);
    expect((await replayAll(again)).map((r) => (r.type === 'publish' ? r.id : r.type))).toEqual(good.map((r) => r.id));
  });
});
