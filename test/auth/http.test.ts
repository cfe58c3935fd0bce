/**
 * API keys on the HTTP front (docs/PROTOCOL.md, "Authentication"), over real sockets:
 * `X-API-Key` or `Authorization: Bearer`, 401 with `WWW-Authenticate: Bearer`
 * for a missing or wrong key, 403 out of the key's scope, `/health` open,
 * `/metrics` for a key not limited to namespaces, SSE with the key header.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpClient } from '../../src/client/http/index.js';
import { ClientError } from '../../src/client/types.js';
import { ADMIN_KEY, READER_KEY, SHOP_KEY, WRONG_KEY, type Fixture, authFailures, expectNoKeyLogged, scrape, startFixture } from './fixture.js';

let f: Fixture;
let base: string;
beforeAll(async () => {
  f = await startFixture();
  base = `http://127.0.0.1:${f.http.port}`;
});
afterAll(async () => {
  await f.stop();
});

async function req(method: string, path: string, headers: Record<string, string> = {}, body?: unknown) {
  const res = await fetch(base + path, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

const key = (k: string) => ({ 'x-api-key': k });
const bearer = (k: string) => ({ authorization: `Bearer ${k}` });
const pending = (ns: string, topic: string): number => f.broker.topicStats(ns, topic).pending;

describe('HTTP: a key is required on every route but /health', () => {
  it('no key: 401 with WWW-Authenticate: Bearer and the envelope, and nothing published', async () => {
    const before = pending('shop', 'orders');
    const r = await req('POST', '/v1/namespaces/shop/topics/orders/publish', {}, { payload: 1 });
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(r.json).toEqual({ success: false, message: 'an API key is required: send the header X-API-Key: <key> or Authorization: Bearer <key>' });
    expect(pending('shop', 'orders')).toBe(before);
  });

  it('a wrong key, or an Authorization header of another scheme: 401', async () => {
    for (const h of [key(WRONG_KEY), bearer(WRONG_KEY), { authorization: `Basic ${Buffer.from(`u:${ADMIN_KEY}`).toString('base64')}` }]) {
      const r = await req('GET', '/v1/namespaces', h);
      expect(r.status).toBe(401);
      expect(r.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(r.json.success).toBe(false);
    }
  });

  it('the right key as X-API-Key or as Bearer: served', async () => {
    const before = pending('shop', 'orders');
    expect((await req('POST', '/v1/namespaces/shop/topics/orders/publish', key(ADMIN_KEY), { payload: { a: 1 } })).status).toBe(200);
    expect((await req('POST', '/v1/namespaces/shop/topics/orders/publish', bearer(ADMIN_KEY), { payload: { a: 2 } })).status).toBe(200);
    expect(pending('shop', 'orders')).toBe(before + 2);
  });

  it('/health stays open; /metrics needs a key not limited to namespaces', async () => {
    expect((await req('GET', '/health')).json).toEqual({ status: 'ok' });
    expect((await req('GET', '/metrics')).status).toBe(401);
    const limited = await req('GET', '/metrics', key(SHOP_KEY));
    expect(limited.status).toBe(403);
    expect(limited.json.message).toMatch(/may not metrics: it spans every namespace/);
    const ok = await req('GET', '/metrics', key(READER_KEY));
    expect(ok.status).toBe(200);
    expect(ok.text).toContain('mqlite_topic_pending_messages');
  });

  it('the AOF rewrite route is admin only', async () => {
    const r = await req('POST', '/v1/admin/aof/rewrite', key(READER_KEY));
    expect(r.status).toBe(403);
    expect(r.json.message).toMatch(/needs the admin permission/);
  });
});

describe('HTTP: a key limited to namespaces and permissions', () => {
  it('publishes in its namespace, gets 403 elsewhere and for admin routes, and lists only its namespaces', async () => {
    const billing = pending('billing', 'invoices');
    const other = await req('POST', '/v1/namespaces/billing/topics/invoices/publish', key(SHOP_KEY), { payload: 1 });
    expect(other.status).toBe(403);
    expect(other.json).toEqual({ success: false, message: "API key 'shop-rw' may not publish in namespace 'billing': the key is limited to namespace 'shop'" });
    expect(pending('billing', 'invoices')).toBe(billing);
    expect((await req('POST', '/v1/namespaces/shop/topics/orders/publish', key(SHOP_KEY), { payload: 1 })).status).toBe(200);
    // create namespace: the name comes from the body, checked there
    const ns = await req('POST', '/v1/namespaces', key(SHOP_KEY), { name: 'shop' });
    expect(ns.status).toBe(403);
    expect(ns.json.message).toMatch(/may not create_namespace: that needs the admin permission/);
    expect((await req('DELETE', '/v1/namespaces/shop/topics/orders', key(SHOP_KEY))).status).toBe(403);
    expect(f.broker.listTopics('shop').map((t) => t.name)).toContain('orders');
    expect((await req('GET', '/v1/namespaces', key(SHOP_KEY))).json).toEqual({ success: true, data: ['shop'] });
    expect((await req('GET', '/v1/namespaces', key(ADMIN_KEY))).json.data.sort()).toEqual(['billing', 'shop']);
  });

  it('a read-only key consumes and peeks, but may not publish', async () => {
    expect((await req('POST', '/v1/namespaces/shop/topics/orders/publish', key(READER_KEY), { payload: 1 })).status).toBe(403);
    expect((await req('GET', '/v1/namespaces/shop/topics/orders/queues/0/peek', key(READER_KEY))).status).toBe(200);
    expect((await req('POST', '/v1/namespaces/billing/topics/invoices/queues/0/consume', key(READER_KEY), { batch_size: 1 })).status).toBe(200);
  });
});

describe('HTTP: SSE and the client', () => {
  it('subscribe without a key is 401 before any stream opens; with the key header it streams', async () => {
    const r = await req('GET', '/v1/namespaces/shop/topics/orders/queues/0/subscribe?auto_ack=true');
    expect(r.status).toBe(401);
    expect(r.headers.get('content-type')).toMatch(/application\/json/);
    expect(f.http.sseStreams).toBe(0);

    const client = new HttpClient({ baseUrl: base, apiKey: SHOP_KEY });
    const got: string[] = [];
    const sub = await client.subscribe('shop', 'orders', 0, { autoAck: true, onMessage: (m) => got.push(m.id) });
    const { messageId } = await client.publish('shop', 'orders', '{"via":"sse"}');
    await expect.poll(() => got.includes(messageId)).toBe(true);
    await sub.close();
    await client.close();
  });

  it('the HttpClient reports 401 as UNAUTHENTICATED and 403 as PERMISSION_DENIED, on every transport', async () => {
    for (const transport of ['http', 'fetch', 'raw'] as const) {
      const wrong = new HttpClient({ baseUrl: base, apiKey: WRONG_KEY, transport });
      await expect(wrong.listNamespaces()).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
      await wrong.close();
      const reader = new HttpClient({ baseUrl: base, apiKey: READER_KEY, transport });
      const err = await reader.publish('shop', 'orders', '1').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ClientError);
      expect((err as ClientError).code).toBe('PERMISSION_DENIED');
      expect(await reader.listNamespaces()).toEqual(expect.arrayContaining(['shop', 'billing']));
      await reader.close();
    }
  });
});

describe('HTTP: failures are counted and logged without the key', () => {
  it('counts missing, invalid and denied under front="http" and never logs a key', async () => {
    const before = await scrape(f);
    await req('GET', '/v1/namespaces');
    await req('GET', '/v1/namespaces', bearer(WRONG_KEY));
    await req('POST', '/v1/namespaces/billing/topics/invoices/publish', key(SHOP_KEY), { payload: 1 });
    const after = await scrape(f);
    for (const reason of ['missing', 'invalid', 'denied']) {
      expect(authFailures(after, 'http', reason)).toBe(authFailures(before, 'http', reason) + 1);
    }
    expect(f.logs().filter((l) => l.front === 'http' && l.reason === 'invalid')[0]).toMatchObject({ level: 40, remote: expect.stringContaining('127.0.0.1') });
    expectNoKeyLogged(f);
  });
});
