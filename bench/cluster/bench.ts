/**
 * Cluster figures (`npm run bench -- --only cluster`; README, "Running a
 * cluster"): TCP protobuf publishes of 1 KiB, one in flight (c1) and 64 in
 * flight on one connection (c64), to an MQLite node whose log is a
 * JetStream stream with 3 replicas on a local 3-node nats-server cluster,
 * and, in the same run, to a single broker on its file AOF with fsync
 * `always`: both answer a publish once it is durable by their promise
 * (docs/DESIGN.md, "Cluster" and "fsync policies").
 *
 * - cluster.{jetstream_r3,file_always}.publish_c{1,64}_msgs_per_s
 * - cluster.jetstream_r3.c{1,64}_ratio: JetStream over the file store.
 */
import { connect, RetentionPolicy, StorageType } from 'nats';
import { TcpClient } from '../../src/client/tcp/index.js';
import { benchApiKey, startServerProcess } from '../server-process.js';
import { pipelined, progress, round } from '../stats.js';
import { ClusterMember, waitForOwner } from './local.js';
import { freePort, startNatsCluster, stopAll } from './nats.js';

const MEASURE_MS = 3000;
const NS = 'bench-cluster';

async function publishFigures(port: number, label: string): Promise<{ c1: number; c64: number }> {
  const c = await TcpClient.connect({ host: '127.0.0.1', port, encoding: 'protobuf', apiKey: benchApiKey });
  await c.createNamespace(NS);
  await c.createTopic(NS, 't', 4);
  const payload = new Uint8Array(1024).fill(120);
  const send = () => c.publish(NS, 't', payload);
  await pipelined(send, { ms: 1000, depth: 64 }); // warm-up
  const c1 = await pipelined(send, { ms: MEASURE_MS, depth: 1 });
  const c64 = await pipelined(send, { ms: MEASURE_MS, depth: 64 });
  progress(`cluster: ${label}: c1 ${Math.round(c1)} msgs/s, c64 ${Math.round(c64)} msgs/s`);
  await c.deleteNamespace(NS);
  await c.close();
  return { c1, c64 };
}

/**
 * The engine's own ceiling for what c64 can ask of it: a bare JetStream
 * client publishing 64 KiB messages (64 publishes of 1 KiB in one append)
 * to a stream with 3 replicas, `depth` at a time, in 1 KiB messages/s.
 */
async function engineCeiling(servers: string[], depth: number): Promise<number> {
  const nc = await connect({ servers });
  try {
    const jsm = await nc.jetstreamManager();
    await jsm.streams.add({ name: 'BENCH_RAW', subjects: ['bench.raw'], num_replicas: 3, storage: StorageType.File, retention: RetentionPolicy.Limits });
    const js = nc.jetstream();
    const data = new Uint8Array(64 * 1024).fill(120);
    const rate = await pipelined(() => js.publish('bench.raw', data), { ms: MEASURE_MS, depth });
    await jsm.streams.delete('BENCH_RAW');
    progress(`cluster: bare JetStream, 64 KiB appends ${depth} out: ${Math.round(rate * 64)} KiB/s`);
    return rate * 64;
  } finally {
    await nc.close();
  }
}

export async function benchCluster(): Promise<Record<string, number>> {
  progress('cluster: 3 nats-server nodes with JetStream, one MQLite node (stream replicas 3)');
  const nats = await startNatsCluster('bench-engine');
  const node = new ClusterMember('bench', { tcp: await freePort(), http: await freePort(), grpc: await freePort() }, { name: 'bench', servers: nats.map((n) => n.url), replicas: 3 });
  let js: { c1: number; c64: number };
  let engine: number;
  try {
    await node.start();
    await waitForOwner([node], 30_000);
    js = await publishFigures(node.ports.tcp, 'jetstream replicas 3');
    engine = await engineCeiling(nats.map((n) => n.url), 1);
  } finally {
    await node.stop();
    await stopAll();
  }
  progress('cluster: the single broker on its file AOF, fsync always');
  const server = await startServerProcess({ fsync: 'always' });
  let file: { c1: number; c64: number };
  try {
    file = await publishFigures(server.ports.tcp, 'file, fsync always');
  } finally {
    await server.stop();
  }
  return {
    'cluster.jetstream_r3.publish_c1_msgs_per_s': round(js.c1),
    'cluster.jetstream_r3.publish_c64_msgs_per_s': round(js.c64),
    'cluster.file_always.publish_c1_msgs_per_s': round(file.c1),
    'cluster.file_always.publish_c64_msgs_per_s': round(file.c64),
    'cluster.jetstream_r3.c1_ratio': round(js.c1 / file.c1, 2),
    'cluster.jetstream_r3.c64_ratio': round(js.c64 / file.c64, 2),
    'cluster.engine_r3.append_64k_kib_per_s': round(engine),
    'cluster.engine_r3.file_always_ratio': round(engine / file.c64, 2),
    'cluster.jetstream_r3.c64_of_engine': round(js.c64 / engine, 2),
  };
}
