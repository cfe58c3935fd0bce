/**
 * AOF figures measured on the FileStore directly (the broker-level figures
 * live in bench/core.ts):
 *
 *   aof.replay.records_per_s       broker startup (Broker.open: replay and apply, in a new process) of a 1M-record AOF of 1 KiB publishes
 *   aof.replay.records_per_cpu_s   the same per CPU second of that process (GC threads included): steadier
 *                                  than the wall figure when others share the machine
 *   aof.replay.store_only.*        the FileStore's replay alone (no apply), wall clock and per CPU second:
 *                                  on a shared machine the wall figure mostly measures the others
 *   aof.replay.fresh_memory_bound_records_per_s
 *                                  the ceiling this machine puts on any replay that holds the payloads in memory:
 *                                  1M × 1 KiB written once into fresh memory (1 MiB slabs, as the payload
 *                                  arena takes them), in a new process; the first touch of a page costs a
 *                                  fault, several µs a page on a VM, whatever writes it
 *   aof.rewrite.seconds            broker rewrite of its state of 1M pending 1 KiB messages (in that new process, after the replay)
 *   aof.rewrite.max_stall_ms       longest event-loop stall seen by a 1 ms interval during that rewrite
 *   aof.rewrite.max_stall_cpu_ms   the most CPU the main thread used within one such stall (Linux schedstat):
 *                                  the part of a stall that is the broker's own work, steadier than the wall
 *                                  figure, which on a shared machine adds the time spent waiting for a core
 *   aof.always.msgs_per_s          64 concurrent publishers, each awaiting durable(), fsync always
 *   aof.always.records_per_fsync   how many records one fdatasync covered there (group commit)
 *
 * Run alone with `node dist/bench/aof.js`.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { FileStore } from '../src/aof/file-store.js';
import { Broker } from '../src/broker/broker.js';
import type { MessageRecordFields } from '../src/aof/store.js';

const RECORDS = 1_000_000;
const PAYLOAD = Buffer.alloc(1024, 'x');

function message(i: number): MessageRecordFields {
  return { id: `01JBENCH${String(i).padStart(10, '0')}`, timestampMs: 1_732_000_000_000 + i / 1000, payload: PAYLOAD, headers: undefined };
}

async function withDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'mqlite-bench-aof-'));
  try {
    return await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const open = (dir: string): Promise<FileStore> =>
  FileStore.open({ dir, fsync: 'no', rewriteMinSize: Number.MAX_SAFE_INTEGER, rewritePercentage: 0 });

async function benchReplay(): Promise<{ perSecond: number; perCpuSecond: number }> {
  return withDir(async (dir) => {
    const writer = await open(dir);
    await writer.replay(() => {});
    for (let i = 0; i < RECORDS; i++) {
      writer.sink.publish('bench', 'topic', i & 7, message(i));
      if ((i & 1023) === 1023) await writer.durable();
    }
    await writer.close();

    const reader = await open(dir);
    let records = 0;
    const started = performance.now();
    const cpu = process.cpuUsage();
    await reader.replay(() => {
      records++;
    });
    const seconds = (performance.now() - started) / 1000;
    const used = process.cpuUsage(cpu);
    await reader.close();
    if (records !== RECORDS) throw new Error(`replay returned ${records} records, expected ${RECORDS}`);
    return {
      perSecond: Math.round(records / seconds),
      perCpuSecond: Math.round(records / ((used.user + used.system) / 1e6)),
    };
  });
}

/**
 * The broker's own startup replay and rewrite, as a user meets them: 1M
 * publishes of distinct 1 KiB payloads through the Broker API, a restart
 * (Broker.open replays and applies every record), then a rewrite of the
 * recovered state of 1M pending messages while a 1 ms interval watches
 * the event loop. The restart runs in a new process, as a real one does:
 * replayed in this one, it also paid for the collection of the writer's
 * million messages and gigabyte of payloads.
 */
async function benchBrokerReplayAndRewrite(): Promise<Restart> {
  return withDir(async (dir) => {
    {
      const { broker } = await Broker.open({ store: await open(dir) });
      await broker.createNamespace('bench');
      await broker.createTopic('bench', 'topic', 8);
      const payload = Buffer.alloc(1024);
      for (let i = 0; i < RECORDS; i += 1000) {
        const window: Promise<unknown>[] = [];
        for (let j = 0; j < 1000; j++) {
          payload.writeUInt32LE(i + j, 0);
          window.push(broker.publish('bench', 'topic', payload));
        }
        await Promise.all(window);
      }
      await broker.close();
    }
    const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), RESTART_ARG, dir], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`restart child failed (exit ${r.status}): ${r.stderr}`);
    return JSON.parse(r.stdout) as Restart;
  });
}

interface Restart {
  replayPerSecond: number;
  replayPerCpuSecond: number;
  rewriteSeconds: number;
  maxStallMs: number;
  /** -1 where the main thread's schedstat cannot be read. */
  maxStallCpuMs: number;
}

/** The main thread's time on a CPU so far (ms), from /proc; undefined off Linux. */
function mainThreadCpuReader(): (() => number) | undefined {
  let fd: number;
  try {
    fd = openSync(`/proc/self/task/${process.pid}/schedstat`, 'r');
  } catch {
    return undefined;
  }
  const buf = Buffer.alloc(128);
  process.once('exit', () => closeSync(fd));
  return () => {
    const n = readSync(fd, buf, 0, buf.length, 0);
    return Number(buf.toString('latin1', 0, n).split(' ')[0]) / 1e6;
  };
}

const RESTART_ARG = '--restart-child';
const FRESH_MEMORY_ARG = '--fresh-memory-child';

/** RECORDS payloads of 1 KiB written once into fresh 1 MiB slabs: records per second. */
function freshMemoryBound(): number {
  const slabs: Buffer[] = [];
  const started = performance.now();
  const slab = 1 << 20;
  for (let left = RECORDS * PAYLOAD.length; left > 0; left -= slab) {
    const b = Buffer.allocUnsafeSlow(slab);
    for (let off = 0; off < slab; off += PAYLOAD.length) PAYLOAD.copy(b, off);
    slabs.push(b);
  }
  return Math.round(RECORDS / ((performance.now() - started) / 1000));
}

function benchFreshMemoryBound(): number {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), FRESH_MEMORY_ARG], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`fresh-memory child failed (exit ${r.status}): ${r.stderr}`);
  return Number(r.stdout);
}

/** The child's side of benchBrokerReplayAndRewrite: opens the broker in `dir`, then rewrites. */
async function restart(dir: string): Promise<Restart> {
  const started = performance.now();
  const cpu = process.cpuUsage();
  const { broker, recovery } = await Broker.open({ store: await open(dir) });
  const replaySeconds = (performance.now() - started) / 1000;
  const replayCpu = process.cpuUsage(cpu);
  if (recovery!.pending !== RECORDS) throw new Error(`replay recovered ${recovery!.pending} messages, expected ${RECORDS}`);

  const cpuNow = mainThreadCpuReader();
  let last = performance.now();
  let lastCpu = cpuNow?.() ?? 0;
  let maxStallMs = 0;
  let maxStallCpuMs = 0;
  const probe = setInterval(() => {
    const now = performance.now();
    maxStallMs = Math.max(maxStallMs, now - last);
    last = now;
    if (cpuNow !== undefined) {
      const cpu = cpuNow();
      maxStallCpuMs = Math.max(maxStallCpuMs, cpu - lastCpu);
      lastCpu = cpu;
    }
  }, 1);
  try {
    await new Promise((r) => setTimeout(r, 50));
    last = performance.now();
    lastCpu = cpuNow?.() ?? 0;
    maxStallMs = 0;
    maxStallCpuMs = 0;
    const stats = await broker.rewrite();
    // One more probe tick: a stall in the rewrite's last synchronous step ends only now.
    await new Promise((r) => setTimeout(r, 5));
    if (stats.records < RECORDS) throw new Error(`rewrite wrote ${stats.records} records`);
    return {
      replayPerSecond: Math.round(recovery!.records / replaySeconds),
      replayPerCpuSecond: Math.round(recovery!.records / ((replayCpu.user + replayCpu.system) / 1e6)),
      rewriteSeconds: stats.seconds,
      maxStallMs,
      maxStallCpuMs: cpuNow === undefined ? -1 : maxStallCpuMs,
    };
  } finally {
    clearInterval(probe);
    await broker.close();
  }
}

async function benchAlways(): Promise<{ perSecond: number; perFsync: number }> {
  return withDir(async (dir) => {
    const store = await FileStore.open({ dir, fsync: 'always', rewriteMinSize: Number.MAX_SAFE_INTEGER, rewritePercentage: 0 });
    await store.replay(() => {});
    let next = 0;
    const started = performance.now();
    const until = started + 2000;
    await Promise.all(
      Array.from({ length: 64 }, async (_, publisher) => {
        while (performance.now() < until) {
          store.sink.publish('bench', 'topic', publisher & 7, message(next++));
          await store.durable();
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    const stats = store.stats();
    await store.close();
    return { perSecond: Math.round(stats.records / seconds), perFsync: Math.round((stats.records / stats.fsyncs) * 10) / 10 };
  });
}

export async function benchAof(): Promise<Record<string, number>> {
  const replay = await benchReplay();
  const broker = await benchBrokerReplayAndRewrite();
  const always = await benchAlways();
  const bound = benchFreshMemoryBound();
  return {
    'aof.replay.records_per_s': broker.replayPerSecond,
    'aof.replay.records_per_cpu_s': broker.replayPerCpuSecond,
    'aof.replay.store_only.records_per_s': replay.perSecond,
    'aof.replay.store_only.records_per_cpu_s': replay.perCpuSecond,
    'aof.replay.fresh_memory_bound_records_per_s': bound,
    'aof.rewrite.seconds': Math.round(broker.rewriteSeconds * 1000) / 1000,
    'aof.rewrite.max_stall_ms': Math.round(broker.maxStallMs * 10) / 10,
    'aof.rewrite.max_stall_cpu_ms': Math.round(broker.maxStallCpuMs * 10) / 10,
    'aof.always.msgs_per_s': always.perSecond,
    'aof.always.records_per_fsync': always.perFsync,
  };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (process.argv[2] === RESTART_ARG) process.stdout.write(JSON.stringify(await restart(process.argv[3]!)) + '\n');
  else if (process.argv[2] === FRESH_MEMORY_ARG) process.stdout.write(String(freshMemoryBound()));
  else console.log(JSON.stringify(await benchAof(), null, 2));
}
