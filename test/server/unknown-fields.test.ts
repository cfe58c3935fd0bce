/**
 * An unknown field in a JSON request is refused (docs/PROTOCOL.md, "Unknown
 * fields"), naming the field, what it looks like, and the fields there are;
 * nothing is done. Over HTTP bodies and TCP JSON commands, with a raw
 * socket and real HTTP requests; protobuf requests keep ignoring unknown
 * fields as protobuf requires.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker } from '../cli/harness.js';
import { RawClient } from '../tcp/helpers.js';

let running: Awaited<ReturnType<typeof startBroker>>;
let tcp: RawClient;
const base = (): string => `http://127.0.0.1:${running.ports.http}/v1/namespaces/shop/topics/orders`;

async function post(path: string, body: unknown): Promise<{ status: number; json: { success: boolean; message?: string; data?: unknown } }> {
  const res = await fetch(`${base()}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as { success: boolean; message?: string } };
}

beforeAll(async () => {
  running = await startBroker();
  await running.broker.createNamespace('shop');
  await running.broker.createTopic('shop', 'orders', 4);
  tcp = await RawClient.open(running.ports.tcp);
});
afterAll(async () => {
  tcp.socket.destroy();
  await running.stop();
});

const published = (): number => running.broker.topicStats('shop', 'orders').published;

describe('HTTP bodies', () => {
  it('a misspelt queue_id is refused with 400, naming it and the fields; nothing is published', async () => {
    const r = await post('/publish', { payload: { a: 1 }, queueid: 3 });
    expect(r.status).toBe(400);
    expect(r.json.success).toBe(false);
    expect(r.json.message).toContain('unknown field "queueid" (did you mean "queue_id"?)');
    expect(r.json.message).toContain('the fields are namespace, topic, payload, headers, routing_key, queue_id');
    expect(published()).toBe(0);
  });

  it('a misspelt batch_size on consume is refused; nothing is consumed', async () => {
    await running.broker.publish('shop', 'orders', Buffer.from('"x"'), { queueId: 0 });
    const r = await post('/queues/0/consume', { batchsize: 5 });
    expect(r.status).toBe(400);
    expect(r.json.message).toContain('unknown field "batchsize" (did you mean "batch_size"?)');
    const stats = running.broker.topicStats('shop', 'orders');
    expect(stats.pending).toBe(1);
    expect(stats.inFlight).toBe(0);
    // The same request spelt right consumes it.
    const ok = await post('/queues/0/consume', { batch_size: 5, auto_ack: true });
    expect(ok.status).toBe(200);
    expect(ok.json.data).toHaveLength(1);
  });

  it('an unknown field in a batch entry names the entry; an atomic or partial batch publishes nothing', async () => {
    const before = published();
    const r = await post('/publish-batch', { entries: [{ payload: 1 }, { payload: 2, delayMs: 5 }] });
    expect(r.status).toBe(400);
    expect(r.json.message).toContain('entries[1]: unknown field "delayMs" (did you mean "delay_ms"?)');
    expect(published()).toBe(before);
  });

  it('a field with no look-alike is named with the fields there are', async () => {
    const r = await post('/publish', { payload: 1, priority: 9 });
    expect(r.status).toBe(400);
    expect(r.json.message).toMatch(/^unknown field "priority": the fields are /);
  });
});

describe('TCP JSON commands', () => {
  it('a misspelt queue_id is refused naming it; nothing is published; the connection goes on', async () => {
    const before = published();
    const r = await tcp.jsonCall({ action: 'publish', request_id: 'p1', data: { namespace: 'shop', topic: 'orders', payload: 1, queueid: 3 } });
    expect(r.status).toBe('error');
    expect(r.request_id).toBe('p1');
    expect(r.error).toContain('unknown field data.queueid (did you mean queue_id?)');
    expect(published()).toBe(before);
    const ok = await tcp.jsonCall({ action: 'publish', data: { namespace: 'shop', topic: 'orders', payload: 1, queue_id: 3 } });
    expect(ok).toMatchObject({ status: 'ok', data: { queue_id: 3 } });
  });

  it('consume with batchsize is refused, nothing consumed', async () => {
    const pending = running.broker.topicStats('shop', 'orders').pending;
    const r = await tcp.jsonCall({ action: 'consume', data: { namespace: 'shop', topic: 'orders', queue_id: 3, batchsize: 5 } });
    expect(r.status).toBe('error');
    expect(r.error).toContain('unknown field data.batchsize (did you mean batch_size?)');
    expect(running.broker.topicStats('shop', 'orders').pending).toBe(pending);
  });

  it('fields beside data (action, request_id) are the envelope, not refused', async () => {
    const r = await tcp.jsonCall({ action: 'list_namespaces', request_id: 'l1' });
    expect(r).toMatchObject({ status: 'ok', request_id: 'l1', data: ['shop'] });
  });
});

describe('payload_encoding on publish (docs/PROTOCOL.md, "JSON surfaces")', () => {
  it('base64 stores the exact bytes over HTTP and TCP JSON, binary too', async () => {
    await running.broker.createTopic('shop', 'bytes', 1);
    const bytes = Buffer.from([0x7b, 0x20, 0x0a, 0x00, 0xff]);
    const h = await fetch(`http://127.0.0.1:${running.ports.http}/v1/namespaces/shop/topics/bytes/publish`, {
      method: 'POST',
      body: JSON.stringify({ payload: bytes.toString('base64'), payload_encoding: 'base64' }),
    });
    expect(h.status).toBe(200);
    const t = await tcp.jsonCall({ action: 'publish', data: { namespace: 'shop', topic: 'bytes', payload: bytes.toString('base64'), payload_encoding: 'base64' } });
    expect(t.status).toBe('ok');
    const got = await running.broker.consume('shop', 'bytes', 0, 10, true);
    expect(got.map((m) => Buffer.from(m.payload))).toEqual([bytes, bytes]);
  });

  it('an encoding other than base64, or a payload that is not base64, is refused; nothing is published', async () => {
    const before = published();
    const a = await post('/publish', { payload: 'aGk=', payload_encoding: 'hex' });
    expect(a.status).toBe(400);
    expect(a.json.message).toContain("payload_encoding \"hex\" is invalid: use 'base64'");
    const b = await post('/publish', { payload: 'not base64!', payload_encoding: 'base64' });
    expect(b.status).toBe(400);
    expect(b.json.message).toContain('field "payload" must be a base64 string');
    const c = await tcp.jsonCall({ action: 'publish', data: { namespace: 'shop', topic: 'orders', payload: { a: 1 }, payload_encoding: 'base64' } });
    expect(c.error).toContain('field data.payload must be a base64 string');
    expect(published()).toBe(before);
  });
});
