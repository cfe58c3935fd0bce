/**
 * docs/DESIGN.md, "Durability contract (the AOF)", startup: a torn record at the very end
 * is cut with a warning saying how many bytes were dropped; a checksum
 * failure in the middle stops startup with an error naming file and offset.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RecordEncoder } from '../../src/aof/codec.js';
import { AofCorruptError } from '../../src/aof/errors.js';
import { nodeFiles } from '../../src/aof/files.js';
import { scanFile } from '../../src/aof/reader.js';
import { checkAof } from '../../src/aof/check.js';
import { readManifest, writeManifest } from '../../src/aof/manifest.js';
import type { FileStore } from '../../src/aof/file-store.js';
import type { LogRecord } from '../../src/aof/store.js';
import { append, captureLogger, comparable, openStore, publishRecord, replayAll, tempDir } from './helpers.js';

let t: ReturnType<typeof tempDir>;
let stores: FileStore[] = [];
beforeEach(() => {
  t = tempDir();
});
afterEach(async () => {
  for (const s of stores) await s.close().catch(() => {});
  stores = [];
  vi.restoreAllMocks();
  t.cleanup();
});

const incr1 = (): string => path.join(t.dir, 'appendonly.aof.1.incr.aof');

async function open(logger = captureLogger().logger): Promise<FileStore> {
  const s = await openStore(t.dir, { logger });
  stores.push(s);
  return s;
}

/** Writes `records` through a store and closes it: a clean AOF. */
async function seed(records: readonly LogRecord[]): Promise<void> {
  const s = await open();
  await replayAll(s);
  append(s, records);
  await s.durable();
  await s.close();
}

function encoded(rec: LogRecord & { type: 'publish' }): Buffer {
  const enc = new RecordEncoder();
  enc.publish(rec.ns, rec.topic, rec.queue, rec);
  return Buffer.from(enc.take());
}

describe('a torn record at the end of the last file is cut, with a warning, before new appends', () => {
  const tails: Array<[string, (whole: Buffer) => Buffer]> = [
    ['a short header', (whole) => whole.subarray(0, 5)],
    ['a short body', (whole) => whole.subarray(0, whole.length - 10)],
    ['a zero-filled tail', (whole) => Buffer.alloc(whole.length)],
  ];

  it.each(tails)('%s', async (_, tear) => {
    const records = Array.from({ length: 50 }, () => publishRecord(300));
    await seed(records);
    const cleanSize = fs.statSync(incr1()).size;
    const torn = tear(encoded(publishRecord(300)));
    fs.appendFileSync(incr1(), torn);

    const { logger, lines } = captureLogger();
    let store = await open(logger);
    const stats = await store.replay(() => {});
    expect(stats.records).toBe(50);
    expect(stats.truncatedBytes).toBe(torn.length);
    const warning = lines.find((l) => l.level === 40);
    expect(warning).toMatchObject({ file: incr1(), offset: cleanSize, droppedBytes: torn.length });
    expect(warning!.msg).toContain(`${torn.length} bytes`);
    // Cut before anything is appended, so the new record follows the last whole one.
    expect(fs.statSync(incr1()).size).toBe(cleanSize);

    const after = publishRecord(300);
    append(store, [after]);
    await store.durable();
    await store.close();

    const again = captureLogger();
    store = await open(again.logger);
    expect(comparable(await replayAll(store))).toEqual(comparable([...records, after]));
    expect(again.lines.filter((l) => l.level >= 40)).toEqual([]);
  });

  it('a torn tail of the incr before the empty one a rewrite had just listed is cut too (a crash before appends moved on)', async () => {
    const records = Array.from({ length: 20 }, () => publishRecord(300));
    await seed(records);
    const cleanSize = fs.statSync(incr1()).size;
    const torn = encoded(publishRecord(300)).subarray(0, 40);
    fs.appendFileSync(incr1(), torn);
    // what listNewIncr leaves: the next incr created empty and listed after the live one
    const manifest = readManifest(nodeFiles, t.dir, 'appendonly.aof')!;
    fs.writeFileSync(path.join(t.dir, 'appendonly.aof.2.incr.aof'), '');
    await writeManifest(nodeFiles, t.dir, 'appendonly.aof', [...manifest, { name: 'appendonly.aof.2.incr.aof', seq: 2, type: 'incr' }]);

    expect((await checkAof(t.dir, 'appendonly.aof')).firstBad).toMatchObject({ file: incr1(), offset: cleanSize, tornTail: true });
    const store = await open();
    const stats = await store.replay(() => {});
    expect(stats.records).toBe(20);
    expect(stats.truncatedBytes).toBe(torn.length);
    expect(fs.statSync(incr1()).size).toBe(cleanSize);
    const after = publishRecord(300);
    append(store, [after]);
    await store.durable();
    await store.close();
    expect(comparable(await replayAll(await open()))).toEqual(comparable([...records, after]));
  });

  it('torn bytes in an incr followed by one with records are corruption: startup stops', async () => {
    await seed(Array.from({ length: 5 }, () => publishRecord(100)));
    fs.appendFileSync(incr1(), encoded(publishRecord(300)).subarray(0, 40));
    const manifest = readManifest(nodeFiles, t.dir, 'appendonly.aof')!;
    fs.writeFileSync(path.join(t.dir, 'appendonly.aof.2.incr.aof'), encoded(publishRecord(100)));
    await writeManifest(nodeFiles, t.dir, 'appendonly.aof', [...manifest, { name: 'appendonly.aof.2.incr.aof', seq: 2, type: 'incr' }]);
    const store = await open();
    await expect(store.replay(() => {})).rejects.toThrow(AofCorruptError);
  });

  it('a checksum mismatch on the very last record, with nothing after it, is a torn write', async () => {
    const records = Array.from({ length: 10 }, () => publishRecord(100));
    await seed(records);
    const buf = fs.readFileSync(incr1());
    buf[buf.length - 3]! ^= 0xff;
    fs.writeFileSync(incr1(), buf);
    const store = await open();
    const stats = await store.replay(() => {});
    expect(stats.records).toBe(9);
    expect(stats.truncatedBytes).toBe(encoded(records[9] as LogRecord & { type: 'publish' }).length);
  });
});

describe('a bad record anywhere else stops startup, naming the file and the offset', () => {
  it('a flipped byte in the middle of the last file', async () => {
    const records = Array.from({ length: 20 }, () => publishRecord(100));
    await seed(records);
    const offsets: number[] = [];
    let at = 0;
    for (const r of records) {
      offsets.push(at);
      at += encoded(r as LogRecord & { type: 'publish' }).length;
    }
    const buf = fs.readFileSync(incr1());
    buf[offsets[7]! + 40]! ^= 0x01;
    fs.writeFileSync(incr1(), buf);

    const store = await open();
    const applied: LogRecord[] = [];
    const err = await store.replay((r) => applied.push(r)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AofCorruptError);
    expect(err).toMatchObject({ file: incr1(), offset: offsets[7] });
    const msg = (err as Error).message;
    expect(msg).toContain(incr1());
    expect(msg).toContain(`byte offset ${offsets[7]}`);
    expect(msg).toContain(`mqlite-cli aof check ${t.dir}`);
    expect(msg).toContain('aof fix');
    expect(applied).toHaveLength(7);
    // Nothing was cut: the operator decides.
    expect(fs.statSync(incr1()).size).toBe(buf.length);
  });

  it('a torn end of a file that is not the last one is corruption', async () => {
    // Make base + incr with a rewrite, then tear the base.
    const s = await open();
    await replayAll(s);
    const records = Array.from({ length: 10 }, () => publishRecord(50));
    s.setSnapshotSource((sink) => {
      for (const r of records) sink.publish(r.ns, r.topic, r.queue, r);
      return [][Symbol.iterator]();
    });
    await s.rewrite();
    append(s, [publishRecord(50)]);
    await s.close();
    const base = path.join(t.dir, 'appendonly.aof.2.base.aof');
    fs.truncateSync(base, fs.statSync(base).size - 3);
    const store = await open();
    await expect(store.replay(() => {})).rejects.toMatchObject({ name: 'AofCorruptError', file: base });
  });

  it('a length field of 0xFFFFFFFF is reported without allocating for it', async () => {
    const records = Array.from({ length: 5 }, () => publishRecord(100));
    await seed(records);
    const good = fs.statSync(incr1()).size;
    const bogus = encoded(publishRecord(100));
    bogus.writeUInt32BE(0xffffffff, 0);
    fs.appendFileSync(incr1(), bogus);
    fs.appendFileSync(incr1(), encoded(publishRecord(100)));

    const allocs: number[] = [];
    const real = Buffer.allocUnsafe.bind(Buffer);
    vi.spyOn(Buffer, 'allocUnsafe').mockImplementation((n: number) => {
      allocs.push(n);
      return real(n);
    });
    const store = await open();
    const err = await store.replay(() => {}).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'AofCorruptError', file: incr1(), offset: good });
    expect((err as Error).message).toContain('4294967295');
    expect(Math.max(...allocs)).toBeLessThan(1024 * 1024);
  });

  it('a length running past the end of a base file is reported, not allocated', async () => {
    fs.writeFileSync(path.join(t.dir, 'appendonly.aof.manifest'), 'appendonly.aof.1.base.aof 1 base\nappendonly.aof.2.incr.aof 2 incr\n');
    const header = Buffer.alloc(8);
    header.writeUInt32BE(500_000_000, 0);
    fs.writeFileSync(path.join(t.dir, 'appendonly.aof.1.base.aof'), Buffer.concat([encoded(publishRecord(10)), header, Buffer.alloc(100)]));
    fs.writeFileSync(path.join(t.dir, 'appendonly.aof.2.incr.aof'), '');
    const allocs: number[] = [];
    const real = Buffer.allocUnsafe.bind(Buffer);
    vi.spyOn(Buffer, 'allocUnsafe').mockImplementation((n: number) => {
      allocs.push(n);
      return real(n);
    });
    const store = await open();
    await expect(store.replay(() => {})).rejects.toThrow(/exceeds the 100 bytes left in the file/);
    expect(Math.max(...allocs)).toBeLessThan(1024 * 1024);
  });
});

describe('replay reads in chunks and hands out owned payloads', () => {
  it('records larger than a read chunk and records spanning chunks replay whole', async () => {
    const records = [publishRecord(100), publishRecord(12 * 1024 * 1024), ...Array.from({ length: 2000 }, () => publishRecord(5000))];
    await seed(records);
    const store = await open();
    const got = await replayAll(store);
    expect(got).toHaveLength(records.length);
    expect(comparable(got.slice(0, 2))).toEqual(comparable(records.slice(0, 2)));
    expect(comparable(got.slice(-3))).toEqual(comparable(records.slice(-3)));
    const p = got[5] as LogRecord & { type: 'publish' };
    // An owned copy is its own small buffer (or a pool slab), never the 8 MiB read chunk.
    expect(p.payload.buffer.byteLength).toBeLessThan(1024 * 1024);
  });
});

describe('the chunked reader sees every record whatever the chunk boundaries', () => {
  it('records of every size across 64 KiB chunks, with and without a torn tail', async () => {
    const sizes = [0, 1, 100, 65_000, 70_000, 300_000, 5, 262_100, 262_200, 600_000, 17, 64 * 1024 - 8];
    const records = [...sizes, ...sizes.reverse()].map((n) => publishRecord(n));
    const enc = new RecordEncoder();
    for (const r of records) enc.publish(r.ns, r.topic, r.queue, r);
    const file = path.join(t.dir, 'scan.aof');
    fs.writeFileSync(file, enc.take());
    const got: LogRecord[] = [];
    const res = await scanFile(nodeFiles, file, (r) => got.push(r), { lastFile: true, chunkBytes: 64 * 1024 });
    expect(res.problem).toBeUndefined();
    expect(comparable(got)).toEqual(comparable(records));

    fs.appendFileSync(file, encoded(publishRecord(400_000)).subarray(0, 300_000));
    const torn = await scanFile(nodeFiles, file, undefined, { lastFile: true, chunkBytes: 64 * 1024 });
    expect(torn.records).toBe(records.length);
    expect(torn.problem).toMatchObject({ kind: 'short-body', offset: res.size, torn: true });
  });
});

describe('opening refuses what it cannot load safely', () => {
  it('AOF files without a manifest are not overwritten by a fresh start', async () => {
    fs.writeFileSync(path.join(t.dir, 'appendonly.aof.3.incr.aof'), encoded(publishRecord(10)));
    await expect(open()).rejects.toThrow(/no appendonly.aof.manifest/);
  });

  it('a file the manifest lists but that is missing', async () => {
    fs.writeFileSync(path.join(t.dir, 'appendonly.aof.manifest'), 'appendonly.aof.1.incr.aof 1 incr\n');
    await expect(open()).rejects.toThrow(/listed in appendonly.aof.manifest but missing/);
  });

  it('replay runs once, and appending before replay of an existing AOF is refused', async () => {
    await seed([publishRecord(10)]);
    const store = await open();
    append(store, [publishRecord(10)]);
    await expect(store.durable()).rejects.toThrow(/before replay/);
    const other = await open();
    await other.replay(() => {});
    await expect(other.replay(() => {})).rejects.toThrow(/runs once/);
  });
});
