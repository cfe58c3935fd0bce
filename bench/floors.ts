/**
 * The broker's gRPC Publish and HTTP publish against their library floors
 * (floor-server.ts: a bare grpc-js method, a bare Hono route), in the same
 * run, with the same 1 KiB payload and the same typed clients: server CPU
 * per request of each, read from /proc of its process, and their ratio.
 * Wall-clock rates on a shared machine swing; CPU per request does not
 * much, and says what each server costs.
 *
 * The four targets take turns (floor, broker, floor, broker...) for ROUNDS
 * rounds; each figure is the median of its rounds.
 *
 * - floors.grpc.{floor,mqlite}_cpu_us_per_req, floors.grpc.ratio: GrpcClient, 64 calls in flight
 * - floors.http.{floor,mqlite}_cpu_us_per_req, floors.http.ratio: HttpClient (raw transport), 32 connections
 * - floors.tcp.{floor,mqlite}_cpu_us_per_req, floors.tcp.ratio: TcpClient
 *   (protobuf), one publish in flight, the broker at fsync everysec: the
 *   row where Redis is ahead (bench:peers, "publish c1"). The floor is a
 *   bare `net` server answering each frame; our figure holds, beyond it,
 *   one AOF write(2) per publish (with one in flight each publish is its
 *   own group commit), so front_ratio is not given for it.
 * - floors.h2load.{grpc,http}.*: the same, driven by h2load (nghttp2) instead,
 *   a client in C that is not the bottleneck: gRPC as HTTP/2 prior knowledge
 *   (one connection, 64 streams, the length-prefixed PublishRequest as the
 *   body), HTTP as HTTP/1.1 (`--h1`, 32 connections, one request each at a
 *   time). Left out (with a note) when h2load is not installed.
 *
 * - floors.h2load.{grpc,http}.consumed_*: our publish again with h2load, each
 *   pass in CONSUMED_CHUNKS runs with the topic purged after each, so that
 *   the broker never holds more than a few thousand messages (as when
 *   consumers keep up) instead of every message of the benchmark: the part
 *   of our cost that is the heap of retained messages (their GC, and the
 *   first touch of fresh memory for their payloads) is retained_cost_us,
 *   mqlite - consumed. The purges' own CPU and the extra connections are
 *   counted in, so the consumed figure is if anything high. (Purging every
 *   few milliseconds instead costs more in purges than it saves.)
 * - floors.*.{floor,mqlite,consumed}_gc_us_per_req: of that CPU, the time
 *   in GC (the broker's `nodejs_gc_duration_seconds`, the floors' own
 *   PerformanceObserver; wall time of the pauses, so on a loaded machine
 *   it can exceed the CPU it stands for).
 *
 * - floors.core.publish_cpu_us: what the broker's own publish costs with no
 *   front, through the Broker API in this process (a FileStore at everysec,
 *   64 publishes in flight), measured in the same rounds: the floor plus
 *   this is what a front with nothing of its own would cost, so
 *   floors.*.front_ratio, (mqlite - core) / floor, is what the front adds
 *   over the library.
 *
 * The broker's topic is checked at the end to hold every publish answered,
 * so that a request h2load counted as done was a publish.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { create, toBinary } from '@bufbuild/protobuf';
import { PublishRequestSchema } from '../gen/mqlite/v1/mqlite_pb.js';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { FileStore } from '../src/aof/file-store.js';
import { Broker } from '../src/broker/broker.js';
import { GrpcClient } from '../src/client/grpc/index.js';
import { HttpClient } from '../src/client/http/index.js';
import { TcpClient } from '../src/client/tcp/index.js';
import { benchApiKey, startServerProcess } from './server-process.js';
import { processCpuUs, progress, round } from './stats.js';

const NS = 'bench';
const TOPIC = 'floors';
const ROUNDS = 3;
const SECONDS = 4;
const WARMUP_SECONDS = 2;
const GRPC_IN_FLIGHT = 64;
const HTTP_CONNECTIONS = 32;
const PAYLOAD = Buffer.alloc(1024, 'x');
/** A JSON document of 1024 bytes, as bench/http.ts sends. */
const JSON_PAYLOAD = `{"data":"${'x'.repeat(1024 - 11)}"}`;

const H2LOAD = '/usr/bin/h2load';
const H2LOAD_GRPC_REQUESTS = 8_000;
const H2LOAD_HTTP_REQUESTS = 16_000;
const CORE_PUBLISHES = 40_000;
/** The consumed rows run each pass as this many h2load runs, the topic purged after each. */
const CONSUMED_CHUNKS = 4;

// The built floor server, from bench/ (tests, through vitest) or dist/bench/ (npm run bench).
const here = dirname(fileURLToPath(import.meta.url));
const floorEntry = here.endsWith(join('dist', 'bench')) ? join(here, 'floor-server.js') : join(here, '..', 'dist', 'bench', 'floor-server.js');

export interface FloorProcess {
  port: number;
  pid: number;
  /** Seconds the process has spent in GC so far. */
  gcSeconds(): Promise<number>;
  stop(): Promise<void>;
}

/** Starts bench/floor-server.ts (built) in its own process. */
export async function startFloor(mode: 'grpc' | 'http' | 'tcp' | 'push'): Promise<FloorProcess> {
  const child: ChildProcess = spawn(process.execPath, [floorEntry, mode], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const lines = createInterface({ input: child.stdout! });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the ${mode} floor server did not report its port within 10 s`));
    }, 10_000);
    void exited.then(() => reject(new Error(`the ${mode} floor server exited before it was ready`)));
    lines.once('line', (line) => {
      clearTimeout(timer);
      resolve((JSON.parse(line) as { port: number }).port);
    });
  });
  return {
    port,
    pid: child.pid!,
    gcSeconds() {
      const answer = new Promise<number>((resolve) => lines.once('line', (line) => resolve((JSON.parse(line) as { gc_seconds: number }).gc_seconds)));
      child.kill('SIGUSR2');
      return answer;
    },
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** `lanes` loops, each awaiting its call before the next, for `seconds`; returns the calls made. */
async function drive(lanes: number, seconds: number, call: () => Promise<unknown>): Promise<number> {
  let count = 0;
  const end = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      while (performance.now() < end) {
        await call();
        count++;
      }
    }),
  );
  return count;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

interface Target {
  name: string;
  pid: number;
  /** One pass: the requests answered. */
  run: (seconds: number) => Promise<number>;
  samples: number[];
}

/** Runs h2load, answers the requests it counted as succeeded (2xx); throws when any failed. */
function h2load(args: readonly string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    execFile(H2LOAD, args, { maxBuffer: 1 << 20 }, (err, stdout) => {
      if (err) return reject(new Error(`h2load failed: ${err.message}`));
      const m = /requests: (\d+) total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(stdout);
      if (!m) return reject(new Error(`h2load printed no request counts: ${stdout.slice(-500)}`));
      if (m[3] !== '0' || m[4] !== '0') return reject(new Error(`h2load: ${m[3]} requests failed, ${m[4]} errored of ${m[1]}`));
      resolve(Number(m[2]));
    });
  });
}

/** Server CPU (µs) per request of `pid` during one pass of `t`. */
async function measure(t: Target, seconds: number, gc: (() => Promise<number>) | undefined): Promise<{ us: number; perSecond: number; gcUs: number }> {
  const gc0 = (await gc?.()) ?? NaN;
  const cpu0 = processCpuUs(t.pid);
  const start = performance.now();
  const n = await t.run(seconds);
  const elapsed = (performance.now() - start) / 1000;
  const us = (processCpuUs(t.pid) - cpu0) / n;
  const gc1 = (await gc?.()) ?? NaN;
  return { us, perSecond: n / elapsed, gcUs: ((gc1 - gc0) * 1e6) / n };
}

/** The broker's GC seconds so far, from its `nodejs_gc_duration_seconds` (GET /metrics). */
async function brokerGcSeconds(httpPort: number): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${httpPort}/metrics`, { headers: benchApiKey !== undefined ? { 'x-api-key': benchApiKey } : {} });
  const text = await res.text();
  let sum = 0;
  for (const m of text.matchAll(/^nodejs_gc_duration_seconds_sum\{[^}]*\} ([0-9.e+-]+)$/gm)) sum += Number(m[1]);
  return sum;
}

export async function benchFloors(): Promise<Record<string, number>> {
  const ours = await startServerProcess({ fsync: 'everysec' });
  const grpcFloor = await startFloor('grpc');
  const httpFloor = await startFloor('http');
  const tcpFloor = await startFloor('tcp');
  const ourTcp = await TcpClient.connect({ host: '127.0.0.1', port: ours.ports.tcp, encoding: 'protobuf', apiKey: benchApiKey });
  const floorTcp = await TcpClient.connect({ host: '127.0.0.1', port: tcpFloor.port, encoding: 'protobuf' });
  const ourGrpc = new GrpcClient({ host: '127.0.0.1', port: ours.ports.grpc, timeoutMs: 30_000, apiKey: benchApiKey });
  const floorGrpc = new GrpcClient({ host: '127.0.0.1', port: grpcFloor.port, timeoutMs: 30_000 });
  const ourHttp = new HttpClient({ baseUrl: `http://127.0.0.1:${ours.ports.http}`, transport: 'raw', apiKey: benchApiKey });
  const floorHttp = new HttpClient({ baseUrl: `http://127.0.0.1:${httpFloor.port}`, transport: 'raw' });
  const dir = mkdtempSync(join(tmpdir(), 'mqlite-floors-'));
  const store = await FileStore.open({ dir, filename: 'core.aof', fsync: 'everysec', rewriteMinSize: 2 ** 40, rewritePercentage: 100 });
  const { broker } = await Broker.open({ store });
  try {
    await broker.createNamespace(NS);
    await broker.createTopic(NS, TOPIC, 4);
    const corePayload = Buffer.from(JSON_PAYLOAD);
    await ourGrpc.createNamespace(NS);
    await ourGrpc.createTopic(NS, TOPIC, 4);
    let ourPublishes = 0;
    const typed = (name: string, pid: number, lanes: number, call: () => Promise<unknown>, mine: boolean): Target => ({
      name,
      pid,
      samples: [],
      run: async (seconds) => {
        const n = await drive(lanes, seconds, call);
        if (mine) ourPublishes += n;
        return n;
      },
    });
    const targets: Target[] = [
      typed('grpc.floor', grpcFloor.pid, GRPC_IN_FLIGHT, () => floorGrpc.publish(NS, TOPIC, PAYLOAD), false),
      typed('grpc.mqlite', ours.pid, GRPC_IN_FLIGHT, () => ourGrpc.publish(NS, TOPIC, PAYLOAD), true),
      typed('http.floor', httpFloor.pid, HTTP_CONNECTIONS, () => floorHttp.publish(NS, TOPIC, JSON_PAYLOAD), false),
      typed('http.mqlite', ours.pid, HTTP_CONNECTIONS, () => ourHttp.publish(NS, TOPIC, JSON_PAYLOAD), true),
      typed('tcp.floor', tcpFloor.pid, 1, () => floorTcp.publish(NS, TOPIC, PAYLOAD), false),
      typed('tcp.mqlite', ours.pid, 1, () => ourTcp.publish(NS, TOPIC, PAYLOAD), true),
    ];
    // A fixed count per pass (the topic emptied first), so that this process does not hold every message of the run.
    targets.push({
      name: 'core',
      pid: process.pid,
      samples: [],
      run: async (seconds) => {
        await broker.deleteTopic(NS, TOPIC);
        await broker.createTopic(NS, TOPIC, 4);
        let left = seconds < SECONDS ? CORE_PUBLISHES / 4 : CORE_PUBLISHES;
        await Promise.all(
          Array.from({ length: GRPC_IN_FLIGHT }, async () => {
            while (left-- > 0) await broker.publish(NS, TOPIC, corePayload);
          }),
        );
        return seconds < SECONDS ? CORE_PUBLISHES / 4 : CORE_PUBLISHES;
      },
    });
    if (existsSync(H2LOAD)) {
      const grpcBody = join(dir, 'publish.grpc');
      const request = toBinary(PublishRequestSchema, create(PublishRequestSchema, { namespace: NS, topic: TOPIC, payload: PAYLOAD }));
      const frame = Buffer.alloc(5 + request.length);
      frame.writeUInt32BE(request.length, 1); // uncompressed, then the length (gRPC over HTTP/2, "Length-Prefixed-Message")
      frame.set(request, 5);
      writeFileSync(grpcBody, frame);
      const httpBody = join(dir, 'publish.json');
      writeFileSync(httpBody, `{"payload":${JSON_PAYLOAD}}`);
      const grpcArgs = (port: number, n: number) => [
        ...['-n', String(n), '-c', '1', '-m', String(GRPC_IN_FLIGHT), '-d', grpcBody],
        ...['-H', 'content-type: application/grpc', '-H', 'te: trailers'],
        ...(benchApiKey !== undefined ? ['-H', `x-api-key: ${benchApiKey}`] : []),
        `http://127.0.0.1:${port}/mqlite.v1.MQLiteService/Publish`,
      ];
      const httpArgs = (port: number, n: number) => [
        ...['--h1', '-n', String(n), '-c', String(HTTP_CONNECTIONS), '-m', '1', '-d', httpBody, '-H', 'content-type: application/json'],
        ...(benchApiKey !== undefined ? ['-H', `x-api-key: ${benchApiKey}`] : []),
        `http://127.0.0.1:${port}/v1/namespaces/${NS}/topics/${TOPIC}/publish`,
      ];
      const viaH2load = (name: string, pid: number, args: (n: number) => string[], requests: number, mine: boolean): Target => ({
        name,
        pid,
        samples: [],
        // A warm-up pass (seconds < SECONDS) sends a quarter.
        run: async (seconds) => {
          const n = await h2load(args(seconds < SECONDS ? requests / 4 : requests));
          if (mine) ourPublishes += n;
          return n;
        },
      });
      /** Our publish with the topic purged after every quarter of the pass: next to nothing retained. */
      const consumed = (name: string, args: (n: number) => string[], requests: number): Target => ({
        name,
        pid: ours.pid,
        samples: [],
        run: async (seconds) => {
          const total = seconds < SECONDS ? requests / 4 : requests;
          let n = 0;
          for (let chunk = 0; chunk < CONSUMED_CHUNKS; chunk++) {
            n += await h2load(args(total / CONSUMED_CHUNKS));
            await ourGrpc.purge(NS, TOPIC);
          }
          ourPublishes += n;
          return n;
        },
      });
      targets.push(
        viaH2load('h2load.grpc.floor', grpcFloor.pid, (n) => grpcArgs(grpcFloor.port, n), H2LOAD_GRPC_REQUESTS, false),
        viaH2load('h2load.grpc.mqlite', ours.pid, (n) => grpcArgs(ours.ports.grpc, n), H2LOAD_GRPC_REQUESTS, true),
        viaH2load('h2load.http.floor', httpFloor.pid, (n) => httpArgs(httpFloor.port, n), H2LOAD_HTTP_REQUESTS, false),
        viaH2load('h2load.http.mqlite', ours.pid, (n) => httpArgs(ours.ports.http, n), H2LOAD_HTTP_REQUESTS, true),
        consumed('h2load.grpc.consumed', (n) => grpcArgs(ours.ports.grpc, n), H2LOAD_GRPC_REQUESTS),
        consumed('h2load.http.consumed', (n) => httpArgs(ours.ports.http, n), H2LOAD_HTTP_REQUESTS),
      );
    } else progress(`floors: ${H2LOAD} is not installed (Debian: nghttp2-client): the h2load rows are left out`);
    for (const t of targets) {
      progress(`floors: warm-up ${t.name}`);
      await t.run(WARMUP_SECONDS);
    }
    // GC time per request where the process tells it: the broker's own metric, the floors' observer.
    const gcOf = new Map<number, () => Promise<number>>([
      [ours.pid, () => brokerGcSeconds(ours.ports.http)],
      [grpcFloor.pid, () => grpcFloor.gcSeconds()],
      [httpFloor.pid, () => httpFloor.gcSeconds()],
      [tcpFloor.pid, () => tcpFloor.gcSeconds()],
    ]);
    const gcSamples = new Map<string, number[]>(targets.map((t) => [t.name, []]));
    for (let r = 1; r <= ROUNDS; r++) {
      for (const t of targets) {
        const { us, perSecond, gcUs } = await measure(t, SECONDS, gcOf.get(t.pid));
        t.samples.push(us);
        gcSamples.get(t.name)!.push(gcUs);
        const gcText = Number.isNaN(gcUs) ? '' : `, ${gcUs.toFixed(1)} µs of it GC`;
        progress(`floors: round ${r} ${t.name}: server ${us.toFixed(1)} µs CPU per request${gcText} (${Math.round(perSecond)} req/s)`);
      }
    }
    const stats = await ourGrpc.topicStats(NS, TOPIC);
    if (Number(stats.published) !== ourPublishes) {
      throw new Error(`floors: the broker's topic counts ${stats.published} publishes, the clients had ${ourPublishes} answered: some answers were not publishes`);
    }
    const core = median(targets.find((t) => t.name === 'core')!.samples);
    const figures: Record<string, number> = { 'floors.core.publish_cpu_us': round(core, 1) };
    for (const client of ['', 'h2load.']) {
      for (const front of ['grpc', 'http', 'tcp']) {
        const floorT = targets.find((t) => t.name === `${client}${front}.floor`);
        const oursT = targets.find((t) => t.name === `${client}${front}.mqlite`);
        if (floorT === undefined || oursT === undefined) continue;
        const floor = median(floorT.samples);
        const mqlite = median(oursT.samples);
        figures[`floors.${client}${front}.floor_cpu_us_per_req`] = round(floor, 1);
        figures[`floors.${client}${front}.mqlite_cpu_us_per_req`] = round(mqlite, 1);
        figures[`floors.${client}${front}.floor_gc_us_per_req`] = round(median(gcSamples.get(floorT.name)!), 1);
        figures[`floors.${client}${front}.mqlite_gc_us_per_req`] = round(median(gcSamples.get(oursT.name)!), 1);
        figures[`floors.${client}${front}.ratio`] = round(mqlite / floor, 2);
        if (front !== 'tcp') figures[`floors.${client}${front}.front_ratio`] = round((mqlite - core) / floor, 2);
        const consumedT = targets.find((t) => t.name === `${client}${front}.consumed`);
        if (consumedT === undefined) continue;
        const consumed = median(consumedT.samples);
        figures[`floors.${client}${front}.consumed_cpu_us_per_req`] = round(consumed, 1);
        figures[`floors.${client}${front}.consumed_gc_us_per_req`] = round(median(gcSamples.get(consumedT.name)!), 1);
        figures[`floors.${client}${front}.consumed_ratio`] = round(consumed / floor, 2);
        figures[`floors.${client}${front}.retained_cost_us`] = round(mqlite - consumed, 1);
      }
    }
    return figures;
  } finally {
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
    await Promise.allSettled([ourGrpc.close(), floorGrpc.close(), ourHttp.close(), floorHttp.close(), ourTcp.close(), floorTcp.close()]);
    await Promise.allSettled([ours.stop(), grpcFloor.stop(), httpFloor.stop(), tcpFloor.stop()]);
  }
}
