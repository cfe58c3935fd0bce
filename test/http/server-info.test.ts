/**
 * `GET /v1/server` (docs/PROTOCOL.md, "AOF rewrite, health, metrics") and the
 * dashboard's files under `/ui` (README.md, "Dashboard"), over a real port
 * with a real AOF: the JSON agrees with the store and with `GET /metrics`,
 * needs what `/metrics` needs, and the pages are open but hold no data.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileStore } from '../../src/aof/file-store.js';
import { nodeFiles } from '../../src/aof/files.js';
import { ApiKeys } from '../../src/auth/api-keys.js';
import { Broker } from '../../src/broker/broker.js';
import { FsyncTimings } from '../../src/metrics/source.js';
import { type HttpFrontHandle, startHttpServer } from '../../src/server/http/index.js';
import { startHarness } from './harness.js';

const silent = pino({ level: 'silent' });
const dir = mkdtempSync(join(tmpdir(), 'mqlite-http-server-'));
const ADMIN = 'server-info-admin-key-1a2b3c4d';
const SHOP = 'server-info-shop-key-5e6f7a8b';
let broker: Broker;
let store: FileStore;
let front: HttpFrontHandle;
let keyed: HttpFrontHandle;
let base: string;

const opts = { host: '127.0.0.1', port: 0, maxBodyBytes: 1 << 20, sseHeartbeatMs: 15_000, sseMaxInflight: 100, logger: silent };

beforeAll(async () => {
  const fsync = new FsyncTimings();
  store = await FileStore.open({ dir, fsync: 'always', rewriteMinSize: 1 << 30, rewritePercentage: 0, logger: silent, fs: fsync.wrap(nodeFiles) });
  ({ broker } = await Broker.open({ store, logger: silent }));
  const metrics = { aof: () => store.stats(), fsync, fronts: () => ({ tcp: { connections: 3, subscriptions: 2 }, grpc: { connections: 1 } }) };
  front = await startHttpServer(broker, { ...opts, metrics });
  keyed = await startHttpServer(broker, {
    ...opts,
    metrics,
    apiKeys: new ApiKeys([{ key: ADMIN }, { key: SHOP, name: 'shop', namespaces: ['shop'], permissions: ['read', 'write'] }]),
  });
  base = `http://127.0.0.1:${front.port}`;
});
afterAll(async () => {
  await front.close();
  await keyed.close();
  await broker.close();
  rmSync(dir, { recursive: true, force: true });
});

async function info(at = base, key?: string): Promise<{ status: number; body: any }> {
  const r = await fetch(`${at}/v1/server`, { headers: key ? { 'x-api-key': key } : {} });
  expect(r.headers.get('content-type')).toBe('application/json');
  return { status: r.status, body: await r.json() };
}

describe('GET /v1/server', () => {
  it('AOF size, records and fsyncs as the store counts them; fsync latency from the histogram /metrics shows', async () => {
    await broker.createNamespace('shop');
    await broker.createTopic('shop', 'zq-private-topic', 2);
    const { status, body } = await info();
    expect(status).toBe(200);
    expect(body.success).toBe(true);
    const x = body.data;
    const st = store.stats();
    expect(x.aof).toMatchObject({ size_bytes: st.aofSize, records: st.records, fsyncs: st.fsyncs, rewrites: 0, last_rewrite_at_ms: 0, failed: false, failure: null });
    expect(x.aof.size_bytes).toBeGreaterThan(0);
    expect(x.persistence).toBe(true);
    expect([x.namespaces, x.topics]).toEqual([1, 1]);
    const text = await (await fetch(`${base}/metrics`)).text();
    const count = Number(/^mqlite_aof_fsync_duration_seconds_count (\S+)$/m.exec(text)![1]);
    const sum = Number(/^mqlite_aof_fsync_duration_seconds_sum (\S+)$/m.exec(text)![1]);
    // the scrape came after: at least as many fsyncs, and the mean is that of the histogram
    expect(count).toBeGreaterThanOrEqual(x.aof.fsync.count);
    expect(x.aof.fsync.count).toBeGreaterThan(0);
    expect(x.aof.fsync.mean_ms).toBeGreaterThan(0);
    expect(x.aof.fsync.p99_ms).toBeGreaterThan(0);
    if (count === x.aof.fsync.count) expect(x.aof.fsync.mean_ms).toBeCloseTo((sum / count) * 1000, 1);
  });

  it('the last rewrite: when it ended and how long it took', async () => {
    const before = Date.now();
    await broker.rewrite();
    const after = Date.now();
    const { aof } = (await info()).body.data;
    expect(aof.rewrites).toBe(1);
    expect(aof.last_rewrite_at_ms).toBeGreaterThanOrEqual(before);
    expect(aof.last_rewrite_at_ms).toBeLessThanOrEqual(after);
    expect(aof.last_rewrite_duration_ms).toBe(Math.round(store.stats().lastRewriteSeconds * 1000));
  });

  it('connections per front (HTTP its own, the others from the source), event-loop lag, memory, version', async () => {
    const x = (await info()).body.data;
    expect(x.fronts.tcp).toEqual({ connections: 3, subscriptions: 2 });
    expect(x.fronts.grpc).toEqual({ connections: 1, subscriptions: null });
    expect(x.fronts.http.connections).toBeGreaterThanOrEqual(1);
    expect(x.fronts.http.subscriptions).toBe(0);
    for (const k of ['mean_ms', 'p99_ms', 'max_ms']) expect(x.event_loop_lag[k]).toBeGreaterThanOrEqual(0);
    expect(x.memory.rss_bytes).toBeGreaterThan(0);
    expect(x.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(x.uptime_ms).toBeGreaterThanOrEqual(0);
  });

  it('without persistence: aof is null', async () => {
    const h = await startHarness();
    try {
      const { status, body } = await info(h.base);
      expect(status).toBe(200);
      expect([body.data.persistence, body.data.aof]).toEqual([false, null]);
    } finally {
      await h.stop();
    }
  });

  it('needs what GET /metrics needs: 401 without a key, and the same answer as /metrics for a key limited to a namespace', async () => {
    const at = `http://127.0.0.1:${keyed.port}`;
    expect((await info(at)).status).toBe(401);
    expect((await info(at, ADMIN)).status).toBe(200);
    const metricsStatus = (await fetch(`${at}/metrics`, { headers: { 'x-api-key': SHOP } })).status;
    expect((await info(at, SHOP)).status).toBe(metricsStatus);
  });
});

describe('/ui', () => {
  it('serves the page, its script and its stylesheet without a key, with a CSP that allows this origin only, and no data in them', async () => {
    const at = `http://127.0.0.1:${keyed.port}`;
    for (const [path, type] of [
      ['/ui', 'text/html'],
      ['/ui/', 'text/html'],
      ['/ui/app.js', 'text/javascript'],
      ['/ui/app.css', 'text/css'],
    ] as const) {
      const r = await fetch(at + path);
      expect(r.status, path).toBe(200);
      expect(r.headers.get('content-type')).toBe(`${type}; charset=utf-8`);
      expect(r.headers.get('content-security-policy')).toMatch(/default-src 'none'; script-src 'self'/);
      expect(r.headers.get('x-content-type-options')).toBe('nosniff');
      const text = await r.text();
      expect(text).not.toContain('zq-private-topic');
      // nothing from another host
      expect(text).not.toMatch(/https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
    }
    const page = await (await fetch(`${at}/ui`)).text();
    expect(page).toContain('<script type="module" src="/ui/app.js"></script>');
    expect((await fetch(`${at}/ui/other.js`)).status).toBe(404);
  });
});
