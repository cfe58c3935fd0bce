/**
 * `GET /v1/server` (docs/PROTOCOL.md, "AOF rewrite, health, metrics"): the
 * figures of the process that the dashboard shows beside the topics, as
 * JSON, read from the same sources as `GET /metrics` (the AOF's counters,
 * the fsync histogram, the fronts' connection counts) plus the event-loop
 * delay. Read-only; computed per request, nothing per message.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { Broker } from '../../broker/broker.js';
import type { BrokerAccess } from '../front.js';
import type { MetricsSource } from '../../metrics/source.js';
import { packageVersion } from '../../version.js';

/** How long the event-loop delay is measured before it starts over: a reading covers 10 to 20 s. */
const LAG_WINDOW_MS = 10_000;

let lag: { histogram: IntervalHistogram; since: number; last: LagFigures | undefined } | undefined;

interface LagFigures {
  mean_ms: number;
  p99_ms: number;
  max_ms: number;
}

const ms = (ns: number): number => (Number.isFinite(ns) ? Math.round(ns / 1e4) / 100 : 0);

/** The event-loop delay over the current window (and the last full one until this one has samples). */
function eventLoopLag(now: number): LagFigures {
  if (lag === undefined) {
    const histogram = monitorEventLoopDelay({ resolution: 20 });
    histogram.enable();
    lag = { histogram, since: now, last: undefined };
  }
  const h = lag.histogram;
  const current: LagFigures | undefined = h.count > 0 ? { mean_ms: ms(h.mean), p99_ms: ms(h.percentile(99)), max_ms: ms(h.max) } : undefined;
  if (now - lag.since >= LAG_WINDOW_MS) {
    lag.last = current ?? lag.last;
    h.reset();
    lag.since = now;
  }
  return current ?? lag.last ?? { mean_ms: 0, p99_ms: 0, max_ms: 0 };
}

export interface ServerInfoSources {
  readonly metrics: MetricsSource;
  /** Open HTTP connections and SSE streams of this front. */
  readonly http: { connections(): number | undefined; sseStreams(): number };
}

const started = Date.now();

/** The JSON of `data` for `GET /v1/server`. */
export async function serverInfoJson(access: BrokerAccess, src: ServerInfoSources): Promise<string> {
  const now = Date.now();
  const { metrics } = src;
  let namespaces = 0;
  let topics = 0;
  let broker: Broker | undefined;
  try {
    broker = access.serving();
    for (const ns of broker.listNamespaces()) {
      namespaces++;
      topics += broker.listTopics(ns).length;
    }
  } catch {
    // closing, or a cluster node standing by: nothing to count
  }
  const s = metrics.aof?.();
  let fsync: { count: number; mean_ms: number; p99_ms: number } | null = null;
  if (metrics.fsync !== undefined) {
    const { values } = await metrics.fsync.histogram.get();
    let count = 0;
    let sum = 0;
    const buckets: { le: number; n: number }[] = [];
    for (const v of values) {
      if (v.metricName?.endsWith('_count')) count = v.value;
      else if (v.metricName?.endsWith('_sum')) sum = v.value;
      else if (v.metricName?.endsWith('_bucket')) buckets.push({ le: Number(v.labels.le), n: v.value });
    }
    // p99 as the upper bound of the first bucket holding 99 % of the fsyncs (the histogram's resolution)
    const p99 = buckets.find((b) => b.n >= count * 0.99)?.le ?? 0;
    fsync = { count, mean_ms: count > 0 ? Math.round((sum / count) * 1e5) / 100 : 0, p99_ms: count > 0 && Number.isFinite(p99) ? p99 * 1000 : 0 };
  }
  const aof =
    s === undefined
      ? null
      : {
          size_bytes: s.aofSize,
          written_bytes: s.bytes,
          records: s.records,
          fsyncs: s.fsyncs,
          failures: s.failures,
          rewrites: s.rewrites,
          rewrite_failures: s.rewriteFailures,
          last_rewrite_at_ms: s.lastRewriteAtMs ?? 0,
          last_rewrite_duration_ms: Math.round(s.lastRewriteSeconds * 1000),
          failed: s.failed,
          failure: s.failure ?? null,
          fsync,
        };
  const fronts: Record<string, { connections: number | null; subscriptions: number | null }> = {
    http: { connections: src.http.connections() ?? null, subscriptions: src.http.sseStreams() },
  };
  for (const [name, c] of Object.entries(metrics.fronts?.() ?? {})) fronts[name] = { connections: c.connections ?? null, subscriptions: c.subscriptions ?? null };
  const mem = broker?.memory();
  return JSON.stringify({
    version: packageVersion(),
    uptime_ms: now - started,
    namespaces,
    topics,
    persistence: aof !== null,
    aof,
    fronts,
    event_loop_lag: eventLoopLag(now),
    memory: { rss_bytes: process.memoryUsage.rss(), accounted_bytes: mem?.accountedBytes ?? 0, messages: mem?.messages ?? 0 },
    cluster: metrics.cluster?.() ?? null,
  });
}
