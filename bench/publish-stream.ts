/**
 * gRPC PublishStream against TCP pipelined publish, in the same run, on
 * one broker in a child process (fsync everysec, AOF on), so the ratio
 * holds whatever else loads the machine:
 *
 * - pubstream.grpc_stream.msgs_per_s: the typed client's GrpcPublisher,
 *   1 KiB payloads, DEPTH publishes in flight on one PublishStream;
 * - pubstream.tcp_pipelined.msgs_per_s: TcpClient (protobuf), the same
 *   payload and DEPTH requests in flight on one connection (as
 *   tcp.pb.pipelined.publish_msgs_per_s);
 * - pubstream.ratio: the first over the second, per round (target >= 0.8);
 * - *.server_cpu_us_per_msg: the broker's CPU per publish (from /proc), and
 *   pubstream.server_cpu_ratio: gRPC stream's over TCP's, per round.
 *
 * Each figure is the median of ROUNDS rounds (after an untimed one), the
 * two measured back to back in each round, in turns first, each from an
 * empty broker; the ratios are the medians of the rounds' ratios, so a
 * round slowed by other load compares like with like.
 */
import { GrpcClient } from '../src/client/grpc/index.js';
import { TcpClient } from '../src/client/tcp/index.js';
import { benchApiKey, startServerProcess } from './server-process.js';
import { percentile, pipelined, processCpuUs, progress, round, type PublishOne } from './stats.js';

/** In flight on each side: the TCP bench's pipeline depth, under both fronts' bound of 4,096. */
const DEPTH = 3000;
const MEASURE_MS = 3000;
const WARMUP = 20_000;
const ROUNDS = 4;
const NS = 'bench-pubstream';
const PAYLOAD = new Uint8Array(1024).fill(120);

interface Figure {
  rate: number;
  serverUs: number;
  clientUs: number;
}

async function measure(label: string, serverPid: number, publish: PublishOne): Promise<Figure> {
  await pipelined(publish, { count: WARMUP, depth: DEPTH });
  const cpu0 = processCpuUs(serverPid);
  const client0 = process.cpuUsage();
  const start = performance.now();
  const rate = await pipelined(publish, { ms: MEASURE_MS, depth: DEPTH });
  const n = rate * ((performance.now() - start) / 1000);
  const client = process.cpuUsage(client0);
  const serverUs = (processCpuUs(serverPid) - cpu0) / n;
  const clientUs = (client.user + client.system) / n;
  progress(`pubstream: ${label}: ${Math.round(rate)} msgs/s, server CPU ${serverUs.toFixed(1)} µs/msg, client ${clientUs.toFixed(1)} µs/msg`);
  return { rate, serverUs, clientUs };
}

const median = (xs: number[]): number => percentile([...xs].sort((a, b) => a - b), 50);

export async function benchPublishStream(): Promise<Record<string, number>> {
  const server = await startServerProcess({ fsync: 'everysec' });
  const tcp = await TcpClient.connect({ host: '127.0.0.1', port: server.ports.tcp, encoding: 'protobuf', apiKey: benchApiKey });
  const grpc = new GrpcClient({ host: '127.0.0.1', port: server.ports.grpc, timeoutMs: 30_000, apiKey: benchApiKey });
  const publisher = grpc.publishStream({ maxInFlight: 4096 });
  const stream: Figure[] = [];
  const tcpFigures: Figure[] = [];
  try {
    await tcp.createNamespace(NS);
    const sides = [
      { key: 'tcp', label: 'tcp pipelined', what: 'TCP pipelined publish', figures: tcpFigures, publish: (topic: string) => () => tcp.publish(NS, topic, PAYLOAD) },
      { key: 'grpc', label: 'grpc stream', what: 'gRPC PublishStream', figures: stream, publish: (topic: string) => () => publisher.publish(NS, topic, PAYLOAD) },
    ];
    // Round 0 is untimed; then the order alternates, and each topic is
    // deleted right after its own measurement: every measurement starts
    // from an empty broker on memory that an earlier one freed. (Before,
    // TCP always ran first and its topic lived on through the gRPC run:
    // the stream ran beside 300k+ retained messages, and only TCP's first
    // round met fresh memory, so the ratio read 0.57-0.60 where the two
    // fronts, measured alike, give 0.8.)
    for (let r = 0; r <= ROUNDS; r++) {
      for (const side of r % 2 === 1 ? [...sides].reverse() : sides) {
        const topic = `${side.key}-${r}`;
        await tcp.createTopic(NS, topic, 4);
        progress(`pubstream: round ${r}/${ROUNDS}${r === 0 ? ' (untimed)' : ''}: ${side.what}, ${DEPTH} in flight`);
        const f = await measure(side.label, server.pid, side.publish(topic));
        if (r > 0) side.figures.push(f);
        await tcp.deleteTopic(NS, topic);
      }
    }
  } finally {
    await publisher.close();
    await grpc.close();
    await tcp.close();
    await server.stop();
  }
  const streamRate = median(stream.map((f) => f.rate));
  const tcpRate = median(tcpFigures.map((f) => f.rate));
  const streamCpu = median(stream.map((f) => f.serverUs));
  const tcpCpu = median(tcpFigures.map((f) => f.serverUs));
  const ratio = median(stream.map((f, i) => f.rate / tcpFigures[i]!.rate));
  const cpuRatio = median(stream.map((f, i) => f.serverUs / tcpFigures[i]!.serverUs));
  progress(`pubstream: gRPC PublishStream / TCP pipelined publish = ${ratio.toFixed(2)} (target >= 0.8), server CPU per publish ${cpuRatio.toFixed(2)}x`);
  return {
    'pubstream.grpc_stream.msgs_per_s': round(streamRate),
    'pubstream.tcp_pipelined.msgs_per_s': round(tcpRate),
    'pubstream.ratio': round(ratio, 2),
    'pubstream.grpc_stream.server_cpu_us_per_msg': round(streamCpu, 1),
    'pubstream.tcp_pipelined.server_cpu_us_per_msg': round(tcpCpu, 1),
    'pubstream.server_cpu_ratio': round(cpuRatio, 2),
    'pubstream.grpc_stream.client_cpu_us_per_msg': round(median(stream.map((f) => f.clientUs)), 1),
    'pubstream.tcp_pipelined.client_cpu_us_per_msg': round(median(tcpFigures.map((f) => f.clientUs)), 1),
  };
}
