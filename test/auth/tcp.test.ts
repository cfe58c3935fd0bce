/**
 * API keys on the TCP front (docs/PROTOCOL.md, "Authentication"), over real sockets: the
 * `auth` command must be the first frame of a connection when the broker
 * has keys (JSON and protobuf), a wrong key or any other first frame is an
 * UNAUTHENTICATED error frame and then a closed connection, and a key's
 * scope is checked per command.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TcpClient } from '../../src/client/tcp/index.js';
import { ClientError } from '../../src/client/types.js';
import { RawClient, frame, startHarness } from '../tcp/helpers.js';
import {
  ADMIN_KEY,
  BILLING_ADMIN_KEY,
  READER_KEY,
  SHOP_KEY,
  WRONG_KEY,
  type Fixture,
  authFailures,
  expectNoKeyLogged,
  scrape,
  startFixture,
} from './fixture.js';

let f: Fixture;
beforeAll(async () => {
  f = await startFixture();
});
afterAll(async () => {
  await f.stop();
});

const publish = (namespace: string, n = 1) => ({ action: 'publish', data: { namespace, topic: namespace === 'shop' ? 'orders' : 'invoices', payload: { n } } });
const pending = (ns: string, topic: string): number => f.broker.topicStats(ns, topic).pending;

async function authed(key: string): Promise<RawClient> {
  const c = await RawClient.open(f.tcp.port);
  expect(await c.jsonCall({ action: 'auth', data: { api_key: key } })).toEqual({ status: 'ok', data: 'authenticated' });
  return c;
}

async function expectCode<T>(p: Promise<T>, code: string): Promise<ClientError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ClientError);
  expect((err as ClientError).code).toBe(code);
  return err as ClientError;
}

describe('TCP: the auth frame comes first when the broker has keys', () => {
  it('a JSON first frame other than auth is refused with UNAUTHENTICATED, the connection closed, and the command not run', async () => {
    const before = pending('shop', 'orders');
    const c = await RawClient.open(f.tcp.port);
    // pipelined: the publish and the auth behind the refused frame are never read
    c.write(Buffer.concat([frame(0, JSON.stringify(publish('shop'))), frame(0, JSON.stringify({ action: 'auth', data: { api_key: ADMIN_KEY } }))]));
    const reply = await c.json();
    expect(reply.status).toBe('error');
    expect(reply.error).toMatch(/^UNAUTHENTICATED: an API key is required: send \{"action":"auth"/);
    await c.waitClosed();
    expect(c.received).toBe(0);
    expect(pending('shop', 'orders')).toBe(before);
  });

  it('a protobuf first frame other than auth is refused with UNAUTHENTICATED and the connection closed', async () => {
    const c = await RawClient.open(f.tcp.port);
    const reply = await c.pbCall({ action: 'list_namespaces', data: { case: 'listNamespaces', value: {} } });
    expect(reply.status).toBe('error');
    expect(reply.error).toMatch(/^UNAUTHENTICATED: .*first frame of the connection/);
    await c.waitClosed();
  });

  it('a first frame that does not even decode, or has an unknown encoding byte, is refused the same way', async () => {
    const c = await RawClient.open(f.tcp.port);
    c.write(frame(0, '{not json'));
    expect((await c.json()).error).toMatch(/^UNAUTHENTICATED/);
    await c.waitClosed();
    const d = await RawClient.open(f.tcp.port);
    d.write(frame(7, 'hello'));
    expect((await d.json()).error).toMatch(/^UNAUTHENTICATED/);
    await d.waitClosed();
  });

  it('the refusal echoes the request_id of the refused frame', async () => {
    const c = await RawClient.open(f.tcp.port);
    expect(await c.jsonCall({ action: 'list_namespaces', request_id: 'q7' })).toMatchObject({ status: 'error', request_id: 'q7' });
    await c.waitClosed();
  });

  it('a wrong key is refused with UNAUTHENTICATED and the connection closed; an empty key too', async () => {
    for (const key of [WRONG_KEY, '']) {
      const c = await RawClient.open(f.tcp.port);
      c.write(Buffer.concat([frame(0, JSON.stringify({ action: 'auth', request_id: 'a1', data: { api_key: key } })), frame(0, JSON.stringify(publish('shop')))]));
      const reply = await c.json();
      expect(reply).toMatchObject({ status: 'error', request_id: 'a1' });
      expect(reply.error).toMatch(/^UNAUTHENTICATED: /);
      await c.waitClosed();
      expect(c.received).toBe(0);
    }
  });

  it('the right key (JSON) is answered "authenticated"; commands pipelined behind it run', async () => {
    const before = pending('shop', 'orders');
    const c = await RawClient.open(f.tcp.port);
    c.write(Buffer.concat([frame(0, JSON.stringify({ action: 'auth', request_id: 'r1', data: { api_key: ADMIN_KEY } })), frame(0, JSON.stringify(publish('shop')))]));
    expect(await c.json()).toEqual({ status: 'ok', request_id: 'r1', data: 'authenticated' });
    expect((await c.json()).status).toBe('ok');
    expect(pending('shop', 'orders')).toBe(before + 1);
    c.close();
  });

  it('the right key (protobuf) is answered with auth_response (field 30)', async () => {
    const c = await RawClient.open(f.tcp.port);
    const reply = await c.pbCall({ action: 'auth', requestId: 'p1', data: { case: 'auth', value: { apiKey: ADMIN_KEY } } });
    expect(reply.status).toBe('ok');
    expect(reply.requestId).toBe('p1');
    expect(reply.data.case).toBe('authResponse');
    expect(reply.data.value).toMatchObject({ success: true, message: 'authenticated' });
    const list = await c.pbCall({ action: 'list_namespaces', data: { case: 'listNamespaces', value: {} } });
    expect(list.status).toBe('ok');
    c.close();
  });

  it('the TcpClient sends its apiKey first on every connection, subscriptions included; a wrong one fails the connect', async () => {
    for (const encoding of ['json', 'protobuf'] as const) {
      const client = await TcpClient.connect({ host: '127.0.0.1', port: f.tcp.port, encoding, apiKey: SHOP_KEY });
      const got: string[] = [];
      const sub = await client.subscribe('shop', 'orders', 0, { autoAck: true, onMessage: (m) => got.push(m.id) });
      const { messageId } = await client.publish('shop', 'orders', `{"enc":"${encoding}"}`);
      await expect.poll(() => got.includes(messageId)).toBe(true);
      await sub.close();
      await client.close();
      await expectCode(TcpClient.connect({ host: '127.0.0.1', port: f.tcp.port, encoding, apiKey: WRONG_KEY }), 'UNAUTHENTICATED');
      // no key at all against a broker with keys: the first command is refused
      const bare = await TcpClient.connect({ host: '127.0.0.1', port: f.tcp.port, encoding });
      await expectCode(bare.listNamespaces(), 'UNAUTHENTICATED');
      await bare.close();
    }
  });
});

describe('TCP: a key limited to namespaces and permissions', () => {
  it('allows its namespace and permission, refuses others with PERMISSION_DENIED, and the connection stays usable', async () => {
    const c = await authed(SHOP_KEY);
    const shopBefore = pending('shop', 'orders');
    const billingBefore = pending('billing', 'invoices');
    expect((await c.jsonCall(publish('shop'))).status).toBe('ok');
    const other = await c.jsonCall(publish('billing'));
    expect(other.status).toBe('error');
    expect(other.error).toBe("PERMISSION_DENIED: API key 'shop-rw' may not publish in namespace 'billing': the key is limited to namespace 'shop'");
    const admin = await c.jsonCall({ action: 'create_topic', data: { namespace: 'shop', name: 'returns', queue_count: 1 } });
    expect(admin.error).toMatch(/^PERMISSION_DENIED: API key 'shop-rw' may not create_topic: that needs the admin permission/);
    expect(f.broker.listTopics('shop').map((t) => t.name)).not.toContain('returns');
    // list_namespaces shows only the key's namespaces
    expect(await c.jsonCall({ action: 'list_namespaces' })).toEqual({ status: 'ok', data: ['shop'] });
    expect(pending('shop', 'orders')).toBe(shopBefore + 1);
    expect(pending('billing', 'invoices')).toBe(billingBefore);
    c.close();
  });

  it('a read-only key consumes but may not publish (protobuf)', async () => {
    const c = await RawClient.open(f.tcp.port);
    expect((await c.pbCall({ data: { case: 'auth', value: { apiKey: READER_KEY } } })).status).toBe('ok');
    const pub = await c.pbCall({ action: 'publish', data: { case: 'publish', value: { namespace: 'billing', topic: 'invoices', payload: new Uint8Array([1]) } } });
    expect(pub.status).toBe('error');
    expect(pub.error).toMatch(/^PERMISSION_DENIED: API key 'reader' may not publish: that needs the write permission, and the key has read$/);
    const consume = await c.pbCall({ action: 'consume', data: { case: 'consume', value: { namespace: 'billing', topic: 'invoices', queueId: 0, batchSize: 1 } } });
    expect(consume.status).toBe('ok');
    c.close();
  });

  it('a namespace-limited admin key manages its namespace only', async () => {
    const c = await authed(BILLING_ADMIN_KEY);
    expect((await c.jsonCall({ action: 'create_topic', data: { namespace: 'billing', name: 'refunds', queue_count: 2 } })).status).toBe('ok');
    expect((await c.jsonCall({ action: 'create_namespace', data: { name: 'billing-eu' } })).error).toMatch(
      /^PERMISSION_DENIED: API key 'billing-admin' may not create_namespace in namespace 'billing-eu'/,
    );
    expect((await c.jsonCall({ action: 'delete_topic', data: { namespace: 'shop', name: 'orders' } })).error).toMatch(/^PERMISSION_DENIED/);
    expect(f.broker.listNamespaces()).not.toContain('billing-eu');
    expect(f.broker.listTopics('shop').map((t) => t.name)).toContain('orders');
    c.close();
  });
});

describe('TCP: failures are counted and logged without the key', () => {
  it('counts missing, invalid and denied in mqlite_auth_failures_total and logs front, remote and reason', async () => {
    const before = await scrape(f);
    const c1 = await RawClient.open(f.tcp.port);
    await c1.jsonCall({ action: 'list_namespaces' });
    const c2 = await RawClient.open(f.tcp.port);
    await c2.jsonCall({ action: 'auth', data: { api_key: WRONG_KEY } });
    const c3 = await authed(READER_KEY);
    await c3.jsonCall(publish('shop'));
    c3.close();
    const after = await scrape(f);
    for (const reason of ['missing', 'invalid', 'denied']) {
      expect(authFailures(after, 'tcp', reason)).toBe(authFailures(before, 'tcp', reason) + 1);
    }
    const warns = f.logs().filter((l) => l.front === 'tcp' && l.level === 40);
    expect(warns).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ reason: 'invalid', remote: '127.0.0.1', msg: 'authentication failed' }),
        expect.objectContaining({ reason: 'missing', remote: '127.0.0.1' }),
        expect.objectContaining({ reason: 'denied', key: 'reader', op: 'publish', namespace: 'shop', msg: 'permission denied' }),
      ]),
    );
    expectNoKeyLogged(f);
  });
});

describe('TCP: with no keys configured', () => {
  it('an auth frame is accepted whatever the key (JSON and protobuf), so clients may always send it', async () => {
    const h = await startHarness();
    try {
      const c = await RawClient.open(h.port);
      expect(await c.jsonCall({ action: 'auth', data: { api_key: 'anything' } })).toEqual({ status: 'ok', data: 'authenticated' });
      expect((await c.pbCall({ data: { case: 'auth', value: { apiKey: '' } } })).status).toBe('ok');
      expect((await c.jsonCall({ action: 'create_namespace', data: { name: 'open' } })).status).toBe('ok');
      c.close();
      // and no auth frame is needed
      const d = await RawClient.open(h.port);
      expect(await d.jsonCall({ action: 'list_namespaces' })).toEqual({ status: 'ok', data: ['open'] });
      d.close();
    } finally {
      await h.close();
    }
  });

  it('a missing api_key field is a decoding error, not a silent success', async () => {
    const h = await startHarness();
    try {
      const c = await RawClient.open(h.port);
      expect((await c.jsonCall({ action: 'auth', data: {} })).error).toBe('INVALID_ARGUMENT: missing field data.api_key (a string)');
      c.close();
    } finally {
      await h.close();
    }
  });
});
