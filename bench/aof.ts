/**
 * AOF figures measured on the FileStore directly (the broker-level figures
 * live in bench/core.ts):
 *
 *   aof.replay.records_per_s       replay of a 1M-record AOF of 1 KiB publishes (wall clock)
 *   aof.replay.records_per_cpu_s   the same per second of CPU used by the process: on a
 *                                  shared machine the wall figure mostly measures the others
 *   aof.rewrite.seconds            rewrite from a snapshot of 1M pending 1 KiB messages
 *   aof.rewrite.max_stall_ms       longest event-loop stall seen by a 1 ms interval during that rewrite
 *   aof.always.msgs_per_s          64 concurrent publishers, each awaiting durable(), fsync always
 *   aof.always.records_per_fsync   how many records one fdatasync covered there (group commit)
 *
 * Run alone with `node dist/bench/aof.js`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { FileStore } from '../src/aof/file-store.js';
import type { MessageRecordFields, RecordSink, SnapshotSource } from '../src/aof/store.js';

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

async function benchRewrite(): Promise<{ seconds: number; maxStallMs: number }> {
  return withDir(async (dir) => {
    const store = await open(dir);
    await store.replay(() => {});
    // The pending messages of a broker: one object each, sharing the payload as the core shares references.
    const pending = Array.from({ length: RECORDS }, (_, i) => message(i));
    const source: SnapshotSource = (sink: RecordSink) => {
      const view = pending.slice();
      let i = 0;
      sink.topicRestore('bench', 'topic', 8, 8, 1n);
      return {
        next(): IteratorResult<void> {
          const end = Math.min(view.length, i + 1000);
          for (; i < end; i++) sink.publish('bench', 'topic', i & 7, view[i]!);
          return { done: i >= view.length, value: undefined };
        },
      };
    };
    store.setSnapshotSource(source);

    let last = performance.now();
    let maxStallMs = 0;
    const probe = setInterval(() => {
      const now = performance.now();
      maxStallMs = Math.max(maxStallMs, now - last);
      last = now;
    }, 1);
    try {
      await new Promise((r) => setTimeout(r, 20));
      last = performance.now();
      maxStallMs = 0;
      const stats = await store.rewrite();
      if (stats.records !== RECORDS + 1) throw new Error(`rewrite wrote ${stats.records} records`);
      return { seconds: stats.seconds, maxStallMs };
    } finally {
      clearInterval(probe);
      await store.close();
    }
  });
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
  const rewrite = await benchRewrite();
  const always = await benchAlways();
  return {
    'aof.replay.records_per_s': replay.perSecond,
    'aof.replay.records_per_cpu_s': replay.perCpuSecond,
    'aof.rewrite.seconds': Math.round(rewrite.seconds * 1000) / 1000,
    'aof.rewrite.max_stall_ms': Math.round(rewrite.maxStallMs * 10) / 10,
    'aof.always.msgs_per_s': always.perSecond,
    'aof.always.records_per_fsync': always.perFsync,
  };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(JSON.stringify(await benchAof(), null, 2));
}
