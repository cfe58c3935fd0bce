/**
 * The chaos run (README, "Running a cluster"): publishers with dedup ids
 * and consumers with acks against a local cluster (3 nats-server nodes,
 * stream replicas 3, 3 MQLite nodes) while, every 20-40 s, one of:
 *
 * - kill -9 of the owning MQLite node, restarted a few seconds later;
 * - kill -9 of the JetStream stream leader, restarted a few seconds later;
 * - SIGSTOP of the owner past its lease, then SIGCONT.
 *
 * It counts what the broker promises (docs/DESIGN.md, "Cluster"): publishes
 * answered ok that never arrive (lost, must be 0), messages delivered again
 * after their ack was answered ok (resurrected, must be 0), and reports the
 * duplicates from redelivery and the time without service per event.
 *
 *   npm run chaos                         # about 5 minutes
 *   npm run chaos -- --duration 90s --gap 10s-15s
 *
 * Prints a JSON report; exits 1 when anything was lost or resurrected.
 */
import { connect } from 'nats';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { streamName } from '../../src/aof/jetstream-store.js';
import { parseDuration } from '../../src/config.js';
import { ClusterMember, waitForOwner } from './local.js';
import { freePort, type NatsNode, restartNats, startNatsCluster, stopAll } from './nats.js';

export interface ChaosOptions {
  /** Events go on until this much time has passed since the start... */
  readonly durationMs: number;
  /** ...or, when given, exactly this many events (kinds in turn). */
  readonly events?: number;
  /** Time between two events: a random value in [min, max]. */
  readonly gapMs: readonly [number, number];
  readonly publishers?: number;
  readonly consumers?: number;
  readonly log?: (line: string) => void;
}

export type ChaosEventKind = 'kill-owner' | 'kill-stream-leader' | 'stop-owner';

export interface ChaosEvent {
  readonly kind: ChaosEventKind;
  readonly target: string;
  /** ms since the start of the run. */
  readonly at: number;
  /** The longest time without a publish answered ok after the event, until the next one or 30 s (ms). */
  readonly withoutServiceMs: number;
}

export interface ChaosReport {
  readonly seconds: number;
  readonly publishedOk: number;
  readonly publishRetries: number;
  readonly delivered: number;
  readonly lost: number;
  readonly resurrected: number;
  readonly duplicates: number;
  readonly events: readonly ChaosEvent[];
  readonly maxWithoutServiceMs: number;
}

const NS = 'chaos';
const TOPIC = 'orders';
const QUEUES = 4;
const CLUSTER = 'chaos';

/** HTTP requests to whichever node answers: a standby's 503 or a dead node moves on to the next. */
class FailoverHttp {
  private current = 0;
  retries = 0;

  constructor(private readonly nodes: readonly ClusterMember[]) {}

  /** The node the last request was answered by. */
  get node(): ClusterMember {
    return this.nodes[this.current]!;
  }

  async request(method: string, path: string, body: unknown, deadlineMs = 60_000): Promise<unknown> {
    const end = performance.now() + deadlineMs;
    for (let attempt = 0; ; attempt++) {
      const node = this.nodes[this.current]!;
      try {
        const res = await fetch(`http://127.0.0.1:${node.ports.http}${path}`, {
          method,
          headers: { 'content-type': 'application/json' },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(5000),
        });
        const json = (await res.json()) as { success: boolean; data?: unknown; message?: string };
        if (res.ok) return json.data;
        if (res.status !== 503) throw new Error(`${method} ${path} on ${node.id}: ${res.status} ${json.message}`);
      } catch (err) {
        if ((err as Error).message.startsWith(`${method} ${path}`)) throw err;
      }
      if (attempt > 0) this.retries++;
      this.current = (this.current + 1) % this.nodes.length;
      if (performance.now() > end) throw new Error(`${method} ${path}: no node answered within ${deadlineMs} ms`);
      if (this.current === 0) await sleep(100);
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function runChaos(opts: ChaosOptions): Promise<ChaosReport> {
  const log = opts.log ?? (() => {});
  const nats = await startNatsCluster('chaos-engine');
  const servers = nats.map((n) => n.url);
  const nodes: ClusterMember[] = [];
  for (const id of ['a', 'b', 'c']) {
    nodes.push(new ClusterMember(id, { tcp: await freePort(), http: await freePort(), grpc: await freePort() }, {
        name: CLUSTER,
        servers,
        replicas: 3,
        logLevel: 'info',
        onLog: (id, rec) => {
          if (rec.component === 'cluster' || (rec.level as number) >= 50) log(`${Math.round(now() / 1000)}s node ${id}: ${String(rec.msg)} ${JSON.stringify({ ...rec, level: undefined, time: undefined, msg: undefined, pid: undefined, hostname: undefined })}`);
        },
      }));
  }
  const nc = await connect({ servers, maxReconnectAttempts: -1 });
  const started = performance.now();
  const now = (): number => performance.now() - started;
  try {
    for (const n of nodes) await n.start();
    const first = await waitForOwner(nodes, 30_000);
    log(`owner: ${first.id}`);
    const setup = new FailoverHttp(nodes);
    await setup.request('POST', '/v1/namespaces', { name: NS });
    await setup.request('POST', `/v1/namespaces/${NS}/topics`, { name: TOPIC, queue_count: QUEUES });

    const okKeys = new Set<string>();
    const okTimes: number[] = [];
    const seen = new Set<string>();
    const ackedOk = new Set<string>();
    let duplicates = 0;
    let resurrected = 0;
    let delivered = 0;
    let publishing = true;
    let consuming = true;
    const clients: FailoverHttp[] = [];

    const publisher = async (w: number): Promise<void> => {
      const http = new FailoverHttp(nodes);
      clients.push(http);
      for (let k = 0; publishing; k++) {
        const key = `p${w}-${k}`;
        // the same dedup id on every retry: stored once, whichever node answers
        await http.request('POST', `/v1/namespaces/${NS}/topics/${TOPIC}/publish`, { payload: { key }, dedup_id: key });
        okKeys.add(key);
        okTimes.push(now());
      }
    };
    const acker = (node: ClusterMember): FailoverHttp => new FailoverHttp([node]);
    const consumer = async (c: number): Promise<void> => {
      const http = new FailoverHttp(nodes);
      clients.push(http);
      for (let q = c % QUEUES; consuming; q = (q + 1) % QUEUES) {
        let msgs: { id: string; payload: { key: string } }[];
        try {
          msgs = (await http.request('POST', `/v1/namespaces/${NS}/topics/${TOPIC}/queues/${q}/consume`, { batch_size: 50 })) as typeof msgs;
        } catch {
          continue;
        }
        if (msgs.length === 0) {
          await sleep(20);
          continue;
        }
        for (const m of msgs) {
          delivered++;
          const key = m.payload.key;
          if (ackedOk.has(key)) resurrected++;
          else if (seen.has(key)) duplicates++;
          seen.add(key);
        }
        // Acked where they were delivered, as a client on one connection would: another node
        // finds them pending again after its takeover, and an ack of ids not in flight is a no-op.
        try {
          await acker(http.node).request('POST', `/v1/namespaces/${NS}/topics/${TOPIC}/queues/${q}/ack`, { message_ids: msgs.map((m) => m.id) }, 0);
          for (const m of msgs) ackedOk.add(m.payload.key);
        } catch {
          // not acked: redelivered later, counted as a duplicate then
        }
      }
    };
    const workers = [
      ...Array.from({ length: opts.publishers ?? 4 }, (_, w) => publisher(w)),
      ...Array.from({ length: opts.consumers ?? 2 }, (_, c) => consumer(c)),
    ];

    const kinds: ChaosEventKind[] = ['kill-owner', 'kill-stream-leader', 'stop-owner'];
    const events: { kind: ChaosEventKind; target: string; at: number }[] = [];
    const jsm = await nc.jetstreamManager();
    for (let e = 0; ; e++) {
      const gap = opts.gapMs[0] + Math.random() * (opts.gapMs[1] - opts.gapMs[0]);
      if (opts.events !== undefined ? e >= opts.events : now() + gap > opts.durationMs) break;
      await sleep(gap);
      const kind = kinds[e % kinds.length]!;
      const owner = await waitForOwner(nodes, 30_000);
      const at = now();
      if (kind === 'kill-owner') {
        log(`${Math.round(at / 1000)}s kill -9 owner ${owner.id}`);
        events.push({ kind, target: owner.id, at });
        await owner.signal('SIGKILL');
        void sleep(3000).then(() => owner.start());
      } else if (kind === 'stop-owner') {
        log(`${Math.round(at / 1000)}s SIGSTOP owner ${owner.id}`);
        events.push({ kind, target: owner.id, at });
        await owner.signal('SIGSTOP');
        void sleep(8000).then(() => owner.signal('SIGCONT'));
      } else {
        const leader = (await jsm.streams.info(streamName(CLUSTER))).cluster?.leader;
        const node = nats.find((n) => n.name === leader);
        if (node === undefined) continue;
        log(`${Math.round(at / 1000)}s kill -9 stream leader ${leader}`);
        events.push({ kind, target: leader!, at });
        node.proc.kill('SIGKILL');
        void sleep(5000).then(async () => {
          const i = nats.indexOf(node);
          nats[i] = await restartNats(node);
        });
      }
    }
    // Let the last event settle, then stop publishing and drain everything.
    await sleep(12_000);
    publishing = false;
    await Promise.race([Promise.all(workers.slice(0, opts.publishers ?? 4)), sleep(90_000)]);
    const drainEnd = performance.now() + 90_000;
    for (;;) {
      const stats = (await setup.request('GET', `/v1/namespaces/${NS}/topics/${TOPIC}/stats`, undefined)) as { pending: number; in_flight: number; delayed: number };
      const missing = [...okKeys].filter((k) => !seen.has(k)).length;
      if ((stats.pending === 0 && stats.in_flight === 0 && stats.delayed === 0 && missing === 0) || performance.now() > drainEnd) break;
      await sleep(500);
    }
    consuming = false;
    await Promise.race([Promise.all(workers), sleep(30_000)]);

    const lost = [...okKeys].filter((k) => !seen.has(k)).length;
    for (let i = 1; i < okTimes.length; i++) if (okTimes[i]! - okTimes[i - 1]! > 1000) log(`no publish answered ok from ${Math.round(okTimes[i - 1]!)} to ${Math.round(okTimes[i]!)} ms`);
    const withEvents = events.map((ev, i): ChaosEvent => {
      let longest = 0;
      let last = ev.at;
      const until = Math.min(ev.at + 30_000, events[i + 1]?.at ?? Infinity);
      for (const t of okTimes) {
        if (t < ev.at) continue;
        if (t > until) break;
        longest = Math.max(longest, t - last);
        last = t;
      }
      return { ...ev, at: Math.round(ev.at), withoutServiceMs: Math.round(longest) };
    });
    return {
      seconds: Math.round(now() / 1000),
      publishedOk: okKeys.size,
      publishRetries: clients.reduce((s, c) => s + c.retries, 0),
      delivered,
      lost,
      resurrected,
      duplicates,
      events: withEvents,
      maxWithoutServiceMs: Math.max(0, ...withEvents.map((e) => e.withoutServiceMs)),
    };
  } finally {
    await nc.close().catch(() => {});
    await Promise.all(nodes.map((n) => n.stop()));
    await stopAll();
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const arg = (name: string, def: string): string => {
    const i = args.indexOf(name);
    return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : def;
  };
  const durationMs = parseDuration(arg('--duration', '5m'));
  const [lo, hi] = arg('--gap', '20s-40s').split('-').map((d) => parseDuration(d));
  if (durationMs === undefined || lo === undefined || hi === undefined) {
    process.stderr.write('usage: npm run chaos -- [--duration 5m] [--gap 20s-40s]\n');
    process.exit(2);
  }
  const report = await runChaos({ durationMs, gapMs: [lo, hi], log: (l) => process.stderr.write(`chaos: ${l}\n`) });
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  process.exit(report.lost === 0 && report.resurrected === 0 ? 0 : 1);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((err: unknown) => {
    process.stderr.write(`chaos: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
