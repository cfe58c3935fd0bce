/**
 * docs/PROTOCOL.md, "gRPC": every unary RPC of MQLiteService, its success and its
 * errors, called by an independent client (proto-loader + grpc-js).
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, failure, oldClientProto, serviceFromProto, startFixture, type Fixture } from './harness.js';

const { status } = grpc;
let f: Fixture;

beforeAll(async () => {
  f = await startFixture({ broker: { limits: { maxPayloadBytes: 64 * 1024, maxBatch: 100 } }, maxMessageBytes: 256 * 1024 });
});
afterAll(() => f.stop());

describe('namespaces (CreateNamespace, ListNamespaces, DeleteNamespace)', () => {
  it('creates, lists and deletes a namespace, answering success: true', async () => {
    expect(await call(f.raw, 'CreateNamespace', { name: 'ns-a' })).toMatchObject({ success: true });
    expect((await call(f.raw, 'ListNamespaces', {})).namespaces).toContain('ns-a');
    expect(await call(f.raw, 'DeleteNamespace', { name: 'ns-a' })).toMatchObject({ success: true });
    expect((await call(f.raw, 'ListNamespaces', {})).namespaces).not.toContain('ns-a');
  });

  it('refuses a duplicate with ALREADY_EXISTS and keeps the first', async () => {
    await call(f.raw, 'CreateNamespace', { name: 'ns-dup' });
    await call(f.raw, 'CreateTopic', { namespace: 'ns-dup', name: 't', queue_count: 1 });
    const err = await failure(call(f.raw, 'CreateNamespace', { name: 'ns-dup' }));
    expect(err.code).toBe(status.ALREADY_EXISTS);
    expect(err.details).toMatch(/ns-dup.*already exists/);
    expect((await call(f.raw, 'ListTopics', { namespace: 'ns-dup' })).topics).toHaveLength(1);
  });

  it('refuses a bad name with INVALID_ARGUMENT and creates nothing', async () => {
    const err = await failure(call(f.raw, 'CreateNamespace', { name: 'bad name/with slash' }));
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toMatch(/namespace/);
    const empty = await failure(call(f.raw, 'CreateNamespace', { name: '' }));
    expect(empty.code).toBe(status.INVALID_ARGUMENT);
    expect((await call(f.raw, 'ListNamespaces', {})).namespaces).not.toContain('bad name/with slash');
  });

  it('answers NOT_FOUND when deleting an unknown namespace', async () => {
    const err = await failure(call(f.raw, 'DeleteNamespace', { name: 'nope' }));
    expect(err.code).toBe(status.NOT_FOUND);
    expect(err.details).toMatch(/nope/);
  });
});

describe('topics (CreateTopic, ListTopics, DeleteTopic)', () => {
  beforeAll(() => call(f.raw, 'CreateNamespace', { name: 'topics' }));

  it('creates a topic and lists it with its queue count, version and (extension) default policy', async () => {
    expect(await call(f.raw, 'CreateTopic', { namespace: 'topics', name: 'orders', queue_count: 3 })).toMatchObject({ success: true });
    const { topics } = await call(f.raw, 'ListTopics', { namespace: 'topics' });
    expect(topics).toContainEqual({
      name: 'orders',
      queue_count: 3,
      version: '0',
      policy: { max_retries: -1, retry_base_ms: '1000', retry_cap_ms: '60000', dedup_window_ms: '3600000', ack_timeout_ms: '0', message_ttl_ms: '0', dead_letter_expired: false },
      paused: false,
    });
  });

  it('refuses queue_count < 1 with INVALID_ARGUMENT and creates nothing', async () => {
    const err = await failure(call(f.raw, 'CreateTopic', { namespace: 'topics', name: 'zero', queue_count: 0 }));
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toMatch(/queue_count/);
    const { topics } = await call(f.raw, 'ListTopics', { namespace: 'topics' });
    expect(topics.map((t: { name: string }) => t.name)).not.toContain('zero');
  });

  it('answers NOT_FOUND for an unknown namespace, ALREADY_EXISTS for a duplicate', async () => {
    expect((await failure(call(f.raw, 'CreateTopic', { namespace: 'ghost', name: 't', queue_count: 1 }))).code).toBe(status.NOT_FOUND);
    expect((await failure(call(f.raw, 'ListTopics', { namespace: 'ghost' }))).code).toBe(status.NOT_FOUND);
    await call(f.raw, 'CreateTopic', { namespace: 'topics', name: 'twice', queue_count: 1 });
    expect((await failure(call(f.raw, 'CreateTopic', { namespace: 'topics', name: 'twice', queue_count: 2 }))).code).toBe(
      status.ALREADY_EXISTS,
    );
    const { topics } = await call(f.raw, 'ListTopics', { namespace: 'topics' });
    expect(topics.find((t: { name: string }) => t.name === 'twice').queue_count).toBe(1);
  });

  it('deletes a topic, and answers NOT_FOUND for an unknown one', async () => {
    await call(f.raw, 'CreateTopic', { namespace: 'topics', name: 'gone', queue_count: 1 });
    expect(await call(f.raw, 'DeleteTopic', { namespace: 'topics', name: 'gone' })).toMatchObject({ success: true });
    expect((await failure(call(f.raw, 'DeleteTopic', { namespace: 'topics', name: 'gone' }))).code).toBe(status.NOT_FOUND);
  });
});

describe('ResizeTopic and RebalanceTopic', () => {
  beforeAll(async () => {
    await call(f.raw, 'CreateNamespace', { name: 'resize' });
    await call(f.raw, 'CreateTopic', { namespace: 'resize', name: 't', queue_count: 2 });
  });

  it('grows at once: new_queue_count, a higher version, not draining', async () => {
    const res = await call(f.raw, 'ResizeTopic', { namespace: 'resize', name: 't', new_queue_count: 4 });
    expect(res).toMatchObject({ success: true, new_queue_count: 4, draining: false });
    expect(BigInt(res.version)).toBeGreaterThan(0n);
    const { topics } = await call(f.raw, 'ListTopics', { namespace: 'resize' });
    expect(topics[0]).toMatchObject({ name: 't', queue_count: 4, version: res.version });
  });

  it('refuses a bad count with INVALID_ARGUMENT, an unknown topic with NOT_FOUND', async () => {
    expect((await failure(call(f.raw, 'ResizeTopic', { namespace: 'resize', name: 't', new_queue_count: 0 }))).code).toBe(
      status.INVALID_ARGUMENT,
    );
    expect((await failure(call(f.raw, 'ResizeTopic', { namespace: 'resize', name: 'x', new_queue_count: 2 }))).code).toBe(
      status.NOT_FOUND,
    );
    const { topics } = await call(f.raw, 'ListTopics', { namespace: 'resize' });
    expect(topics[0]).toMatchObject({ name: 't', queue_count: 4 });
  });

  it('rebalances, and refuses with FAILED_PRECONDITION while a shrink drains', async () => {
    expect(await call(f.raw, 'RebalanceTopic', { namespace: 'resize', name: 't' })).toMatchObject({ success: true });
    // A pending message in a tail queue keeps the shrink draining.
    await call(f.raw, 'Publish', { namespace: 'resize', topic: 't', payload: Buffer.from('x'), queue_id: 3 });
    const shrink = await call(f.raw, 'ResizeTopic', { namespace: 'resize', name: 't', new_queue_count: 2 });
    expect(shrink).toMatchObject({ success: true, new_queue_count: 2, draining: true });
    const err = await failure(call(f.raw, 'RebalanceTopic', { namespace: 'resize', name: 't' }));
    expect(err.code).toBe(status.FAILED_PRECONDITION);
    expect(err.details).toMatch(/draining/);
    expect((await failure(call(f.raw, 'RebalanceTopic', { namespace: 'resize', name: 'x' }))).code).toBe(status.NOT_FOUND);
    // Nothing was lost: the message is still there to consume from its queue.
    const { messages } = await call(f.raw, 'Consume', { namespace: 'resize', topic: 't', queue_id: 3, batch_size: 10, auto_ack: true });
    expect(messages.map((m: { payload: Buffer }) => m.payload.toString())).toEqual(['x']);
  });
});

describe('Publish and Consume', () => {
  beforeAll(async () => {
    await call(f.raw, 'CreateNamespace', { name: 'msgs' });
    await call(f.raw, 'CreateTopic', { namespace: 'msgs', name: 'one', queue_count: 1 });
    await call(f.raw, 'CreateTopic', { namespace: 'msgs', name: 'four', queue_count: 4 });
  });

  it('carries binary payloads byte for byte, headers, and every Message field', async () => {
    const payload = Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 7 + 3) % 256));
    const before = BigInt(Date.now()) * 1_000_000n;
    const pub = await call(f.raw, 'Publish', {
      namespace: 'msgs',
      topic: 'one',
      payload,
      headers: { 'content-type': 'application/octet-stream', trace: 'abc' },
    });
    expect(pub.message_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(pub.queue_id).toBe(0);
    const { messages } = await call(f.raw, 'Consume', { namespace: 'msgs', topic: 'one', queue_id: 0, batch_size: 1, auto_ack: true });
    expect(messages).toHaveLength(1);
    const m = messages[0];
    expect(Buffer.compare(m.payload, payload)).toBe(0);
    expect(m).toMatchObject({
      id: pub.message_id,
      namespace: 'msgs',
      topic: 'one',
      queue_id: 0,
      headers: { 'content-type': 'application/octet-stream', trace: 'abc' },
      delivery_count: 1,
    });
    const ts = BigInt(m.timestamp);
    expect(ts).toBeGreaterThanOrEqual(before - 1_000_000n);
    expect(ts).toBeLessThanOrEqual(BigInt(Date.now()) * 1_000_000n + 1_000_000n);
  });

  it('takes an explicit queue_id: 0 as queue 0, and an absent or -1 one as automatic routing', async () => {
    const explicit = [];
    for (let i = 0; i < 8; i++) explicit.push((await call(f.raw, 'Publish', { namespace: 'msgs', topic: 'four', payload: Buffer.from('e'), queue_id: 0 })).queue_id);
    expect(explicit).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    const absent = new Set();
    for (let i = 0; i < 8; i++) absent.add((await call(f.raw, 'Publish', { namespace: 'msgs', topic: 'four', payload: Buffer.from('a') })).queue_id);
    expect(absent.size).toBe(4);
    const minusOne = new Set();
    for (let i = 0; i < 8; i++) minusOne.add((await call(f.raw, 'Publish', { namespace: 'msgs', topic: 'four', payload: Buffer.from('m'), queue_id: -1 })).queue_id);
    expect(minusOne.size).toBe(4);
    const targeted = await call(f.raw, 'Publish', { namespace: 'msgs', topic: 'four', payload: Buffer.from('t'), queue_id: 2 });
    expect(targeted.queue_id).toBe(2);
    for (let q = 0; q < 4; q++) await call(f.raw, 'Consume', { namespace: 'msgs', topic: 'four', queue_id: q, batch_size: 100, auto_ack: true });
  });

  it('serves an old client built from the proto without `optional`: zero queue_id not on the wire, automatic routing', async () => {
    // Proto3 encoders of old clients (Go) skip a zero int32, so "left at 0"
    // reaches the server as an absent field.
    const Old = serviceFromProto(oldClientProto());
    const old = new Old(f.address, grpc.credentials.createInsecure());
    try {
      const queues = new Set();
      for (let i = 0; i < 8; i++) queues.add((await call(old, 'Publish', { namespace: 'msgs', topic: 'four', payload: Buffer.from('o') })).queue_id);
      expect(queues.size).toBe(4);
      const { messages } = await call(old, 'Consume', { namespace: 'msgs', topic: 'four', queue_id: 0, batch_size: 100, auto_ack: true });
      expect(messages.map((m: { payload: Buffer }) => m.payload.toString())).toEqual(['o', 'o']);
    } finally {
      old.close();
      for (let q = 0; q < 4; q++) await call(f.raw, 'Consume', { namespace: 'msgs', topic: 'four', queue_id: q, batch_size: 100, auto_ack: true });
    }
  });

  it('routes the same routing_key to the same queue', async () => {
    const queues = new Set();
    for (let i = 0; i < 6; i++) queues.add((await call(f.raw, 'Publish', { namespace: 'msgs', topic: 'four', payload: Buffer.from('k'), routing_key: 'customer-42' })).queue_id);
    expect(queues.size).toBe(1);
    const [q] = [...queues];
    const { messages } = await call(f.raw, 'Consume', { namespace: 'msgs', topic: 'four', queue_id: q, batch_size: 100, auto_ack: true });
    expect(messages).toHaveLength(6);
  });

  it('refuses bad publishes with a clear status and stores nothing', async () => {
    const tooBig = await failure(call(f.raw, 'Publish', { namespace: 'msgs', topic: 'one', payload: Buffer.alloc(64 * 1024 + 1) }));
    expect(tooBig.code).toBe(status.INVALID_ARGUMENT);
    expect(tooBig.details).toMatch(/payload.*limit/);
    // Over the server's max message size: grpc-js refuses the frame itself.
    const overFrame = await failure(call(f.raw, 'Publish', { namespace: 'msgs', topic: 'one', payload: Buffer.alloc(300 * 1024) }));
    expect(overFrame.code).toBe(status.RESOURCE_EXHAUSTED);
    expect((await failure(call(f.raw, 'Publish', { namespace: 'msgs', topic: 'nope', payload: Buffer.from('x') }))).code).toBe(status.NOT_FOUND);
    expect((await failure(call(f.raw, 'Publish', { namespace: 'ghost', topic: 'one', payload: Buffer.from('x') }))).code).toBe(status.NOT_FOUND);
    const noQueue = await failure(call(f.raw, 'Publish', { namespace: 'msgs', topic: 'one', payload: Buffer.from('x'), queue_id: 5 }));
    expect(noQueue.code).toBe(status.NOT_FOUND);
    expect(noQueue.details).toMatch(/queue 5/);
    expect(f.broker.stats().pending).toBe(0);
    // The connection is still fine after the refusals.
    expect((await call(f.raw, 'Publish', { namespace: 'msgs', topic: 'one', payload: Buffer.from('ok') })).queue_id).toBe(0);
    await call(f.raw, 'Consume', { namespace: 'msgs', topic: 'one', queue_id: 0, batch_size: 10, auto_ack: true });
  });

  it('consumes in FIFO order in batches; an empty queue answers no messages', async () => {
    for (let i = 0; i < 5; i++) await call(f.raw, 'Publish', { namespace: 'msgs', topic: 'one', payload: Buffer.from(`m${i}`) });
    const first = await call(f.raw, 'Consume', { namespace: 'msgs', topic: 'one', queue_id: 0, batch_size: 3, auto_ack: true });
    const rest = await call(f.raw, 'Consume', { namespace: 'msgs', topic: 'one', queue_id: 0, batch_size: 0, auto_ack: true });
    const rest2 = await call(f.raw, 'Consume', { namespace: 'msgs', topic: 'one', queue_id: 0, batch_size: 10, auto_ack: true });
    const text = (r: { messages: { payload: Buffer }[] }) => r.messages.map((m) => m.payload.toString());
    expect(text(first)).toEqual(['m0', 'm1', 'm2']);
    expect(text(rest)).toEqual(['m3']); // batch_size 0 means 1
    expect(text(rest2)).toEqual(['m4']);
    expect((await call(f.raw, 'Consume', { namespace: 'msgs', topic: 'one', queue_id: 0, batch_size: 10, auto_ack: true })).messages).toEqual([]);
  });

  it('refuses a bad consume with a clear status and takes nothing', async () => {
    await call(f.raw, 'Publish', { namespace: 'msgs', topic: 'one', payload: Buffer.from('keep') });
    const batch = await failure(call(f.raw, 'Consume', { namespace: 'msgs', topic: 'one', queue_id: 0, batch_size: 101, auto_ack: true }));
    expect(batch.code).toBe(status.INVALID_ARGUMENT);
    expect(batch.details).toMatch(/batch_size/);
    expect((await failure(call(f.raw, 'Consume', { namespace: 'msgs', topic: 'one', queue_id: 0, batch_size: -1, auto_ack: true }))).code).toBe(
      status.INVALID_ARGUMENT,
    );
    const queue = await failure(call(f.raw, 'Consume', { namespace: 'msgs', topic: 'one', queue_id: 1, batch_size: 1, auto_ack: true }));
    expect(queue.code).toBe(status.NOT_FOUND);
    expect((await failure(call(f.raw, 'Consume', { namespace: 'msgs', topic: 'nope', queue_id: 0, batch_size: 1, auto_ack: true }))).code).toBe(
      status.NOT_FOUND,
    );
    const { messages } = await call(f.raw, 'Consume', { namespace: 'msgs', topic: 'one', queue_id: 0, batch_size: 10, auto_ack: true });
    expect(messages.map((m: { payload: Buffer }) => m.payload.toString())).toEqual(['keep']);
  });
});

describe('Ack', () => {
  let acker: Fixture;
  beforeAll(async () => {
    acker = await startFixture({ broker: { ackTimeoutMs: 200 } });
    await call(acker.raw, 'CreateNamespace', { name: 'ack' });
    await call(acker.raw, 'CreateTopic', { namespace: 'ack', name: 't', queue_count: 1 });
  });
  afterAll(() => acker.stop());

  it('removes acked messages for good; unacked ones come back at the ack deadline', async () => {
    for (const p of ['a', 'b']) await call(acker.raw, 'Publish', { namespace: 'ack', topic: 't', payload: Buffer.from(p) });
    const { messages } = await call(acker.raw, 'Consume', { namespace: 'ack', topic: 't', queue_id: 0, batch_size: 2, auto_ack: false });
    expect(messages.map((m: { delivery_count: number }) => m.delivery_count)).toEqual([1, 1]);
    expect(await call(acker.raw, 'Ack', { namespace: 'ack', topic: 't', queue_id: 0, message_ids: [messages[0].id] })).toEqual({ success: true });
    await new Promise((r) => setTimeout(r, 400));
    const again = await call(acker.raw, 'Consume', { namespace: 'ack', topic: 't', queue_id: 0, batch_size: 10, auto_ack: true });
    expect(again.messages.map((m: { id: string; delivery_count: number }) => [m.id, m.delivery_count])).toEqual([[messages[1].id, 2]]);
  });

  it('treats unknown or already acked ids as harmless', async () => {
    expect(await call(acker.raw, 'Ack', { namespace: 'ack', topic: 't', queue_id: 0, message_ids: ['not-an-id', 'another'] })).toEqual({ success: true });
  });

  it('answers NOT_FOUND for an unknown topic', async () => {
    const err = await failure(call(acker.raw, 'Ack', { namespace: 'ack', topic: 'nope', queue_id: 0, message_ids: ['x'] }));
    expect(err.code).toBe(status.NOT_FOUND);
  });
});

describe('malformed requests', () => {
  /** A bare grpc-js client sending raw bytes as the request: no protobuf on our side at all. */
  function rawBytes(method: string, bytes: Buffer): Promise<Buffer> {
    const client = new grpc.Client(f.address, grpc.credentials.createInsecure());
    const same = (b: Buffer): Buffer => b;
    return new Promise<Buffer>((resolve, reject) =>
      client.makeUnaryRequest(`/mqlite.v1.MQLiteService/${method}`, same, same, bytes, (err, res) => (err ? reject(err) : resolve(res!))),
    ).finally(() => client.close());
  }

  it('answers INVALID_ARGUMENT naming the message type, and stores nothing', async () => {
    await call(f.raw, 'CreateNamespace', { name: 'bytes' });
    await call(f.raw, 'CreateTopic', { namespace: 'bytes', name: 't', queue_count: 1 });
    const before = f.broker.stats().pending;
    // Field 1 (namespace) claims 5 bytes but only 1 follows.
    const truncated = await failure(rawBytes('Publish', Buffer.from([0x0a, 0x05, 0x61])));
    expect(truncated.code).toBe(status.INVALID_ARGUMENT);
    expect(truncated.details).toMatch(/^malformed mqlite\.v1\.PublishRequest: /);
    const garbage = await failure(rawBytes('CreateTopic', Buffer.from([0xff, 0xff, 0xff])));
    expect(garbage.code).toBe(status.INVALID_ARGUMENT);
    expect(garbage.details).toMatch(/^malformed mqlite\.v1\.CreateTopicRequest: /);
    expect(f.broker.stats().pending).toBe(before);
    expect((await call(f.raw, 'ListTopics', { namespace: 'bytes' })).topics).toHaveLength(1);
  });

  it('refuses a malformed Subscribe with INVALID_ARGUMENT', async () => {
    const client = new grpc.Client(f.address, grpc.credentials.createInsecure());
    const same = (b: Buffer): Buffer => b;
    try {
      const stream = client.makeServerStreamRequest('/mqlite.v1.MQLiteService/Subscribe', same, same, Buffer.from([0x0a, 0x09]));
      const err = await new Promise<grpc.ServiceError>((resolve) => stream.on('error', resolve));
      expect(err.code).toBe(status.INVALID_ARGUMENT);
      expect(err.details).toMatch(/^malformed mqlite\.v1\.SubscribeRequest: /);
    } finally {
      client.close();
    }
  });
});
