/**
 * The typed TCP client (src/client/tcp) over a real port, in both
 * encodings: every MqliteClient method, pipelining, subscriptions with acks
 * on the subscription's own connection, and typed errors.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TcpClient } from '../../src/client/tcp/index.js';
import type { ClientMessage } from '../../src/client/types.js';
import { ClientError } from '../../src/client/types.js';
import { type Harness, startHarness } from './helpers.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ ackTimeoutMs: 2000 });
});
afterAll(async () => {
  await h.close();
});

function until(cond: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const tick = (): void => {
      if (cond()) resolve();
      else if (Date.now() > deadline) reject(new Error('condition not met in time'));
      else setTimeout(tick, 5);
    };
    tick();
  });
}

for (const encoding of ['json', 'protobuf'] as const) {
  describe(`TcpClient (${encoding})`, () => {
    const ns = `client-${encoding}`;

    it('runs every method', async () => {
      const c = await TcpClient.connect({ host: '127.0.0.1', port: h.port, encoding });
      await c.createNamespace(ns);
      expect(await c.listNamespaces()).toContain(ns);
      await c.createTopic(ns, 't', 2);
      expect(await c.listTopics(ns)).toEqual([{ name: 't', queueCount: 2, version: 0n, paused: false }]);

      const json = await c.publish(ns, 't', '{"a":1}', { queueId: 1, headers: { k: 'v' } });
      expect(json.queueId).toBe(1);
      const bytes = await c.publish(ns, 't', new Uint8Array([1, 2, 3]), { queueId: 1 });
      const text = await c.publish(ns, 't', 'plain text', { routingKey: 'rk' });
      expect(text.messageId).toMatch(/^[0-9a-f-]{36}$/);

      const msgs = await c.consume(ns, 't', 1, { batchSize: 10 });
      const byId = new Map(msgs.map((m) => [m.id, m]));
      expect(Buffer.from(byId.get(json.messageId)!.payload).toString()).toBe('{"a":1}');
      expect(byId.get(json.messageId)!.headers).toEqual({ k: 'v' });
      expect(byId.get(json.messageId)!.deliveryCount).toBe(1);
      expect(byId.get(json.messageId)!.timestamp).toBeGreaterThan(BigInt(Date.now() - 60_000) * 1_000_000n);
      const b = byId.get(bytes.messageId)!;
      if (encoding === 'protobuf') expect([...b.payload]).toEqual([1, 2, 3]);
      else expect(b.payload.length).toBeGreaterThan(0); // JSON clients send bytes that are not JSON as a string
      await c.ack(ns, 't', 1, msgs.map((m) => m.id));

      expect(await c.resizeTopic(ns, 't', 3)).toEqual({ newQueueCount: 3, version: 1n, draining: false });
      await c.rebalanceTopic(ns, 't');
      await c.deleteTopic(ns, 't');
      await c.deleteNamespace(ns);
      expect(await c.listNamespaces()).not.toContain(ns);
      await c.close();
    });

    it('round-trips non-ASCII text, JSON and headers', async () => {
      const c = await TcpClient.connect({ host: '127.0.0.1', port: h.port, encoding });
      await c.createNamespace(`${ns}-u`);
      await c.createTopic(`${ns}-u`, 't', 1);
      const texts = ['{"clé":"välue ✓"}', '"quoted ✓"', '[1,2,{"x":null}]'];
      for (const t of texts) await c.publish(`${ns}-u`, 't', t, { headers: { 'ключ': 'значение' }, routingKey: 'é' });
      const got = await c.consume(`${ns}-u`, 't', 0, { batchSize: 10, autoAck: true });
      expect(got.map((m) => JSON.parse(Buffer.from(m.payload).toString('utf8')))).toEqual(texts.map((t) => JSON.parse(t)));
      expect(got[0]!.headers).toEqual({ 'ключ': 'значение' });
      await c.close();
    });

    it('rejects with the broker error code', async () => {
      const c = await TcpClient.connect({ host: '127.0.0.1', port: h.port, encoding });
      const err = await c.listTopics('no-such-ns').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ClientError);
      expect(err).toMatchObject({ code: 'NOT_FOUND', message: "namespace 'no-such-ns' not found" });
      await expect(c.createTopic('no-such-ns', 't', 0)).rejects.toMatchObject({ code: 'NOT_FOUND' });
      // the connection is still usable
      expect(Array.isArray(await c.listNamespaces())).toBe(true);
      await c.close();
    });

    it('pipelines many requests and matches replies by order', async () => {
      const c = await TcpClient.connect({ host: '127.0.0.1', port: h.port, encoding });
      await c.createNamespace(`${ns}-p`);
      await c.createTopic(`${ns}-p`, 't', 4);
      const results = await Promise.all(Array.from({ length: 2000 }, (_, i) => c.publish(`${ns}-p`, 't', String(i), { queueId: i % 4 })));
      expect(results.map((r) => r.queueId)).toEqual(Array.from({ length: 2000 }, (_, i) => i % 4));
      expect(new Set(results.map((r) => r.messageId)).size).toBe(2000);
      await c.close();
    });

    it('subscribes, receives pushes, acks on the subscription connection, and closes', async () => {
      const c = await TcpClient.connect({ host: '127.0.0.1', port: h.port, encoding });
      await c.createNamespace(`${ns}-s`);
      await c.createTopic(`${ns}-s`, 't', 1);
      const got: ClientMessage[] = [];
      let ended: unknown = 'not yet';
      const sub = await c.subscribe(`${ns}-s`, 't', 0, { autoAck: false, onMessage: (m) => got.push(m), onEnd: (e) => (ended = e) });
      for (let i = 0; i < 5; i++) await c.publish(`${ns}-s`, 't', `{"i":${i}}`);
      await until(() => got.length === 5);
      expect(got.map((m) => JSON.parse(Buffer.from(m.payload).toString()).i)).toEqual([0, 1, 2, 3, 4]);
      expect(h.broker.stats().inflight).toBeGreaterThanOrEqual(5);
      await sub.ack(got.map((m) => m.id));
      await sub.close();
      expect(ended).toBeUndefined();
      // nothing comes back: they were acked on the subscription's connection
      expect(await c.consume(`${ns}-s`, 't', 0)).toEqual([]);
      await c.close();
    });

    it('rejects a subscription to an unknown queue, and reports a subscription the server ends', async () => {
      const c = await TcpClient.connect({ host: '127.0.0.1', port: h.port, encoding });
      await expect(c.subscribe('nope', 't', 0, { autoAck: true, onMessage: () => {} })).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await c.createNamespace(`${ns}-e`);
      await c.createTopic(`${ns}-e`, 't', 1);
      let ended: ClientError | undefined | 'open' = 'open';
      await c.subscribe(`${ns}-e`, 't', 0, { autoAck: true, onMessage: () => {}, onEnd: (e) => (ended = e) });
      await c.deleteTopic(`${ns}-e`, 't');
      await until(() => ended !== 'open');
      expect(ended).toBeInstanceOf(ClientError);
      await c.close();
    });
  });
}

describe('TcpClient pipeline', () => {
  it('does not keep answered requests while the pipeline never drains', async () => {
    const c = await TcpClient.connect({ host: '127.0.0.1', port: h.port, encoding: 'protobuf' });
    await c.createNamespace('client-pipe');
    await c.createTopic('client-pipe', 't', 1);
    const fifo = (): unknown[] => (c as unknown as { conn: { fifo: unknown[] } }).conn.fifo;
    let maxLength = 0;
    await new Promise<void>((resolve, reject) => {
      let sent = 0;
      let done = 0;
      const send = (): void => {
        sent++;
        c.publish('client-pipe', 't', 'x').then(() => {
          done++;
          maxLength = Math.max(maxLength, fifo().length);
          if (sent < 40_000) send();
          if (done === 40_000) resolve();
        }, reject);
      };
      // more in flight than one read of replies holds: the fifo is never empty
      for (let i = 0; i < 3000; i++) send();
    });
    expect(maxLength).toBeLessThan(12_000); // ~2x in flight, not all 40,000
    await c.close();
  });
});

describe('TcpClient close', () => {
  it('ends the subscriptions opened through the client', async () => {
    const c = await TcpClient.connect({ host: '127.0.0.1', port: h.port, encoding: 'protobuf' });
    await c.createNamespace('client-close');
    await c.createTopic('client-close', 't', 1);
    let ended: unknown = 'open';
    await c.subscribe('client-close', 't', 0, { autoAck: true, onMessage: () => {}, onEnd: (e) => (ended = e) });
    await c.close();
    expect(ended).toBeUndefined();
  });
});

describe('TcpClient transport errors', () => {
  it('rejects connect to a closed port with TRANSPORT', async () => {
    const own = await startHarness();
    const port = own.port;
    await own.close();
    await expect(TcpClient.connect({ host: '127.0.0.1', port, encoding: 'json', timeoutMs: 2000 })).rejects.toMatchObject({ code: 'TRANSPORT' });
  });

  it('fails a request that gets no reply within timeoutMs', async () => {
    const { createServer } = await import('node:net');
    const accepted: import('node:net').Socket[] = [];
    const silentServer = createServer((s) => accepted.push(s)); // accepts, never answers
    await new Promise<void>((r) => silentServer.listen(0, '127.0.0.1', () => r()));
    const port = (silentServer.address() as { port: number }).port;
    const c = await TcpClient.connect({ host: '127.0.0.1', port, encoding: 'json', timeoutMs: 300 });
    await expect(c.listNamespaces()).rejects.toMatchObject({ code: 'TRANSPORT', message: 'no reply within 300 ms' });
    await c.close();
    for (const s of accepted) s.destroy();
    await new Promise((r) => silentServer.close(r));
  });

  it('fails pending requests when the server goes away', async () => {
    const own = await startHarness();
    const c = await TcpClient.connect({ host: '127.0.0.1', port: own.port, encoding: 'protobuf' });
    await c.listNamespaces();
    await own.close();
    await expect(c.listNamespaces()).rejects.toMatchObject({ code: 'TRANSPORT' });
  });
});
