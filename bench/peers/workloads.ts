/**
 * The four peer workloads (README, "Against Redis and NATS JetStream"), each defined once over BenchQueue so that
 * every system runs exactly the same loop. Each run gets a fresh queue.
 */
import { percentile, processCpuUs } from '../stats.js';
import type { BenchQueue } from './system.js';

export interface Settings {
  /** Length of each timed publish measurement. */
  seconds: number;
  /** Untimed publishing before it (JIT, connections, first allocations). */
  warmupSeconds: number;
  /**
   * Publishes made one at a time on each system before any measurement,
   * then as many push round trips (see `oneInFlightWarmUp`).
   */
  warmupOps: number;
  /** Messages drained by the consume workload (after an untimed 5%). */
  consumeCount: number;
  /** Timed round trips of the push-latency workload (after an untimed 50%: JIT on both sides). */
  latencySamples: number;
}

export interface Metric {
  key: string;
  label: string;
  unit: 'msgs/s' | 'ms' | 'µs';
  higherIsBetter: boolean;
  /** Explains a figure (CPU per message) rather than being one to compare: kept out of the ratio table. */
  diagnostic?: boolean;
}

export interface Workload {
  id: string;
  /** Short name for the table and chart. */
  title: string;
  /** What it does, for the notes. */
  description: string;
  /** Requests it keeps in flight. */
  concurrency: number;
  metrics: readonly Metric[];
  /** `serverPid`: the broker's process, for the CPU figures. */
  run(q: BenchQueue, s: Settings, serverPid: number): Promise<Record<string, number>>;
}

const RATE: Metric = { key: 'msgs_per_s', label: 'msgs/s', unit: 'msgs/s', higherIsBetter: true };
const P50: Metric = { key: 'p50_ms', label: 'p50 ms', unit: 'ms', higherIsBetter: false };
const P99: Metric = { key: 'p99_ms', label: 'p99 ms', unit: 'ms', higherIsBetter: false };
const SERVER_CPU: Metric = { key: 'server_cpu_us', label: 'server CPU µs/msg', unit: 'µs', higherIsBetter: false, diagnostic: true };
const CLIENT_CPU: Metric = { key: 'client_cpu_us', label: 'client CPU µs/msg', unit: 'µs', higherIsBetter: false, diagnostic: true };

/** Batch size and batches in flight of the consume workload. */
export const CONSUME_BATCH = 100;
export const CONSUME_DEPTH = 4;
/** Publishes in flight of the concurrent publish workload. */
export const PUBLISH_DEPTH = 64;
/** A push delivery slower than this means the run is broken, not slow. */
const DELIVERY_TIMEOUT_MS = 10_000;

/** `depth` loops awaiting `op` one after another for `ms`; the op count and the elapsed seconds. */
async function closedLoop(depth: number, ms: number, op: () => Promise<void>, latencies?: number[]): Promise<{ ops: number; seconds: number }> {
  let ops = 0;
  const start = performance.now();
  const end = start + ms;
  await Promise.all(
    Array.from({ length: depth }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now();
        await op();
        latencies?.push(performance.now() - t0);
        ops++;
      }
    }),
  );
  return { ops, seconds: (performance.now() - start) / 1000 };
}

function publishWorkload(id: string, title: string, depth: number, metrics: readonly Metric[]): Workload {
  return {
    id,
    title,
    concurrency: depth,
    description: `publishes of 1 KiB, ${depth} in flight on one client, each awaiting the broker's answer; ${depth === 1 ? 'rate and latency percentiles' : 'rate'}, plus CPU per message of broker and client`,
    metrics,
    async run(q, s, serverPid) {
      await closedLoop(depth, s.warmupSeconds * 1000, q.publish);
      const latencies: number[] = [];
      const server0 = processCpuUs(serverPid);
      const client0 = process.cpuUsage();
      const { ops, seconds } = await closedLoop(depth, s.seconds * 1000, q.publish, latencies);
      const client = process.cpuUsage(client0);
      latencies.sort((a, b) => a - b);
      return {
        msgs_per_s: ops / seconds,
        p50_ms: percentile(latencies, 50),
        p99_ms: percentile(latencies, 99),
        server_cpu_us: (processCpuUs(serverPid) - server0) / ops,
        client_cpu_us: (client.user + client.system) / ops,
      };
    },
  };
}

/**
 * Takes exactly `total` messages with CONSUME_DEPTH batches in flight.
 * Never asks for more than is left, so no system waits on an empty queue.
 */
async function drain(q: BenchQueue, total: number): Promise<void> {
  let asked = 0;
  let taken = 0;
  await Promise.all(
    Array.from({ length: CONSUME_DEPTH }, async () => {
      for (;;) {
        const want = Math.min(CONSUME_BATCH, total - asked);
        if (want <= 0) return;
        asked += want;
        const got = await q.takeAndAck(want);
        if (got === 0) throw new Error(`queue empty after ${taken} of ${total} messages`);
        taken += got;
        asked -= want - got;
      }
    }),
  );
}

const consumeWorkload: Workload = {
  id: 'consume',
  title: 'consume + ack',
  concurrency: CONSUME_DEPTH,
  description: `drains a pre-filled queue (100k by default, after an untimed 5%) in batches of up to ${CONSUME_BATCH}, each acked before it counts, ${CONSUME_DEPTH} batches in flight`,
  metrics: [RATE],
  async run(q, s) {
    const warm = Math.ceil(s.consumeCount * 0.05);
    await q.fill(warm + s.consumeCount);
    await drain(q, warm);
    const start = performance.now();
    await drain(q, s.consumeCount);
    return { msgs_per_s: s.consumeCount / ((performance.now() - start) / 1000) };
  },
};

/** A push subscription on one queue, and round trips through it. */
export interface PushProbe {
  /** Publishes one message and waits for its delivery: the time from the publish call to the delivery, in ms. */
  trip(): Promise<number>;
  close(): Promise<void>;
}

/** Opens the push subscription of `q` (`q.subscribe`) for round trips one at a time. */
export async function openPushProbe(q: BenchQueue): Promise<PushProbe> {
  let arrived: (() => void) | undefined;
  const close = await q.subscribe(() => arrived?.());
  return {
    async trip() {
      let timer: NodeJS.Timeout | undefined;
      const delivered = new Promise<void>((resolve, reject) => {
        arrived = resolve;
        timer = setTimeout(() => reject(new Error(`no delivery within ${DELIVERY_TIMEOUT_MS} ms`)), DELIVERY_TIMEOUT_MS);
      });
      const t0 = performance.now();
      const published = q.publish();
      await delivered;
      const wait = performance.now() - t0;
      clearTimeout(timer);
      await published;
      return wait;
    },
    close,
  };
}

/**
 * `count` publishes one at a time through the push subscription `q.subscribe`
 * opens (at most until `deadline`, a performance.now() time): for each, the
 * time from the publish call to its delivery, in ms.
 */
async function pushRoundTrips(q: BenchQueue, count: number, deadline = Infinity): Promise<number[]> {
  const probe = await openPushProbe(q);
  const waits: number[] = [];
  try {
    for (let i = 0; i < count && performance.now() < deadline; i++) waits.push(await probe.trip());
  } finally {
    await probe.close();
  }
  return waits;
}

/** From the publish call to the push delivery, one message at a time on an idle queue. */
const pushLatencyWorkload: Workload = {
  id: 'push',
  title: 'push e2e',
  concurrency: 1,
  description: 'end-to-end latency through a push subscription: from the publish call to the delivery, one message at a time on an idle queue',
  metrics: [P50, P99],
  async run(q, s) {
    const warm = Math.ceil(s.latencySamples * 0.5);
    const samples = (await pushRoundTrips(q, warm + s.latencySamples)).slice(warm);
    samples.sort((a, b) => a - b);
    return { p50_ms: percentile(samples, 50), p99_ms: percentile(samples, 99) };
  },
};

/** A slow disk under `always` must not stretch either part of the warm-up without bound. */
const WARM_UP_MAX_MS = 10_000;

/**
 * Untimed, once per system before the rounds: `warmupOps` publishes one at
 * a time, then as many through a push subscription. The time-based
 * warm-up of each run is a few hundred publishes when every one waits for
 * an fdatasync (150-800 a second here), and V8 optimises a function after
 * some thousands of calls, not seconds: traced with --trace-opt, the
 * broker's TCP publish path (runFrame, publish, newMessage, writeOk) was
 * still being compiled 4 s into a run at 850 publishes/s, so `always` rows
 * measured half-compiled code; the push path (delivery, push frames, the
 * client's subscription) is its own code, and its first round was slower
 * than the next ones. Redis, which needs none, gets the same warm-up.
 */
export const oneInFlightWarmUp: Workload = {
  id: 'warm_c1',
  title: 'warm-up, 1 in flight',
  concurrency: 1,
  description: 'untimed warm-up',
  metrics: [],
  async run(q, s) {
    let ops = 0;
    const end = performance.now() + WARM_UP_MAX_MS;
    while (ops < s.warmupOps && performance.now() < end) {
      await q.publish();
      ops++;
    }
    await pushRoundTrips(q, s.warmupOps, performance.now() + WARM_UP_MAX_MS);
    return {};
  },
};

export const WORKLOADS: readonly Workload[] = [
  publishWorkload('publish_c1', 'publish c1', 1, [RATE, P50, P99, SERVER_CPU, CLIENT_CPU]),
  publishWorkload('publish_c64', `publish c${PUBLISH_DEPTH}`, PUBLISH_DEPTH, [RATE, SERVER_CPU, CLIENT_CPU]),
  consumeWorkload,
  pushLatencyWorkload,
];
