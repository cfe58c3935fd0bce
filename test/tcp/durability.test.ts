/**
 * PROTOCOL.md ("Responses on a connection come in the order of the
 * requests") with a real AOF under fsync `always`: replies that wait for an
 * fsync hold back the replies behind them instead of being overtaken, and
 * a publish answered over TCP survives a restart.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileStore } from '../../src/aof/file-store.js';
import { Broker } from '../../src/broker/broker.js';
import { startTcpServer } from '../../src/server/tcp/index.js';
import { RawClient, jsonFrame, pbFrame, silent } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'mqlite-tcp-aof-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function open(): Promise<{ broker: Broker; close(): Promise<void>; port: number }> {
  const store = await FileStore.open({ dir, fsync: 'always', rewriteMinSize: 1 << 30, rewritePercentage: 0, logger: silent });
  const { broker } = await Broker.open({ store, logger: silent });
  const server = await startTcpServer(broker, { host: '127.0.0.1', port: 0, maxFrameBytes: 1 << 20, logger: silent });
  return {
    broker,
    port: server.port,
    async close() {
      await server.close();
      await broker.close();
    },
  };
}

describe('replies behind an fsync keep request order', () => {
  it('answers read-only commands after the publishes before them, and the publishes survive a restart', async () => {
    const first = await open();
    await first.broker.createNamespace('d');
    await first.broker.createTopic('d', 't', 1);
    const c = await RawClient.open(first.port);
    const frames: Buffer[] = [];
    for (let i = 0; i < 200; i++) {
      // publishes wait for their fsync; list_namespaces is answered at once by the core
      frames.push(jsonFrame({ action: 'publish', request_id: `p${i}`, data: { namespace: 'd', topic: 't', payload: i } }));
      frames.push(pbFrame({ action: 'list_namespaces', requestId: `l${i}` }));
    }
    c.write(Buffer.concat(frames));
    for (let i = 0; i < 200; i++) {
      expect((await c.json()).request_id).toBe(`p${i}`);
      expect((await c.pb()).requestId).toBe(`l${i}`);
    }
    c.close();
    await first.close();

    const second = await open();
    const got = await second.broker.consume('d', 't', 0, 1000, true);
    expect(got.map((m) => JSON.parse(Buffer.from(m.payload).toString()))).toEqual(Array.from({ length: 200 }, (_, i) => i));
    await second.close();
  });
});
