/**
 * Push latency against its floor on Node's sockets, and against Redis, in
 * the same run (`npm run bench -- --only push`): the "push e2e" workload of
 * bench:peers (bench/peers/workloads.ts, one publish at a time, from the
 * publish call to the subscriber's callback) against four servers:
 *
 * - mqlite: the broker over TCP protobuf, fsync everysec, typed TcpClient;
 * - mqlite_memory: the broker with persistence off, the same client: what
 *   the AOF (its record and its write(2) per publish) adds;
 * - floor: floor-server.ts `push`, a bare `net` server that relays each
 *   publish frame as a push frame to the subscriber (then the reply), driven
 *   by the same TcpClient: what any server written on Node's sockets takes
 *   for the hop publisher -> server -> subscriber on this machine;
 * - redis: Redis 7 (appendfsync everysec), LPUSH and BRPOP through ioredis,
 *   as bench:peers runs it; left out (with a note) when redis-server is not
 *   installed (scripts/install-peers.sh installs it).
 *
 * Each server gets WARM untimed round trips, then they take turns in blocks
 * of BLOCK round trips (BLOCKS each, after BLOCK_WARM untimed ones), so that
 * a burst of noise on the shared machine falls on all of them alike; each
 * figure is a percentile of all the round trips of its server. (Runs of a
 * few seconds each, one server after another, gave p99s that swung by 2x
 * between runs.) push.mqlite_to_floor.{p50,p99} is what the broker adds to
 * the floor; push.floor_to_redis.{p50,p99} is where Node's sockets stand
 * against Redis.
 *
 * push.machine.*: how often the machine takes the CPU from running code,
 * measured after the rounds, the servers idle, by a loop that only reads
 * the clock for JITTER_MS (no allocation, so no GC): the gaps of more than
 * 5 µs between two reads, per ms, and the share of the time they took. On a
 * shared VM these interruptions (10-20 µs each) fall on any server's path
 * between a publish's arrival and its push, the more often the longer that
 * path is.
 */
import { TcpClient } from '../src/client/tcp/index.js';
import { startFloor } from './floors.js';
import { mqliteSystem } from './peers/mqlite.js';
import { findBinary, startRedis, type PeerProcess } from './peers/processes.js';
import { redisSystem } from './peers/redis.js';
import type { BenchQueue, BenchSystem } from './peers/system.js';
import { openPushProbe, type PushProbe } from './peers/workloads.js';
import { startServerProcess } from './server-process.js';
import { percentile, progress, round } from './stats.js';

const WARM = 2_000;
/** Round trips per system: BLOCKS blocks of BLOCK. */
const BLOCKS = 100;
const BLOCK = 200;
/** Untimed round trips at the start of each block: a server idle while the others ran answers its first ones slower. */
const BLOCK_WARM = 20;
const JITTER_MS = 1_000;

/** Gaps of over 5 µs in a loop reading the clock for `ms`: per ms, and their share of the time in %. */
function machineGaps(ms: number): { perMs: number; lostPct: number } {
  const start = performance.now();
  const end = start + ms;
  let prev = start;
  let gaps = 0;
  let lost = 0;
  while (prev < end) {
    const t = performance.now();
    if (t - prev > 0.005) {
      gaps++;
      lost += t - prev;
    }
    prev = t;
  }
  return { perMs: gaps / (prev - start), lostPct: (100 * lost) / (prev - start) };
}

/** The floor server as a BenchQueue: publish and subscribe only, all this benchmark uses. */
async function floorSystem(port: number, pid: number): Promise<BenchSystem> {
  const client = await TcpClient.connect({ host: '127.0.0.1', port, encoding: 'protobuf' });
  const payload = new Uint8Array(1024).fill(120);
  const unused = (): never => {
    throw new Error('the push floor serves publish and subscribe only');
  };
  return {
    id: 'floor',
    label: 'floor',
    describe: 'a bare net server relaying publishes as pushes',
    serverPid: pid,
    newQueue: async (): Promise<BenchQueue> => ({
      publish: async () => {
        await client.publish('bench', 'push', payload);
      },
      subscribe: async (onMessage) => {
        const subscriber = await TcpClient.connect({ host: '127.0.0.1', port, encoding: 'protobuf' });
        const sub = await subscriber.subscribe('bench', 'push', 0, { autoAck: true, onMessage });
        return async () => {
          await sub.close();
          await subscriber.close();
        };
      },
      takeAndAck: unused,
      fill: unused,
      drop: async () => {},
    }),
    close: () => client.close(),
  };
}

export async function benchPush(): Promise<Record<string, number>> {
  // Everything started is stopped in the finally, whatever fails on the way.
  const stops: (() => Promise<void>)[] = [];
  const systems: Record<string, BenchSystem> = {};
  const samples = new Map<string, number[]>();
  const probes = new Map<string, PushProbe>();
  let gaps = { perMs: NaN, lostPct: NaN };
  try {
    const ours = await startServerProcess({ fsync: 'everysec' });
    stops.push(() => ours.stop());
    const memory = await startServerProcess({ persistence: false });
    stops.push(() => memory.stop());
    const floorProcess = await startFloor('push');
    stops.push(() => floorProcess.stop());
    let redisProcess: PeerProcess | undefined;
    try {
      findBinary('redis-server');
      redisProcess = await startRedis('everysec');
      stops.push(() => redisProcess!.stop());
    } catch (err) {
      progress(`push: Redis left out: ${(err as Error).message}`);
    }
    systems.mqlite = await mqliteSystem(ours, 'tcp', 'everysec', true);
    systems.mqlite_memory = await mqliteSystem(memory, 'tcp', 'everysec', true);
    systems.floor = await floorSystem(floorProcess.port, floorProcess.pid);
    if (redisProcess !== undefined) systems.redis = await redisSystem(redisProcess, 'everysec');
    const names = Object.keys(systems);
    for (const name of names) {
      samples.set(name, []);
      const probe = await openPushProbe(await systems[name]!.newQueue('push', 1));
      probes.set(name, probe);
      for (let i = 0; i < WARM; i++) await probe.trip();
    }
    // Blocks in turn, the first system of each block rotating: a burst of noise falls on all alike.
    for (let b = 0; b < BLOCKS; b++) {
      for (let k = 0; k < names.length; k++) {
        const name = names[(b + k) % names.length]!;
        const probe = probes.get(name)!;
        const out = samples.get(name)!;
        for (let i = 0; i < BLOCK_WARM; i++) await probe.trip();
        for (let i = 0; i < BLOCK; i++) out.push(await probe.trip());
      }
    }
    gaps = machineGaps(JITTER_MS);
    progress(`push: the machine took the CPU from a clock loop ${gaps.perMs.toFixed(2)} times per ms (${gaps.lostPct.toFixed(1)} % of the time)`);
  } finally {
    await Promise.allSettled([...probes.values()].map((p) => p.close()));
    await Promise.allSettled(Object.values(systems).map((s) => s.close()));
    await Promise.allSettled(stops.map((stop) => stop()));
  }
  const figures: Record<string, number> = {
    'push.machine.interruptions_per_ms': round(gaps.perMs, 2),
    'push.machine.lost_pct': round(gaps.lostPct, 1),
  };
  for (const [name, xs] of samples) {
    xs.sort((a, b) => a - b);
    for (const p of [50, 99, 99.9]) figures[`push.${name}.p${p}_ms`] = round(percentile(xs, p), 3);
  }
  const ratio = (a: string, b: string, p: 50 | 99) => {
    if (!samples.has(a) || !samples.has(b)) return;
    figures[`push.${a}_to_${b}.p${p}`] = round(figures[`push.${a}.p${p}_ms`]! / figures[`push.${b}.p${p}_ms`]!, 2);
  };
  for (const p of [50, 99] as const) {
    ratio('mqlite', 'floor', p);
    ratio('floor', 'redis', p);
    ratio('mqlite', 'redis', p);
  }
  return figures;
}
