/**
 * The front door under hostile input: with API keys configured, no random
 * or mutated first frame, header or metadata gets anything run. Every case
 * is refused as UNAUTHENTICATED (TCP: one error frame, then the connection
 * closes, and nothing pipelined behind it runs) and the broker's state does
 * not change. Keys tried: random strings and near misses of a real key (one
 * character changed, cut, extended, case changed).
 */
import { connect, type Socket } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GrpcClient } from '../../src/client/grpc/index.js';
import { ClientError } from '../../src/client/types.js';
import { ADMIN_KEY, type Fixture, startFixture } from '../auth/fixture.js';
import { frame, jsonFrame, pbFrame } from '../tcp/helpers.js';
import { params } from './harness.js';

let f: Fixture;
beforeAll(async () => {
  f = await startFixture();
});
afterAll(async () => {
  await f?.stop();
});

/** The broker's state as far as a refused request could have changed it. */
function state(): string {
  const s = f.broker.stats();
  return JSON.stringify({ namespaces: f.broker.listNamespaces(), pending: s.pending, inflight: s.inflight });
}

const printable = fc.stringMatching(/^[\x21-\x7e]{0,48}$/);
/** A key that is not a configured one: random, or a near miss of the admin key. */
const wrongKeyArb = fc
  .oneof(
    printable,
    fc.nat({ max: ADMIN_KEY.length - 1 }).chain((i) => fc.constantFrom('0', 'z', '-', '~').map((c) => ADMIN_KEY.slice(0, i) + c + ADMIN_KEY.slice(i + 1))),
    fc.nat({ max: ADMIN_KEY.length - 1 }).map((n) => ADMIN_KEY.slice(0, n)),
    printable.filter((s) => s.length > 0).map((s) => ADMIN_KEY + s),
    fc.constant(ADMIN_KEY.toUpperCase()),
  )
  .filter((k) => k !== ADMIN_KEY);

const firstFrameArb = fc.oneof(
  wrongKeyArb.map((k) => jsonFrame({ action: 'auth', data: { api_key: k } })),
  wrongKeyArb.map((apiKey) => pbFrame({ data: { case: 'auth', value: { apiKey } } })),
  fc.record({ encoding: fc.integer({ min: 0, max: 255 }), body: fc.uint8Array({ maxLength: 64 }) }).map(({ encoding, body }) => frame(encoding, body)),
  fc.constantFrom('create_namespace', 'delete_namespace', 'publish', 'list_namespaces').map((action) =>
    jsonFrame({ action, data: { name: 'pwned', namespace: 'shop', topic: 'orders', payload: 1 } }),
  ),
  fc.constant(jsonFrame({ action: 'auth', data: {} })),
);

/** Sends `bytes`, then collects what comes back until the server closes the connection. */
function exchange(bytes: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s: Socket = connect(f.tcp.port, '127.0.0.1', () => s.write(bytes));
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('error', reject);
    s.on('close', () => resolve(Buffer.concat(chunks)));
    setTimeout(() => {
      s.destroy();
      reject(new Error('the server did not close the connection within 10 s'));
    }, 10_000).unref();
  });
}

describe('API keys under hostile input', () => {
  it('TCP: any first frame but a right auth gets one UNAUTHENTICATED frame and a close; nothing behind it runs', async () => {
    const before = state();
    await fc.assert(
      fc.asyncProperty(firstFrameArb, async (first) => {
        const pipelined = jsonFrame({ action: 'create_namespace', data: { name: 'pwned' } });
        const reply = await exchange(Buffer.concat([first, pipelined]));
        expect(reply.length).toBeGreaterThan(5);
        // exactly one frame
        expect(reply.readUInt32BE(0) + 4).toBe(reply.length);
        expect(reply.subarray(5).toString('latin1')).toContain('UNAUTHENTICATED');
        expect(state()).toBe(before);
      }),
      params(150),
    );
  }, 60_000);

  it('HTTP: random and near-miss keys in X-API-Key or Authorization get 401 and change nothing', async () => {
    const before = state();
    const headerArb = fc.oneof(
      wrongKeyArb.map((k) => ({ 'x-api-key': k })),
      fc.tuple(fc.constantFrom('Bearer ', 'bearer ', 'Basic ', 'Token ', ''), wrongKeyArb).map(([scheme, k]) => ({ authorization: scheme + k })),
      fc.constant({ authorization: `Basic ${ADMIN_KEY}` }),
      fc.constant({}),
    );
    await fc.assert(
      fc.asyncProperty(headerArb, fc.constantFrom('POST /v1/namespaces', 'DELETE /v1/namespaces/shop', 'POST /v1/namespaces/shop/topics/orders/publish'), async (headers, route) => {
        const [method, path] = route.split(' ') as [string, string];
        const res = await fetch(`http://127.0.0.1:${f.http.port}${path}`, {
          method,
          headers: { 'content-type': 'application/json', ...headers },
          body: method === 'DELETE' ? undefined : JSON.stringify({ name: 'pwned', payload: 1 }),
        });
        expect(res.status).toBe(401);
        expect(await res.json()).toMatchObject({ success: false });
        expect(state()).toBe(before);
      }),
      params(150),
    );
  }, 60_000);

  it('gRPC: random and near-miss keys in x-api-key get UNAUTHENTICATED and change nothing', async () => {
    const before = state();
    await fc.assert(
      fc.asyncProperty(wrongKeyArb, async (key) => {
        const c = new GrpcClient({ host: '127.0.0.1', port: f.grpc.port, timeoutMs: 5000, apiKey: key });
        try {
          const err = await c.createNamespace('pwned').then(
            () => undefined,
            (e: unknown) => e,
          );
          expect(err).toBeInstanceOf(ClientError);
          expect((err as ClientError).code).toBe('UNAUTHENTICATED');
        } finally {
          await c.close();
        }
        expect(state()).toBe(before);
      }),
      params(60),
    );
  }, 60_000);
});
