/**
 * Prometheus `GET /metrics` (docs/PROTOCOL.md, "AOF rewrite, health, metrics"), in the text format of
 * prom-client.
 *
 * Everything is read at scrape time: the broker's topic stats (one pass
 * over namespaces and topics per scrape, shared by every metric of that
 * scrape), the AOF's counters, the fronts' connection and subscription
 * counts. Nothing is done per message; per request the HTTP front only
 * bumps a plain integer, turned into `mqlite_http_requests_total` at
 * scrape time.
 *
 * Totals (`*_total`) count since the process started, as the broker's
 * stats do; depths are the state and survive restarts. Rates are left to
 * PromQL (`rate(mqlite_messages_published_total[1m])`).
 *
 * The process metrics of prom-client (CPU, memory, GC, event-loop lag as
 * `nodejs_eventloop_lag_*`) are collected once per process, in a registry
 * of their own, and appended to every front's reply.
 */
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { Broker, TopicStats } from '../../broker/broker.js';
import type { BrokerAccess } from '../front.js';
import type { AofMetricsStats, MetricsSource } from '../../metrics/source.js';

/** Replies of one route by status, counted by the front as plain integers. */
export class RouteCounts {
  private readonly byStatus = new Map<number, number>();

  constructor(
    readonly method: string,
    readonly route: string,
  ) {}

  add(status: number): void {
    this.byStatus.set(status, (this.byStatus.get(status) ?? 0) + 1);
  }

  entries(): IterableIterator<[number, number]> {
    return this.byStatus.entries();
  }
}

export interface HttpFrontCounts {
  /** Open HTTP connections (undefined when the app is not served by our Node server). */
  connections(): number | undefined;
  sseStreams(): number;
  routes(): Iterable<RouteCounts>;
}

export interface FrontMetrics {
  readonly contentType: string;
  /** The whole text of a scrape. */
  render(): Promise<string>;
}

let processRegistry: Registry | undefined;

/**
 * How often the event-loop delay behind `nodejs_eventloop_lag_*` is
 * sampled. prom-client's default, 10 ms, is a timer waking the loop 100
 * times a second, idle or not: 6 ms of CPU a second here on an idle
 * broker (Redis idles at 2), and under `always` with one publisher (a few
 * hundred publishes a second) about one wakeup per publish. A stall of
 * 100 ms or more is always seen at this rate; a shorter one delays the
 * sample it overlaps, as before.
 */
const EVENT_LOOP_LAG_SAMPLE_MS = 100;

/** prom-client's default metrics, started once per process whatever the number of fronts. */
function processMetrics(): Registry {
  if (processRegistry === undefined) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry, eventLoopMonitoringPrecision: EVENT_LOOP_LAG_SAMPLE_MS });
  }
  return processRegistry;
}

type TopicLabels = { namespace: string; topic: string };

export function createFrontMetrics(broker: BrokerAccess, http: HttpFrontCounts, source: MetricsSource = {}): FrontMetrics {
  const registry = new Registry();
  const registers = [registry];

  // One snapshot of every topic per scrape, taken by the first metric that needs it.
  let snapshot: TopicStats[] | undefined;
  const topics = (): TopicStats[] => {
    if (snapshot !== undefined) return snapshot;
    const out: TopicStats[] = [];
    try {
      const b = broker.serving();
      for (const ns of b.listNamespaces()) for (const t of b.listTopics(ns)) out.push(b.topicStats(ns, t.name));
    } catch {
      // The broker is closing, or this cluster node stands by: no topics to report.
    }
    snapshot = out;
    return out;
  };
  const labels = (s: TopicStats): TopicLabels => ({ namespace: s.namespace, topic: s.topic });

  /** A gauge, or a counter set to a total at each scrape, with one sample per topic. */
  function topicMetric(kind: 'gauge' | 'counter', name: string, help: string, value: (s: TopicStats) => number): void {
    const config = { name, help, labelNames: ['namespace', 'topic'], registers };
    if (kind === 'gauge') {
      new Gauge({
        ...config,
        collect() {
          this.reset();
          for (const s of topics()) this.set(labels(s), value(s));
        },
      });
    } else {
      new Counter({
        ...config,
        collect() {
          this.reset();
          for (const s of topics()) this.inc(labels(s), value(s));
        },
      });
    }
  }

  topicMetric('gauge', 'mqlite_topic_queues', 'Active queues of the topic.', (s) => s.queueCount);
  topicMetric('gauge', 'mqlite_topic_pending_messages', 'Messages waiting for delivery.', (s) => s.pending);
  topicMetric('gauge', 'mqlite_topic_in_flight_messages', 'Messages delivered and not yet acked (dead-letter queue included).', (s) => s.inFlight);
  topicMetric('gauge', 'mqlite_topic_delayed_messages', 'Messages held until a later time (delayed publishes, nacks waiting for their retry).', (s) => s.delayed);
  topicMetric('gauge', 'mqlite_topic_dlq_messages', 'Messages waiting in the dead-letter queue.', (s) => s.dlqDepth);
  topicMetric('gauge', 'mqlite_topic_oldest_pending_age_seconds', 'Age of the oldest message at the head of a queue.', (s) => s.oldestPendingAgeMs / 1000);
  topicMetric('gauge', 'mqlite_topic_paused', '1 while the topic is paused: deliveries held, publishes accepted (docs/DESIGN.md, "Pause").', (s) => (s.paused ? 1 : 0));
  topicMetric('counter', 'mqlite_messages_published_total', 'Messages published since the process started.', (s) => s.published);
  topicMetric('counter', 'mqlite_messages_acked_total', 'Messages acked (or auto-acked) since the process started.', (s) => s.acked);
  topicMetric('counter', 'mqlite_messages_redelivered_total', 'Deliveries after the first since the process started.', (s) => s.redelivered);
  topicMetric('counter', 'mqlite_messages_dead_lettered_total', 'Messages moved to the dead-letter queue since the process started.', (s) => s.deadLettered);
  topicMetric('counter', 'mqlite_messages_expired_total', 'Messages expired (dropped, or dead-lettered with reason expired) since the process started.', (s) => s.expired);
  topicMetric('counter', 'mqlite_messages_purged_total', 'Messages removed by purges since the process started (docs/DESIGN.md, "Purge").', (s) => s.purged);

  new Gauge({
    name: 'mqlite_front_connections',
    help: 'Open client connections, by front.',
    labelNames: ['front'],
    registers,
    collect() {
      this.reset();
      const own = http.connections();
      if (own !== undefined) this.set({ front: 'http' }, own);
      for (const [front, c] of Object.entries(source.fronts?.() ?? {})) if (c.connections !== undefined) this.set({ front }, c.connections);
    },
  });
  new Gauge({
    name: 'mqlite_front_subscriptions',
    help: 'Open subscriptions (HTTP: SSE streams), by front.',
    labelNames: ['front'],
    registers,
    collect() {
      this.reset();
      this.set({ front: 'http' }, http.sseStreams());
      for (const [front, c] of Object.entries(source.fronts?.() ?? {})) if (c.subscriptions !== undefined) this.set({ front }, c.subscriptions);
    },
  });
  // limits.memory_high_water (docs/DESIGN.md, "Limits"): the figures publishes are refused on.
  const memoryGauge = (name: string, help: string, value: (m: ReturnType<Broker['memory']>) => number): void => {
    new Gauge({
      name,
      help,
      registers,
      collect() {
        try {
          this.set(value(broker.serving().memory()));
        } catch {
          // a cluster node standing by holds no messages
          this.set(0);
        }
      },
    });
  };
  memoryGauge('mqlite_memory_accounted_bytes', 'Payload bytes plus a per-message estimate of every stored message.', (m) => m.accountedBytes);
  memoryGauge('mqlite_memory_accounted_messages', 'Stored messages (pending, in flight, delayed, dead-lettered).', (m) => m.messages);
  memoryGauge('mqlite_memory_sampled_bytes', 'Process RSS as last sampled for the high-water mark (0 when not sampled).', (m) => m.sampledBytes);
  memoryGauge('mqlite_memory_high_water_bytes', 'limits.memory_high_water (0: disabled).', (m) => m.highWaterBytes);
  memoryGauge('mqlite_memory_publishes_refused', '1 while publishes are refused because memory is over the high-water mark.', (m) => (m.refusing ? 1 : 0));

  new Counter({
    name: 'mqlite_http_requests_total',
    help: 'HTTP requests answered, by method, route pattern and status.',
    labelNames: ['method', 'route', 'status'],
    registers,
    collect() {
      this.reset();
      for (const r of http.routes()) for (const [status, n] of r.entries()) this.inc({ method: r.method, route: r.route, status }, n);
    },
  });

  const auth = source.auth;
  if (auth !== undefined) {
    new Counter({
      name: 'mqlite_auth_failures_total',
      help: 'Requests refused for their API key, by front and reason (missing, invalid, denied: out of the key\'s scope).',
      labelNames: ['front', 'reason'],
      registers,
      collect() {
        this.reset();
        for (const f of auth.entries()) this.inc({ front: f.front, reason: f.reason }, f.count);
      },
    });
  }

  const cluster = source.cluster;
  if (cluster !== undefined) {
    new Gauge({
      name: 'mqlite_cluster_owner',
      help: '1 while this cluster node owns the broker and serves; 0 while it stands by or takes over.',
      registers,
      collect() {
        this.set(cluster().role === 'owner' ? 1 : 0);
      },
    });
    new Counter({
      name: 'mqlite_cluster_takeovers_total',
      help: 'Times this cluster node took ownership of the broker since it started.',
      registers,
      collect() {
        this.reset();
        this.inc(cluster().takeovers);
      },
    });
  }

  const aof = source.aof;
  // Read once per scrape, like the topics.
  let aofStats: AofMetricsStats | undefined;
  if (aof !== undefined) {
    const read = (): AofMetricsStats => (aofStats ??= aof());
    const aofGauge = (name: string, help: string, value: (s: AofMetricsStats) => number): void => {
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(value(read()));
        },
      });
    };
    const aofCounter = (name: string, help: string, value: (s: AofMetricsStats) => number): void => {
      new Counter({
        name,
        help,
        registers,
        collect() {
          this.reset();
          this.inc(value(read()));
        },
      });
    };
    aofGauge('mqlite_aof_size_bytes', 'Size of the AOF (base and incremental files).', (s) => s.aofSize);
    aofCounter('mqlite_aof_written_bytes_total', 'Bytes appended to the AOF since the process started.', (s) => s.bytes);
    aofCounter('mqlite_aof_records_total', 'Records appended to the AOF since the process started.', (s) => s.records);
    aofCounter('mqlite_aof_fsyncs_total', 'Fsyncs of the AOF since the process started.', (s) => s.fsyncs);
    aofCounter('mqlite_aof_failures_total', 'Failed AOF writes and fsyncs since the process started.', (s) => s.failures);
    aofCounter('mqlite_aof_rewrites_total', 'Completed AOF rewrites since the process started.', (s) => s.rewrites);
    aofCounter('mqlite_aof_rewrite_failures_total', 'Failed AOF rewrites since the process started.', (s) => s.rewriteFailures);
    aofGauge('mqlite_aof_last_rewrite_duration_seconds', 'Duration of the last completed AOF rewrite (0 before the first).', (s) => s.lastRewriteSeconds);
    aofGauge(
      'mqlite_aof_failed',
      '1 while the AOF is failed (a write or fsync failed): mutations are refused, reads served, and the AOF is rebuilt from memory on retry.',
      (s) => (s.failed ? 1 : 0),
    );
    aofGauge('mqlite_aof_failed_seconds', 'How long the AOF has been failed, in seconds (0 when it is not).', (s) => s.failedSeconds ?? 0);
    aofCounter('mqlite_aof_recoveries_total', 'Failures of the AOF ended by a rebuild from memory since the process started.', (s) => s.recoveries ?? 0);
    aofCounter('mqlite_aof_recovery_failures_total', 'Failed attempts to rebuild a failed AOF since the process started.', (s) => s.recoveryFailures ?? 0);
  }
  if (source.fsync !== undefined) registry.registerMetric(source.fsync.histogram);

  const proc = processMetrics();
  return {
    contentType: registry.contentType,
    async render(): Promise<string> {
      snapshot = undefined;
      aofStats = undefined;
      const [own, common] = await Promise.all([registry.metrics(), proc.metrics()]);
      return own + common;
    },
  };
}
