/** Child of bench/core.ts: RSS growth per queued 1 KiB message at 1M messages, in memory. */
import { Broker } from '../src/broker/broker.js';

const N = 1_000_000;
const gc = (globalThis as { gc?: () => void }).gc!;
const { broker } = await Broker.open();
await broker.createNamespace('bench');
await broker.createTopic('bench', 't', 4);
const payload = Buffer.alloc(1024, 'x');
gc();
const before = process.memoryUsage().rss;
for (let i = 0; i < N; i += 1000) {
  const batch: Promise<unknown>[] = [];
  for (let j = 0; j < 1000; j++) batch.push(broker.publish('bench', 't', payload));
  await Promise.all(batch);
}
gc();
const after = process.memoryUsage().rss;
process.stdout.write(JSON.stringify({ bytesPerMessage: (after - before) / N, pending: broker.stats().pending }));
