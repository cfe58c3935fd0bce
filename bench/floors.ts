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
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { GrpcClient } from '../src/client/grpc/index.js';
import { HttpClient } from '../src/client/http/index.js';
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

const here = dirname(fileURLToPath(import.meta.url));

export interface FloorProcess {
  port: number;
  pid: number;
  stop(): Promise<void>;
}

/** Starts bench/floor-server.ts (built) in its own process. */
export async function startFloor(mode: 'grpc' | 'http'): Promise<FloorProcess> {
  const child: ChildProcess = spawn(process.execPath, [join(here, 'floor-server.js'), mode], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the ${mode} floor server did not report its port within 10 s`));
    }, 10_000);
    void exited.then(() => reject(new Error(`the ${mode} floor server exited before it was ready`)));
    createInterface({ input: child.stdout! }).once('line', (line) => {
      clearTimeout(timer);
      resolve((JSON.parse(line) as { port: number }).port);
    });
  });
  return {
    port,
    pid: child.pid!,
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

/** Server CPU (µs) per call of `pid` while `drive` runs. */
async function cpuPerCall(pid: number, lanes: number, seconds: number, call: () => Promise<unknown>): Promise<{ us: number; perSecond: number }> {
  const cpu0 = processCpuUs(pid);
  const start = performance.now();
  const n = await drive(lanes, seconds, call);
  const elapsed = (performance.now() - start) / 1000;
  return { us: (processCpuUs(pid) - cpu0) / n, perSecond: n / elapsed };
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

interface Target {
  name: string;
  pid: number;
  lanes: number;
  call: () => Promise<unknown>;
  samples: number[];
}

export async function benchFloors(): Promise<Record<string, number>> {
  const ours = await startServerProcess({ fsync: 'everysec' });
  const grpcFloor = await startFloor('grpc');
  const httpFloor = await startFloor('http');
  const ourGrpc = new GrpcClient({ host: '127.0.0.1', port: ours.ports.grpc, timeoutMs: 30_000, apiKey: benchApiKey });
  const floorGrpc = new GrpcClient({ host: '127.0.0.1', port: grpcFloor.port, timeoutMs: 30_000 });
  const ourHttp = new HttpClient({ baseUrl: `http://127.0.0.1:${ours.ports.http}`, transport: 'raw', apiKey: benchApiKey });
  const floorHttp = new HttpClient({ baseUrl: `http://127.0.0.1:${httpFloor.port}`, transport: 'raw' });
  try {
    await ourGrpc.createNamespace(NS);
    await ourGrpc.createTopic(NS, TOPIC, 4);
    const targets: Target[] = [
      { name: 'grpc.floor', pid: grpcFloor.pid, lanes: GRPC_IN_FLIGHT, call: () => floorGrpc.publish(NS, TOPIC, PAYLOAD), samples: [] },
      { name: 'grpc.mqlite', pid: ours.pid, lanes: GRPC_IN_FLIGHT, call: () => ourGrpc.publish(NS, TOPIC, PAYLOAD), samples: [] },
      { name: 'http.floor', pid: httpFloor.pid, lanes: HTTP_CONNECTIONS, call: () => floorHttp.publish(NS, TOPIC, JSON_PAYLOAD), samples: [] },
      { name: 'http.mqlite', pid: ours.pid, lanes: HTTP_CONNECTIONS, call: () => ourHttp.publish(NS, TOPIC, JSON_PAYLOAD), samples: [] },
    ];
    for (const t of targets) {
      progress(`floors: warm-up ${t.name}`);
      await drive(t.lanes, WARMUP_SECONDS, t.call);
    }
    for (let r = 1; r <= ROUNDS; r++) {
      for (const t of targets) {
        const { us, perSecond } = await cpuPerCall(t.pid, t.lanes, SECONDS, t.call);
        t.samples.push(us);
        progress(`floors: round ${r} ${t.name}: server ${us.toFixed(1)} µs CPU per request (${Math.round(perSecond)} req/s)`);
      }
    }
    const figures: Record<string, number> = {};
    for (const front of ['grpc', 'http']) {
      const floor = median(targets.find((t) => t.name === `${front}.floor`)!.samples);
      const mqlite = median(targets.find((t) => t.name === `${front}.mqlite`)!.samples);
      figures[`floors.${front}.floor_cpu_us_per_req`] = round(floor, 1);
      figures[`floors.${front}.mqlite_cpu_us_per_req`] = round(mqlite, 1);
      figures[`floors.${front}.ratio`] = round(mqlite / floor, 2);
    }
    return figures;
  } finally {
    await Promise.allSettled([ourGrpc.close(), floorGrpc.close(), ourHttp.close(), floorHttp.close()]);
    await Promise.allSettled([ours.stop(), grpcFloor.stop(), httpFloor.stop()]);
  }
}
