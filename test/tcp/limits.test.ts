/**
 * Limits on the TCP front (docs/PROTOCOL.md, "Limits"): each is refused with an error frame
 * that names the limit and its config key, nothing is stored, and the
 * connection stays usable wherever the framing is intact.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type Harness, RawClient, pbFrame, startHarness } from './helpers.js';

let h: Harness | undefined;
const clients: RawClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await h?.close();
  h = undefined;
});
async function client(): Promise<RawClient> {
  const c = await RawClient.open(h!.port);
  clients.push(c);
  return c;
}
const subscribeCmd = (queue = 0, autoAck = true) => ({ action: 'subscribe', data: { namespace: 'n', topic: 't', queue_id: queue, auto_ack: autoAck } });

describe('limits.max_connections on TCP', () => {
  it('a connection over the limit gets one JSON RESOURCE_EXHAUSTED frame naming the limit, then is closed; the others keep working', async () => {
    h = await startHarness({ maxConnections: 2 });
    await h.broker.createNamespace('n');
    await h.broker.createTopic('n', 't', 1);
    const a = await client();
    const b = await client();
    expect((await a.jsonCall({ action: 'list_namespaces' })).data).toEqual(['n']);
    expect((await b.jsonCall({ action: 'list_namespaces' })).data).toEqual(['n']);

    const over = await client();
    const refused = await over.json();
    expect(refused).toEqual({
      status: 'error',
      error: 'RESOURCE_EXHAUSTED: connection refused: the TCP front already holds 2 connections (limits.max_connections): close idle connections, retry later, or raise the limit',
    });
    await over.waitClosed();
    // A command sent on the refused connection was never run.
    over.write(pbFrame({ action: 'create_namespace', data: { case: 'createNamespace', value: { name: 'sneaky' } } }));
    expect(h.broker.listNamespaces()).toEqual(['n']);

    // The connections in place are untouched.
    expect((await a.jsonCall({ action: 'publish', data: { namespace: 'n', topic: 't', payload: 1 } })).status).toBe('ok');
    expect((await b.jsonCall({ action: 'consume', data: { namespace: 'n', topic: 't', queue_id: 0, auto_ack: true } })).data[0].payload).toBe(1);
    expect(h.server.counts?.()).toMatchObject({ connections: 2 });

    // Once one closes, a new connection is served.
    a.close();
    await a.waitClosed();
    let next: RawClient | undefined;
    for (let i = 0; i < 50 && next === undefined; i++) {
      const c = await client();
      const r = await c.jsonCall({ action: 'list_namespaces' });
      if (r.status === 'ok') next = c;
      else await new Promise((res) => setTimeout(res, 20));
    }
    expect(next).toBeDefined();
  });
});

describe('limits.max_subscriptions_per_connection on TCP', () => {
  it('the subscription over the limit is RESOURCE_EXHAUSTED; the connection and its other subscriptions keep working', async () => {
    h = await startHarness({ maxSubscriptionsPerConnection: 2 });
    await h.broker.createNamespace('n');
    await h.broker.createTopic('n', 't', 3);
    const c = await client();
    expect((await c.jsonCall(subscribeCmd(0))).data).toBe('subscribed');
    expect((await c.jsonCall(subscribeCmd(1))).data).toBe('subscribed');
    const over = await c.jsonCall({ ...subscribeCmd(2), request_id: 'third' });
    expect(over).toEqual({
      status: 'error',
      request_id: 'third',
      error:
        'RESOURCE_EXHAUSTED: subscription refused: this TCP connection already holds 2 subscriptions (limits.max_subscriptions_per_connection): close one, open another connection, or raise the limit',
    });
    expect(h.server.counts?.()).toMatchObject({ subscriptions: 2 });
    // Protobuf gets the same refusal.
    c.write(pbFrame({ action: 'subscribe', data: { case: 'subscribe', value: { namespace: 'n', topic: 't', queueId: 2, autoAck: true } } }));
    const pb = await c.pb();
    expect(pb.status).toBe('error');
    expect(pb.error).toMatch(/^RESOURCE_EXHAUSTED: subscription refused: .*limits\.max_subscriptions_per_connection/);

    // The two subscriptions still get their messages; nothing went to queue 2's (refused) subscriber.
    await h.broker.publish('n', 't', Buffer.from('"q0"'), { queueId: 0 });
    await h.broker.publish('n', 't', Buffer.from('"q1"'), { queueId: 1 });
    await h.broker.publish('n', 't', Buffer.from('"q2"'), { queueId: 2 });
    const pushed = [(await c.json()).data.payload, (await c.json()).data.payload].sort();
    expect(pushed).toEqual(['q0', 'q1']);
    // Other commands work on the same connection.
    const consumed = await c.jsonCall({ action: 'consume', data: { namespace: 'n', topic: 't', queue_id: 2, auto_ack: true } });
    expect(consumed.data.map((m: { payload: string }) => m.payload)).toEqual(['q2']);
    // Another connection has its own count.
    const d = await client();
    expect((await d.jsonCall(subscribeCmd(2))).data).toBe('subscribed');
  });
});

describe('existing limits over TCP: a clear error, nothing stored, the connection usable', () => {
  it('max_payload, max_headers, max_batch (consume and publish_batch), max_queues_per_topic, max_namespaces, max_topics_per_namespace', async () => {
    h = await startHarness({
      limits: { maxPayloadBytes: 100, maxHeaders: 2, maxBatch: 3, maxQueuesPerTopic: 4, maxNamespaces: 1, maxTopicsPerNamespace: 1 },
    });
    const c = await client();
    expect((await c.jsonCall({ action: 'create_namespace', data: { name: 'n' } })).status).toBe('ok');
    const cases: [unknown, RegExp][] = [
      [{ action: 'create_namespace', data: { name: 'm' } }, /^RESOURCE_EXHAUSTED: namespace 'm' not created: .*limits\.max_namespaces/],
      [{ action: 'create_topic', data: { namespace: 'n', name: 't', queue_count: 5 } }, /^INVALID_ARGUMENT: queue_count 5 is out of range: use 1\.\.4/],
    ];
    for (const [cmd, error] of cases) {
      const r = await c.jsonCall(cmd);
      expect(r.status).toBe('error');
      expect(r.error).toMatch(error);
    }
    expect((await c.jsonCall({ action: 'create_topic', data: { namespace: 'n', name: 't', queue_count: 4 } })).status).toBe('ok');
    const more: [unknown, RegExp][] = [
      [{ action: 'create_topic', data: { namespace: 'n', name: 'u', queue_count: 1 } }, /^RESOURCE_EXHAUSTED: topic 'u' not created: .*limits\.max_topics_per_namespace/],
      [{ action: 'publish', data: { namespace: 'n', topic: 't', payload: 'x'.repeat(200) } }, /^INVALID_ARGUMENT: payload of 202 bytes is over the limit of 100 bytes \(limits\.max_payload\)/],
      [{ action: 'publish', data: { namespace: 'n', topic: 't', payload: 1, headers: { a: '1', b: '2', c: '3' } } }, /^INVALID_ARGUMENT: 3 headers is over the limit of 2 \(limits\.max_headers\)/],
      [{ action: 'consume', data: { namespace: 'n', topic: 't', queue_id: 0, batch_size: 4 } }, /^INVALID_ARGUMENT: batch_size 4 is out of range: use 1\.\.3 \(limits\.max_batch\)/],
      [
        { action: 'publish_batch', data: { namespace: 'n', topic: 't', entries: [1, 2, 3, 4].map((payload) => ({ payload })) } },
        /^INVALID_ARGUMENT: a batch holds 1\.\.3 messages \(limits\.max_batch\), got 4/,
      ],
      [{ action: 'resize_topic', data: { namespace: 'n', name: 't', new_queue_count: 9 } }, /^INVALID_ARGUMENT: new_queue_count 9 is out of range: use 1\.\.4/],
    ];
    for (const [cmd, error] of more) {
      const r = await c.jsonCall(cmd);
      expect(r.status).toBe('error');
      expect(r.error).toMatch(error);
    }
    // Protobuf: the same refusals.
    c.write(pbFrame({ action: 'publish', data: { case: 'publish', value: { namespace: 'n', topic: 't', payload: new Uint8Array(101) } } }));
    expect((await c.pb()).error).toMatch(/^INVALID_ARGUMENT: payload of 101 bytes is over the limit of 100 bytes \(limits\.max_payload\)/);
    // Nothing was stored, and the connection still works.
    expect(h.broker.stats()).toMatchObject({ namespaces: 1, topics: 1, pending: 0 });
    expect((await c.jsonCall({ action: 'publish', data: { namespace: 'n', topic: 't', payload: 1 } })).status).toBe('ok');
  });

  it('max_inflight_per_subscription bounds what a manual-ack subscription holds; an ack lets the next through', async () => {
    h = await startHarness({ limits: { maxInflightPerSubscription: 2 } });
    await h.broker.createNamespace('n');
    await h.broker.createTopic('n', 't', 1);
    for (let i = 0; i < 5; i++) await h.broker.publish('n', 't', Buffer.from(String(i)));
    const c = await client();
    expect((await c.jsonCall(subscribeCmd(0, false))).data).toBe('subscribed');
    const first = [await c.json(), await c.json()];
    expect(first.map((r) => r.data.payload)).toEqual([0, 1]);
    await expect(c.json(300)).rejects.toThrow(/no frame/);
    expect(h.broker.stats()).toMatchObject({ pending: 3, inflight: 2 });
    c.write(pbFrame({ action: 'ack', data: { case: 'ack', value: { namespace: 'n', topic: 't', queueId: 0, messageIds: [first[0]!.data.id] } } }));
    expect((await c.pb()).status).toBe('ok');
    expect((await c.json()).data.payload).toBe(2);
  });

  it('memory_high_water: publishes are RESOURCE_EXHAUSTED with the reason; consume and ack free memory and publishing resumes', async () => {
    // Room for two 1 KB messages.
    h = await startHarness({ limits: { memoryHighWaterBytes: 2 * (1002 + 352) } });
    await h.broker.createNamespace('n');
    await h.broker.createTopic('n', 't', 1);
    const c = await client();
    const pub = { action: 'publish', data: { namespace: 'n', topic: 't', payload: 'x'.repeat(1000) } };
    expect((await c.jsonCall(pub)).status).toBe('ok');
    expect((await c.jsonCall(pub)).status).toBe('ok');
    const refused = await c.jsonCall(pub);
    expect(refused.error).toMatch(/^RESOURCE_EXHAUSTED: memory high-water mark reached \(.*\): consume and ack messages, or raise limits\.memory_high_water$/);
    c.write(pbFrame({ action: 'publish', data: { case: 'publish', value: { namespace: 'n', topic: 't', payload: new Uint8Array(10) } } }));
    expect((await c.pb()).error).toMatch(/^RESOURCE_EXHAUSTED: memory high-water mark reached/);
    const got = await c.jsonCall({ action: 'consume', data: { namespace: 'n', topic: 't', queue_id: 0, batch_size: 2 } });
    expect(got.data).toHaveLength(2);
    expect((await c.jsonCall({ action: 'ack', data: { namespace: 'n', topic: 't', queue_id: 0, message_ids: got.data.map((m: { id: string }) => m.id) } })).status).toBe('ok');
    expect((await c.jsonCall(pub)).status).toBe('ok');
    expect(h.broker.stats().pending).toBe(1);
  });
});
