/**
 * docs/PROTOCOL.md ("Responses on a connection come in the order of the
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

describe('queue-feature state set over TCP survives a restart', () => {
  it('keeps a delayed message, a dead letter, a dedup window and the policy', async () => {
    const first = await open();
    const c = await RawClient.open(first.port);
    await c.jsonCall({ action: 'create_namespace', data: { name: 'q8' } });
    await c.jsonCall({ action: 'create_topic', data: { namespace: 'q8', name: 't', queue_count: 1 } });
    await c.jsonCall({ action: 'set_topic_policy', data: { namespace: 'q8', topic: 't', max_retries: 0 } });
    const delayed = await c.jsonCall({ action: 'publish', data: { namespace: 'q8', topic: 't', payload: 'later', delay_ms: 3_600_000, dedup_id: 'once' } });
    await c.jsonCall({ action: 'publish', data: { namespace: 'q8', topic: 't', payload: 'dead' } });
    const [m] = (await c.jsonCall({ action: 'consume', data: { namespace: 'q8', topic: 't' } })).data;
    const nack = await c.pbCall({ action: 'nack', data: { case: 'nack', value: { namespace: 'q8', topic: 't', messageIds: [m.id] } } });
    expect(nack.data.case === 'nackResponse' && nack.data.value.deadLettered).toBe(1);
    c.close();
    await first.close();

    const second = await open();
    const d = await RawClient.open(second.port);
    const stats = await d.jsonCall({ action: 'get_topic_stats', data: { namespace: 'q8', topic: 't' } });
    expect(stats.data).toMatchObject({ pending: 0, delayed: 1, dlq_depth: 1, policy: { max_retries: 0 } });
    const repeat = await d.jsonCall({ action: 'publish', data: { namespace: 'q8', topic: 't', payload: 'again', dedup_id: 'once' } });
    expect(repeat.data).toEqual({ ...delayed.data, duplicate: true });
    const dlq = await d.jsonCall({ action: 'peek', data: { namespace: 'q8', topic: 't', dlq: true } });
    expect(dlq.data.messages).toMatchObject([{ id: m.id, payload: 'dead', headers: { _dlq_reason: 'nacked' } }]);
    d.close();
    await second.close();
  });
});
