/**
 * docs/DESIGN.md, "Durability contract (the AOF)": a checksum failure in the middle stops
 * startup unless the operator chooses to repair it, with a CLI command that
 * checks and, on request, truncates at the first bad record.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkAof, fixAof } from '../../src/aof/check.js';
import type { FileStore } from '../../src/aof/file-store.js';
import { Model, openStore, publishRecord, replayAll, tempDir } from './helpers.js';

let t: ReturnType<typeof tempDir>;
beforeEach(() => {
  t = tempDir();
});
afterEach(() => t.cleanup());

const base = (): string => path.join(t.dir, 'appendonly.aof.2.base.aof');
const incr = (): string => path.join(t.dir, 'appendonly.aof.2.incr.aof');

/** An AOF of base (100 pending messages) + incr (10 more), closed. */
async function seed(): Promise<{ model: Model }> {
  const store: FileStore = await openStore(t.dir);
  await replayAll(store);
  const model = new Model();
  store.setSnapshotSource(model.snapshot);
  for (let i = 0; i < 100; i++) model.publish(store, publishRecord(200));
  await store.rewrite();
  for (let i = 0; i < 10; i++) model.publish(store, publishRecord(200));
  await store.close();
  return { model };
}

describe('aof check reports the files, their records and the first bad record', () => {
  it('a good AOF', async () => {
    await seed();
    const report = await checkAof(t.dir);
    expect(report.firstBad).toBeUndefined();
    expect(report.records).toBe(110);
    expect(report.files.map((f) => [f.name, f.type, f.records])).toEqual([
      ['appendonly.aof.2.base.aof', 'base', 100],
      ['appendonly.aof.2.incr.aof', 'incr', 10],
    ]);
  });

  it('a corrupt record in the base: file, offset and reason', async () => {
    await seed();
    const buf = fs.readFileSync(base());
    const offsets: number[] = [];
    for (let at = 0; at < buf.length; at += 8 + buf.readUInt32BE(at)) offsets.push(at);
    buf[offsets[40]! + 20]! ^= 0x10;
    fs.writeFileSync(base(), buf);
    const report = await checkAof(t.dir);
    expect(report.firstBad).toMatchObject({ file: base(), offset: offsets[40], tornTail: false });
    expect(report.firstBad!.reason).toMatch(/checksum/);
    expect(report.records).toBe(40);
  });

  it('a torn tail of the last file is reported as such', async () => {
    await seed();
    fs.appendFileSync(incr(), Buffer.from([0, 0, 1]));
    const report = await checkAof(t.dir);
    expect(report.firstBad).toMatchObject({ file: incr(), offset: fs.statSync(incr()).size - 3, tornTail: true });
  });

  it('no manifest is an error', async () => {
    await expect(checkAof(t.dir)).rejects.toThrow(/no AOF manifest/);
  });
});

describe('aof fix truncates at the first bad record, and startup works again', () => {
  it('corruption in the base: the base is cut and the later incr set aside', async () => {
    const { model } = await seed();
    const buf = fs.readFileSync(base());
    const offsets: number[] = [];
    for (let at = 0; at < buf.length; at += 8 + buf.readUInt32BE(at)) offsets.push(at);
    buf[offsets[60]! + 30]! ^= 0x10;
    fs.writeFileSync(base(), buf);

    const refused = await openStore(t.dir);
    await expect(refused.replay(() => {})).rejects.toThrow(/aof fix/);
    await refused.close();

    const fixed = await fixAof(t.dir);
    expect(fixed.repaired).toEqual({
      file: base(),
      truncatedAt: offsets[60],
      droppedBytes: buf.length - offsets[60]!,
      droppedFiles: [incr()],
    });
    expect(fixed.firstBad).toBeUndefined();
    expect(fs.existsSync(`${incr()}.dropped`)).toBe(true);

    const store = await openStore(t.dir);
    const replayed = new Model();
    await store.replay(replayed.apply);
    expect(replayed.ids()).toEqual(model.ids().slice(0, 60));
    store.sink.nsCreate('after-fix');
    await store.durable();
    await store.close();
    expect((await checkAof(t.dir)).firstBad).toBeUndefined();
  });

  it('a good AOF is left alone', async () => {
    await seed();
    const before = fs.readdirSync(t.dir).sort();
    const report = await fixAof(t.dir);
    expect(report.repaired).toBeUndefined();
    expect(fs.readdirSync(t.dir).sort()).toEqual(before);
  });
});
