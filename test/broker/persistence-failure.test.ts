/**
 * docs/DESIGN.md, "Durability contract (the AOF)": a failed write is never hidden. The
 * mutation it carried is answered with an error; later mutations are
 * refused before they change the state; what is queued can still be read.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileStore } from '../../src/aof/file-store.js';
import { nodeFiles, type AofFiles } from '../../src/aof/files.js';
import { Broker } from '../../src/broker/broker.js';
import { enc, text } from './helpers.js';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('a failed AOF write', () => {
  it.each(['everysec', 'always'] as const)('under %s: answers UNAVAILABLE, refuses later mutations, keeps serving reads', async (fsync) => {
    const dir = mkdtempSync(join(tmpdir(), 'mqlite-fail-'));
    dirs.push(dir);
    let failing = false;
    const eio = Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' });
    const files: AofFiles = {
      ...nodeFiles,
      writeSync: (fd, data) => {
        if (failing) throw eio;
        nodeFiles.writeSync(fd, data);
      },
      fdatasync: (fd) => (failing ? Promise.reject(eio) : nodeFiles.fdatasync(fd)),
    };
    const store = await FileStore.open({ dir, fsync, rewriteMinSize: 1 << 30, rewritePercentage: 100, fs: files });
    const { broker } = await Broker.open({ store });
    await broker.createNamespace('ns');
    await broker.createTopic('ns', 't', 1);
    await broker.publish('ns', 't', enc('kept'));

    failing = true;
    await expect(broker.publish('ns', 't', enc('lost'))).rejects.toMatchObject({ code: 'UNAVAILABLE', message: expect.stringContaining('EIO') });
    const pendingAfterFailure = broker.stats().pending;
    await expect(broker.publish('ns', 't', enc('refused'))).rejects.toMatchObject({ code: 'UNAVAILABLE', message: expect.stringContaining('persistence failed') });
    await expect(broker.createTopic('ns', 'u', 1)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    await expect(broker.consume('ns', 't', 0, 10, true)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(broker.stats().pending).toBe(pendingAfterFailure);
    expect(broker.listTopics('ns').map((t) => t.name)).toEqual(['t']);

    const read = await broker.consume('ns', 't', 0, 10, false);
    expect(read.map(text)[0]).toBe('kept');
    await expect(broker.ack('ns', 't', 0, [read[0]!.id])).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    await broker.close().catch(() => undefined);

    // What was answered survives; nothing after the failure was claimed durable.
    const { broker: again } = await Broker.open({ store: await FileStore.open({ dir, fsync, rewriteMinSize: 1 << 30, rewritePercentage: 100 }) });
    expect((await again.consume('ns', 't', 0, 10, true)).map(text)).toEqual(['kept']);
    await again.close();
  });
});
