/** The typed GrpcClient (src/client/grpc) that the CLI and the benchmark use. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GrpcClient } from '../../src/client/grpc/index.js';
import { ClientError, type ClientMessage } from '../../src/client/types.js';
import { startFixture, waitFor, type Fixture } from './harness.js';

let f: Fixture;
let client: GrpcClient;
beforeAll(async () => {
  f = await startFixture({ broker: { ackTimeoutMs: 300 } });
  client = new GrpcClient({ host: '127.0.0.1', port: f.front.port, timeoutMs: 5000 });
});
afterAll(async () => {
  await client.close();
  await f.stop();
});

async function rejection(p: Promise<unknown>): Promise<ClientError> {
  const err = await p.then(
    (v) => {
      throw new Error(`expected a rejection, got ${JSON.stringify(v)}`);
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ClientError);
  return err as ClientError;
}

describe('GrpcClient', () => {
  it('drives every admin call', async () => {
    await client.createNamespace('c');
    expect(await client.listNamespaces()).toContain('c');
    await client.createTopic('c', 't', 2);
    expect(await client.listTopics('c')).toEqual([{ name: 't', queueCount: 2, version: 0n, paused: false }]);
    const grown = await client.resizeTopic('c', 't', 3);
    expect(grown).toMatchObject({ newQueueCount: 3, draining: false });
    expect(grown.version).toBeGreaterThan(0n);
    await client.rebalanceTopic('c', 't');
    await client.createTopic('c', 'gone', 1);
    await client.deleteTopic('c', 'gone');
    await client.createNamespace('c2');
    await client.deleteNamespace('c2');
    expect(await client.listNamespaces()).not.toContain('c2');
  });

  it('publishes bytes and strings, consumes and acks', async () => {
    const bytes = new Uint8Array([0, 1, 2, 250, 255]);
    const a = await client.publish('c', 't', bytes, { queueId: 0, headers: { h: '1' } });
    const b = await client.publish('c', 't', 'text', { queueId: 0 });
    expect(a.queueId).toBe(0);
    const msgs = await client.consume('c', 't', 0, { batchSize: 10 });
    expect(msgs.map((m) => m.id)).toEqual([a.messageId, b.messageId]);
    expect([...msgs[0]!.payload]).toEqual([...bytes]);
    expect(msgs[0]!.headers).toEqual({ h: '1' });
    expect(Buffer.from(msgs[1]!.payload).toString()).toBe('text');
    expect(msgs[0]!.deliveryCount).toBe(1);
    expect(typeof msgs[0]!.timestamp).toBe('bigint');
    await client.ack('c', 't', 0, [a.messageId, b.messageId]);
  });

  it('routes queueId undefined and -1 automatically, 0 to queue 0', async () => {
    const auto = new Set<number>();
    for (let i = 0; i < 6; i++) auto.add((await client.publish('c', 't', 'x')).queueId);
    for (let i = 0; i < 6; i++) auto.add((await client.publish('c', 't', 'x', { queueId: -1 })).queueId);
    expect(auto.size).toBe(3);
    expect((await client.publish('c', 't', 'x', { queueId: 0 })).queueId).toBe(0);
    for (let q = 0; q < 3; q++) await client.consume('c', 't', q, { batchSize: 100, autoAck: true });
  });

  it('rejects with the broker error code and message', async () => {
    const nf = await rejection(client.createTopic('nope', 't', 1));
    expect(nf.code).toBe('NOT_FOUND');
    expect(nf.message).toMatch(/nope/);
    expect((await rejection(client.createNamespace('c'))).code).toBe('ALREADY_EXISTS');
    expect((await rejection(client.createTopic('c', 'z', 0))).code).toBe('INVALID_ARGUMENT');
    expect((await rejection(client.consume('c', 't', 0, { batchSize: 100_000 }))).code).toBe('INVALID_ARGUMENT');
  });

  it('subscribes: resolves once in place, pushes, closes', async () => {
    await client.createTopic('c', 's', 1);
    const got: ClientMessage[] = [];
    let ended: unknown = 'open';
    const sub = await client.subscribe('c', 's', 0, { autoAck: true, onMessage: (m) => got.push(m), onEnd: (e) => (ended = e) });
    const { messageId } = await client.publish('c', 's', 'hello');
    await waitFor(() => got.length === 1, 'the message');
    expect(got[0]!.id).toBe(messageId);
    await sub.close();
    expect(ended).toBeUndefined();
  });

  it('rejects a subscription the server refuses; reports a stream the server ends', async () => {
    expect((await rejection(client.subscribe('c', 'nope', 0, { autoAck: true, onMessage: () => {} }))).code).toBe('NOT_FOUND');
    await client.createTopic('c', 'doomed', 1);
    let ended: ClientError | undefined;
    await client.subscribe('c', 'doomed', 0, { autoAck: true, onMessage: () => {}, onEnd: (e) => (ended = e) });
    await client.deleteTopic('c', 'doomed');
    await waitFor(() => ended !== undefined, 'the end');
    expect(ended!.code).toBe('NOT_FOUND');
  });

  it('reports an unreachable server as TRANSPORT', async () => {
    const dead = new GrpcClient({ host: '127.0.0.1', port: 1, timeoutMs: 1000 });
    try {
      expect((await rejection(dead.listNamespaces())).code).toBe('TRANSPORT');
    } finally {
      await dead.close();
    }
  });
});

describe('GrpcClient transport', () => {
  it('gives up at timeoutMs on a server that does not answer', async () => {
    const { Server, ServerCredentials } = await import('@grpc/grpc-js');
    const { mqliteServiceDefinition } = await import('../../src/protocol/grpc-definition.js');
    const silent = new Server();
    silent.addService(mqliteServiceDefinition, { listNamespaces: () => {} });
    const port = await new Promise<number>((resolve, reject) =>
      silent.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    const impatient = new GrpcClient({ host: '127.0.0.1', port, timeoutMs: 200 });
    try {
      const err = await rejection(impatient.listNamespaces());
      expect(err.code).toBe('TRANSPORT');
      expect(err.message).toMatch(/DEADLINE_EXCEEDED/);
    } finally {
      await impatient.close();
      silent.forceShutdown();
    }
  });

  it('reports a lost server as TRANSPORT, then reconnects when it is back', async () => {
    const first = await startFixture();
    const port = first.front.port;
    const c = new GrpcClient({ host: '127.0.0.1', port, timeoutMs: 2000 });
    try {
      await c.createNamespace('before');
      await first.stop();
      expect((await rejection(c.listNamespaces())).code).toBe('TRANSPORT');
      const { Broker } = await import('../../src/broker/broker.js');
      const { startGrpcServer } = await import('../../src/server/grpc/index.js');
      const { pino } = await import('pino');
      const broker = new Broker();
      const again = await startGrpcServer(broker, { host: '127.0.0.1', port, maxMessageBytes: 1 << 20, logger: pino({ level: 'silent' }) });
      try {
        expect(await c.listNamespaces()).toEqual([]);
      } finally {
        await again.close();
        await broker.close();
      }
    } finally {
      await c.close();
    }
  });

  it('ends open subscriptions without an error when the client closes', async () => {
    const c = new GrpcClient({ host: '127.0.0.1', port: f.front.port });
    await client.createTopic('c', 'bye', 1);
    let ended: unknown = 'open';
    await c.subscribe('c', 'bye', 0, { autoAck: true, onMessage: () => {}, onEnd: (e) => (ended = e) });
    await c.close();
    await waitFor(() => ended !== 'open', 'the end');
    expect(ended).toBeUndefined();
    expect((await rejection(c.listNamespaces())).code).toBe('TRANSPORT');
  });
});

describe('GrpcClient: QueueFeaturesClient (the extensions)', () => {
  let g: Fixture;
  let qc: GrpcClient;
  beforeAll(async () => {
    g = await startFixture();
    qc = new GrpcClient({ host: '127.0.0.1', port: g.front.port, timeoutMs: 5000 });
    await qc.createNamespace('q');
  });
  afterAll(async () => {
    await qc.close();
    await g.stop();
  });

  it('publishEx: dedup answers duplicate with the original ids; delayMs holds; deliverAtMs in the past is visible', async () => {
    await qc.createTopic('q', 'pub', 1);
    const first = await qc.publishEx('q', 'pub', 'a', { dedupId: 'k', headers: { h: '1' } });
    expect(first.duplicate).toBe(false);
    expect(await qc.publishEx('q', 'pub', 'b', { dedupId: 'k' })).toEqual({ ...first, duplicate: true });
    await qc.publishEx('q', 'pub', 'held', { delayMs: 3_600_000 });
    await qc.publishEx('q', 'pub', new Uint8Array([1, 2]), { deliverAtMs: Date.now() - 1 });
    expect(await qc.topicStats('q', 'pub')).toMatchObject({ pending: 2, delayed: 1 });
    const got = await qc.consume('q', 'pub', 0, { batchSize: 10, autoAck: true });
    expect(got.map((m) => [...m.payload])).toEqual([[...Buffer.from('a')], [1, 2]]);
    expect((await rejection(qc.publishEx('q', 'pub', 'x', { delayMs: 1, deliverAtMs: 1 }))).code).toBe('INVALID_ARGUMENT');
  });

  it('publishBatch: partial reports failures by index; atomic failure publishes nothing', async () => {
    await qc.createTopic('q', 'batch', 2);
    const items = await qc.publishBatch('q', 'batch', [{ payload: 'a', queueId: 1 }, { payload: 'b', queueId: 5 }, { payload: 'c', dedupId: 'd' }], 'partial');
    expect(items[0]).toMatchObject({ ok: true, queueId: 1, duplicate: false });
    expect(items[1]).toMatchObject({ ok: false, code: 'NOT_FOUND' });
    expect(items[2]!.ok).toBe(true);
    const err = await rejection(qc.publishBatch('q', 'batch', [{ payload: 'a' }, { payload: 'b', delayMs: -1 }], 'atomic'));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toMatch(/batch entry 1/);
    expect((await qc.topicStats('q', 'batch')).published).toBe(2);
  });

  it('publishEx ttlMs and the expiry and ack-timeout policy fields (docs/DESIGN.md, "Expiry")', async () => {
    await qc.createTopic('q', 'ttl', 1);
    expect(await qc.setTopicPolicy('q', 'ttl', { ackTimeoutMs: 45_000, messageTtlMs: 600_000, deadLetterExpired: true })).toMatchObject({
      ackTimeoutMs: 45_000,
      messageTtlMs: 600_000,
      deadLetterExpired: true,
    });
    await qc.publishEx('q', 'ttl', 'brief', { ttlMs: 30 });
    await qc.publishBatch('q', 'ttl', [{ payload: 'kept', ttlMs: 60_000 }], 'atomic');
    for (let i = 0; i < 250 && (await qc.topicStats('q', 'ttl')).expired === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await qc.topicStats('q', 'ttl')).toMatchObject({ expired: 1, pending: 1, dlqDepth: 1, deadLettered: 1 });
    expect((await qc.consume('q', 'ttl', 0, { batchSize: 5, autoAck: true })).map((m) => Buffer.from(m.payload).toString())).toEqual(['kept']);
    expect((await rejection(qc.publishEx('q', 'ttl', 'x', { ttlMs: -1 }))).code).toBe('INVALID_ARGUMENT');
    expect((await rejection(qc.setTopicPolicy('q', 'ttl', { ackTimeoutMs: 43_200_001 }))).message).toMatch(/ack_timeout_ms/);
  });

  it('nack to the DLQ, peek it, consume it, redrive it; setTopicPolicy and topicStats follow', async () => {
    await qc.createTopic('q', 'dlq', 1);
    expect(await qc.setTopicPolicy('q', 'dlq', { maxRetries: 0 })).toEqual({ maxRetries: 0, retryBaseMs: 1000, retryCapMs: 60_000, dedupWindowMs: 3_600_000, ackTimeoutMs: 0, messageTtlMs: 0, deadLetterExpired: false });
    const { messageId } = await qc.publish('q', 'dlq', 'job');
    const [m] = await qc.consume('q', 'dlq', 0);
    expect(await qc.nack('q', 'dlq', 0, [m!.id])).toEqual({ requeued: 0, delayed: 0, deadLettered: 1 });
    const page = await qc.peek('q', 'dlq', 0, { dlq: true, previewBytes: 1 });
    expect(page.nextCursor).toBeUndefined();
    expect(page.messages).toHaveLength(1);
    expect(page.messages[0]).toMatchObject({ id: messageId, queueId: -1, payloadSize: 3, headers: { _dlq_reason: 'nacked', _delivery_count: '1' } });
    expect(Buffer.from(page.messages[0]!.payload).toString()).toBe('j');
    const [dead] = await qc.consumeDlq('q', 'dlq');
    expect(dead!.id).toBe(messageId);
    expect(await qc.nack('q', 'dlq', -1, [dead!.id], { delayMs: 0 })).toMatchObject({ requeued: 1 });
    const stats = await qc.topicStats('q', 'dlq');
    expect(stats).toMatchObject({ namespace: 'q', topic: 'dlq', queueCount: 1, version: 0n, dlqDepth: 1, deadLettered: 1, published: 1, policy: { maxRetries: 0 } });
    expect(stats.queues).toEqual([expect.objectContaining({ queueId: 0, pending: 0, inFlight: 0 })]);
    expect(await qc.redriveDlq('q', 'dlq')).toBe(1);
    expect((await qc.peek('q', 'dlq', 0, { order: 'desc' })).messages.map((p) => p.id)).toEqual([messageId]);
    expect(await qc.redriveDlq('q', 'dlq', 5)).toBe(0);
  });

  it('renewLease extends an in-flight lease; once acked it is FAILED_PRECONDITION', async () => {
    await qc.createTopic('q', 'lease', 1);
    await qc.publish('q', 'lease', 'x');
    const [m] = await qc.consume('q', 'lease', 0);
    await qc.renewLease('q', 'lease', 0, [m!.id], 60_000);
    await qc.ack('q', 'lease', 0, [m!.id]);
    expect((await rejection(qc.renewLease('q', 'lease', 0, [m!.id], 60_000))).code).toBe('FAILED_PRECONDITION');
    expect((await rejection(qc.topicStats('q', 'nope'))).code).toBe('NOT_FOUND');
  });
});
