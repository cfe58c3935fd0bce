/**
 * HTTP front figures, against the built broker in a child process
 * (fsync everysec), driven by the HttpClient of src/client/http (its `raw`
 * keep-alive transport):
 *
 * - `http.publish.c32.req_per_s`: 32 keep-alive connections, each
 *   publishing a 1 KiB JSON payload and awaiting the reply before the next.
 * - `http.sse.latency_p50_ms` / `_p99_ms`: one message at a time, from the
 *   start of its publish request to its arrival on an SSE subscription.
 * - `http.sse.msgs_per_s`: one auto-ack SSE subscriber draining a backlog
 *   of 100k messages.
 *
 * Also `http.publish.c32.{server,client}_cpu_us_per_req`: CPU time per
 * publish of the broker process and of this load generator. Both share two
 * cores, so these show what the server alone could sustain.
 */
import { HttpClient } from '../src/client/http/index.js';
import type { ClientMessage } from '../src/client/types.js';
import { benchApiKey, startServerProcess } from './server-process.js';
import { percentile, processCpuUs, progress, round } from './stats.js';

const CONNECTIONS = 32;
const PUBLISH_SECONDS = 6;
// The first seconds run at a fraction of the steady rate (JIT, connection set-up).
const WARMUP_SECONDS = 3;
const LATENCY_SAMPLES = 2_000;
const BACKLOG = 100_000;

/** A JSON document of exactly `bytes` bytes. */
function jsonPayload(bytes: number): string {
  const head = '{"data":"';
  const tail = '"}';
  return head + 'x'.repeat(bytes - head.length - tail.length) + tail;
}

const PAYLOAD_1K = jsonPayload(1024);

/** A benchmark that stops getting messages fails rather than hangs. */
function withTimeout<T>(p: Promise<T>, ms: number, what: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`http bench: ${what()} did not arrive within ${ms} ms`)), ms);
  });
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}


interface PublishFigures {
  perSecond: number;
  serverCpuUs: number;
  clientCpuUs: number;
}

async function publishLoop(client: HttpClient, topic: string, seconds: number, serverPid: number): Promise<PublishFigures> {
  let count = 0;
  const server0 = processCpuUs(serverPid);
  const client0 = process.cpuUsage();
  const start = performance.now();
  const end = start + seconds * 1000;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (performance.now() < end) {
        await client.publish('bench', topic, PAYLOAD_1K);
        count++;
      }
    }),
  );
  const elapsed = (performance.now() - start) / 1000;
  const clientCpu = process.cpuUsage(client0);
  return {
    perSecond: count / elapsed,
    serverCpuUs: (processCpuUs(serverPid) - server0) / count,
    clientCpuUs: (clientCpu.user + clientCpu.system) / count,
  };
}

async function publishThroughput(client: HttpClient, serverPid: number): Promise<PublishFigures> {
  await client.createTopic('bench', 'pub', 4);
  progress(`http publish: warm-up ${WARMUP_SECONDS} s`);
  await publishLoop(client, 'pub', WARMUP_SECONDS, serverPid);
  progress(`http publish: ${CONNECTIONS} connections for ${PUBLISH_SECONDS} s`);
  const figures = await publishLoop(client, 'pub', PUBLISH_SECONDS, serverPid);
  await client.deleteTopic('bench', 'pub');
  return figures;
}

async function sseLatency(client: HttpClient): Promise<{ p50: number; p99: number }> {
  await client.createTopic('bench', 'lat', 1);
  let waiting: ((m: ClientMessage) => void) | undefined;
  const sub = await client.subscribe('bench', 'lat', 0, {
    autoAck: true,
    onMessage: (m) => waiting?.(m),
  });
  const samples: number[] = [];
  const total = LATENCY_SAMPLES + 200; // the first 200 warm up
  progress(`http sse latency: ${total} messages, one at a time`);
  for (let i = 0; i < total; i++) {
    const arrived = new Promise<ClientMessage>((resolve) => (waiting = resolve));
    const start = performance.now();
    await client.publish('bench', 'lat', `{"seq":${i}}`);
    await withTimeout(arrived, 10_000, () => `latency message ${i}`);
    if (i >= 200) samples.push(performance.now() - start);
  }
  await sub.close();
  await client.deleteTopic('bench', 'lat');
  samples.sort((a, b) => a - b);
  return { p50: percentile(samples, 50), p99: percentile(samples, 99) };
}

async function sseDrain(client: HttpClient): Promise<number> {
  await client.createTopic('bench', 'drain', 1);
  progress(`http sse drain: publishing a backlog of ${BACKLOG} messages`);
  let next = 0;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (next < BACKLOG) {
        next++;
        await client.publish('bench', 'drain', PAYLOAD_1K);
      }
    }),
  );
  progress('http sse drain: one auto-ack subscriber');
  let received = 0;
  let done: () => void = () => undefined;
  const all = new Promise<void>((resolve) => (done = resolve));
  const start = performance.now();
  const sub = await client.subscribe('bench', 'drain', 0, {
    autoAck: true,
    onMessage: () => {
      if (++received === BACKLOG) done();
    },
  });
  await withTimeout(all, 120_000, () => `the backlog (${received} of ${BACKLOG} so far)`);
  const rate = BACKLOG / ((performance.now() - start) / 1000);
  await sub.close();
  await client.deleteTopic('bench', 'drain');
  return rate;
}

export async function benchHttp(): Promise<Record<string, number>> {
  const server = await startServerProcess({ fsync: 'everysec' });
  try {
    // The lean `raw` transport, so that the generator leaves the cores to the
    // server (src/client/http/transport.ts); SSE streams use node:http.
    const client = new HttpClient({ baseUrl: `http://127.0.0.1:${server.ports.http}`, transport: 'raw', apiKey: benchApiKey });
    await client.createNamespace('bench');
    const publish = await publishThroughput(client, server.pid);
    const latency = await sseLatency(client);
    const drain = await sseDrain(client);
    await client.close();
    return {
      'http.publish.c32.req_per_s': round(publish.perSecond),
      'http.publish.c32.server_cpu_us_per_req': round(publish.serverCpuUs),
      'http.publish.c32.client_cpu_us_per_req': round(publish.clientCpuUs),
      'http.sse.latency_p50_ms': round(latency.p50, 3),
      'http.sse.latency_p99_ms': round(latency.p99, 3),
      'http.sse.msgs_per_s': round(drain),
    };
  } finally {
    await server.stop();
  }
}
