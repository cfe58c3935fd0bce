/**
 * TCP front figures, against the built broker in a child process
 * (fsync everysec, AOF on) so that client and server each have a core:
 *
 * - tcp.{pb,json}.pipelined.publish_msgs_per_s: one connection, 1 KiB
 *   payloads, PIPELINE_DEPTH requests in flight, for about MEASURE_MS.
 * - tcp.pb.c1.latency_p{50,99}_ms: one request in flight (publish, 1 KiB).
 * - tcp.pb.consume_batch100.msgs_per_s: consume with batch_size 100 and
 *   auto_ack from a pre-filled queue, CONSUME_DEPTH batches in flight.
 * - tcp.pb.consume_ack.msgs_per_s and client.worker.tcp.msgs_per_s: the
 *   same 100,000 pre-filled messages of a 4-queue topic taken and acked,
 *   by hand (a consume of 100 then one ack, a loop per queue) and by the
 *   client's worker (docs/CLIENT.md, "Workers": concurrency 64, a handler
 *   that returns at once); `client.worker.tcp.ratio` is the second over
 *   the first, measured in the same run.
 */
import { readFileSync } from 'node:fs';
import { connect } from '../src/client/connect.js';
import { TcpClient } from '../src/client/tcp/index.js';
import { benchApiKey, startServerProcess } from './server-process.js';
import { percentile, pipelined, progress, round } from './stats.js';

/**
 * Requests in flight on the pipelined connection. A shallow window makes
 * client and server take turns (the server idles while the client reads a
 * batch of replies and writes the next); 3,000 keeps the server fed. It
 * stays under the server's backpressure bound (4,096 replies owed).
 */
const PIPELINE_DEPTH = 3000;
const CONSUME_DEPTH = 4;
const MEASURE_MS = 3000;
const WARMUP = 20_000;
const NS = 'bench-tcp';

/** Publishes with `depth` in flight until `ms` passed or `count` were sent; returns msgs/s. */
async function pipelinedPublish(
  c: TcpClient,
  topic: string,
  payload: Uint8Array | string,
  opts: { ms?: number; count?: number; depth: number },
): Promise<number> {
  return pipelined(() => c.publish(NS, topic, payload), opts);
}

/** CPU time (user + system, ms) a process has used so far; undefined off Linux. */
function cpuMs(pid: number): number | undefined {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10; // clock ticks of 10 ms
  } catch {
    return undefined;
  }
}

async function publishFigure(port: number, encoding: 'json' | 'protobuf', serverPid: number): Promise<number> {
  const c = await TcpClient.connect({ host: '127.0.0.1', port, encoding, apiKey: benchApiKey });
  const topic = `pub-${encoding}`;
  await c.createTopic(NS, topic, 4);
  // JSON: a 1 KiB JSON string document; protobuf: 1 KiB of bytes.
  const payload = encoding === 'json' ? JSON.stringify('x'.repeat(1022)) : new Uint8Array(1024).fill(120);
  await pipelinedPublish(c, topic, payload, { count: WARMUP, depth: PIPELINE_DEPTH });
  const cpu0 = cpuMs(serverPid);
  const start = performance.now();
  const rate = await pipelinedPublish(c, topic, payload, { ms: MEASURE_MS, depth: PIPELINE_DEPTH });
  const cpu1 = cpuMs(serverPid);
  if (cpu0 !== undefined && cpu1 !== undefined) {
    // On a shared machine the rate moves with the load; the server's CPU time per message does much less.
    const perMsgUs = ((cpu1 - cpu0) * 1000) / (rate * ((performance.now() - start) / 1000));
    progress(`tcp: ${encoding}: ${Math.round(rate)} msgs/s, server CPU ${perMsgUs.toFixed(1)} us/msg (one core: ~${Math.round(1e6 / perMsgUs)} msgs/s)`);
  }
  await c.deleteTopic(NS, topic); // frees the queued messages
  await c.close();
  return rate;
}

async function latencyFigures(port: number): Promise<{ p50: number; p99: number }> {
  const c = await TcpClient.connect({ host: '127.0.0.1', port, encoding: 'protobuf', apiKey: benchApiKey });
  await c.createTopic(NS, 'lat', 1);
  const payload = new Uint8Array(1024).fill(120);
  for (let i = 0; i < 5000; i++) await c.publish(NS, 'lat', payload);
  const samples: number[] = [];
  const start = performance.now();
  while (performance.now() - start < MEASURE_MS) {
    const t0 = performance.now();
    await c.publish(NS, 'lat', payload);
    samples.push(performance.now() - t0);
  }
  samples.sort((a, b) => a - b);
  await c.deleteTopic(NS, 'lat');
  await c.close();
  return { p50: percentile(samples, 50), p99: percentile(samples, 99) };
}

async function consumeFigure(port: number): Promise<number> {
  const c = await TcpClient.connect({ host: '127.0.0.1', port, encoding: 'protobuf', apiKey: benchApiKey });
  await c.createTopic(NS, 'con', 1);
  const payload = new Uint8Array(1024).fill(120);
  const total = 250_000;
  await pipelinedPublish(c, 'con', payload, { count: total, depth: PIPELINE_DEPTH });
  // warm up on the first 20k, then measure
  let got = 0;
  while (got < 20_000) got += (await c.consume(NS, 'con', 0, { batchSize: 100, autoAck: true })).length;
  const start = performance.now();
  let measured = 0;
  let empty = false;
  const worker = async (): Promise<void> => {
    while (!empty && performance.now() - start < MEASURE_MS) {
      const n = (await c.consume(NS, 'con', 0, { batchSize: 100, autoAck: true })).length;
      if (n === 0) empty = true;
      measured += n;
    }
  };
  await Promise.all(Array.from({ length: CONSUME_DEPTH }, worker));
  const rate = measured / ((performance.now() - start) / 1000);
  await c.deleteTopic(NS, 'con');
  await c.close();
  return rate;
}

/** Takes and acks `count` messages of a 4-queue topic by hand: a consume of 100 then an ack, a loop per queue. */
async function consumeAck(c: TcpClient, topic: string, count: number): Promise<number> {
  let taken = 0;
  const start = performance.now();
  const loop = async (queue: number): Promise<void> => {
    while (taken < count) {
      const msgs = await c.consume(NS, topic, queue, { batchSize: 100 });
      if (msgs.length === 0) return;
      taken += msgs.length;
      await c.ack(NS, topic, queue, msgs.map((m) => m.id));
    }
  };
  await Promise.all([0, 1, 2, 3].map(loop));
  return taken / ((performance.now() - start) / 1000);
}

/** The same through the client's worker: `count` handled, acked by the worker. */
async function workerRun(port: number, topic: string, count: number): Promise<number> {
  const mq = await connect(`tcp://127.0.0.1:${port}`, { apiKey: benchApiKey });
  let handled = 0;
  let start = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const worker = mq.worker(
    NS,
    topic,
    () => {
      if (handled === 0) start = performance.now();
      if (++handled === count) done();
    },
    { concurrency: 64 },
  );
  await finished;
  const rate = count / ((performance.now() - start) / 1000);
  await worker.close();
  await mq.close();
  return rate;
}

async function workerFigures(port: number): Promise<{ raw: number; worker: number }> {
  const c = await TcpClient.connect({ host: '127.0.0.1', port, encoding: 'protobuf', apiKey: benchApiKey });
  const payload = new Uint8Array(1024).fill(120);
  const n = 100_000;
  await c.createTopic(NS, 'ca', 4);
  await pipelinedPublish(c, 'ca', payload, { count: n + 20_000, depth: PIPELINE_DEPTH });
  await consumeAck(c, 'ca', 20_000); // warm-up
  const raw = await consumeAck(c, 'ca', n);
  await c.createTopic(NS, 'wk', 4);
  // a margin: the warm-up worker handles a few past its 20,000 before it stops
  await pipelinedPublish(c, 'wk', payload, { count: n + 30_000, depth: PIPELINE_DEPTH });
  await workerRun(port, 'wk', 20_000); // warm-up
  const worker = await workerRun(port, 'wk', n);
  await c.deleteTopic(NS, 'ca');
  await c.deleteTopic(NS, 'wk');
  await c.close();
  return { raw, worker };
}

export async function benchTcp(): Promise<Record<string, number>> {
  progress('tcp: starting the broker (child process, fsync everysec)');
  const server = await startServerProcess({ fsync: 'everysec' });
  try {
    const port = server.ports.tcp;
    const admin = await TcpClient.connect({ host: '127.0.0.1', port, encoding: 'protobuf', apiKey: benchApiKey });
    await admin.createNamespace(NS);
    await admin.close();

    progress('tcp: protobuf pipelined publish');
    const pb = await publishFigure(port, 'protobuf', server.pid);
    progress('tcp: JSON pipelined publish');
    const json = await publishFigure(port, 'json', server.pid);
    progress('tcp: protobuf latency, one request in flight');
    const lat = await latencyFigures(port);
    progress('tcp: protobuf consume, batch 100');
    const consume = await consumeFigure(port);
    progress('tcp: consume+ack by hand, then the client worker');
    const w = await workerFigures(port);
    return {
      'tcp.pb.pipelined.publish_msgs_per_s': round(pb),
      'tcp.json.pipelined.publish_msgs_per_s': round(json),
      'tcp.pb.c1.latency_p50_ms': round(lat.p50, 3),
      'tcp.pb.c1.latency_p99_ms': round(lat.p99, 3),
      'tcp.pb.consume_batch100.msgs_per_s': round(consume),
      'tcp.pb.consume_ack.msgs_per_s': round(w.raw),
      'client.worker.tcp.msgs_per_s': round(w.worker),
      'client.worker.tcp.ratio': round(w.worker / w.raw, 2),
    };
  } finally {
    await server.stop();
  }
}
