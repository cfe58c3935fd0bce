/**
 * Core and AOF figures measured through the Broker API in this process:
 * publish-then-consume throughput with and without the AOF,
 * `always` fsync with 1 and 64 concurrent publishers, and RSS per queued
 * message (in a fresh child process, so nothing else is on the heap).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FileStore } from '../src/aof/file-store.js';
import type { FsyncPolicy } from '../src/aof/store.js';
import { Broker } from '../src/broker/broker.js';
import { progress, round } from './stats.js';

const PAYLOAD = Buffer.alloc(1024, 'x');

async function withBroker<T>(fsync: FsyncPolicy | undefined, fn: (b: Broker) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'mqlite-bench-core-'));
  try {
    const store = fsync ? await FileStore.open({ dir, filename: 'appendonly.aof', fsync, rewriteMinSize: 1 << 40, rewritePercentage: 100 }) : undefined;
    const { broker } = await Broker.open({ store });
    await broker.createNamespace('bench');
    await broker.createTopic('bench', 't', 1);
    try {
      return await fn(broker);
    } finally {
      await broker.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Messages flow through: publish a window of 1,000 (all in flight at once),
 * then consume them in one auto-ack batch, n messages in all.
 */
async function pubsub(fsync: FsyncPolicy | undefined, n: number): Promise<number> {
  return withBroker(fsync, async (b) => {
    const start = performance.now();
    const window: Promise<unknown>[] = [];
    for (let i = 0; i < n; i += 1000) {
      for (let j = 0; j < 1000; j++) window.push(b.publish('bench', 't', PAYLOAD));
      await Promise.all(window.splice(0));
      let got = 0;
      while (got < 1000) got += (await b.consume('bench', 't', 0, 1000, true)).length;
    }
    return n / ((performance.now() - start) / 1000);
  });
}

/** `concurrency` publishers, each awaiting its publish before the next, for `seconds`. */
async function publishers(fsync: FsyncPolicy, concurrency: number, seconds: number): Promise<number> {
  return withBroker(fsync, async (b) => {
    let count = 0;
    const end = performance.now() + seconds * 1000;
    const start = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (performance.now() < end) {
          await b.publish('bench', 't', PAYLOAD);
          count++;
        }
      }),
    );
    return count / ((performance.now() - start) / 1000);
  });
}

function rssPerMessage(): number {
  const child = join(dirname(fileURLToPath(import.meta.url)), 'rss-child.js');
  const r = spawnSync(process.execPath, ['--expose-gc', '--max-old-space-size=8192', child], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`rss child failed: ${r.stderr}`);
  return Number(JSON.parse(r.stdout).bytesPerMessage);
}

export async function benchCore(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  progress('core.pubsub.noaof');
  out['core.pubsub.noaof.msgs_per_s'] = round(await pubsub(undefined, 500_000));
  progress('core.pubsub.everysec');
  out['core.pubsub.everysec.msgs_per_s'] = round(await pubsub('everysec', 500_000));
  progress('aof.always.c64');
  out['aof.always.c64.msgs_per_s'] = round(await publishers('always', 64, 3));
  progress('aof.always.c1');
  out['aof.always.c1.msgs_per_s'] = round(await publishers('always', 1, 2));
  progress('core.rss_bytes_per_msg (1M queued messages)');
  out['core.rss_bytes_per_msg'] = round(rssPerMessage());
  return out;
}
