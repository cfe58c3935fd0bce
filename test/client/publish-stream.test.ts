/**
 * docs/CLIENT.md, "Publishing over a gRPC stream": the typed client's
 * publisher on PublishStream, against a real broker on a real port: many
 * publishes in flight, each resolved with its own answer, errors that fail
 * one publish, API keys, and the end of the stream.
 */
import { Server, ServerCredentials, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeys } from '../../src/auth/api-keys.js';
import { Broker } from '../../src/broker/broker.js';
import { ClientError, connect, GrpcClient } from '../../src/client/index.js';
import type { FrontHandle } from '../../src/server/front.js';
import { mqliteServiceDefinition, request, response } from '../../src/protocol/grpc-definition.js';
import { startGrpcServer } from '../../src/server/grpc/index.js';
import { silent } from '../tcp/helpers.js';
import { GatedStore } from '../grpc/harness.js';

const KEY = 'a-key-long-enough-0123456789';
const SCOPED = 'a-scoped-key-long-enough-0123';
let broker: Broker;
let front: FrontHandle;

beforeAll(async () => {
  broker = new Broker({ logger: silent, limits: { maxPayloadBytes: 1024 } });
  const apiKeys = new ApiKeys([{ key: KEY }, { key: SCOPED, name: 'shop-only', namespaces: ['shop'] }]);
  front = await startGrpcServer(broker, { host: '127.0.0.1', port: 0, maxMessageBytes: 1 << 20, logger: silent, apiKeys });
  broker.createNamespace('shop');
  broker.createNamespace('billing');
  broker.createTopic('shop', 'orders', 2);
  broker.createTopic('shop', 'mixed', 1);
  broker.createTopic('billing', 'invoices', 1);
});
afterAll(async () => {
  await front.close();
  await broker.close();
});

const url = () => `grpc://127.0.0.1:${front.port}`;

async function consumeAll(ns: string, topic: string, queues: number): Promise<string[]> {
  const out: string[] = [];
  for (let q = 0; q < queues; q++) {
    for (;;) {
      const got = await broker.consume(ns, topic, q, 100, true);
      if (got.length === 0) break;
      for (const m of got) out.push(Buffer.from(m.payload).toString());
    }
  }
  return out;
}

describe('connect(url, { publishStream: true })', () => {
  it('publishes 3000 in flight at once, each resolved with its own message id', async () => {
    const mq = await connect(url(), { apiKey: KEY, publishStream: true, reconnect: false });
    try {
      const results = await Promise.all(Array.from({ length: 3000 }, (_, i) => mq.publish('shop', 'orders', `m${i}`)));
      expect(new Set(results.map((r) => r.messageId)).size).toBe(3000);
      const byId = new Map<string, string>();
      for (let q = 0; q < 2; q++) {
        for (let got = await broker.consume('shop', 'orders', q, 1000, true); got.length > 0; got = await broker.consume('shop', 'orders', q, 1000, true)) {
          for (const m of got) byId.set(m.id, Buffer.from(m.payload).toString());
        }
      }
      expect(byId.size).toBe(3000);
      results.forEach((r, i) => expect(byId.get(r.messageId)).toBe(`m${i}`));
    } finally {
      await mq.close();
    }
  });

  it('fails only the bad publishes, with the broker code and a reason naming the field, and publishes the others', async () => {
    const mq = await connect(url(), { apiKey: KEY, publishStream: true, reconnect: false });
    try {
      const settled = await Promise.allSettled([
        mq.publish('shop', 'mixed', 'good-1'),
        mq.publishEx('shop', 'mixed', 'x', { delayMs: 10, deliverAtMs: 10 }),
        mq.publish('shop', 'mixed', Buffer.alloc(2048)),
        mq.publish('shop', 'nope', 'x'),
        mq.publish('shop', 'mixed', 'good-2'),
      ]);
      expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'rejected', 'fulfilled']);
      const err = (i: number) => (settled[i] as PromiseRejectedResult).reason as ClientError;
      expect(err(1)).toBeInstanceOf(ClientError);
      expect(err(1).code).toBe('INVALID_ARGUMENT');
      expect(err(1).message).toMatch(/delay_ms/);
      expect(err(2).message).toMatch(/payload/);
      expect(err(3).code).toBe('NOT_FOUND');
      expect(err(3).message).toMatch(/nope/);
      // The stream went on: a later publish on it works.
      await mq.publish('shop', 'mixed', 'good-3');
      expect((await consumeAll('shop', 'mixed', 1)).sort()).toEqual(['good-1', 'good-2', 'good-3']);
    } finally {
      await mq.close();
    }
  });
});

describe('GrpcClient.publishStream()', () => {
  it('close() waits for every answer, then refuses later publishes with CLOSED', async () => {
    const client = new GrpcClient({ host: '127.0.0.1', port: front.port, apiKey: KEY });
    try {
      const publisher = client.publishStream({ maxInFlight: 16, maxPerMessage: 4 });
      const answers: string[] = [];
      for (let i = 0; i < 200; i++) void publisher.publish('billing', 'invoices', `i${i}`).then((r) => answers.push(r.messageId));
      expect(publisher.pending).toBe(200);
      await publisher.close();
      expect(answers).toHaveLength(200);
      expect(publisher.pending).toBe(0);
      await expect(publisher.publish('billing', 'invoices', 'late')).rejects.toMatchObject({ code: 'CLOSED' });
      expect(await consumeAll('billing', 'invoices', 1)).toHaveLength(200);
    } finally {
      await client.close();
    }
  });

  it('answers a key limited to other namespaces with PERMISSION_DENIED for that publish only', async () => {
    const client = new GrpcClient({ host: '127.0.0.1', port: front.port, apiKey: SCOPED });
    try {
      const publisher = client.publishStream();
      const [denied, allowed] = await Promise.allSettled([publisher.publish('billing', 'invoices', 'no'), publisher.publish('shop', 'mixed', 'yes')]);
      expect(denied.status).toBe('rejected');
      expect((denied as PromiseRejectedResult).reason).toMatchObject({ code: 'PERMISSION_DENIED' });
      expect(((denied as PromiseRejectedResult).reason as Error).message).toMatch(/billing/);
      expect(allowed.status).toBe('fulfilled');
      await publisher.close();
      expect(await consumeAll('billing', 'invoices', 1)).toEqual([]);
      expect(await consumeAll('shop', 'mixed', 1)).toEqual(['yes']);
    } finally {
      await client.close();
    }
  });

  it('fails every publish with UNAUTHENTICATED when the key is wrong, and publishes nothing', async () => {
    const client = new GrpcClient({ host: '127.0.0.1', port: front.port, apiKey: 'wrong-key-wrong-key-wrong-key' });
    try {
      const publisher = client.publishStream();
      const settled = await Promise.allSettled([publisher.publish('shop', 'mixed', 'a'), publisher.publish('shop', 'mixed', 'b')]);
      for (const s of settled) {
        expect(s.status).toBe('rejected');
        expect((s as PromiseRejectedResult).reason).toMatchObject({ code: 'UNAUTHENTICATED' });
      }
      expect(await consumeAll('shop', 'mixed', 1)).toEqual([]);
    } finally {
      await client.close();
    }
  });
});

describe('a publish not answered in time', () => {
  it('fails with a retryable TRANSPORT error naming the time limit, and the next publish opens a new stream', async () => {
    const store = new GatedStore();
    const gated = new Broker({ logger: silent, store });
    const g = await startGrpcServer(gated, { host: '127.0.0.1', port: 0, maxMessageBytes: 1 << 20, logger: silent });
    const client = new GrpcClient({ host: '127.0.0.1', port: g.port });
    try {
      gated.createNamespace('slow');
      gated.createTopic('slow', 't', 1);
      const publisher = client.publishStream({ timeoutMs: 200 });
      const err = (await publisher.publish('slow', 't', 'x').catch((e: unknown) => e)) as ClientError;
      expect(err).toBeInstanceOf(ClientError);
      expect(err.code).toBe('TRANSPORT');
      expect(err.retryable).toBe(true);
      expect(err.message).toMatch(/not answered within 200 ms/);
      store.open();
      // Applied before its durability timed out: published; the next one goes on a new stream.
      expect((await publisher.publish('slow', 't', 'y')).messageId).not.toBe('');
      await publisher.close();
      expect(gated.stats().pending).toBe(2);
    } finally {
      await client.close();
      await g.close();
      await gated.close();
    }
  });
});

describe('a broker without PublishStream (an earlier MQLite)', () => {
  it('gets every publish as a unary Publish: all answered with their own ids, nothing lost or sent twice', async () => {
    // Publish alone, as a broker before PublishStream served it: the stream is answered UNIMPLEMENTED.
    const server = new Server();
    const seen: string[] = [];
    server.addService({ publish: mqliteServiceDefinition.publish }, {
      publish: (call: ServerUnaryCall<ReturnType<typeof request<'publish'>>, unknown>, callback: sendUnaryData<unknown>) => {
        seen.push(Buffer.from(call.request.payload).toString());
        callback(null, response('publish', { messageId: `m${seen.length}`, queueId: 0 }));
      },
    });
    const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
    const client = new GrpcClient({ host: '127.0.0.1', port, publishStream: true });
    try {
      const first = await Promise.all(Array.from({ length: 50 }, (_, i) => client.publish('shop', 'orders', `a${i}`)));
      // after the fallback, publishes go unary from the start
      const later = await client.publish('shop', 'orders', 'later');
      const ids = [...first, later].map((r) => r.messageId);
      expect(new Set(ids).size).toBe(51);
      expect([...seen].sort()).toEqual([...Array.from({ length: 50 }, (_, i) => `a${i}`), 'later'].sort());
      expect(seen.at(-1)).toBe('later');
    } finally {
      await client.close();
      server.forceShutdown();
    }
  });
});
