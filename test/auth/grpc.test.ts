/**
 * API keys on the gRPC front (docs/PROTOCOL.md, "Authentication"), with an independent client
 * (@grpc/grpc-js over proto-loader): metadata `x-api-key` or `authorization:
 * Bearer`, UNAUTHENTICATED for a missing or wrong key, PERMISSION_DENIED out
 * of scope, the Subscribe stream checked too, reflection left open.
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GrpcClient } from '../../src/client/grpc/index.js';
import { PROTO, call, failure, serviceFromProto } from '../grpc/harness.js';
import { ADMIN_KEY, BILLING_ADMIN_KEY, READER_KEY, SHOP_KEY, WRONG_KEY, type Fixture, authFailures, expectNoKeyLogged, scrape, startFixture } from './fixture.js';

let f: Fixture;
let raw: grpc.Client;
let address: string;
beforeAll(async () => {
  f = await startFixture();
  address = `127.0.0.1:${f.grpc.port}`;
  raw = new (serviceFromProto(PROTO))(address, grpc.credentials.createInsecure());
});
afterAll(async () => {
  raw.close();
  await f.stop();
});

function md(entries: Record<string, string>): grpc.Metadata {
  const m = new grpc.Metadata();
  for (const [k, v] of Object.entries(entries)) m.set(k, v);
  return m;
}

/** A unary call with metadata, as a promise. */
function callMd<T = any>(method: string, req: object, metadata: grpc.Metadata): Promise<T> {
  return new Promise((resolve, reject) => {
    (raw as any)[method](req, metadata, (err: grpc.ServiceError | null, res: T) => (err ? reject(err) : resolve(res)));
  });
}

const pending = (ns: string, topic: string): number => f.broker.topicStats(ns, topic).pending;
const publishReq = (namespace: string) => ({ namespace, topic: namespace === 'shop' ? 'orders' : 'invoices', payload: Buffer.from('x') });

describe('gRPC: every RPC needs a key', () => {
  it('no key: UNAUTHENTICATED naming the metadata to send, and nothing published', async () => {
    const before = pending('shop', 'orders');
    const s = await failure(call(raw, 'Publish', publishReq('shop')));
    expect(s.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(s.details).toBe('an API key is required: send the metadata x-api-key: <key> or authorization: Bearer <key>');
    expect(pending('shop', 'orders')).toBe(before);
  });

  it('a wrong key: UNAUTHENTICATED', async () => {
    for (const m of [md({ 'x-api-key': WRONG_KEY }), md({ authorization: `Bearer ${WRONG_KEY}` })]) {
      const s = await failure(callMd('ListNamespaces', {}, m));
      expect(s).toEqual({ code: grpc.status.UNAUTHENTICATED, details: 'invalid API key' });
    }
  });

  it('the right key as x-api-key or as authorization: Bearer', async () => {
    const before = pending('shop', 'orders');
    await callMd('Publish', publishReq('shop'), md({ 'x-api-key': ADMIN_KEY }));
    await callMd('Publish', publishReq('shop'), md({ authorization: `Bearer ${ADMIN_KEY}` }));
    expect(pending('shop', 'orders')).toBe(before + 2);
  });

  it('a malformed request without a key is UNAUTHENTICATED (the key is checked first)', async () => {
    const client = new grpc.Client(address, grpc.credentials.createInsecure());
    const s = await failure(
      new Promise((resolve, reject) =>
        client.makeUnaryRequest(
          '/mqlite.v1.MQLiteService/Publish',
          (b: Buffer) => b,
          (b: Buffer) => b,
          Buffer.from([0xff, 0xff, 0xff]),
          (err, res) => (err ? reject(err) : resolve(res)),
        ),
      ),
    );
    client.close();
    expect(s.code).toBe(grpc.status.UNAUTHENTICATED);
  });

  it('server reflection stays open (the schema is public)', async () => {
    const root = join(dirname(createRequire(import.meta.url).resolve('@grpc/reflection')), '../proto');
    const def = protoLoader.loadSync(join(root, 'grpc/reflection/v1/reflection.proto'), { keepCase: true, defaults: true, oneofs: true });
    const Ctor = (grpc.loadPackageDefinition(def) as any).grpc.reflection.v1.ServerReflection as grpc.ServiceClientConstructor;
    const client = new Ctor(address, grpc.credentials.createInsecure());
    const res = await new Promise<any>((resolve, reject) => {
      const stream = (client as any).ServerReflectionInfo() as grpc.ClientDuplexStream<object, any>;
      stream.once('data', (r: unknown) => {
        resolve(r);
        stream.end();
      });
      stream.once('error', reject);
      stream.write({ list_services: '' });
    });
    client.close();
    expect(res.list_services_response.service.map((s: { name: string }) => s.name)).toContain('mqlite.v1.MQLiteService');
  });
});

describe('gRPC: a key limited to namespaces and permissions', () => {
  it('allowed in scope, PERMISSION_DENIED outside it; ListNamespaces shows only its namespaces', async () => {
    const m = md({ 'x-api-key': SHOP_KEY });
    const billing = pending('billing', 'invoices');
    await callMd('Publish', publishReq('shop'), m);
    const s = await failure(callMd('Publish', publishReq('billing'), m));
    expect(s.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(s.details).toMatch(/^API key 'shop-rw' may not publish in namespace 'billing'/);
    expect(pending('billing', 'invoices')).toBe(billing);
    expect((await failure(callMd('ResizeTopic', { namespace: 'shop', name: 'orders', new_queue_count: 3 }, m))).code).toBe(grpc.status.PERMISSION_DENIED);
    expect(f.broker.listTopics('shop').find((t) => t.name === 'orders')!.queueCount).toBe(1);
    expect((await callMd('ListNamespaces', {}, m)).namespaces).toEqual(['shop']);
    expect((await callMd('ListNamespaces', {}, md({ 'x-api-key': BILLING_ADMIN_KEY }))).namespaces).toEqual(['billing']);
  });

  it('Subscribe is checked before the stream opens', async () => {
    const stream = (raw as any).Subscribe({ namespace: 'billing', topic: 'invoices', queue_id: 0, auto_ack: true }, md({ 'x-api-key': SHOP_KEY })) as grpc.ClientReadableStream<any>;
    const err = await new Promise<grpc.ServiceError>((resolve) => stream.on('error', resolve));
    expect(err.code).toBe(grpc.status.PERMISSION_DENIED);
    const bare = (raw as any).Subscribe({ namespace: 'shop', topic: 'orders', queue_id: 0, auto_ack: true }) as grpc.ClientReadableStream<any>;
    expect((await new Promise<grpc.ServiceError>((resolve) => bare.on('error', resolve))).code).toBe(grpc.status.UNAUTHENTICATED);
    // no stream was opened for either
    expect(f.grpc.counts!().subscriptions).toBe(0);
  });

  it('the GrpcClient sends its apiKey on calls and streams, and reports the broker codes', async () => {
    const client = new GrpcClient({ host: '127.0.0.1', port: f.grpc.port, apiKey: SHOP_KEY, timeoutMs: 5000 });
    const got: string[] = [];
    const sub = await client.subscribe('shop', 'orders', 0, { autoAck: true, onMessage: (m) => got.push(m.id) });
    const { messageId } = await client.publish('shop', 'orders', 'hello');
    await expect.poll(() => got.includes(messageId)).toBe(true);
    await sub.close();
    await expect(client.createNamespace('shop2')).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
    await client.close();
    const reader = new GrpcClient({ host: '127.0.0.1', port: f.grpc.port, apiKey: READER_KEY, timeoutMs: 5000 });
    await expect(reader.publish('shop', 'orders', 'x')).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
    await reader.close();
    const wrong = new GrpcClient({ host: '127.0.0.1', port: f.grpc.port, apiKey: WRONG_KEY, timeoutMs: 5000 });
    await expect(wrong.listNamespaces()).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await wrong.close();
  });
});

describe('gRPC: failures are counted and logged without the key', () => {
  it('counts missing, invalid and denied under front="grpc" and never logs a key', async () => {
    const before = await scrape(f);
    await failure(call(raw, 'ListNamespaces', {}));
    await failure(callMd('ListNamespaces', {}, md({ 'x-api-key': WRONG_KEY })));
    await failure(callMd('Publish', publishReq('shop'), md({ 'x-api-key': READER_KEY })));
    const after = await scrape(f);
    for (const reason of ['missing', 'invalid', 'denied']) {
      expect(authFailures(after, 'grpc', reason)).toBe(authFailures(before, 'grpc', reason) + 1);
    }
    expect(f.logs().find((l) => l.front === 'grpc' && l.reason === 'invalid')).toMatchObject({ level: 40, remote: expect.stringContaining('127.0.0.1') });
    expectNoKeyLogged(f);
  });
});
