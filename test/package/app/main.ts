// A user's app, compiled with strict types against the installed package
// (test/package/pack.test.ts): an embedded broker from 'mqlite/server', and
// on each protocol a worker that processes 10,000 messages 16 at a time.
import { type Job, connect, ClientError } from 'mqlite';
import { loadConfig, startBroker } from 'mqlite/server';

interface Order {
  n: number;
}

const config = loadConfig(undefined, { env: {} });
config.persistence.enabled = false;
config.server.tcp.port = 0;
config.server.http.port = 0;
config.server.grpc.port = 0;
const running = await startBroker(config);
const { tcp, http, grpc } = running.ports;
const N = 10_000;
const FAILING = new Set([13, 5000]);
const results: Record<string, unknown> = {};

for (const url of [`tcp://127.0.0.1:${tcp}`, `tcp://127.0.0.1:${tcp}?encoding=json`, `http://127.0.0.1:${http}`, `grpc://127.0.0.1:${grpc}`]) {
  const mq = await connect(url);
  const ns = `app${Object.keys(results).length}`;
  await mq.createNamespace(ns);
  await mq.createTopic(ns, 'orders', 4);
  await mq.setTopicPolicy(ns, 'orders', { maxRetries: 1, retryBaseMs: 1, retryCapMs: 2 });
  for (let i = 0; i < N; i += 500) {
    const entries = Array.from({ length: Math.min(500, N - i) }, (_, j) => ({ payload: JSON.stringify({ n: i + j } satisfies Order) }));
    await mq.publishBatch(ns, 'orders', entries, 'atomic');
  }
  const calls = new Map<number, number>();
  let deadLettered = 0;
  const started = performance.now();
  const worker = mq.worker<Order>(
    ns,
    'orders',
    async (job: Job<Order>) => {
      const { n } = job.json();
      calls.set(n, (calls.get(n) ?? 0) + 1);
      if (FAILING.has(n)) throw new Error(`order ${n} is broken`);
    },
    { concurrency: 16 },
  );
  worker.on('failed', (_job: Job<Order>, _err: unknown, outcome: string) => {
    if (outcome === 'dead-lettered') deadLettered++;
  });
  await worker.ready;
  while (calls.size < N || deadLettered < FAILING.size) await new Promise((r) => setTimeout(r, 20));
  const ms = performance.now() - started;
  await worker.close();
  const stats = await mq.topicStats(ns, 'orders');
  const counts = [...calls.values()];
  results[url] = {
    handled: calls.size,
    once: counts.filter((c) => c === 1).length,
    twice: counts.filter((c) => c === 2).length,
    acked: stats.acked,
    pending: stats.pending,
    inFlight: stats.inFlight,
    dlq: stats.dlqDepth,
    msgsPerS: Math.round(N / (ms / 1000)),
  };
  await mq.close();
  await mq.listNamespaces().catch((e: unknown) => e instanceof ClientError && e.code === 'CLOSED');
}
await running.close();
console.log(JSON.stringify(results));
