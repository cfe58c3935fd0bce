/**
 * gRPC figures, measured with the typed GrpcClient against the
 * built broker in a child process (everysec fsync), so client and server do
 * not share one core:
 * - grpc.publish.c1.msgs_per_s / c64: 1 KiB publishes, 1 or 64 calls in flight
 * - grpc.subscribe.latency_p50_ms / p99: publish call start to stream delivery,
 *   one message at a time, on an idle subscribed queue
 * - grpc.subscribe.msgs_per_s: one auto-ack stream draining a 100k backlog
 */
import { readFileSync } from 'node:fs';
import { GrpcClient } from '../src/client/grpc/index.js';
import { benchApiKey, startServerProcess } from './server-process.js';
import { percentile, progress, round } from './stats.js';

const PAYLOAD = Buffer.alloc(1024, 'x');
const NS = 'bench';

/** CPU time (ms) a process has used so far, from /proc (Linux); NaN elsewhere. */
function cpuMs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime + stime, in USER_HZ (100)
  } catch {
    return NaN;
  }
}

/**
 * Runs `fn`, then reports (to stderr) the CPU per operation of the server
 * and of this client: on a busy machine the rates drop, the CPU per
 * operation says what each side costs.
 */
async function withCpu<T>(label: string, serverPid: number, ops: (result: T) => number, fn: () => Promise<T>): Promise<T> {
  const server0 = cpuMs(serverPid);
  const client0 = process.cpuUsage();
  const result = await fn();
  const client = process.cpuUsage(client0);
  const n = ops(result);
  const serverUs = ((cpuMs(serverPid) - server0) * 1000) / n;
  const clientUs = (client.user + client.system) / n;
  progress(`grpc: ${label}: server ${serverUs.toFixed(1)} µs CPU per message, client ${clientUs.toFixed(1)} µs`);
  return result;
}

/** `concurrency` loops, each awaiting its publish before the next, for `seconds` after a warm-up. */
async function publishRate(client: GrpcClient, topic: string, concurrency: number, seconds: number, serverPid: number): Promise<number> {
  const run = async (ms: number): Promise<number> => {
    let count = 0;
    const end = performance.now() + ms;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (performance.now() < end) {
          await client.publish(NS, topic, PAYLOAD);
          count++;
        }
      }),
    );
    return count;
  };
  await run(500);
  return withCpu(`publish c${concurrency}`, serverPid, (rate) => rate * seconds, async () => {
    const start = performance.now();
    const count = await run(seconds * 1000);
    return count / ((performance.now() - start) / 1000);
  });
}

/** Publish call start to delivery on the stream, one message at a time. */
async function pushLatency(client: GrpcClient, topic: string, samples: number): Promise<{ p50: number; p99: number }> {
  let arrived: (() => void) | undefined;
  const sub = await client.subscribe(NS, topic, 0, { autoAck: true, onMessage: () => arrived?.() });
  const waits: number[] = [];
  try {
    for (let i = 0; i < samples + 200; i++) {
      const delivered = new Promise<void>((resolve) => (arrived = resolve));
      const t0 = performance.now();
      const published = client.publish(NS, topic, PAYLOAD);
      await delivered;
      const wait = performance.now() - t0;
      await published;
      if (i >= 200) waits.push(wait); // the first ones warm up the JIT and the connection
    }
  } finally {
    await sub.close();
  }
  waits.sort((a, b) => a - b);
  return { p50: percentile(waits, 50), p99: percentile(waits, 99) };
}

/** Fills a backlog of `n`, then times one auto-ack stream draining it. */
async function drainRate(client: GrpcClient, topic: string, n: number, serverPid: number): Promise<number> {
  let sent = 0;
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (sent < n) {
        sent++;
        await client.publish(NS, topic, PAYLOAD);
      }
    }),
  );
  return withCpu('subscribe drain', serverPid, () => n, async () => {
    let got = 0;
    let done: () => void = () => {};
    const all = new Promise<void>((resolve) => (done = resolve));
    const start = performance.now();
    const sub = await client.subscribe(NS, topic, 0, {
      autoAck: true,
      onMessage: () => {
        if (++got === n) done();
      },
    });
    await all;
    const seconds = (performance.now() - start) / 1000;
    await sub.close();
    return n / seconds;
  });
}

export async function benchGrpc(): Promise<Record<string, number>> {
  const server = await startServerProcess({ fsync: 'everysec' });
  const client = new GrpcClient({ host: '127.0.0.1', port: server.ports.grpc, timeoutMs: 30_000, apiKey: benchApiKey });
  try {
    await client.createNamespace(NS);
    const fresh = async (name: string): Promise<string> => {
      await client.createTopic(NS, name, 1);
      return name;
    };
    progress('grpc: publish, 1 call in flight');
    const c1 = await publishRate(client, await fresh('c1'), 1, 4, server.pid);
    await client.deleteTopic(NS, 'c1');
    progress('grpc: publish, 64 calls in flight');
    const c64 = await publishRate(client, await fresh('c64'), 64, 5, server.pid);
    await client.deleteTopic(NS, 'c64');
    progress('grpc: subscribe push latency');
    const latency = await pushLatency(client, await fresh('latency'), 2000);
    progress('grpc: subscribe draining a 100k backlog');
    const drain = await drainRate(client, await fresh('drain'), 100_000, server.pid);
    return {
      'grpc.publish.c1.msgs_per_s': round(c1),
      'grpc.publish.c64.msgs_per_s': round(c64),
      'grpc.subscribe.latency_p50_ms': round(latency.p50, 3),
      'grpc.subscribe.latency_p99_ms': round(latency.p99, 3),
      'grpc.subscribe.msgs_per_s': round(drain),
    };
  } finally {
    await client.close();
    await server.stop();
  }
}
