/**
 * `GET /metrics` in the Prometheus text format, over a
 * real port, with a real AOF: topic depths and totals per namespace/topic,
 * AOF size, fsyncs and their latency histogram, rewrites, connections and
 * subscriptions per front, HTTP requests, and event-loop lag.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileStore } from '../../src/aof/file-store.js';
import { nodeFiles } from '../../src/aof/files.js';
import { Broker } from '../../src/broker/broker.js';
import { FsyncTimings } from '../../src/metrics/source.js';
import { createApp, type HttpFrontHandle, startHttpServer } from '../../src/server/http/index.js';
import { eventually, rawSubscribe, req, startHarness } from './harness.js';

const silent = pino({ level: 'silent' });
const dir = mkdtempSync(join(tmpdir(), 'mqlite-http-metrics-'));
let broker: Broker;
let store: FileStore;
let front: HttpFrontHandle;
let base: string;

beforeAll(async () => {
  const fsync = new FsyncTimings();
  store = await FileStore.open({ dir, fsync: 'always', rewriteMinSize: 1 << 30, rewritePercentage: 0, logger: silent, fs: fsync.wrap(nodeFiles) });
  ({ broker } = await Broker.open({ store, logger: silent }));
  front = await startHttpServer(broker, {
    host: '127.0.0.1',
    port: 0,
    maxBodyBytes: 1 << 20,
    sseHeartbeatMs: 15_000,
    sseMaxInflight: 100,
    logger: silent,
    metrics: { aof: () => store.stats(), fsync, fronts: () => ({ tcp: { connections: 3, subscriptions: 2 }, grpc: { connections: 1 } }) },
  });
  base = `http://127.0.0.1:${front.port}`;
});
afterAll(async () => {
  await front.close();
  await broker.close();
  rmSync(dir, { recursive: true, force: true });
});

async function scrape(at = base): Promise<string> {
  const r = await fetch(`${at}/metrics`);
  expect(r.status).toBe(200);
  expect(r.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  expect(r.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  return r.text();
}

/** The value of one sample, `name{labels}` exactly as written; undefined when absent. */
function sample(text: string, series: string): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return undefined;
}

describe('GET /metrics: topics per namespace/topic', () => {
  it('depths (pending, in flight, delayed, DLQ) and totals (published, acked, redelivered, dead-lettered), read at scrape time', async () => {
    await broker.createNamespace('m');
    await broker.createTopic('m', 't', 2, { retry: { maxRetries: 0 } });
    for (let i = 0; i < 4; i++) await req(base, 'POST', '/v1/namespaces/m/topics/t/publish', { payload: i, queue_id: 0 });
    await req(base, 'POST', '/v1/namespaces/m/topics/t/publish', { payload: 'later', delay_ms: 60_000 });
    const [a, b, c] = await broker.consume('m', 't', 0, 3, false);
    await broker.ack('m', 't', 0, [a!.id]);
    await broker.nack('m', 't', 0, [b!.id]);
    const text = await scrape();
    const L = '{namespace="m",topic="t"}';
    expect(sample(text, `mqlite_topic_queues${L}`)).toBe(2);
    expect(sample(text, `mqlite_topic_pending_messages${L}`)).toBe(1);
    expect(sample(text, `mqlite_topic_in_flight_messages${L}`)).toBe(1);
    expect(sample(text, `mqlite_topic_delayed_messages${L}`)).toBe(1);
    expect(sample(text, `mqlite_topic_dlq_messages${L}`)).toBe(1);
    expect(sample(text, `mqlite_topic_oldest_pending_age_seconds${L}`)).toBeGreaterThanOrEqual(0);
    expect(sample(text, `mqlite_messages_published_total${L}`)).toBe(5);
    expect(sample(text, `mqlite_messages_acked_total${L}`)).toBe(1);
    expect(sample(text, `mqlite_messages_redelivered_total${L}`)).toBe(0);
    expect(sample(text, `mqlite_messages_dead_lettered_total${L}`)).toBe(1);
    expect(text).toMatch(/# TYPE mqlite_messages_published_total counter/);
    expect(text).toMatch(/# TYPE mqlite_topic_pending_messages gauge/);
    await broker.ack('m', 't', 0, [c!.id]);
    expect(sample(await scrape(), `mqlite_topic_in_flight_messages${L}`)).toBe(0);
  });

  it('expired messages are counted in mqlite_messages_expired_total (docs/DESIGN.md, "Expiry")', async () => {
    await broker.createTopic('m', 'exp', 1, { deadLetterExpired: true });
    await req(base, 'POST', '/v1/namespaces/m/topics/exp/publish', { payload: 1, ttl_ms: 20 });
    await req(base, 'POST', '/v1/namespaces/m/topics/exp/publish', { payload: 2 });
    const L = '{namespace="m",topic="exp"}';
    expect(sample(await scrape(), `mqlite_messages_expired_total${L}`)).toBe(0);
    await new Promise((r) => setTimeout(r, 40));
    // The consume meets the expired head first: it is expired, not delivered.
    expect((await broker.consume('m', 'exp', 0, 2, true)).length).toBe(1);
    const text = await scrape();
    expect(sample(text, `mqlite_messages_expired_total${L}`)).toBe(1);
    expect(sample(text, `mqlite_messages_dead_lettered_total${L}`)).toBe(1);
    expect(text).toMatch(/# TYPE mqlite_messages_expired_total counter/);
  });

  it('paused as a gauge and purged as a counter, after the HTTP routes pause and purge', async () => {
    await broker.createTopic('m', 'p', 1);
    const L = '{namespace="m",topic="p"}';
    expect(sample(await scrape(), `mqlite_topic_paused${L}`)).toBe(0);
    for (let i = 0; i < 3; i++) await req(base, 'POST', '/v1/namespaces/m/topics/p/publish', { payload: i });
    expect(await req(base, 'POST', '/v1/namespaces/m/topics/p/pause')).toMatchObject({ status: 200, json: { success: true, data: { paused: true } } });
    expect(await req(base, 'POST', '/v1/namespaces/m/topics/p/purge', { queue_id: 0 })).toMatchObject({ status: 200, json: { data: { purged: 3 } } });
    let text = await scrape();
    expect(sample(text, `mqlite_topic_paused${L}`)).toBe(1);
    expect(sample(text, `mqlite_messages_purged_total${L}`)).toBe(3);
    expect(text).toMatch(/# TYPE mqlite_messages_purged_total counter/);
    await req(base, 'POST', '/v1/namespaces/m/topics/p/resume');
    text = await scrape();
    expect(sample(text, `mqlite_topic_paused${L}`)).toBe(0);
  });

  it('a deleted topic disappears from the next scrape', async () => {
    await broker.createTopic('m', 'gone', 1);
    expect(sample(await scrape(), 'mqlite_topic_pending_messages{namespace="m",topic="gone"}')).toBe(0);
    await broker.deleteTopic('m', 'gone');
    expect(sample(await scrape(), 'mqlite_topic_pending_messages{namespace="m",topic="gone"}')).toBeUndefined();
  });
});

describe('GET /metrics: AOF', () => {
  it('size, records, fsync count and latency histogram, rewrite count and last duration', async () => {
    await broker.createNamespace('aof');
    await broker.rewrite();
    const text = await scrape();
    const st = store.stats();
    expect(sample(text, 'mqlite_aof_size_bytes')).toBe(st.aofSize);
    expect(sample(text, 'mqlite_aof_size_bytes')).toBeGreaterThan(0);
    expect(sample(text, 'mqlite_aof_fsyncs_total')).toBe(st.fsyncs);
    expect(sample(text, 'mqlite_aof_records_total')).toBe(st.records);
    expect(sample(text, 'mqlite_aof_rewrites_total')).toBe(1);
    expect(sample(text, 'mqlite_aof_rewrite_failures_total')).toBe(0);
    expect(sample(text, 'mqlite_aof_last_rewrite_duration_seconds')).toBe(st.lastRewriteSeconds);
    expect(sample(text, 'mqlite_aof_failed')).toBe(0);
    // Every fsync of the store went through the timed file layer (rewrites sync too).
    expect(sample(text, 'mqlite_aof_fsync_duration_seconds_count')).toBeGreaterThanOrEqual(st.fsyncs);
    expect(sample(text, 'mqlite_aof_fsync_duration_seconds_bucket{le="+Inf"}')).toBe(sample(text, 'mqlite_aof_fsync_duration_seconds_count'));
    expect(text).toMatch(/# TYPE mqlite_aof_fsync_duration_seconds histogram/);
  });

  it('every fsync is counted: those held between scrapes, and past what is held', async () => {
    const timings = new FsyncTimings();
    const files = timings.wrap({ ...nodeFiles, fdatasyncSync: () => {}, fdatasync: async () => {} });
    const count = async (): Promise<number> => {
      const { values } = await timings.histogram.get();
      return values.find((v) => v.metricName === 'mqlite_aof_fsync_duration_seconds_count')!.value;
    };
    for (let i = 0; i < 10_000; i++) files.fdatasyncSync(0);
    await files.fdatasync(0);
    expect(await count()).toBe(10_001);
    files.fdatasyncSync(0);
    expect(await count()).toBe(10_002);
    expect(await count()).toBe(10_002);
  });
});

describe('GET /metrics: fronts, requests, process', () => {
  it('connections and subscriptions per front: HTTP its own (SSE streams), the others from the source', async () => {
    const sse = await rawSubscribe(front.port, '/v1/namespaces/m/topics/t/queues/1/subscribe');
    await eventually(() => front.sseStreams === 1, 5_000, 'the SSE stream');
    const text = await scrape();
    expect(sample(text, 'mqlite_front_subscriptions{front="http"}')).toBe(1);
    expect(sample(text, 'mqlite_front_connections{front="http"}')).toBeGreaterThanOrEqual(2);
    expect(sample(text, 'mqlite_front_connections{front="tcp"}')).toBe(3);
    expect(sample(text, 'mqlite_front_subscriptions{front="tcp"}')).toBe(2);
    expect(sample(text, 'mqlite_front_connections{front="grpc"}')).toBe(1);
    expect(sample(text, 'mqlite_front_subscriptions{front="grpc"}')).toBeUndefined();
    sse.destroy();
    await eventually(() => front.sseStreams === 0, 5_000, 'the SSE stream to end');
    expect(sample(await scrape(), 'mqlite_front_subscriptions{front="http"}')).toBe(0);
  });

  it('HTTP requests by method, route pattern and status; unmatched paths as one route', async () => {
    const before = await scrape();
    const route = '/v1/namespaces/:namespace/topics/:topic/stats';
    const okSeries = `mqlite_http_requests_total{method="GET",route="${route}",status="200"}`;
    const notFoundSeries = `mqlite_http_requests_total{method="GET",route="${route}",status="404"}`;
    await req(base, 'GET', '/v1/namespaces/m/topics/t/stats');
    await req(base, 'GET', '/v1/namespaces/m/topics/t/stats');
    await req(base, 'GET', '/v1/namespaces/m/topics/nope/stats');
    await req(base, 'GET', '/no/such/route');
    const after = await scrape();
    expect(sample(after, okSeries)).toBe((sample(before, okSeries) ?? 0) + 2);
    expect(sample(after, notFoundSeries)).toBe((sample(before, notFoundSeries) ?? 0) + 1);
    expect(sample(after, 'mqlite_http_requests_total{method="*",route="unmatched",status="404"}')).toBeGreaterThanOrEqual(1);
    expect(sample(after, 'mqlite_http_requests_total{method="GET",route="/metrics",status="200"}')).toBeGreaterThanOrEqual(1);
  });

  it("prom-client's process metrics, event-loop lag included", async () => {
    const text = await scrape();
    expect(text).toMatch(/^nodejs_eventloop_lag_seconds \d/m);
    expect(text).toMatch(/^nodejs_eventloop_lag_p99_seconds \d/m);
    expect(text).toMatch(/^process_resident_memory_bytes \d/m);
  });

  it('without a source the AOF metrics are absent', async () => {
    const h = await startHarness();
    try {
      const text = await scrape(h.base);
      expect(text).not.toMatch(/mqlite_aof_/);
      expect(text).toMatch(/^mqlite_front_subscriptions\{front="http"\} 0$/m);
    } finally {
      await h.stop();
    }
  });

  it('answers while the front is closing (as /health does), when other routes get 503', async () => {
    const b = new Broker();
    const front = createApp(b, { maxBodyBytes: 1024, sseHeartbeatMs: 0, sseMaxInflight: 10, logger: silent });
    front.shutdown();
    expect((await front.app.request('/v1/namespaces')).status).toBe(503);
    const r = await front.app.request('/metrics');
    expect(r.status).toBe(200);
    expect(await r.text()).toMatch(/^mqlite_http_requests_total\{method="GET",route="\/v1\/namespaces",status="503"\} 1$/m);
    await b.close();
  });
});
