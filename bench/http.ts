/**
 * HTTP front figures (issue 4), against the built broker in a child process
 * (fsync everysec), driven by the HttpClient of src/client/http:
 *
 * - `http.publish.c32.req_per_s`: 32 keep-alive connections, each
 *   publishing a 1 KiB JSON payload and awaiting the reply before the next.
 * - `http.sse.latency_p50_ms` / `_p99_ms`: one message at a time, from the
 *   start of its publish request to its arrival on an SSE subscription.
 * - `http.sse.msgs_per_s`: one auto-ack SSE subscriber draining a backlog
 *   of 100k messages.
 */
import { HttpClient } from '../src/client/http/index.js';
import type { ClientMessage } from '../src/client/types.js';
import { startServerProcess } from './server-process.js';
import { percentile, progress, round } from './stats.js';

const CONNECTIONS = 32;
const PUBLISH_SECONDS = 6;
const WARMUP_SECONDS = 1;
const LATENCY_SAMPLES = 2_000;
const BACKLOG = 100_000;

/** A JSON document of exactly `bytes` bytes. */
function jsonPayload(bytes: number): string {
  const head = '{"data":"';
  const tail = '"}';
  return head + 'x'.repeat(bytes - head.length - tail.length) + tail;
}

const PAYLOAD_1K = jsonPayload(1024);

async function publishLoop(client: HttpClient, topic: string, seconds: number): Promise<number> {
  let count = 0;
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
  return count / ((performance.now() - start) / 1000);
}

async function publishThroughput(client: HttpClient): Promise<number> {
  await client.createTopic('bench', 'pub', 4);
  progress(`http publish: warm-up ${WARMUP_SECONDS} s`);
  await publishLoop(client, 'pub', WARMUP_SECONDS);
  progress(`http publish: ${CONNECTIONS} connections for ${PUBLISH_SECONDS} s`);
  const rate = await publishLoop(client, 'pub', PUBLISH_SECONDS);
  await client.deleteTopic('bench', 'pub');
  return rate;
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
    await arrived;
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
  await all;
  const rate = BACKLOG / ((performance.now() - start) / 1000);
  await sub.close();
  await client.deleteTopic('bench', 'drain');
  return rate;
}

export async function benchHttp(): Promise<Record<string, number>> {
  const server = await startServerProcess({ fsync: 'everysec' });
  try {
    const client = new HttpClient({ baseUrl: `http://127.0.0.1:${server.ports.http}` });
    await client.createNamespace('bench');
    const publish = await publishThroughput(client);
    const latency = await sseLatency(client);
    const drain = await sseDrain(client);
    await client.close();
    return {
      'http.publish.c32.req_per_s': round(publish),
      'http.sse.latency_p50_ms': round(latency.p50, 3),
      'http.sse.latency_p99_ms': round(latency.p99, 3),
      'http.sse.msgs_per_s': round(drain),
    };
  } finally {
    await server.stop();
  }
}
