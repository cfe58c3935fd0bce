/**
 * Every route of docs/PROTOCOL.md "HTTP (REST + SSE)", over a real port: its success reply
 * in the `{success, message?, data?}` envelope with the listed status, and
 * its error cases (400 with the reason, 404, 409, 413, 503).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chunkedRequest, type Harness, RawConnection, req, startHarness } from './harness.js';

let h: Harness;
const get = (path: string, headers?: Record<string, string>) => req(h.base, 'GET', path, undefined, headers);
const post = (path: string, body?: unknown) => req(h.base, 'POST', path, body);

beforeAll(async () => {
  h = await startHarness({ maxBodyBytes: 64 * 1024 });
});
afterAll(async () => {
  await h.stop();
});

describe('GET /health', () => {
  it('answers {"status":"ok"}', async () => {
    const r = await get('/health');
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ status: 'ok' });
    expect(r.headers.get('content-type')).toMatch(/application\/json/);
  });
});

describe('X-Request-ID', () => {
  it('is echoed when the client sends one', async () => {
    const r = await get('/v1/namespaces', { 'x-request-id': 'abc-123' });
    expect(r.headers.get('x-request-id')).toBe('abc-123');
  });
  it('is generated otherwise, on successes and errors alike', async () => {
    const ok = await get('/v1/namespaces');
    const bad = await get('/v1/namespaces/nope/topics');
    const unknownRoute = await get('/v2/whatever');
    for (const r of [ok, bad, unknownRoute]) expect(r.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(ok.headers.get('x-request-id')).not.toBe(bad.headers.get('x-request-id'));
  });
});

describe('namespaces', () => {
  it('POST creates (201), GET lists, DELETE deletes (200)', async () => {
    const c = await post('/v1/namespaces', { name: 'ns-a' });
    expect(c.status).toBe(201);
    expect(c.json).toEqual({ success: true, message: 'namespace created' });
    const l = await get('/v1/namespaces');
    expect(l.status).toBe(200);
    expect(l.json.success).toBe(true);
    expect(l.json.data).toContain('ns-a');
    const d = await req(h.base, 'DELETE', '/v1/namespaces/ns-a');
    expect(d.status).toBe(200);
    expect(d.json).toEqual({ success: true, message: 'namespace deleted' });
    expect((await get('/v1/namespaces')).json.data).not.toContain('ns-a');
  });

  it('409 when it already exists, and the first one is kept', async () => {
    await post('/v1/namespaces', { name: 'dup' });
    await h.broker.createTopic('dup', 't', 1);
    const r = await post('/v1/namespaces', { name: 'dup' });
    expect(r.status).toBe(409);
    expect(r.json.success).toBe(false);
    expect(r.json.message).toMatch(/already exists/);
    expect(h.broker.listTopics('dup').map((t) => t.name)).toEqual(['t']);
  });

  it('400 with the reason for a bad name, a missing name, a wrong type, bad JSON', async () => {
    const badName = await post('/v1/namespaces', { name: 'has space' });
    expect(badName.status).toBe(400);
    expect(badName.json.success).toBe(false);
    expect(badName.json.message).toMatch(/name/i);
    const missing = await post('/v1/namespaces', {});
    expect(missing.status).toBe(400);
    expect(missing.json.message).toBe('field "name" is required (a string)');
    const wrongType = await post('/v1/namespaces', { name: 42 });
    expect(wrongType.status).toBe(400);
    expect(wrongType.json.message).toBe('field "name" must be a string');
    const notJson = await post('/v1/namespaces', '{"name": ');
    expect(notJson.status).toBe(400);
    expect(notJson.json.message).toMatch(/not valid JSON/);
    const notObject = await post('/v1/namespaces', '["x"]');
    expect(notObject.status).toBe(400);
    expect(notObject.json.message).toBe('request body must be a JSON object');
    const empty = await post('/v1/namespaces', '');
    expect(empty.status).toBe(400);
    expect(empty.json.message).toMatch(/body is required/);
    expect(h.broker.listNamespaces()).not.toContain('has space');
  });

  it('accepts a body sent without a JSON content type (curl -d)', async () => {
    const r = await req(h.base, 'POST', '/v1/namespaces', '{"name":"form-ct"}', { 'content-type': 'application/x-www-form-urlencoded' });
    expect(r.status).toBe(201);
  });

  it('404 when deleting an unknown namespace', async () => {
    const r = await req(h.base, 'DELETE', '/v1/namespaces/ghost');
    expect(r.status).toBe(404);
    expect(r.json).toMatchObject({ success: false, message: expect.stringMatching(/not found/) });
  });
});

describe('topics', () => {
  beforeAll(async () => {
    await h.broker.createNamespace('tp');
  });

  it('POST creates (201), GET lists with queue_count, version and policy, DELETE deletes', async () => {
    const c = await post('/v1/namespaces/tp/topics', { name: 'orders', queue_count: 3 });
    expect(c.status).toBe(201);
    expect(c.json).toEqual({ success: true, message: 'topic created' });
    const l = await get('/v1/namespaces/tp/topics');
    expect(l.status).toBe(200);
    expect(l.json.data).toContainEqual({
      name: 'orders',
      queue_count: 3,
      version: 0,
      policy: { max_retries: -1, retry_base_ms: 1000, retry_cap_ms: 60_000, dedup_window_ms: 3_600_000, ack_timeout_ms: 0, message_ttl_ms: 0, dead_letter_expired: false },
      paused: false,
    });
    const d = await req(h.base, 'DELETE', '/v1/namespaces/tp/topics/orders');
    expect(d.status).toBe(200);
    expect(d.json).toEqual({ success: true, message: 'topic deleted' });
    expect((await get('/v1/namespaces/tp/topics')).json.data).toEqual([]);
  });

  it('errors: 404 namespace, 409 duplicate, 400 queue_count', async () => {
    expect((await post('/v1/namespaces/ghost/topics', { name: 'x', queue_count: 1 })).status).toBe(404);
    expect((await get('/v1/namespaces/ghost/topics')).status).toBe(404);
    await post('/v1/namespaces/tp/topics', { name: 'dup', queue_count: 1 });
    const dup = await post('/v1/namespaces/tp/topics', { name: 'dup', queue_count: 5 });
    expect(dup.status).toBe(409);
    expect(h.broker.listTopics('tp').find((t) => t.name === 'dup')?.queueCount).toBe(1);
    const zero = await post('/v1/namespaces/tp/topics', { name: 'z', queue_count: 0 });
    expect(zero.status).toBe(400);
    expect(zero.json.message).toMatch(/queue_count/);
    const missing = await post('/v1/namespaces/tp/topics', { name: 'z' });
    expect(missing.status).toBe(400);
    expect(missing.json.message).toBe('field "queue_count" is required (an integer)');
    const frac = await post('/v1/namespaces/tp/topics', { name: 'z', queue_count: 1.5 });
    expect(frac.status).toBe(400);
    expect(frac.json.message).toBe('field "queue_count" must be an integer');
    expect(h.broker.listTopics('tp').map((t) => t.name)).not.toContain('z');
    expect((await req(h.base, 'DELETE', '/v1/namespaces/tp/topics/ghost')).status).toBe(404);
  });

  it('PUT resize answers new_queue_count, version, draining; errors 400/404', async () => {
    await h.broker.createTopic('tp', 'grow', 1);
    const r = await req(h.base, 'PUT', '/v1/namespaces/tp/topics/grow/resize', { new_queue_count: 4 });
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ success: true, data: { new_queue_count: 4, version: 1, draining: false } });
    expect(h.broker.listTopics('tp').find((t) => t.name === 'grow')).toMatchObject({ queueCount: 4, version: 1n });
    const bad = await req(h.base, 'PUT', '/v1/namespaces/tp/topics/grow/resize', { new_queue_count: 0 });
    expect(bad.status).toBe(400);
    const missing = await req(h.base, 'PUT', '/v1/namespaces/tp/topics/grow/resize', {});
    expect(missing.status).toBe(400);
    expect(missing.json.message).toMatch(/new_queue_count/);
    expect((await req(h.base, 'PUT', '/v1/namespaces/tp/topics/ghost/resize', { new_queue_count: 2 })).status).toBe(404);
    expect(h.broker.listTopics('tp').find((t) => t.name === 'grow')?.queueCount).toBe(4);
  });

  it('POST /v1/admin/aof/rewrite without persistence answers 409 naming the reason', async () => {
    const r = await post('/v1/admin/aof/rewrite');
    expect(r.status).toBe(409);
    expect(r.json).toMatchObject({ success: false, message: expect.stringContaining('persistence is disabled') });
  });

  it('POST rebalance answers 200; 404 unknown; 409 while draining', async () => {
    await h.broker.createTopic('tp', 'bal', 2);
    const r = await post('/v1/namespaces/tp/topics/bal/rebalance');
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ success: true, message: 'topic rebalanced' });
    expect((await post('/v1/namespaces/tp/topics/ghost/rebalance')).status).toBe(404);
    // Shrinking with pending messages on the tail queue leaves the topic draining.
    await h.broker.createTopic('tp', 'drain', 2);
    await h.broker.publish('tp', 'drain', Buffer.from('1'), { queueId: 1 });
    const shrink = await req(h.base, 'PUT', '/v1/namespaces/tp/topics/drain/resize', { new_queue_count: 1 });
    expect(shrink.json.data.draining).toBe(true);
    const busy = await post('/v1/namespaces/tp/topics/drain/rebalance');
    expect(busy.status).toBe(409);
    expect(busy.json.success).toBe(false);
  });
});

describe('publish, consume, ack', () => {
  beforeAll(async () => {
    await h.broker.createNamespace('pc');
    await h.broker.createTopic('pc', 't', 2);
  });
  const base = '/v1/namespaces/pc/topics/t';

  it('publish answers {message_id, queue_id}; consume returns it; ack removes it', async () => {
    const p = await post(`${base}/publish`, { payload: { n: 1 }, headers: { k: 'v' }, queue_id: 1 });
    expect(p.status).toBe(200);
    expect(p.json.success).toBe(true);
    expect(p.json.data).toEqual({ message_id: expect.stringMatching(/^[0-9a-f-]{36}$/), queue_id: 1 });
    const c = await post(`${base}/queues/1/consume`, { batch_size: 10, auto_ack: false });
    expect(c.status).toBe(200);
    expect(c.json.data).toHaveLength(1);
    const m = c.json.data[0];
    expect(m).toMatchObject({ id: p.json.data.message_id, namespace: 'pc', topic: 't', queue_id: 1, payload: { n: 1 }, headers: { k: 'v' }, delivery_count: 1 });
    expect(typeof m.timestamp).toBe('number');
    expect(Math.abs(m.timestamp / 1e6 - Date.now())).toBeLessThan(60_000);
    const a = await post(`${base}/queues/1/ack`, { message_ids: [m.id] });
    expect(a.status).toBe(200);
    expect(a.json).toEqual({ success: true, message: 'messages acknowledged' });
    expect(h.broker.stats().inflight).toBe(0);
  });

  it('consume: [] when empty, body optional (batch 1, no auto-ack)', async () => {
    const empty = await post(`${base}/queues/0/consume`);
    expect(empty.status).toBe(200);
    expect(empty.json).toEqual({ success: true, data: [] });
    await post(`${base}/publish`, { payload: 'a', queue_id: 0 });
    await post(`${base}/publish`, { payload: 'b', queue_id: 0 });
    const one = await post(`${base}/queues/0/consume`);
    expect(one.json.data.map((m: any) => m.payload)).toEqual(['a']);
    expect(h.broker.stats().inflight).toBe(1);
    await post(`${base}/queues/0/ack`, { message_ids: [one.json.data[0].id] });
    const rest = await post(`${base}/queues/0/consume`, { batch_size: 5, auto_ack: true });
    expect(rest.json.data.map((m: any) => m.payload)).toEqual(['b']);
    expect((await post(`${base}/queues/0/consume`)).json.data).toEqual([]);
    expect(h.broker.stats().inflight).toBe(0);
  });

  it('publish routing: queue_id null or -1 is automatic, routing_key is stable', async () => {
    const seen = new Set<number>();
    for (let i = 0; i < 4; i++) seen.add((await post(`${base}/publish`, { payload: i, queue_id: i % 2 ? -1 : null })).json.data.queue_id);
    expect(seen).toEqual(new Set([0, 1]));
    const k1 = (await post(`${base}/publish`, { payload: 1, routing_key: 'user-7' })).json.data.queue_id;
    const k2 = (await post(`${base}/publish`, { payload: 2, routing_key: 'user-7' })).json.data.queue_id;
    expect(k1).toBe(k2);
    await h.broker.consume('pc', 't', 0, 100, true);
    await h.broker.consume('pc', 't', 1, 100, true);
  });

  it('publish errors: 404 namespace/topic/queue, 400 fields; nothing is stored', async () => {
    const before = h.broker.stats().pending;
    const cases: [string, unknown, number, RegExp][] = [
      ['/v1/namespaces/ghost/topics/t/publish', { payload: 1 }, 404, /not found/],
      ['/v1/namespaces/pc/topics/ghost/publish', { payload: 1 }, 404, /not found/],
      [`${base}/publish`, { payload: 1, queue_id: 9 }, 404, /not found/],
      [`${base}/publish`, {}, 400, /"payload" is required/],
      [`${base}/publish`, { payload: 1, headers: { a: 1 } }, 400, /"headers.a" must be a string/],
      [`${base}/publish`, { payload: 1, headers: 'x' }, 400, /"headers" must be an object/],
      [`${base}/publish`, { payload: 1, routing_key: 5 }, 400, /"routing_key" must be a string/],
      [`${base}/publish`, { payload: 1, queue_id: '0' }, 400, /"queue_id" must be an integer/],
      [`${base}/publish`, '{"payload":', 400, /not valid JSON/],
    ];
    for (const [path, body, status, reason] of cases) {
      const r = await post(path, body);
      expect(r.status, `${path} ${JSON.stringify(body)}`).toBe(status);
      expect(r.json.success).toBe(false);
      expect(r.json.message).toMatch(reason);
    }
    expect(h.broker.stats().pending).toBe(before);
  });

  it('publish over the broker limits: 400 with the reason (payload size, header count); nothing is stored', async () => {
    const small = await startHarness({ broker: { limits: { maxPayloadBytes: 1000, maxHeaders: 4 } } });
    try {
      await small.broker.createNamespace('n');
      await small.broker.createTopic('n', 't', 1);
      const big = await req(small.base, 'POST', '/v1/namespaces/n/topics/t/publish', { payload: 'x'.repeat(2000) });
      expect(big.status).toBe(400);
      expect(big.json.message).toMatch(/payload of \d+ bytes is over the limit of 1000 bytes/);
      const headers = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`h${i}`, 'v']));
      const many = await req(small.base, 'POST', '/v1/namespaces/n/topics/t/publish', { payload: 1, headers });
      expect(many.status).toBe(400);
      expect(many.json.message).toMatch(/header/);
      expect(await small.broker.consume('n', 't', 0, 10, true)).toEqual([]);
    } finally {
      await small.stop();
    }
  });

  it('consume and ack errors: 404 unknown queue, 400 bad batch or queue id; nothing is taken', async () => {
    await post(`${base}/publish`, { payload: 'keep', queue_id: 0 });
    expect((await post(`${base}/queues/7/consume`)).status).toBe(404);
    expect((await post('/v1/namespaces/pc/topics/ghost/queues/0/consume')).status).toBe(404);
    const nan = await post(`${base}/queues/abc/consume`);
    expect(nan.status).toBe(400);
    expect(nan.json.message).toMatch(/queue id must be an integer/);
    const bigBatch = await post(`${base}/queues/0/consume`, { batch_size: 1_000_000 });
    expect(bigBatch.status).toBe(400);
    expect(bigBatch.json.message).toMatch(/batch_size/);
    const badAuto = await post(`${base}/queues/0/consume`, { auto_ack: 'yes' });
    expect(badAuto.status).toBe(400);
    const noIds = await post(`${base}/queues/0/ack`, { message_ids: 'x' });
    expect(noIds.status).toBe(400);
    expect(noIds.json.message).toMatch(/message_ids/);
    const badIds = await post(`${base}/queues/0/ack`, { message_ids: [1, 2] });
    expect(badIds.status).toBe(400);
    expect((await post('/v1/namespaces/pc/topics/ghost/queues/0/ack', { message_ids: [] })).status).toBe(404);
    // Unknown ids are harmless.
    expect((await post(`${base}/queues/0/ack`, { message_ids: ['nope'] })).status).toBe(200);
    const still = await post(`${base}/queues/0/consume`, { auto_ack: true });
    expect(still.json.data.map((m: any) => m.payload)).toEqual(['keep']);
  });
});

describe('request body limit (413, checked while reading)', () => {
  beforeAll(async () => {
    await h.broker.createNamespace('big');
    await h.broker.createTopic('big', 't', 1);
  });

  it('refuses a declared Content-Length over the limit, and stores nothing', async () => {
    const payload = 'x'.repeat(70 * 1024);
    const r = await post('/v1/namespaces/big/topics/t/publish', { payload });
    expect(r.status).toBe(413);
    expect(r.json).toEqual({ success: false, message: 'request body is larger than the limit of 65536 bytes' });
    expect(r.headers.get('x-request-id')).toBeTruthy();
    expect(await h.broker.consume('big', 't', 0, 10, true)).toEqual([]);
  });

  it('cuts off a chunked body at the limit, and stores nothing', async () => {
    const chunks = [Buffer.from('{"payload":"'), ...Array.from({ length: 200 }, () => Buffer.alloc(1024, 'y')), Buffer.from('"}')];
    const r = await chunkedRequest(h.port, '/v1/namespaces/big/topics/t/publish', chunks);
    expect(r.status).toBe(413);
    expect(JSON.parse(r.text).message).toMatch(/larger than the limit/);
    // The rest of the body is never read: the connection is not reused.
    expect(r.headers.connection).toBe('close');
    expect(await h.broker.consume('big', 't', 0, 10, true)).toEqual([]);
  });

  it('accepts a chunked body under the limit', async () => {
    const r = await chunkedRequest(h.port, '/v1/namespaces/big/topics/t/publish', [Buffer.from('{"payl'), Buffer.from('oad":"small"}')]);
    expect(r.status).toBe(200);
    expect((await h.broker.consume('big', 't', 0, 10, true)).length).toBe(1);
  });

  it('Expect: 100-continue with a declared size over the limit is refused before the body is sent', async () => {
    const conn = await RawConnection.open(h.port);
    try {
      conn.send(
        'POST /v1/namespaces/big/topics/t/publish HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
          'Content-Length: 100000\r\nExpect: 100-continue\r\nX-Request-ID: big-1\r\n\r\n',
      );
      const r = await conn.untilResponse((x) => x.body.endsWith('}'));
      expect(r.head).toMatch(/^HTTP\/1\.1 413 /);
      expect(r.head).not.toMatch(/100 Continue/);
      expect(r.head).toMatch(/^x-request-id: big-1$/im);
      expect(JSON.parse(r.body)).toEqual({ success: false, message: 'request body is larger than the limit of 65536 bytes' });
    } finally {
      conn.destroy();
    }
  });

  it('Expect: 100-continue under the limit gets 100 Continue, then the reply', async () => {
    const conn = await RawConnection.open(h.port);
    try {
      const body = '{"payload":"continued"}';
      conn.send(
        'POST /v1/namespaces/big/topics/t/publish HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
          `Content-Length: ${body.length}\r\nExpect: 100-continue\r\n\r\n`,
      );
      await conn.until((t) => t.startsWith('HTTP/1.1 100 Continue\r\n\r\n'));
      conn.send(body);
      await conn.until((t) => /HTTP\/1\.1 200 OK[\s\S]*\}$/.test(t));
      const [m] = await h.broker.consume('big', 't', 0, 10, true);
      expect(Buffer.from(m!.payload).toString()).toBe('"continued"');
    } finally {
      conn.destroy();
    }
  });

  it('the server stays usable after a 413', async () => {
    expect((await get('/health')).status).toBe(200);
  });
});

describe('requests that are not HTTP', () => {
  it('400 with the envelope and a request id, then the connection closes', async () => {
    const conn = await RawConnection.open(h.port);
    conn.send('HELLO\r\n\r\n');
    const r = await conn.untilResponse((x) => x.body.endsWith('}'));
    expect(r.head).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(r.head).toMatch(/^x-request-id: [0-9a-f-]{36}$/im);
    expect(JSON.parse(r.body)).toMatchObject({ success: false, message: expect.stringMatching(/^malformed HTTP request/) });
    await conn.untilResponse(() => conn.closed).catch(() => undefined);
    expect(conn.closed).toBe(true);
  });

  // Found by test/fuzz/http.fuzz.test.ts: such a request never reaches the app
  // and got a bare 400 with no body.
  it('a backslash in the path, or no Host header: 400 with the envelope and a request id', async () => {
    for (const head of ['GET /v1/namespaces/play/topics/\\/queues/0/subscribe HTTP/1.1\r\nHost: x\r\n\r\n', 'GET /v1/namespaces HTTP/1.1\r\n\r\n']) {
      const conn = await RawConnection.open(h.port);
      try {
        conn.send(head);
        const r = await conn.untilResponse((x) => x.body.endsWith('}'));
        expect(r.head).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
        expect(r.head).toMatch(/^content-type: application\/json$/im);
        expect(r.head).toMatch(/^x-request-id: [0-9a-f-]{36}$/im);
        expect(JSON.parse(r.body)).toEqual({ success: false, message: expect.stringMatching(/^malformed HTTP request: (Backslash in request path|Missing host header)$/) });
      } finally {
        conn.destroy();
      }
    }
    expect((await get('/health')).status).toBe(200);
  });

  // Found by test/fuzz/http.fuzz.test.ts: the connection was dropped with no answer.
  it('CONNECT: 405 with the envelope, then the connection closes', async () => {
    const conn = await RawConnection.open(h.port);
    conn.send('CONNECT /v1/namespaces/%/topics/%/stats HTTP/1.1\r\nHost: x\r\nX-Request-ID: conn-1\r\n\r\n');
    const r = await conn.untilResponse((x) => x.body.endsWith('}'));
    expect(r.head).toMatch(/^HTTP\/1\.1 405 Method Not Allowed\r\n/);
    expect(r.head).toMatch(/^x-request-id: conn-1$/im);
    expect(JSON.parse(r.body)).toEqual({ success: false, message: 'method CONNECT is not supported: this server is no proxy' });
    await conn.untilResponse(() => conn.closed).catch(() => undefined);
    expect(conn.closed).toBe(true);
  });
});

// Found by test/fuzz/http.fuzz.test.ts: a client that stops sending its body
// (a Content-Length that lies, then a close or a reset) was answered and
// logged as a 500 internal error.
describe('a body cut short by the client', () => {
  it('counts as a 400, never a 500, and the server stays usable', async () => {
    const route = '/v1/namespaces/:namespace/topics/:topic/policy';
    const series = (status: number): string => `mqlite_http_requests_total{method="PUT",route="${route}",status="${status}"}`;
    const count = async (status: number): Promise<number> => {
      const text = await (await fetch(`${h.base}/metrics`)).text();
      const line = text.split('\n').find((l) => l.startsWith(`${series(status)} `));
      return line ? Number(line.split(' ')[1]) : 0;
    };
    const before = await count(400);
    for (const end of ['half-close', 'reset'] as const) {
      const conn = await RawConnection.open(h.port);
      // 100 Continue: the request has reached the route, which reads the body
      conn.send('PUT /v1/namespaces/n/topics/t/policy HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n');
      await conn.until((t) => t.startsWith('HTTP/1.1 100 Continue\r\n\r\n'));
      conn.send('{"max_ret');
      if (end === 'half-close') conn.socket.end();
      else conn.socket.resetAndDestroy();
      await conn.untilResponse(() => conn.closed).catch(() => undefined);
    }
    for (let i = 0; i < 100 && (await count(400)) < before + 2; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await count(400)).toBe(before + 2);
    expect(await count(500)).toBe(0);
    expect((await get('/health')).status).toBe(200);
  });
});

describe('unknown routes', () => {
  it('404 with the envelope', async () => {
    const r = await get('/v1/nothing');
    expect(r.status).toBe(404);
    expect(r.json).toEqual({ success: false, message: 'no route for GET /v1/nothing' });
    expect((await req(h.base, 'PATCH', '/v1/namespaces')).status).toBe(404);
  });
});

describe('503 while shutting down', () => {
  it('a request arriving while the front closes gets 503, then the server closes', async () => {
    const other = await startHarness();
    try {
      await other.broker.createNamespace('n');
      // A connection in the middle of sending its request is not idle: close() waits for it.
      const conn = await RawConnection.open(other.port);
      conn.send('GET /v1/namespaces HTTP/1.1\r\nHost: x\r\n');
      await new Promise((r) => setTimeout(r, 50));
      const closing = other.front.close();
      conn.send('X-Request-ID: late-1\r\n\r\n');
      const text = await conn.until((t) => t.includes('}'));
      expect(text).toMatch(/^HTTP\/1\.1 503 /);
      expect(text).toMatch(/x-request-id: late-1/i);
      expect(text).toMatch(/connection: close/i);
      expect(text).toContain('{"success":false,"message":"server is shutting down"}');
      await closing;
      await expect(fetch(`${other.base}/health`)).rejects.toThrow();
    } finally {
      await other.stop();
    }
  });

  it('a broker that is shutting down answers 503 (UNAVAILABLE)', async () => {
    const other = await startHarness();
    try {
      await other.broker.createNamespace('n');
      await other.broker.close();
      const r = await req(other.base, 'POST', '/v1/namespaces', { name: 'm' });
      expect(r.status).toBe(503);
      expect(r.json.success).toBe(false);
    } finally {
      await other.front.close();
    }
  });
});
