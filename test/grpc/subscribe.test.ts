/**
 * docs/DESIGN.md, "Subscriptions", and docs/PROTOCOL.md, "Topic resize notice on
 * subscriptions": the Subscribe stream, seen from an independent client.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, failure, PROTO, serviceFromProto, stallableRelay, startFixture, waitFor, type Fixture } from './harness.js';

const { status } = grpc;

interface RawMessage {
  id: string;
  namespace: string;
  topic: string;
  queue_id: number;
  payload: Buffer;
  timestamp: string;
  headers: Record<string, string>;
  delivery_count: number;
}

/** A Subscribe stream that records what it receives and how it ended. */
function subscribe(f: Fixture, req: object, opts: { flowing?: boolean } = {}) {
  const stream = (f.raw as any).Subscribe(req) as grpc.ClientReadableStream<RawMessage>;
  const received: RawMessage[] = [];
  let ended: { code: grpc.status; details: string } | undefined;
  const started = new Promise<void>((resolve, reject) => {
    stream.once('metadata', () => resolve());
    stream.once('error', reject);
  });
  stream.on('error', (err: grpc.ServiceError) => (ended = { code: err.code, details: err.details }));
  stream.on('end', () => (ended ??= { code: status.OK, details: '' }));
  const onData = (m: RawMessage): void => {
    received.push(m);
  };
  if (opts.flowing !== false) stream.on('data', onData);
  return {
    stream,
    received,
    started,
    ended: () => ended,
    flow: () => stream.on('data', onData),
  };
}

async function publish(f: Fixture, ns: string, topic: string, payload: string | Buffer): Promise<string> {
  return (await call(f.raw, 'Publish', { namespace: ns, topic, payload: Buffer.from(payload) })).message_id;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let f: Fixture;
beforeAll(async () => {
  f = await startFixture({ broker: { ackTimeoutMs: 300 } });
  await call(f.raw, 'CreateNamespace', { name: 'sub' });
});
afterAll(() => f.stop());

describe('push delivery in FIFO order', () => {
  it('delivers a backlog, then each new publish, in publish order', async () => {
    await call(f.raw, 'CreateTopic', { namespace: 'sub', name: 'order', queue_count: 1 });
    const sent: string[] = [];
    for (let i = 0; i < 300; i++) sent.push(await publish(f, 'sub', 'order', `b${i}`));
    const s = subscribe(f, { namespace: 'sub', topic: 'order', queue_id: 0, auto_ack: true });
    await s.started;
    for (let i = 0; i < 300; i++) sent.push(await publish(f, 'sub', 'order', `n${i}`));
    await waitFor(() => s.received.length >= 600, '600 messages');
    expect(s.received.map((m) => m.id)).toEqual(sent);
    expect(s.received[0]).toMatchObject({ namespace: 'sub', topic: 'order', queue_id: 0, delivery_count: 1 });
    expect(s.received[0]!.payload.toString()).toBe('b0');
    s.stream.cancel();
  });

  it('pushes to an idle subscriber without a polling interval', async () => {
    await call(f.raw, 'CreateTopic', { namespace: 'sub', name: 'idle', queue_count: 1 });
    const s = subscribe(f, { namespace: 'sub', topic: 'idle', queue_id: 0, auto_ack: true });
    await s.started;
    const waits: number[] = [];
    for (let i = 0; i < 21; i++) {
      await sleep(2); // let the queue go idle
      const t0 = performance.now();
      await publish(f, 'sub', 'idle', `p${i}`);
      await waitFor(() => s.received.length > i, `message ${i}`, 2000);
      waits.push(performance.now() - t0);
    }
    waits.sort((a, b) => a - b);
    // The existing broker polls every 100 ms (a median near 50 ms); a push
    // is a fraction of a millisecond. 25 ms leaves room for a loaded machine.
    expect(waits[10]).toBeLessThan(25);
    s.stream.cancel();
  });
});

describe('cancel', () => {
  it('stops the subscription at once; its in-flight messages come back at the ack deadline', async () => {
    // A deadline long enough that a loaded machine still checks "after"
    // before the in-flight ones come back.
    const g = await startFixture({ broker: { ackTimeoutMs: 2000 } });
    try {
      await call(g.raw, 'CreateNamespace', { name: 'n' });
      await call(g.raw, 'CreateTopic', { namespace: 'n', name: 'cancel', queue_count: 1 });
      const s = subscribe(g, { namespace: 'n', topic: 'cancel', queue_id: 0, auto_ack: false });
      await s.started;
      const inflight = [await publish(g, 'n', 'cancel', 'a'), await publish(g, 'n', 'cancel', 'b')];
      await waitFor(() => s.received.length === 2, 'two messages');
      s.stream.cancel();
      await waitFor(() => s.ended() !== undefined, 'the stream to end');
      expect(s.ended()!.code).toBe(status.CANCELLED);
      await sleep(200); // the RST_STREAM reaches the server
      const after = await publish(g, 'n', 'cancel', 'after');
      // Not pushed to the cancelled stream: first delivery here.
      const now = await call(g.raw, 'Consume', { namespace: 'n', topic: 'cancel', queue_id: 0, batch_size: 10, auto_ack: true });
      expect(now.messages.map((m: RawMessage) => [m.id, m.delivery_count])).toEqual([[after, 1]]);
      expect(s.received).toHaveLength(2);
      // The unacked ones follow the ack rules: redelivered after ack_timeout.
      const back: RawMessage[] = [];
      await waitFor(() => back.length >= 2, 'the redelivery', 10_000, async () => {
        back.push(...(await call(g.raw, 'Consume', { namespace: 'n', topic: 'cancel', queue_id: 0, batch_size: 10, auto_ack: true })).messages);
      });
      // Each went back to the head of the queue when its own deadline passed.
      expect(back.map((m) => [m.id, m.delivery_count]).sort()).toEqual(inflight.map((id) => [id, 2]).sort());
    } finally {
      await g.stop();
    }
  });

  it('acks from another call release a subscription message for good', async () => {
    await call(f.raw, 'CreateTopic', { namespace: 'sub', name: 'acked', queue_count: 1 });
    const s = subscribe(f, { namespace: 'sub', topic: 'acked', queue_id: 0, auto_ack: false });
    await s.started;
    const id = await publish(f, 'sub', 'acked', 'x');
    await waitFor(() => s.received.length === 1, 'one message');
    await call(f.raw, 'Ack', { namespace: 'sub', topic: 'acked', queue_id: 0, message_ids: [id] });
    s.stream.cancel();
    await sleep(400);
    const after = await call(f.raw, 'Consume', { namespace: 'sub', topic: 'acked', queue_id: 0, batch_size: 10, auto_ack: true });
    expect(after.messages).toEqual([]);
  });
});

describe('backpressure: a slow reader', () => {
  it('leaves undelivered messages queued in the core, and loses none once it reads', async () => {
    const total = 5000;
    await call(f.raw, 'CreateTopic', { namespace: 'sub', name: 'slow', queue_count: 1 });
    const payload = Buffer.alloc(1024, 7);
    const sent: string[] = [];
    for (let i = 0; i < total; i += 100) {
      const ids = await Promise.all(
        Array.from({ length: 100 }, () => call(f.raw, 'Publish', { namespace: 'sub', topic: 'slow', payload }).then((r) => r.message_id as string)),
      );
      sent.push(...ids);
    }
    const pendingBefore = f.broker.stats().pending;
    expect(pendingBefore).toBeGreaterThanOrEqual(total);

    const relay = await stallableRelay(f.front.port);
    const Service = serviceFromProto(PROTO);
    const slow = new Service(`127.0.0.1:${relay.port}`, grpc.credentials.createInsecure());
    try {
      await call(slow, 'ListNamespaces', {}); // connected, settings exchanged
      relay.stall();
      const stream = (slow as any).Subscribe({ namespace: 'sub', topic: 'slow', queue_id: 0, auto_ack: true }) as grpc.ClientReadableStream<RawMessage>;
      const received: RawMessage[] = [];
      stream.on('data', (m: RawMessage) => received.push(m));
      stream.on('error', () => {});
      // Auto-ack: whatever the server wrote or buffered has left the queue.
      await waitFor(() => f.broker.stats().pending < pendingBefore, 'the subscription to start');
      await sleep(300);
      const taken = pendingBefore - f.broker.stats().pending;
      // An HTTP/2 window (64 KiB) and a few writes' worth, not the backlog.
      expect(taken).toBeLessThan(500);
      expect(received).toHaveLength(0);

      relay.resume();
      await waitFor(() => received.length >= total, `${total} messages`, 20_000);
      expect(new Set(received.map((m) => m.id))).toEqual(new Set(sent));
      expect(received).toHaveLength(total);
      expect(f.broker.stats().pending).toBe(pendingBefore - total);
      stream.cancel();
    } finally {
      slow.close();
      await relay.close();
    }
  });
});

describe('in-flight bound without auto_ack', () => {
  it('pushes up to the bound, then one more per ack', async () => {
    const g = await startFixture({ broker: { limits: { maxInflightPerSubscription: 10 } } });
    try {
      await call(g.raw, 'CreateNamespace', { name: 'n' });
      await call(g.raw, 'CreateTopic', { namespace: 'n', name: 't', queue_count: 1 });
      const s = subscribe(g, { namespace: 'n', topic: 't', queue_id: 0, auto_ack: false });
      await s.started;
      for (let i = 0; i < 30; i++) await publish(g, 'n', 't', `m${i}`);
      await waitFor(() => s.received.length === 10, '10 messages');
      await sleep(100);
      expect(s.received).toHaveLength(10);
      await call(g.raw, 'Ack', { namespace: 'n', topic: 't', queue_id: 0, message_ids: s.received.slice(0, 4).map((m) => m.id) });
      await waitFor(() => s.received.length === 14, '4 more messages');
      expect(s.received.map((m) => m.payload.toString())).toEqual(Array.from({ length: 14 }, (_, i) => `m${i}`));
      s.stream.cancel();
    } finally {
      await g.stop();
    }
  });
});

describe('resize notice', () => {
  it('sends _resize_<version> with queue_id -1, an empty payload and the event headers', async () => {
    await call(f.raw, 'CreateTopic', { namespace: 'sub', name: 'grow', queue_count: 1 });
    const s = subscribe(f, { namespace: 'sub', topic: 'grow', queue_id: 0, auto_ack: true });
    await s.started;
    const res = await call(f.raw, 'ResizeTopic', { namespace: 'sub', name: 'grow', new_queue_count: 3 });
    await waitFor(() => s.received.length === 1, 'the notice');
    expect(s.received[0]).toMatchObject({
      id: `_resize_${res.version}`,
      namespace: 'sub',
      topic: 'grow',
      queue_id: -1,
      headers: { _event: 'topic_resized', _queue_count: '3', _version: String(res.version) },
    });
    expect(s.received[0]!.payload.length).toBe(0);
    // The stream goes on after the notice.
    const id = await publish(f, 'sub', 'grow', 'after');
    const where = await call(f.raw, 'Consume', { namespace: 'sub', topic: 'grow', queue_id: 1, batch_size: 1, auto_ack: true });
    const arrived = where.messages.length ? [] : [id];
    if (arrived.length) await waitFor(() => s.received.length === 2, 'the message after the notice');
    s.stream.cancel();
  });
});

describe('errors and ends', () => {
  it('refuses an unknown topic or queue with NOT_FOUND', async () => {
    await call(f.raw, 'CreateTopic', { namespace: 'sub', name: 'errs', queue_count: 2 });
    const topic = subscribe(f, { namespace: 'sub', topic: 'nope', queue_id: 0, auto_ack: true });
    expect(await failure(topic.started)).toMatchObject({ code: status.NOT_FOUND });
    const queue = subscribe(f, { namespace: 'sub', topic: 'errs', queue_id: 2, auto_ack: true });
    const err = await failure(queue.started);
    expect(err.code).toBe(status.NOT_FOUND);
    expect(err.details).toMatch(/queue 2/);
    // Nothing was consumed by the refused subscriptions.
    const id = await publish(f, 'sub', 'errs', 'kept');
    const got = [
      ...(await call(f.raw, 'Consume', { namespace: 'sub', topic: 'errs', queue_id: 0, batch_size: 5, auto_ack: true })).messages,
      ...(await call(f.raw, 'Consume', { namespace: 'sub', topic: 'errs', queue_id: 1, batch_size: 5, auto_ack: true })).messages,
    ];
    expect(got.map((m: RawMessage) => m.id)).toEqual([id]);
  });

  it('ends the stream with NOT_FOUND when its topic is deleted', async () => {
    await call(f.raw, 'CreateTopic', { namespace: 'sub', name: 'doomed', queue_count: 1 });
    const s = subscribe(f, { namespace: 'sub', topic: 'doomed', queue_id: 0, auto_ack: true });
    await s.started;
    await call(f.raw, 'DeleteTopic', { namespace: 'sub', name: 'doomed' });
    await waitFor(() => s.ended() !== undefined, 'the stream to end');
    expect(s.ended()!.code).toBe(status.NOT_FOUND);
  });

  it('ends open streams with UNAVAILABLE when the server closes', async () => {
    const g = await startFixture();
    await call(g.raw, 'CreateNamespace', { name: 'n' });
    await call(g.raw, 'CreateTopic', { namespace: 'n', name: 't', queue_count: 1 });
    const s = subscribe(g, { namespace: 'n', topic: 't', queue_id: 0, auto_ack: true });
    await s.started;
    await g.front.close();
    await waitFor(() => s.ended() !== undefined, 'the stream to end');
    expect(s.ended()).toMatchObject({ code: status.UNAVAILABLE, details: 'server shutting down' });
    await g.stop();
  });
});
