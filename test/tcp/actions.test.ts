/**
 * docs/PROTOCOL.md, "TCP framing": every action in both encodings, from a raw
 * socket, with the reply in the encoding of the request.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, RawClient, frame, jsonFrame, pbFrame, startHarness } from './helpers.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});

describe('JSON commands (encoding 0)', () => {
  it('runs every action and answers in JSON', async () => {
    const c = await RawClient.open(h.port);
    expect(await c.jsonCall({ action: 'create_namespace', data: { name: 'j' } })).toEqual({ status: 'ok', data: 'namespace created' });
    expect(await c.jsonCall({ action: 'list_namespaces' })).toEqual({ status: 'ok', data: ['j'] });
    expect(await c.jsonCall({ action: 'create_topic', data: { namespace: 'j', name: 't', queue_count: 2 } })).toEqual({
      status: 'ok',
      data: 'topic created',
    });
    expect(await c.jsonCall({ action: 'list_topics', data: { namespace: 'j' } })).toEqual({
      status: 'ok',
      data: [{ name: 't', queue_count: 2, version: 0, policy: { max_retries: -1, retry_base_ms: 1000, retry_cap_ms: 60000, dedup_window_ms: 3600000, ack_timeout_ms: 0, message_ttl_ms: 0, dead_letter_expired: false }, paused: false }],
    });

    const pub = await c.jsonCall({
      action: 'publish',
      data: { namespace: 'j', topic: 't', payload: { hello: 'world', n: [1, 2] }, headers: { k: 'v' }, queue_id: 1 },
    });
    expect(pub.status).toBe('ok');
    expect(pub.data.queue_id).toBe(1);
    expect(pub.data.message_id).toMatch(/^[0-9a-f-]{36}$/);
    // absent / null / -1 queue_id: automatic routing
    for (const queue_id of [undefined, null, -1]) {
      const r = await c.jsonCall({ action: 'publish', data: { namespace: 'j', topic: 't', payload: 'x', queue_id } });
      expect(r.status).toBe('ok');
    }

    const consumed = await c.jsonCall({ action: 'consume', data: { namespace: 'j', topic: 't', queue_id: 1, batch_size: 10 } });
    expect(consumed.status).toBe('ok');
    const m = consumed.data.find((x: { id: string }) => x.id === pub.data.message_id);
    expect(m).toMatchObject({
      namespace: 'j',
      topic: 't',
      queue_id: 1,
      payload: { hello: 'world', n: [1, 2] },
      headers: { k: 'v' },
      delivery_count: 1,
    });
    expect(typeof m.timestamp).toBe('number');

    const ids = consumed.data.map((x: { id: string }) => x.id);
    expect(await c.jsonCall({ action: 'ack', data: { namespace: 'j', topic: 't', queue_id: 1, message_ids: ids } })).toEqual({
      status: 'ok',
      data: 'messages acknowledged',
    });

    // Go clients encode an empty id list as null
    expect((await c.jsonCall({ action: 'ack', data: { namespace: 'j', topic: 't', queue_id: 1, message_ids: null } })).status).toBe('ok');

    const resized = await c.jsonCall({ action: 'resize_topic', data: { namespace: 'j', name: 't', new_queue_count: 4 } });
    expect(resized).toEqual({ status: 'ok', data: { new_queue_count: 4, version: 1, draining: false } });
    expect(await c.jsonCall({ action: 'rebalance_topic', data: { namespace: 'j', name: 't' } })).toEqual({
      status: 'ok',
      data: 'topic rebalanced',
    });
    expect(await c.jsonCall({ action: 'delete_topic', data: { namespace: 'j', name: 't' } })).toEqual({ status: 'ok', data: 'topic deleted' });
    expect(await c.jsonCall({ action: 'delete_namespace', data: { name: 'j' } })).toEqual({ status: 'ok', data: 'namespace deleted' });
    c.close();
  });

  it('answers publish with exactly the JSON of docs/PROTOCOL.md', async () => {
    const c = await RawClient.open(h.port);
    await c.jsonCall({ action: 'create_namespace', data: { name: 'jx' } });
    await c.jsonCall({ action: 'create_topic', data: { namespace: 'jx', name: 't', queue_count: 12 } });
    c.write(jsonFrame({ action: 'publish', data: { namespace: 'jx', topic: 't', payload: 1, queue_id: 11 } }));
    expect((await c.next()).body.toString()).toMatch(/^\{"status":"ok","data":\{"message_id":"[0-9a-f-]{36}","queue_id":11\}\}$/);
    c.write(jsonFrame({ action: 'publish', request_id: 'x', data: { namespace: 'jx', topic: 't', payload: 1, queue_id: 0 } }));
    expect((await c.next()).body.toString()).toMatch(/^\{"status":"ok","request_id":"x","data":\{"message_id":"[0-9a-f-]{36}","queue_id":0\}\}$/);
    c.close();
  });

  it('shows bytes that are not JSON as base64 with payload_encoding', async () => {
    const c = await RawClient.open(h.port);
    await c.jsonCall({ action: 'create_namespace', data: { name: 'jb' } });
    await c.jsonCall({ action: 'create_topic', data: { namespace: 'jb', name: 't', queue_count: 1 } });
    // published as protobuf bytes, read back as JSON
    await c.pbCall({ action: 'publish', data: { case: 'publish', value: { namespace: 'jb', topic: 't', payload: new Uint8Array([0xff, 0, 1]) } } });
    const r = await c.jsonCall({ action: 'consume', data: { namespace: 'jb', topic: 't', queue_id: 0, auto_ack: true } });
    expect(r.data[0].payload).toBe(Buffer.from([0xff, 0, 1]).toString('base64'));
    expect(r.data[0].payload_encoding).toBe('base64');
    c.close();
  });

  it('echoes request_id, and answers broker errors with the code first', async () => {
    const c = await RawClient.open(h.port);
    expect(await c.jsonCall({ action: 'list_namespaces', request_id: 'r1' })).toMatchObject({ status: 'ok', request_id: 'r1' });
    const e = await c.jsonCall({ action: 'list_topics', request_id: 'r2', data: { namespace: 'nope' } });
    expect(e).toEqual({ status: 'error', request_id: 'r2', error: "NOT_FOUND: namespace 'nope' not found" });
    const dup = await c.jsonCall({ action: 'create_namespace', data: { name: 'dup' } });
    expect(dup.status).toBe('ok');
    expect((await c.jsonCall({ action: 'create_namespace', data: { name: 'dup' } })).error).toMatch(/^ALREADY_EXISTS: /);
    expect((await c.jsonCall({ action: 'create_namespace', data: { name: 'bad name!' } })).error).toMatch(/^INVALID_ARGUMENT: /);
    c.close();
  });
});

describe('protobuf commands (encoding 1)', () => {
  it('runs every action and answers in protobuf', async () => {
    const c = await RawClient.open(h.port);
    let r = await c.pbCall({ action: 'create_namespace', data: { case: 'createNamespace', value: { name: 'p' } } });
    expect(r.status).toBe('ok');
    expect(r.data).toMatchObject({ case: 'createNamespaceResponse', value: { success: true, message: 'namespace created' } });

    r = await c.pbCall({ action: 'list_namespaces', data: { case: 'listNamespaces', value: {} } });
    expect(r.data.case).toBe('listNamespacesResponse');
    expect(r.data.case === 'listNamespacesResponse' && r.data.value.namespaces).toContain('p');

    r = await c.pbCall({ action: 'create_topic', data: { case: 'createTopic', value: { namespace: 'p', name: 't', queueCount: 3 } } });
    expect(r.data).toMatchObject({ case: 'createTopicResponse', value: { success: true } });

    r = await c.pbCall({ action: 'list_topics', data: { case: 'listTopics', value: { namespace: 'p' } } });
    expect(r.data.case === 'listTopicsResponse' && r.data.value.topics.map((t) => ({ ...t }))).toEqual([
      expect.objectContaining({ name: 't', queueCount: 3, version: 0n }),
    ]);

    const payload = new Uint8Array([0, 1, 2, 255]);
    r = await c.pbCall({
      action: 'publish',
      data: { case: 'publish', value: { namespace: 'p', topic: 't', payload, headers: { a: 'b', e: '' }, queueId: 2 } },
    });
    expect(r.data.case).toBe('publishResponse');
    const published = r.data.case === 'publishResponse' ? r.data.value : undefined;
    expect(published?.queueId).toBe(2);
    expect(published?.messageId).toMatch(/^[0-9a-f-]{36}$/);

    // routing_key: stable queue
    const keyed = new Set<number>();
    for (let i = 0; i < 5; i++) {
      const k = await c.pbCall({ action: 'publish', data: { case: 'publish', value: { namespace: 'p', topic: 't', payload, routingKey: 'key-1' } } });
      if (k.data.case === 'publishResponse') keyed.add(k.data.value.queueId);
    }
    expect(keyed.size).toBe(1);

    r = await c.pbCall({ action: 'consume', data: { case: 'consume', value: { namespace: 'p', topic: 't', queueId: 2, batchSize: 1 } } });
    expect(r.data.case).toBe('consumeResponse');
    const msgs = r.data.case === 'consumeResponse' ? r.data.value.messages : [];
    expect(msgs).toHaveLength(1);
    expect(msgs[0]).toMatchObject({ id: published!.messageId, namespace: 'p', topic: 't', queueId: 2, headers: { a: 'b', e: '' }, deliveryCount: 1 });
    expect(Buffer.from(msgs[0]!.payload)).toEqual(Buffer.from(payload));
    const nowNs = BigInt(Date.now()) * 1_000_000n;
    expect(msgs[0]!.timestamp > nowNs - 60_000_000_000n && msgs[0]!.timestamp <= nowNs + 1_000_000_000n).toBe(true);

    r = await c.pbCall({ action: 'ack', data: { case: 'ack', value: { namespace: 'p', topic: 't', queueId: 2, messageIds: [msgs[0]!.id] } } });
    expect(r.data).toMatchObject({ case: 'ackResponse', value: { success: true } });

    r = await c.pbCall({ action: 'resize_topic', data: { case: 'resizeTopic', value: { namespace: 'p', name: 't', newQueueCount: 5 } } });
    expect(r.data).toMatchObject({ case: 'resizeTopicResponse', value: { success: true, newQueueCount: 5, version: 1n, draining: false } });

    r = await c.pbCall({ action: 'rebalance_topic', data: { case: 'rebalanceTopic', value: { namespace: 'p', name: 't' } } });
    expect(r.data).toMatchObject({ case: 'rebalanceTopicResponse', value: { success: true } });

    r = await c.pbCall({ action: 'delete_topic', data: { case: 'deleteTopic', value: { namespace: 'p', name: 't' } } });
    expect(r.data).toMatchObject({ case: 'deleteTopicResponse', value: { success: true } });
    r = await c.pbCall({ action: 'delete_namespace', data: { case: 'deleteNamespace', value: { name: 'p' } } });
    expect(r.data).toMatchObject({ case: 'deleteNamespaceResponse', value: { success: true } });
    c.close();
  });

  it('reports a draining resize, and FAILED_PRECONDITION for a rebalance during it', async () => {
    const c = await RawClient.open(h.port);
    await c.pbCall({ action: 'create_namespace', data: { case: 'createNamespace', value: { name: 'pd' } } });
    await c.pbCall({ action: 'create_topic', data: { case: 'createTopic', value: { namespace: 'pd', name: 't', queueCount: 4 } } });
    await c.pbCall({ action: 'publish', data: { case: 'publish', value: { namespace: 'pd', topic: 't', payload: new Uint8Array([1]), queueId: 3 } } });
    const r = await c.pbCall({ action: 'resize_topic', data: { case: 'resizeTopic', value: { namespace: 'pd', name: 't', newQueueCount: 2 } } });
    expect(r.data).toMatchObject({ case: 'resizeTopicResponse', value: { success: true, newQueueCount: 2, draining: true } });
    const j = await c.jsonCall({ action: 'rebalance_topic', data: { namespace: 'pd', name: 't' } });
    expect(j.error).toMatch(/^FAILED_PRECONDITION: /);
    const e = await c.pbCall({ action: 'rebalance_topic', data: { case: 'rebalanceTopic', value: { namespace: 'pd', name: 't' } } });
    expect(e.status).toBe('error');
    expect(e.error).toMatch(/^FAILED_PRECONDITION: topic 'pd\/t' is draining/);
    await h.broker.deleteNamespace('pd');
    c.close();
  });

  it('takes the action from the data case when action is empty, and echoes request_id', async () => {
    const c = await RawClient.open(h.port);
    const r = await c.pbCall({ requestId: 'x-1', data: { case: 'createNamespace', value: { name: 'pinfer' } } });
    expect(r).toMatchObject({ status: 'ok', requestId: 'x-1', data: { case: 'createNamespaceResponse' } });
    const e = await c.pbCall({ action: 'list_topics', requestId: 'x-2', data: { case: 'listTopics', value: { namespace: 'missing' } } });
    expect(e).toMatchObject({ status: 'error', requestId: 'x-2', error: "NOT_FOUND: namespace 'missing' not found" });
    expect(e.data.case).toBeUndefined();
    c.close();
  });

  it('publish queue_id: absent or -1 routes automatically, an explicit queue is kept', async () => {
    const c = await RawClient.open(h.port);
    await c.pbCall({ action: 'create_namespace', data: { case: 'createNamespace', value: { name: 'pq' } } });
    await c.pbCall({ action: 'create_topic', data: { case: 'createTopic', value: { namespace: 'pq', name: 't', queueCount: 4 } } });
    const queues: number[] = [];
    for (const queueId of [undefined, -1, undefined, -1]) {
      const r = await c.pbCall({ action: 'publish', data: { case: 'publish', value: { namespace: 'pq', topic: 't', payload: new Uint8Array([1]), queueId } } });
      if (r.data.case === 'publishResponse') queues.push(r.data.value.queueId);
    }
    expect(new Set(queues).size).toBe(4); // round-robin over the 4 queues
    const r = await c.pbCall({ action: 'publish', data: { case: 'publish', value: { namespace: 'pq', topic: 't', payload: new Uint8Array([1]), queueId: 0 } } });
    expect(r.data.case === 'publishResponse' && r.data.value.queueId).toBe(0);
    c.close();
  });
});

describe('mixed encodings on one connection', () => {
  it('answers each frame in its own encoding, in order', async () => {
    const c = await RawClient.open(h.port);
    c.write(
      Buffer.concat([
        jsonFrame({ action: 'list_namespaces' }),
        pbFrame({ action: 'list_namespaces' }),
        frame(0, '{"action":"list_namespaces"}'),
      ]),
    );
    expect((await c.next()).encoding).toBe(0);
    expect((await c.next()).encoding).toBe(1);
    expect((await c.next()).encoding).toBe(0);
    c.close();
  });
});

describe('the worked byte-level examples of src/server/tcp/README.md', () => {
  const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

  it('JSON create_namespace', async () => {
    const c = await RawClient.open(h.port);
    const body = '{"action":"create_namespace","data":{"name":"orders"}}';
    c.write(Buffer.concat([hex('00 00 00 37 00'), Buffer.from(body)]));
    const f = await c.next();
    expect(f.encoding).toBe(0);
    expect(f.body.length + 1).toBe(0x2b);
    expect(f.body.toString()).toBe('{"status":"ok","data":"namespace created"}');
    await h.broker.deleteNamespace('orders');
    c.close();
  });

  it('protobuf create_namespace', async () => {
    const c = await RawClient.open(h.port);
    c.write(hex('00 00 00 1d 01  0a 10 63 72 65 61 74 65 5f 6e 61 6d 65 73 70 61 63 65  52 08 0a 06 6f 72 64 65 72 73'));
    const f = await c.next();
    expect(f.encoding).toBe(1);
    expect(f.body).toEqual(hex('0a 02 6f 6b  52 15 08 01 12 11 6e 61 6d 65 73 70 61 63 65 20 63 72 65 61 74 65 64'));
    expect(f.body.length + 1).toBe(0x1c);
    await h.broker.deleteNamespace('orders');
    c.close();
  });
});
