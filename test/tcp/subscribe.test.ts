/**
 * docs/PROTOCOL.md, "TCP framing" (subscribe) and docs/DESIGN.md, "Subscriptions":
 * a first "subscribed" reply, then one pushed frame per message as soon as
 * it is published; acks on the same connection through request_id; resize
 * notices in the stream; the client's backpressure and disconnects.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, RawClient, jsonFrame, startHarness } from './helpers.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ ackTimeoutMs: 300, drainTimeoutMs: 200 });
  await h.broker.createNamespace('s');
});
afterAll(async () => {
  await h.close();
});

let topicSeq = 0;
async function freshTopic(queues = 1): Promise<string> {
  const name = `t${++topicSeq}`;
  await h.broker.createTopic('s', name, queues);
  return name;
}

describe('JSON subscribe', () => {
  it('answers "subscribed", then pushes each message as it is published', async () => {
    const t = await freshTopic();
    await h.broker.publish('s', t, Buffer.from('"before"'));
    const c = await RawClient.open(h.port);
    expect(await c.jsonCall({ action: 'subscribe', data: { namespace: 's', topic: t, queue_id: 0, auto_ack: true } })).toEqual({
      status: 'ok',
      data: 'subscribed',
    });
    expect((await c.json()).data).toMatchObject({ payload: 'before', queue_id: 0, namespace: 's', topic: t, delivery_count: 1 });
    const pub = await RawClient.open(h.port);
    for (let i = 0; i < 3; i++) await pub.jsonCall({ action: 'publish', data: { namespace: 's', topic: t, payload: { i } } });
    for (let i = 0; i < 3; i++) {
      const r = await c.json();
      expect(r.status).toBe('ok');
      expect(r.data.payload).toEqual({ i });
    }
    c.close();
    pub.close();
  });

  it('answers the replies before it first when pipelined behind other commands', async () => {
    const t = await freshTopic();
    const c = await RawClient.open(h.port);
    c.write(
      Buffer.concat([
        jsonFrame({ action: 'publish', data: { namespace: 's', topic: t, payload: 1 } }),
        jsonFrame({ action: 'subscribe', data: { namespace: 's', topic: t, queue_id: 0, auto_ack: true } }),
      ]),
    );
    expect((await c.json()).data.queue_id).toBe(0); // the publish reply
    expect((await c.json()).data).toBe('subscribed');
    expect((await c.json()).data.payload).toBe(1);
    c.close();
  });

  it('acks on the same connection with request_id while subscribed', async () => {
    const t = await freshTopic();
    const c = await RawClient.open(h.port);
    c.write(jsonFrame({ action: 'subscribe', request_id: 'sub', data: { namespace: 's', topic: t, queue_id: 0, auto_ack: false } }));
    expect(await c.json()).toEqual({ status: 'ok', request_id: 'sub', data: 'subscribed' });
    await h.broker.publish('s', t, Buffer.from('"m"'));
    const pushed = await c.json();
    expect(pushed.request_id).toBe('sub');
    expect(h.broker.stats().inflight).toBeGreaterThanOrEqual(1);
    c.write(jsonFrame({ action: 'ack', request_id: 'ack-1', data: { namespace: 's', topic: t, queue_id: 0, message_ids: [pushed.data.id] } }));
    expect(await c.json()).toEqual({ status: 'ok', request_id: 'ack-1', data: 'messages acknowledged' });
    // acked for good: nothing comes back after the ack deadline
    await new Promise((r) => setTimeout(r, 500));
    expect(c.received).toBe(0);
    c.close();
  });

  it('carries several subscriptions on one connection, each frame tagged with its request_id', async () => {
    const t = await freshTopic(2);
    const c = await RawClient.open(h.port);
    c.write(
      Buffer.concat([
        jsonFrame({ action: 'subscribe', request_id: 'q0', data: { namespace: 's', topic: t, queue_id: 0, auto_ack: true } }),
        jsonFrame({ action: 'subscribe', request_id: 'q1', data: { namespace: 's', topic: t, queue_id: 1, auto_ack: true } }),
      ]),
    );
    expect(await c.json()).toMatchObject({ request_id: 'q0', data: 'subscribed' });
    expect(await c.json()).toMatchObject({ request_id: 'q1', data: 'subscribed' });
    await h.broker.publish('s', t, Buffer.from('"one"'), { queueId: 1 });
    await h.broker.publish('s', t, Buffer.from('"zero"'), { queueId: 0 });
    const got = [await c.json(), await c.json()].map((r) => [r.request_id, r.data.payload]).sort();
    expect(got).toEqual([
      ['q0', 'zero'],
      ['q1', 'one'],
    ]);
    c.close();
  });

  it('answers an unknown queue with an error frame and keeps the connection usable', async () => {
    const t = await freshTopic(2);
    const c = await RawClient.open(h.port);
    const r = await c.jsonCall({ action: 'subscribe', data: { namespace: 's', topic: t, queue_id: 5, auto_ack: true } });
    expect(r.status).toBe('error');
    expect(r.error).toMatch(/^NOT_FOUND: queue 5/);
    expect((await c.jsonCall({ action: 'list_namespaces' })).status).toBe('ok');
    c.close();
  });

  it('sends a resize notice in the stream', async () => {
    const t = await freshTopic(1);
    const c = await RawClient.open(h.port);
    await c.jsonCall({ action: 'subscribe', data: { namespace: 's', topic: t, queue_id: 0, auto_ack: true } });
    await h.broker.resizeTopic('s', t, 3);
    const n = await c.json();
    expect(n.data).toMatchObject({
      id: '_resize_1',
      queue_id: -1,
      headers: { _event: 'topic_resized', _queue_count: '3', _version: '1' },
    });
    c.close();
  });

  it('ends the subscription with an error frame when the topic is deleted', async () => {
    const t = await freshTopic(1);
    const c = await RawClient.open(h.port);
    await c.jsonCall({ action: 'subscribe', request_id: 'z', data: { namespace: 's', topic: t, queue_id: 0, auto_ack: true } });
    await h.broker.deleteTopic('s', t);
    const r = await c.json();
    expect(r).toMatchObject({ status: 'error', request_id: 'z' });
    expect(r.error).toMatch(/was deleted/);
    expect((await c.jsonCall({ action: 'list_namespaces' })).status).toBe('ok');
    c.close();
  });
});

describe('protobuf subscribe', () => {
  it('answers TCPResponse{status:"ok"} with no data, then subscribe_message frames', async () => {
    const t = await freshTopic();
    const c = await RawClient.open(h.port);
    const first = await c.pbCall({ action: 'subscribe', data: { case: 'subscribe', value: { namespace: 's', topic: t, queueId: 0, autoAck: true } } });
    expect(first.status).toBe('ok');
    expect(first.data.case).toBeUndefined();
    await h.broker.publish('s', t, new Uint8Array([9, 8, 7]), { headers: { h: '1' } });
    const m = await c.pb();
    expect(m.data.case).toBe('subscribeMessage');
    if (m.data.case === 'subscribeMessage') {
      expect(Buffer.from(m.data.value.payload)).toEqual(Buffer.from([9, 8, 7]));
      expect(m.data.value).toMatchObject({ namespace: 's', topic: t, queueId: 0, headers: { h: '1' }, deliveryCount: 1 });
    }
    c.close();
  });

  it('encodes the resize notice queue_id -1 as a protobuf int32', async () => {
    const t = await freshTopic(1);
    const c = await RawClient.open(h.port);
    await c.pbCall({ action: 'subscribe', data: { case: 'subscribe', value: { namespace: 's', topic: t, queueId: 0, autoAck: true } } });
    await h.broker.resizeTopic('s', t, 2);
    const m = await c.pb();
    expect(m.data.case === 'subscribeMessage' && m.data.value).toMatchObject({ id: '_resize_1', queueId: -1, payload: new Uint8Array(0) });
    c.close();
  });
});

describe('disconnects and backpressure', () => {
  it('redelivers the in-flight messages of a subscriber that disconnects, at the ack deadline', async () => {
    const t = await freshTopic();
    const c = await RawClient.open(h.port);
    await c.jsonCall({ action: 'subscribe', data: { namespace: 's', topic: t, queue_id: 0, auto_ack: false } });
    await h.broker.publish('s', t, Buffer.from('"lost?"'));
    const first = await c.json();
    c.close();
    await c.closed;
    const other = await RawClient.open(h.port);
    await new Promise((r) => setTimeout(r, 500)); // past the 300 ms ack deadline
    const r = await other.jsonCall({ action: 'consume', data: { namespace: 's', topic: t, queue_id: 0, auto_ack: true } });
    expect(r.data).toHaveLength(1);
    expect(r.data[0]).toMatchObject({ id: first.data.id, payload: 'lost?', delivery_count: 2 });
    other.close();
  });

  it('leaves messages queued while the subscriber does not read', async () => {
    const t = await freshTopic();
    const c = await RawClient.open(h.port);
    await c.jsonCall({ action: 'subscribe', data: { namespace: 's', topic: t, queue_id: 0, auto_ack: true } });
    c.socket.pause();
    const payload = Buffer.from(JSON.stringify('z'.repeat(16 * 1024)));
    const N = 2000;
    const base = h.broker.stats().pending;
    for (let i = 0; i < N; i++) await h.broker.publish('s', t, payload);
    await new Promise((r) => setTimeout(r, 300));
    // ~32 MB published: the push stopped at the socket buffers, the rest stays queued
    expect(h.broker.stats().pending - base).toBeGreaterThan(N / 2);
    c.socket.resume();
    for (let i = 0; i < N; i++) expect((await c.json(10_000)).status).toBe('ok');
    expect(h.broker.stats().pending).toBe(base);
    c.close();
  });
});

describe('server close', () => {
  it('answers requests already read, ends subscriptions with an error frame, then closes', async () => {
    const own = await startHarness();
    await own.broker.createNamespace('c');
    await own.broker.createTopic('c', 't', 1);
    const sub = await RawClient.open(own.port);
    await sub.jsonCall({ action: 'subscribe', data: { namespace: 'c', topic: 't', queue_id: 0, auto_ack: true } });
    const c = await RawClient.open(own.port);
    await c.jsonCall({ action: 'list_namespaces' });
    await own.close();
    const end = await sub.json();
    expect(end).toMatchObject({ status: 'error', error: 'UNAVAILABLE: server is shutting down' });
    await sub.waitClosed();
    await c.waitClosed();
  });
});

