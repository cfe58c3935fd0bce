/**
 * docs/DESIGN.md, "When the disk fails": when a
 * write or fsync fails, the mutations it carried are answered with an
 * error, nothing is claimed durable that is not, reads go on, and the store
 * retries and recovers (it rebuilds the AOF from memory) once the disk
 * works again. The disk here is the real one behind a file layer that
 * fails on demand: short writes under ENOSPC, EIO on write, and EIO on
 * fdatasync that drops what was not yet synced, as a failing device does.
 */
import { LOCK_FILE } from '../../src/aof/dir-lock.js';
import * as fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { FileStore } from '../../src/aof/file-store.js';
import { nodeFiles, type AofFiles } from '../../src/aof/files.js';
import type { FsyncPolicy } from '../../src/aof/store.js';
import { Broker } from '../../src/broker/broker.js';
import { BrokerError } from '../../src/broker/errors.js';
import { captureLogger, type LogLine, oserror, silent, tempDir } from './helpers.js';

type Fault = 'none' | 'ENOSPC' | 'EIO-write' | 'EIO-sync';

/**
 * nodeFiles with a switchable fault. ENOSPC writes half of what it is
 * given, then fails; EIO-write fails before writing; EIO-sync fails every
 * sync and first cuts the file back to its size at the last good sync (the
 * kernel dropped the dirty pages).
 */
class FaultyDisk {
  fault: Fault = 'none';
  /** Called before each write of a snapshot (.base.aof.tmp) file. */
  onBaseWrite: (() => void) | undefined;
  private readonly synced = new Map<number, number>();
  private readonly baseFds = new Set<number>();
  readonly files: AofFiles;

  constructor() {
    const fail = (syscall: string): NodeJS.ErrnoException => oserror(this.fault === 'ENOSPC' ? 'ENOSPC' : 'EIO', syscall);
    const writeFault = (): boolean => this.fault === 'ENOSPC' || this.fault === 'EIO-write';
    const syncFault = (fd: number): NodeJS.ErrnoException | undefined => {
      if (this.fault !== 'EIO-sync') return undefined;
      nodeFiles.truncate(fd, this.synced.get(fd) ?? 0);
      return fail('fdatasync');
    };
    const synced = (fd: number): void => void this.synced.set(fd, nodeFiles.size(fd));
    this.files = {
      ...nodeFiles,
      open: (p, flags) => {
        const fd = nodeFiles.open(p, flags);
        synced(fd);
        if (p.endsWith('.base.aof.tmp')) this.baseFds.add(fd);
        else this.baseFds.delete(fd);
        return fd;
      },
      writeSync: (fd, data) => {
        if (!writeFault()) return nodeFiles.writeSync(fd, data);
        if (this.fault === 'ENOSPC') nodeFiles.writeSync(fd, data.subarray(0, data.length >> 1));
        throw fail('write');
      },
      write: async (fd, data) => {
        if (this.baseFds.has(fd)) this.onBaseWrite?.();
        if (!writeFault()) return nodeFiles.write(fd, data);
        if (this.fault === 'ENOSPC') await nodeFiles.write(fd, data.subarray(0, data.length >> 1));
        throw fail('write');
      },
      fdatasync: async (fd) => {
        const err = syncFault(fd);
        if (err) throw err;
        await nodeFiles.fdatasync(fd);
        synced(fd);
      },
      fdatasyncSync: (fd) => {
        const err = syncFault(fd);
        if (err) throw err;
        nodeFiles.fdatasyncSync(fd);
        synced(fd);
      },
      syncDir: async (dir) => {
        if (this.fault === 'EIO-sync') throw fail('fsync');
        await nodeFiles.syncDir(dir);
      },
    };
  }
}

const dirs: Array<ReturnType<typeof tempDir>> = [];
const open: Broker[] = [];
afterEach(async () => {
  for (const b of open.splice(0)) await b.close().catch(() => {});
  for (const d of dirs.splice(0)) d.cleanup();
});

const enc = (s: string): Uint8Array => Buffer.from(s);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const until = async (cond: () => boolean, what: string): Promise<void> => {
  for (let i = 0; i < 1000 && !cond(); i++) await sleep(5);
  expect(cond(), what).toBe(true);
};
const errorOf = async (p: Promise<unknown>): Promise<BrokerError> => {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BrokerError);
  return err as BrokerError;
};

async function openBroker(dir: string, fsync: FsyncPolicy, files: AofFiles = nodeFiles, logger = silent) {
  const store = await FileStore.open({
    dir,
    fsync,
    rewriteMinSize: 1 << 40,
    rewritePercentage: 0,
    fs: files,
    logger,
    retryIntervalMs: 20,
    retryMaxMs: 80,
  });
  const { broker } = await Broker.open({ store, ackTimeoutMs: 60_000 });
  open.push(broker);
  return { store, broker };
}

/** Every message left in ns/t (pending or in flight), by payload, read through a restart of a copy of `dir`. */
async function payloadsAfterRestart(dir: string, fsync: FsyncPolicy): Promise<string[]> {
  const copy = tempDir();
  dirs.push(copy);
  fs.cpSync(dir, copy.dir, { recursive: true });
  const { broker } = await openBroker(copy.dir, fsync);
  const out: string[] = [];
  for (const q of [0, 1]) {
    for (;;) {
      const got = await broker.consume('ns', 't', q, 1000, false);
      if (got.length === 0) break;
      out.push(...got.map((m) => Buffer.from(m.payload).toString()));
    }
  }
  await broker.close();
  return out.sort();
}

const sorted = (xs: Iterable<string>): string[] => [...xs].sort();

describe.each([
  ['always', 'ENOSPC'],
  ['everysec', 'ENOSPC'],
  ['no', 'ENOSPC'],
  ['always', 'EIO-write'],
  ['always', 'EIO-sync'],
  ['everysec', 'EIO-sync'],
] as const)('fsync %s, %s', (fsync, fault) => {
  it('answers the failed changes with errors, refuses changes and serves reads while failed, retries, and recovers every answered change', async () => {
    const t = tempDir();
    dirs.push(t);
    const disk = new FaultyDisk();
    const { logger, lines } = captureLogger();
    const { store, broker } = await openBroker(t.dir, fsync, disk.files, logger);
    const code = fault === 'ENOSPC' ? 'ENOSPC' : 'EIO';
    /** In memory (answered ok, or answered "may or may not survive"): the state the AOF must end up with. */
    const kept = new Set<string>();
    /** Answered ok: must survive any restart. */
    const answered = new Set<string>();
    /** Acked or auto-ack consumed, answered ok: must never come back. */
    const gone = new Set<string>();
    let n = 0;
    const publish = async (): Promise<BrokerError | undefined> => {
      const payload = `m${n++}`;
      try {
        await broker.publish('ns', 't', enc(payload));
        answered.add(payload);
        kept.add(payload);
        return undefined;
      } catch (err) {
        expect(err).toBeInstanceOf(BrokerError);
        if (/may or may not survive/.test((err as Error).message)) kept.add(payload);
        return err as BrokerError;
      }
    };
    const ack = async (q: number, count: number): Promise<void> => {
      const got = await broker.consume('ns', 't', q, count, false);
      await broker.ack('ns', 't', q, got.map((m) => m.id));
      for (const m of got) gone.add(Buffer.from(m.payload).toString());
    };

    await broker.createNamespace('ns');
    await broker.createTopic('ns', 't', 2);
    for (let i = 0; i < 40; i++) expect(await publish()).toBeUndefined();
    await ack(0, 6);
    for (const m of await broker.consume('ns', 't', 1, 4, true)) gone.add(Buffer.from(m.payload).toString());

    // The fault: publishes until one fails (under everysec an fsync failure shows at the next background sync).
    disk.fault = fault;
    const errors: BrokerError[] = [];
    for (let round = 0; round < 400 && !store.stats().failed; round++) {
      const results = await Promise.all(Array.from({ length: 8 }, publish));
      errors.push(...results.filter((e): e is BrokerError => e !== undefined));
      if (!store.stats().failed) await sleep(10);
    }
    expect(store.stats().failed).toBe(true);
    if (fsync !== 'everysec' || fault !== 'EIO-sync') {
      // The batch the failed write or fsync carried is answered with an error that says what it means.
      expect(errors.length).toBeGreaterThan(0);
      expect(errors[0]!.code).toBe('UNAVAILABLE');
      expect(errors[0]!.message).toMatch(new RegExp(`^AOF (write|fdatasync) of .*appendonly\\.aof\\.1\\.incr\\.aof failed \\(${code}`));
      expect(errors[0]!.message).toContain('may or may not survive a restart');
      expect(errors[0]!.message).toContain('dedup_id');
    }
    expect(lines.some((l) => l.level === 50 && l.code === code)).toBe(true);

    // While failed: every change is refused up front, naming the cause; reads are served.
    const refused = await errorOf(broker.publish('ns', 't', enc('refused')));
    expect(refused.code).toBe('UNAVAILABLE');
    expect(refused.message).toMatch(
      new RegExp(`^persistence failed: AOF (write|fdatasync) of \\S+appendonly\\.aof\\.1\\.incr\\.aof failed \\(${code}.*retrying every .*reads are still served`),
    );
    expect((await errorOf(broker.createTopic('ns', 'u', 1))).code).toBe('UNAVAILABLE');
    expect((await errorOf(broker.consume('ns', 't', 0, 5, true))).code).toBe('UNAVAILABLE');
    expect(broker.listTopics('ns').map((x) => x.name)).toEqual(['t']);
    expect(broker.peek('ns', 't', 0).messages.length).toBeGreaterThan(0);
    const readDuringFault = await broker.consume('ns', 't', 0, 5, false);
    expect(readDuringFault).toHaveLength(5);
    expect((await errorOf(broker.ack('ns', 't', 0, [readDuringFault[0]!.id]))).code).toBe('UNAVAILABLE');

    // A crash now: every change answered ok is on disk (everysec may lose its last second to a failed fsync).
    if (fsync !== 'everysec' || fault !== 'EIO-sync') {
      const onDisk = new Set(await payloadsAfterRestart(t.dir, fsync));
      expect(sorted([...answered].filter((p) => !gone.has(p) && !onDisk.has(p))), 'answered ok but not on disk').toEqual([]);
      expect(sorted([...gone].filter((p) => onDisk.has(p))), 'acked but back').toEqual([]);
    }

    // Retries while the disk still fails: each attempt is logged with the error code and the path.
    await until(() => store.stats().recoveryFailures >= 2, 'two failed rebuild attempts');
    const attempts = lines.filter((l: LogLine) => l.level === 40 && l.msg.startsWith('AOF rebuild failed'));
    expect(attempts.length).toBeGreaterThanOrEqual(2);
    for (const a of attempts) {
      expect(a.code).toBe(code);
      expect(String(a.file)).toContain(t.dir);
    }
    expect((await errorOf(broker.publish('ns', 't', enc('refused')))).message).toMatch(/retrying every \d.*last attempt: /);

    // The disk works again: the AOF is rebuilt from memory and changes are accepted.
    disk.fault = 'none';
    await until(() => !store.stats().failed, 'recovered');
    // Logged once the old files are deleted too (off the event loop, after changes are accepted again).
    await until(() => lines.some((l) => l.level === 30 && l.msg.startsWith('AOF rebuilt from memory')), 'the rebuild logged');
    const done = lines.find((l) => l.level === 30 && l.msg.startsWith('AOF rebuilt from memory'));
    expect(done).toMatchObject({ downSeconds: expect.any(Number), cause: expect.stringContaining(code) });
    expect(store.stats()).toMatchObject({ recoveries: 1, failedSeconds: 0 });
    // The old files are gone: a new base and incr only.
    const names = fs.readdirSync(t.dir).filter((n) => n !== LOCK_FILE).sort();
    expect(names).toHaveLength(3);
    expect(names[0]).toMatch(/^appendonly\.aof\.\d+\.base\.aof$/);
    expect(names[1]).toMatch(/^appendonly\.aof\.\d+\.incr\.aof$/);

    // What was read during the fault (its pop record was dropped) is acked now; positional records follow.
    await broker.ack('ns', 't', 0, readDuringFault.map((m) => m.id));
    for (const m of readDuringFault) gone.add(Buffer.from(m.payload).toString());
    for (const m of await broker.consume('ns', 't', 1, 3, true)) gone.add(Buffer.from(m.payload).toString());
    for (let i = 0; i < 20; i++) expect(await publish()).toBeUndefined();
    await ack(0, 2);
    await broker.close();

    // A restart finds exactly the state in memory: every answered change, and the in-doubt ones the rebuild kept.
    const after = await payloadsAfterRestart(t.dir, fsync);
    expect(after).toEqual(sorted([...kept].filter((p) => !gone.has(p))));
  });
});

describe('an auto-ack consume whose pop failed', () => {
  it('answers the error and puts its messages back at the head, in order', async () => {
    const t = tempDir();
    dirs.push(t);
    const disk = new FaultyDisk();
    const { store, broker } = await openBroker(t.dir, 'always', disk.files);
    await broker.createNamespace('ns');
    await broker.createTopic('ns', 't', 1);
    for (const p of ['a', 'b', 'c', 'd']) await broker.publish('ns', 't', enc(p));
    disk.fault = 'ENOSPC';
    const err = await errorOf(broker.consume('ns', 't', 0, 3, true));
    expect(err.message).toContain('ENOSPC');
    const head = broker.peek('ns', 't', 0).messages;
    expect(head.map((m) => Buffer.from(m.payload).toString())).toEqual(['a', 'b', 'c', 'd']);
    expect(head.map((m) => m.deliveryCount)).toEqual([0, 0, 0, 0]);
    // The memory account (limits.memory_high_water) counts them again.
    expect(broker.memory().messages).toBe(4);
    disk.fault = 'none';
    await until(() => !store.stats().failed, 'recovered');
    expect((await broker.consume('ns', 't', 0, 3, true)).map((m) => Buffer.from(m.payload).toString())).toEqual(['a', 'b', 'c']);
    await broker.close();
    expect(await payloadsAfterRestartOne(t.dir)).toEqual(['d']);
  });
});

async function payloadsAfterRestartOne(dir: string): Promise<string[]> {
  const { broker } = await openBroker(dir, 'always');
  const got = await broker.consume('ns', 't', 0, 1000, true);
  return got.map((m) => Buffer.from(m.payload).toString());
}

describe('records made while the rebuild writes its snapshot', () => {
  it('go to the new incr after the snapshot, so a restart equals memory', async () => {
    const t = tempDir();
    dirs.push(t);
    const disk = new FaultyDisk();
    const { store, broker } = await openBroker(t.dir, 'everysec', disk.files);
    await broker.createNamespace('ns');
    await broker.createTopic('ns', 't', 2);
    const all: string[] = [];
    for (let i = 0; i < 3000; i++) {
      all.push(`m${i}`);
      void broker.publish('ns', 't', enc(`m${i}`), { queueId: i % 2 });
    }
    await broker.publish('ns', 't', enc('last'), { queueId: 0 });
    all.push('last');
    disk.fault = 'ENOSPC';
    await errorOf(broker.publish('ns', 't', enc('in-doubt'), { queueId: 1 }));
    all.push('in-doubt');
    // Pops during the snapshot's writing (not logged up front: the store is failed) move the head of queue 0.
    let popped: Awaited<ReturnType<Broker['consume']>> = [];
    disk.onBaseWrite = () => {
      disk.onBaseWrite = undefined;
      void broker.consume('ns', 't', 0, 7, false).then((m) => (popped = m));
    };
    disk.fault = 'none';
    await until(() => !store.stats().failed, 'recovered');
    expect(popped).toHaveLength(7);
    await broker.ack('ns', 't', 0, popped.slice(0, 3).map((m) => m.id));
    const autoAcked = await broker.consume('ns', 't', 0, 5, true);
    const gone = new Set([...popped.slice(0, 3), ...autoAcked].map((m) => Buffer.from(m.payload).toString()));
    await broker.close();
    expect(await payloadsAfterRestart(t.dir, 'everysec')).toEqual(sorted(all.filter((p) => !gone.has(p))));
  });
});

describe('close() while failed', () => {
  it('stops the retries and leaves the last good AOF loadable', async () => {
    const t = tempDir();
    dirs.push(t);
    const disk = new FaultyDisk();
    const { store, broker } = await openBroker(t.dir, 'always', disk.files);
    await broker.createNamespace('ns');
    await broker.createTopic('ns', 't', 2);
    await broker.publish('ns', 't', enc('kept'));
    disk.fault = 'ENOSPC';
    await errorOf(broker.publish('ns', 't', enc('in-doubt')));
    await until(() => store.stats().recoveryFailures >= 1, 'a failed attempt');
    await broker.close().catch(() => {});
    const attempts = store.stats().recoveryFailures;
    await sleep(200);
    expect(store.stats().recoveryFailures).toBe(attempts);
    expect(fs.readdirSync(t.dir).filter((f) => f.endsWith('.tmp') || f.includes('base'))).toEqual([]);
    expect(await payloadsAfterRestart(t.dir, 'always')).toEqual(['kept']);
  });
});

describe('a failure while a rewrite runs', () => {
  it('abandons the rewrite; the rebuild then replaces every file, and a restart equals memory', async () => {
    const t = tempDir();
    dirs.push(t);
    const disk = new FaultyDisk();
    const { store, broker } = await openBroker(t.dir, 'always', disk.files);
    await broker.createNamespace('ns');
    await broker.createTopic('ns', 't', 2);
    const all: string[] = [];
    const pubs: Promise<unknown>[] = [];
    for (let i = 0; i < 20_000; i++) {
      all.push(`m${i}`);
      pubs.push(broker.publish('ns', 't', enc(`m${i}`), { queueId: i % 2 }));
    }
    await Promise.all(pubs);
    // The fault hits the rewrite's base as it is written, and the appends beside it.
    disk.onBaseWrite = () => {
      disk.onBaseWrite = undefined;
      disk.fault = 'ENOSPC';
    };
    const rewriting = broker.rewrite();
    rewriting.catch(() => {});
    await until(() => disk.fault === 'ENOSPC', 'the rewrite writing its base');
    const failed = await errorOf(broker.publish('ns', 't', enc('in-doubt')));
    all.push('in-doubt');
    expect(failed.message).toContain('ENOSPC');
    await expect(rewriting).rejects.toThrow(/ENOSPC|rewrite abandoned/);
    expect(store.stats().failed).toBe(true);
    disk.fault = 'none';
    await until(() => !store.stats().failed, 'recovered');
    // The old files are deleted off the event loop, once changes are accepted again.
    const aofFiles = (): string[] => fs.readdirSync(t.dir).filter((n) => !n.endsWith('.manifest') && n !== LOCK_FILE);
    await until(() => aofFiles().length === 2, 'the old files deleted');
    expect(aofFiles()).toHaveLength(2);
    const acked = await broker.consume('ns', 't', 1, 10, true);
    await broker.close();
    const gone = new Set(acked.map((m) => Buffer.from(m.payload).toString()));
    expect(await payloadsAfterRestart(t.dir, 'always')).toEqual(sorted(all.filter((p) => !gone.has(p))));
  });
});
