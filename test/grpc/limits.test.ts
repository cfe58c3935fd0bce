/**
 * Limits on the gRPC front (docs/PROTOCOL.md, "Limits"): limits.max_connections (HTTP/2
 * connections; every call on one over the limit ends RESOURCE_EXHAUSTED
 * naming the limit), limits.max_subscriptions_per_connection (Subscribe
 * streams of one HTTP/2 connection), and the core's limits as
 * RESOURCE_EXHAUSTED. Nothing refused is stored; the connections and
 * streams in place keep working.
 */
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { call, failure, type Fixture, PROTO, serviceFromProto, startFixture, waitFor } from './harness.js';

const { status } = grpc;
let f: Fixture | undefined;
const clients: grpc.Client[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await f?.stop();
  f = undefined;
});

/** A client on a connection of its own (grpc-js shares connections between clients by default). */
function ownConnection(): grpc.Client {
  const Service = serviceFromProto(PROTO);
  const c = new Service(f!.address, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
  clients.push(c);
  return c;
}

function subscribe(client: grpc.Client, req: object) {
  const stream = (client as any).Subscribe(req) as grpc.ClientReadableStream<{ payload: Buffer }>;
  const received: string[] = [];
  let ended: { code: grpc.status; details: string } | undefined;
  const started = new Promise<void>((resolve) => {
    stream.once('metadata', () => resolve());
    stream.once('error', () => resolve());
  });
  stream.on('data', (m) => received.push(Buffer.from(m.payload).toString()));
  stream.on('error', (err: grpc.ServiceError) => (ended = { code: err.code, details: err.details }));
  stream.on('end', () => (ended ??= { code: status.OK, details: '' }));
  return { stream, received, started, ended: () => ended };
}

describe('limits.max_connections on gRPC', () => {
  it('calls on a connection over the limit end RESOURCE_EXHAUSTED naming the limit; the connection in place keeps working', async () => {
    f = await startFixture({ maxConnections: 1 });
    const a = ownConnection();
    await call(a, 'CreateNamespace', { name: 'n' });
    await call(a, 'CreateTopic', { namespace: 'n', name: 't', queue_count: 1 });
    expect(f.front.counts?.()).toMatchObject({ connections: 1 });

    const b = ownConnection();
    const refused = await failure(call(b, 'Publish', { namespace: 'n', topic: 't', payload: Buffer.from('x') }));
    expect(refused).toEqual({
      code: status.RESOURCE_EXHAUSTED,
      details: 'connection refused: the gRPC front already holds 1 connections (limits.max_connections): close idle connections, retry later, or raise the limit',
    });
    const stream = subscribe(b, { namespace: 'n', topic: 't', queue_id: 0, auto_ack: true });
    await stream.started;
    await waitFor(() => stream.ended() !== undefined, 'the refused stream to end');
    expect(stream.ended()!.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(f.broker.stats().pending).toBe(0);
    expect(f.front.counts?.()).toMatchObject({ connections: 1, subscriptions: 0 });

    // The connection in place is untouched.
    await call(a, 'Publish', { namespace: 'n', topic: 't', payload: Buffer.from('ok') });
    expect(f.broker.stats().pending).toBe(1);

    // Once it closes, the other client gets in (after its reconnect).
    a.close();
    let served = false;
    await waitFor(() => served, 'the second client to be served', 10_000, async () => {
      served = await call(b, 'ListNamespaces', {}).then(
        () => true,
        () => false,
      );
    });
    expect((await call(b, 'ListNamespaces', {})).namespaces).toEqual(['n']);
  });
});

describe('limits.max_subscriptions_per_connection on gRPC', () => {
  it('the stream over the limit ends RESOURCE_EXHAUSTED; the connection and its other streams keep working', async () => {
    f = await startFixture({ maxSubscriptionsPerConnection: 2 });
    const c = ownConnection();
    await call(c, 'CreateNamespace', { name: 'n' });
    await call(c, 'CreateTopic', { namespace: 'n', name: 't', queue_count: 3 });
    const s0 = subscribe(c, { namespace: 'n', topic: 't', queue_id: 0, auto_ack: true });
    const s1 = subscribe(c, { namespace: 'n', topic: 't', queue_id: 1, auto_ack: true });
    await Promise.all([s0.started, s1.started]);
    const s2 = subscribe(c, { namespace: 'n', topic: 't', queue_id: 2, auto_ack: true });
    await s2.started;
    await waitFor(() => s2.ended() !== undefined, 'the third stream to end');
    expect(s2.ended()).toEqual({
      code: status.RESOURCE_EXHAUSTED,
      details:
        'subscription refused: this HTTP/2 connection already holds 2 subscriptions (limits.max_subscriptions_per_connection): close one, open another connection, or raise the limit',
    });
    expect(f.front.counts?.()).toMatchObject({ subscriptions: 2 });

    for (const q of [0, 1, 2]) await call(c, 'Publish', { namespace: 'n', topic: 't', payload: Buffer.from(`q${q}`), queue_id: q });
    await waitFor(() => s0.received.length === 1 && s1.received.length === 1, 'the two streams to get their messages');
    expect([s0.received, s1.received]).toEqual([['q0'], ['q1']]);
    expect(f.broker.stats().pending).toBe(1);

    // Another connection has its own count.
    const other = subscribe(ownConnection(), { namespace: 'n', topic: 't', queue_id: 2, auto_ack: true });
    await waitFor(() => other.received.length === 1, 'a stream on another connection');
    // Closing one stream frees its place on the first connection.
    s0.stream.cancel();
    await waitFor(() => f!.front.counts?.().subscriptions === 2, 'the cancelled stream to be counted out');
    const again = subscribe(c, { namespace: 'n', topic: 't', queue_id: 0, auto_ack: true });
    await again.started;
    await call(c, 'Publish', { namespace: 'n', topic: 't', payload: Buffer.from('again'), queue_id: 0 });
    await waitFor(() => again.received.length === 1, 'the new stream to get its message');
    expect(again.ended()).toBeUndefined();
    for (const s of [s1, other, again]) s.stream.cancel();
  });
});

describe('core limits over gRPC: RESOURCE_EXHAUSTED with the reason, nothing stored', () => {
  it('max_namespaces, max_topics_per_namespace, memory_high_water', async () => {
    f = await startFixture({ broker: { limits: { maxNamespaces: 1, maxTopicsPerNamespace: 1, memoryHighWaterBytes: 2 * (1000 + 352) } } });
    await call(f.raw, 'CreateNamespace', { name: 'n' });
    const ns = await failure(call(f.raw, 'CreateNamespace', { name: 'm' }));
    expect(ns.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(ns.details).toMatch(/limits\.max_namespaces/);
    await call(f.raw, 'CreateTopic', { namespace: 'n', name: 't', queue_count: 1 });
    const topic = await failure(call(f.raw, 'CreateTopic', { namespace: 'n', name: 'u', queue_count: 1 }));
    expect(topic.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(topic.details).toMatch(/limits\.max_topics_per_namespace/);

    const payload = Buffer.alloc(1000);
    await call(f.raw, 'Publish', { namespace: 'n', topic: 't', payload });
    await call(f.raw, 'Publish', { namespace: 'n', topic: 't', payload });
    const full = await failure(call(f.raw, 'Publish', { namespace: 'n', topic: 't', payload }));
    expect(full.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(full.details).toMatch(/^memory high-water mark reached \(.*\): consume and ack messages, or raise limits\.memory_high_water$/);
    expect(f.broker.stats()).toMatchObject({ namespaces: 1, topics: 1, pending: 2 });
    const { messages } = await call(f.raw, 'Consume', { namespace: 'n', topic: 't', queue_id: 0, batch_size: 2, auto_ack: false });
    await call(f.raw, 'Ack', { namespace: 'n', topic: 't', queue_id: 0, message_ids: messages.map((m: { id: string }) => m.id) });
    await call(f.raw, 'Publish', { namespace: 'n', topic: 't', payload });
    expect(f.broker.stats().pending).toBe(1);
  });

  it('max_inflight_per_subscription bounds what a manual-ack Subscribe stream holds; an ack lets the next through', async () => {
    f = await startFixture({ broker: { limits: { maxInflightPerSubscription: 2 } } });
    await call(f.raw, 'CreateNamespace', { name: 'n' });
    await call(f.raw, 'CreateTopic', { namespace: 'n', name: 't', queue_count: 1 });
    for (let i = 0; i < 5; i++) await call(f.raw, 'Publish', { namespace: 'n', topic: 't', payload: Buffer.from(String(i)) });
    const ids: string[] = [];
    const stream = (f.raw as any).Subscribe({ namespace: 'n', topic: 't', queue_id: 0, auto_ack: false }) as grpc.ClientReadableStream<{ id: string; payload: Buffer }>;
    const got: string[] = [];
    stream.on('data', (m) => {
      got.push(Buffer.from(m.payload).toString());
      ids.push(m.id);
    });
    stream.on('error', () => undefined);
    await waitFor(() => got.length === 2, 'two deliveries');
    expect(f.broker.stats()).toMatchObject({ pending: 3, inflight: 2 });
    await call(f.raw, 'Ack', { namespace: 'n', topic: 't', queue_id: 0, message_ids: [ids[0]] });
    await waitFor(() => got.length === 3, 'the next delivery after an ack');
    expect(got).toEqual(['0', '1', '2']);
    expect(f.broker.stats()).toMatchObject({ pending: 2, inflight: 2 });
    stream.cancel();
  });

  it('max_headers, max_batch and max_queues_per_topic are INVALID_ARGUMENT naming the key; nothing stored, the connection usable', async () => {
    f = await startFixture({ broker: { limits: { maxHeaders: 2, maxBatch: 3, maxQueuesPerTopic: 4 } } });
    await call(f.raw, 'CreateNamespace', { name: 'n' });
    const queues = await failure(call(f.raw, 'CreateTopic', { namespace: 'n', name: 't', queue_count: 5 }));
    expect(queues).toEqual({ code: status.INVALID_ARGUMENT, details: 'queue_count 5 is out of range: use 1..4' });
    await call(f.raw, 'CreateTopic', { namespace: 'n', name: 't', queue_count: 4 });
    const headers = await failure(call(f.raw, 'Publish', { namespace: 'n', topic: 't', payload: Buffer.from('x'), headers: { a: '1', b: '2', c: '3' } }));
    expect(headers).toEqual({ code: status.INVALID_ARGUMENT, details: '3 headers is over the limit of 2 (limits.max_headers)' });
    const batch = await failure(call(f.raw, 'Consume', { namespace: 'n', topic: 't', queue_id: 0, batch_size: 4, auto_ack: true }));
    expect(batch).toEqual({ code: status.INVALID_ARGUMENT, details: 'batch_size 4 is out of range: use 1..3 (limits.max_batch)' });
    const entries = [1, 2, 3, 4].map(() => ({ payload: Buffer.from('x') }));
    const pubBatch = await failure(call(f.raw, 'PublishBatch', { namespace: 'n', topic: 't', entries }));
    expect(pubBatch.code).toBe(status.INVALID_ARGUMENT);
    expect(pubBatch.details).toMatch(/a batch holds 1\.\.3 messages \(limits\.max_batch\), got 4/);
    expect(f.broker.stats().pending).toBe(0);
    await call(f.raw, 'Publish', { namespace: 'n', topic: 't', payload: Buffer.from('x'), headers: { a: '1', b: '2' } });
    expect(f.broker.stats().pending).toBe(1);
  });
});
