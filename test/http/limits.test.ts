/**
 * Limits on the HTTP front (docs/PROTOCOL.md, "Limits"): limits.max_connections (503 with the
 * envelope and `Connection: close`; an SSE stream is a connection), Node's
 * request-header limit (a clean 431), and the core's limits as 429
 * (docs/PROTOCOL.md, "HTTP (REST + SSE)": 429 for limits). Nothing refused is stored, and the
 * connections in place keep working.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type Harness, RawConnection, rawSubscribe, req, startHarness } from './harness.js';

let h: Harness | undefined;
const conns: RawConnection[] = [];
afterEach(async () => {
  for (const c of conns.splice(0)) c.destroy();
  await h?.stop();
  h = undefined;
});
async function raw(): Promise<RawConnection> {
  const c = await RawConnection.open(h!.port);
  conns.push(c);
  return c;
}
const get = (path: string) => `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`;
const post = (path: string, body: unknown) => {
  const text = JSON.stringify(body);
  return `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`;
};
const LIMIT_MESSAGE =
  'connection refused: the HTTP front already holds 2 connections (limits.max_connections): close idle connections, retry later, or raise the limit';

describe('limits.max_connections on HTTP', () => {
  it('a connection over the limit gets 503 with the envelope and Connection: close; the request is not run; the others keep working', async () => {
    h = await startHarness({ maxConnections: 2 });
    await h.broker.createNamespace('n');
    await h.broker.createTopic('n', 't', 1);
    const a = await raw();
    const b = await raw();
    for (const c of [a, b]) {
      c.send(get('/health'));
      await c.untilResponse((r) => r.body.includes('ok'));
    }
    expect(h.front.connections).toBe(2);

    const over = await raw();
    over.send(post('/v1/namespaces/n/topics/t/publish', { payload: 1 }));
    const r = await over.untilResponse((x) => x.body.endsWith('}'));
    expect(r.head).toMatch(/^HTTP\/1\.1 503 /);
    expect(r.head).toMatch(/^connection: close$/im);
    expect(r.head).toMatch(/^x-request-id: \S+$/im);
    expect(JSON.parse(r.body)).toEqual({ success: false, message: LIMIT_MESSAGE });
    await until(() => over.closed);
    expect(h.broker.stats().pending).toBe(0);

    // The connections in place are served as before, keep-alive.
    a.send(post('/v1/namespaces/n/topics/t/publish', { payload: 2 }));
    await a.until((t) => t.includes('message_id'));
    expect(h.broker.stats().pending).toBe(1);
    expect(h.front.connections).toBe(2);

    // Once one closes, a new connection is served.
    b.destroy();
    await until(() => h!.front.connections === 1);
    expect((await req(h.base, 'GET', '/v1/namespaces')).json.data).toEqual(['n']);
  });

  it('an SSE stream holds its connection: at the limit a new request is refused until the stream ends', async () => {
    h = await startHarness({ maxConnections: 1 });
    await h.broker.createNamespace('n');
    await h.broker.createTopic('n', 't', 1);
    const sse = await rawSubscribe(h.port, '/v1/namespaces/n/topics/t/queues/0/subscribe?auto_ack=true');
    conns.push(sse);
    const refused = await req(h.base, 'GET', '/v1/namespaces');
    expect(refused.status).toBe(503);
    expect(refused.json.message).toMatch(/the HTTP front already holds 1 connections \(limits\.max_connections\)/);
    // The stream still gets its messages.
    await h.broker.publish('n', 't', Buffer.from('{"k":1}'));
    await sse.until((t) => t.includes('"payload":{"k":1}'));
    sse.destroy();
    await until(() => h!.front.connections === 0);
    expect((await req(h.base, 'GET', '/v1/namespaces')).status).toBe(200);
  });
});

describe("request headers over Node's limit (maxHeaderSize, 16 KiB)", () => {
  it('answers a clean 431 with the envelope and closes; the server keeps serving', async () => {
    h = await startHarness();
    await h.broker.createNamespace('n');
    await h.broker.createTopic('n', 't', 1);
    const c = await raw();
    c.send(`POST /v1/namespaces/n/topics/t/publish HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\nContent-Length: 13\r\n\r\n{"payload":1}`);
    const r = await c.untilResponse((x) => x.body.endsWith('}'));
    expect(r.head).toMatch(/^HTTP\/1\.1 431 Request Header Fields Too Large/);
    expect(r.head).toMatch(/^connection: close$/im);
    expect(JSON.parse(r.body)).toEqual({ success: false, message: 'request headers are too large' });
    await until(() => c.closed);
    expect(h.broker.stats().pending).toBe(0);
    expect((await req(h.base, 'POST', '/v1/namespaces/n/topics/t/publish', { payload: 1 })).status).toBe(200);
  });
});

describe('core limits over HTTP: 429 with the reason, nothing stored', () => {
  it('max_namespaces, max_topics_per_namespace', async () => {
    h = await startHarness({ broker: { limits: { maxNamespaces: 1, maxTopicsPerNamespace: 1 } } });
    expect((await req(h.base, 'POST', '/v1/namespaces', { name: 'a' })).status).toBe(201);
    const ns = await req(h.base, 'POST', '/v1/namespaces', { name: 'b' });
    expect(ns.status).toBe(429);
    expect(ns.json).toEqual({ success: false, message: expect.stringMatching(/namespace 'b' not created: .*limits\.max_namespaces/) });
    expect((await req(h.base, 'POST', '/v1/namespaces/a/topics', { name: 't', queue_count: 1 })).status).toBe(201);
    const topic = await req(h.base, 'POST', '/v1/namespaces/a/topics', { name: 'u', queue_count: 1 });
    expect(topic.status).toBe(429);
    expect(topic.json.message).toMatch(/limits\.max_topics_per_namespace/);
    expect(h.broker.stats()).toMatchObject({ namespaces: 1, topics: 1 });
  });

  it('max_batch and max_queues_per_topic are 400 naming the limit; nothing stored', async () => {
    h = await startHarness({ broker: { limits: { maxBatch: 3, maxQueuesPerTopic: 4 } } });
    await h.broker.createNamespace('n');
    const topic = await req(h.base, 'POST', '/v1/namespaces/n/topics', { name: 't', queue_count: 5 });
    expect(topic.status).toBe(400);
    expect(topic.json.message).toBe('queue_count 5 is out of range: use 1..4');
    await h.broker.createTopic('n', 't', 4);
    const resize = await req(h.base, 'PUT', '/v1/namespaces/n/topics/t/resize', { new_queue_count: 9 });
    expect(resize.status).toBe(400);
    expect(resize.json.message).toBe('new_queue_count 9 is out of range: use 1..4');
    const consume = await req(h.base, 'POST', '/v1/namespaces/n/topics/t/queues/0/consume', { batch_size: 4 });
    expect(consume.status).toBe(400);
    expect(consume.json.message).toBe('batch_size 4 is out of range: use 1..3 (limits.max_batch)');
    const batch = await req(h.base, 'POST', '/v1/namespaces/n/topics/t/publish-batch', { entries: [1, 2, 3, 4].map((payload) => ({ payload })) });
    expect(batch.status).toBe(400);
    expect(batch.json.message).toMatch(/a batch holds 1\.\.3 messages \(limits\.max_batch\), got 4/);
    expect(h.broker.stats().pending).toBe(0);
    expect(h.broker.listTopics('n')[0]!.queueCount).toBe(4);
  });

  it('memory_high_water: publish and publish-batch are 429; consume and ack work and publishing resumes', async () => {
    h = await startHarness({ broker: { limits: { memoryHighWaterBytes: 2 * (1002 + 352) } } });
    await h.broker.createNamespace('n');
    await h.broker.createTopic('n', 't', 1);
    const base = '/v1/namespaces/n/topics/t';
    const body = { payload: 'x'.repeat(1000) };
    expect((await req(h.base, 'POST', `${base}/publish`, body)).status).toBe(200);
    expect((await req(h.base, 'POST', `${base}/publish`, body)).status).toBe(200);
    const refused = await req(h.base, 'POST', `${base}/publish`, body);
    expect(refused.status).toBe(429);
    expect(refused.json.message).toMatch(/^memory high-water mark reached \(.*\): consume and ack messages, or raise limits\.memory_high_water$/);
    expect((await req(h.base, 'POST', `${base}/publish-batch`, { entries: [{ payload: 1 }] })).status).toBe(429);
    const got = await req(h.base, 'POST', `${base}/queues/0/consume`, { batch_size: 2 });
    expect(got.json.data).toHaveLength(2);
    expect((await req(h.base, 'POST', `${base}/queues/0/ack`, { message_ids: got.json.data.map((m: { id: string }) => m.id) })).status).toBe(200);
    expect((await req(h.base, 'POST', `${base}/publish`, body)).status).toBe(200);
    expect(h.broker.stats().pending).toBe(1);
    const metrics = await fetch(`${h.base}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/^mqlite_memory_accounted_messages 1$/m);
    expect(metrics).toMatch(/^mqlite_memory_accounted_bytes 1354$/m);
    expect(metrics).toMatch(/^mqlite_memory_high_water_bytes 2708$/m);
    expect(metrics).toMatch(/^mqlite_memory_publishes_refused 0$/m);
  });
});

async function until(probe: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
