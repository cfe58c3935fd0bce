/**
 * docs/DESIGN.md, "Background rewrite": a compact base is written from a
 * point-in-time view while new mutations keep being logged; no mutation
 * acknowledged before, during or after a rewrite is lost; a crash at any
 * moment of a rewrite leaves a loadable AOF; the manifest switches
 * atomically.
 */
import { LOCK_FILE } from '../../src/aof/dir-lock.js';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FileStore } from '../../src/aof/file-store.js';
import { nodeFiles, type AofFiles } from '../../src/aof/files.js';
import type { FsyncPolicy } from '../../src/aof/store.js';
import { crashingFiles, type FileOp, Model, openStore, oserror, publishRecord, replayAll, tempDir } from './helpers.js';

let t: ReturnType<typeof tempDir>;
let stores: FileStore[] = [];
beforeEach(() => {
  t = tempDir();
});
afterEach(async () => {
  for (const s of stores) await s.close().catch(() => {});
  stores = [];
  t.cleanup();
});

async function open(opts: Parameters<typeof openStore>[1] = {}): Promise<FileStore> {
  const s = await openStore(t.dir, opts);
  stores.push(s);
  return s;
}

const manifestText = (): string => fs.readFileSync(path.join(t.dir, 'appendonly.aof.manifest'), 'utf8');
// The AOF files only: the directory's lock (docs/DESIGN.md, "One broker per AOF directory") sits beside them while a store is open.
const dirFiles = (): string[] => fs.readdirSync(t.dir).filter((n) => n !== LOCK_FILE).sort();

/** Publishes `n` messages and acks every third one. */
async function fill(store: FileStore, model: Model, n: number, payload = 400): Promise<void> {
  for (let i = 0; i < n; i++) {
    const rec = publishRecord(payload);
    model.publish(store, rec);
    if (i % 3 === 2) model.ack(store, [rec.id]);
  }
  await store.durable();
}

async function reopenedIds(): Promise<string[]> {
  const store = await open();
  const replayed = new Model();
  await store.replay(replayed.apply);
  return replayed.ids();
}

describe('rewrite: the new base replaces the old files, through an atomic manifest switch', () => {
  it('old files are deleted and the manifest lists the new base and incr', async () => {
    const store = await open();
    await replayAll(store);
    const model = new Model();
    store.setSnapshotSource(model.snapshot);
    await fill(store, model, 300);
    expect(manifestText()).toBe('appendonly.aof.1.incr.aof 1 incr\n');

    const stats = await store.rewrite();
    expect(stats.records).toBe(200);
    expect(manifestText()).toBe('appendonly.aof.2.base.aof 2 base\nappendonly.aof.2.incr.aof 2 incr\n');
    expect(dirFiles()).toEqual(['appendonly.aof.2.base.aof', 'appendonly.aof.2.incr.aof', 'appendonly.aof.manifest']);
    expect(fs.statSync(path.join(t.dir, 'appendonly.aof.2.base.aof')).size).toBe(stats.bytes);

    await fill(store, model, 30);
    await store.rewrite();
    expect(dirFiles()).toEqual(['appendonly.aof.3.base.aof', 'appendonly.aof.3.incr.aof', 'appendonly.aof.manifest']);
    expect(store.stats().rewrites).toBe(2);
    await store.close();
    expect(await reopenedIds()).toEqual(model.ids());
  });

  it('every file the manifest lists exists before it is listed, and old ones go only after the switch', async () => {
    const events: string[] = [];
    const files: AofFiles = {
      ...nodeFiles,
      rename(from, to) {
        const text = to.endsWith('.manifest') ? fs.readFileSync(from, 'utf8').trim().replaceAll('\n', ' | ') : '';
        events.push(`rename ${path.basename(from)} -> ${path.basename(to)}${text ? ` [${text}]` : ''}`);
        nodeFiles.rename(from, to);
      },
      unlink(p) {
        events.push(`unlink ${path.basename(p)}`);
        nodeFiles.unlink(p);
      },
      remove(p) {
        events.push(`remove ${path.basename(p)}`);
        return nodeFiles.remove(p);
      },
    };
    const store = await open({ fs: files });
    await replayAll(store);
    const model = new Model();
    store.setSnapshotSource(model.snapshot);
    await fill(store, model, 50);
    events.length = 0;
    await store.rewrite();
    expect(events).toEqual([
      'rename appendonly.aof.manifest.tmp -> appendonly.aof.manifest [appendonly.aof.1.incr.aof 1 incr | appendonly.aof.2.incr.aof 2 incr]',
      'rename appendonly.aof.2.base.aof.tmp -> appendonly.aof.2.base.aof',
      'rename appendonly.aof.manifest.tmp -> appendonly.aof.manifest [appendonly.aof.2.base.aof 2 base | appendonly.aof.2.incr.aof 2 incr]',
      'remove appendonly.aof.1.incr.aof',
    ]);
  });

  it('appends go on during the rewrite and are acknowledged, under every policy', async () => {
    for (const fsync of ['always', 'everysec', 'no'] as const) {
      const dir = tempDir();
      try {
        const store = await openStore(dir.dir, { fsync });
        await replayAll(store);
        const model = new Model();
        store.setSnapshotSource(model.snapshot);
        await fill(store, model, 6000, 300);
        // A batch still pending when the rewrite starts belongs to the old incr.
        model.publish(store, publishRecord(10));
        const pendingBatch = store.durable();
        const rewriting = store.rewrite();
        await pendingBatch;
        let during = 0;
        let done = false;
        void rewriting.then(() => (done = true));
        while (!done) {
          model.publish(store, publishRecord(100));
          await store.durable();
          during++;
        }
        await rewriting;
        expect(during).toBeGreaterThan(1);
        await store.close();
        const again = await openStore(dir.dir);
        const replayed = new Model();
        await again.replay(replayed.apply);
        await again.close();
        expect(replayed.ids()).toEqual(model.ids());
      } finally {
        dir.cleanup();
      }
    }
  });

  it('the snapshot is written in slices: the event loop keeps turning', async () => {
    const store = await open();
    await replayAll(store);
    const model = new Model();
    store.setSnapshotSource(model.snapshot);
    await fill(store, model, 9000, 1000);
    let turns = 0;
    const probe = setInterval(() => turns++, 0);
    await store.rewrite();
    clearInterval(probe);
    expect(turns).toBeGreaterThan(2);
  });
});

describe('rewrite starts by itself when the AOF has grown enough', () => {
  it('past rewriteMinSize and rewritePercentage since the last rewrite', async () => {
    const store = await open({ rewriteMinSize: 64 * 1024, rewritePercentage: 100 });
    await replayAll(store);
    const model = new Model();
    store.setSnapshotSource(model.snapshot);
    await fill(store, model, 100, 400); // ~45 KB: below the minimum
    await new Promise((r) => setTimeout(r, 20));
    expect(store.stats().rewrites).toBe(0);
    await fill(store, model, 100, 400);
    for (let i = 0; i < 200 && store.stats().rewrites === 0; i++) await new Promise((r) => setTimeout(r, 5));
    expect(store.stats().rewrites).toBe(1);
    const base = store.stats().rewriteBaseSize;
    expect(base).toBeLessThan(store.stats().bytes);
    // Growth below 100 % of the new size does not start another one.
    await fill(store, model, 20, 400);
    await new Promise((r) => setTimeout(r, 20));
    expect(store.stats().rewrites).toBe(1);
    await store.close();
    expect(await reopenedIds()).toEqual(model.ids());
  });
});

describe('a rewrite that fails leaves the AOF as it was, and appends go on', () => {
  it('a failed write of the new base', async () => {
    const tmpFds = new Set<number>();
    const files: AofFiles = {
      ...nodeFiles,
      open(p, flags) {
        const fd = nodeFiles.open(p, flags);
        if (p.endsWith('.tmp') && !p.includes('manifest')) tmpFds.add(fd);
        return fd;
      },
      write: (fd, data) => (tmpFds.has(fd) ? Promise.reject(oserror('ENOSPC', 'write')) : nodeFiles.write(fd, data)),
    };
    const store = await open({ fs: files });
    await replayAll(store);
    const model = new Model();
    store.setSnapshotSource(model.snapshot);
    await fill(store, model, 100);
    await expect(store.rewrite()).rejects.toThrow(/ENOSPC/);
    expect(store.stats()).toMatchObject({ rewriteFailures: 1, failed: false });
    expect(dirFiles()).toEqual(['appendonly.aof.1.incr.aof', 'appendonly.aof.2.incr.aof', 'appendonly.aof.manifest']);
    await fill(store, model, 10);
    await store.close();
    expect(await reopenedIds()).toEqual(model.ids());
  });

  it('close() during a rewrite abandons it and leaves a loadable AOF', async () => {
    const store = await open();
    await replayAll(store);
    const model = new Model();
    store.setSnapshotSource(model.snapshot);
    await fill(store, model, 6000, 1000);
    const rewriting = store.rewrite();
    rewriting.catch(() => {});
    await new Promise((r) => setImmediate(r));
    await store.close();
    await expect(rewriting).rejects.toThrow(/closing/);
    expect(dirFiles().some((f) => f.endsWith('.tmp'))).toBe(false);
    expect(await reopenedIds()).toEqual(model.ids());
  });
});

describe('a crash at any moment of a rewrite leaves a loadable AOF with every acknowledged record', () => {
  type When = (op: FileOp, args: unknown[], pathOf: (fd: unknown) => string, n: Record<string, number>) => boolean;
  const str = (x: unknown): string => String(x);
  const count = (n: Record<string, number>, key: string): number => (n[key] = (n[key] ?? 0) + 1);
  const points: Array<[string, When]> = [
    ['step 1: before the manifest lists the new incr', (op, a) => op === 'rename' && str(a[1]).endsWith('.manifest')],
    ['step 3: at the creation of the .tmp base', (op, a) => op === 'open' && str(a[0]).endsWith('.base.aof.tmp')],
    ['step 3: halfway through writing the .tmp base', (op, _a, _p, n) => op === 'write' && count(n, 'write') === 2],
    ['step 3: at the fsync of the .tmp base', (op, a, pathOf) => op === 'fdatasync' && pathOf(a[0]).endsWith('.tmp')],
    ['step 3: before the rename of the base', (op, a) => op === 'rename' && str(a[0]).endsWith('.base.aof.tmp')],
    [
      'step 4: before the manifest lists the new base',
      (op, a, _p, n) => op === 'rename' && str(a[1]).endsWith('.manifest') && count(n, 'manifest') === 2,
    ],
    ['step 5: before the old files are deleted', (op, a) => op === 'remove'],
  ];
  const policies: FsyncPolicy[] = ['always', 'everysec'];

  describe.each(policies)('fsync %s', (fsync) => {
    it.each(points)('%s', async (_, when) => {
      let armed = false;
      const seen: Record<string, number> = {};
      const files = crashingFiles((op, args, pathOf) => armed && when(op, args, pathOf, seen));
      let acked: string[] = [];
      let all: string[] = [];
      try {
        const store = await openStore(t.dir, { fsync, fs: files });
        await replayAll(store);
        const model = new Model();
        store.setSnapshotSource(model.snapshot);
        await fill(store, model, 4000, 500);
        // The acknowledged state: what every resolved durable() covered.
        acked = model.ids();
        armed = true;
        const rewriting = store.rewrite().catch(() => {});
        for (let i = 0; i < 200 && !files.crashed(); i++) {
          const rec = publishRecord(100);
          model.publish(store, rec);
          try {
            await store.durable();
            acked = model.ids();
          } catch {
            break;
          }
          await new Promise((r) => setImmediate(r));
        }
        await rewriting;
        all = model.ids();
        expect(files.crashed()).toBe(true);
      } finally {
        // The "process" is dead: its descriptors go with it, nothing else is cleaned up.
        files.release();
      }
      const store = await open();
      const replayed = new Model();
      await store.replay(replayed.apply);
      // Leftovers of the dead rewrite are gone; what the manifest lists is all there is.
      const listed = manifestText()
        .trim()
        .split('\n')
        .map((l) => l.split(' ')[0]);
      expect(dirFiles()).toEqual([...listed, 'appendonly.aof.manifest'].sort());
      // Every acknowledged record is there, in order; past them at most records that were written but never acknowledged.
      const got = replayed.ids();
      expect(got.length).toBeGreaterThanOrEqual(acked.length);
      expect(got).toEqual(all.slice(0, got.length));
      // ...and a rewrite after recovery works.
      store.setSnapshotSource(replayed.snapshot);
      await store.rewrite();
    });
  });
});
