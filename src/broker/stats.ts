/**
 * Stats (docs/DESIGN.md, "Stats"): depths, totals, rates and ages of a
 * topic and each of its queues, and the broker's counts. Depths are the
 * state and survive a restart; totals and rates count since the process
 * started. Rates are EWMAs of per-second samples, taken by one timer for
 * every queue.
 */
import type { LiveTopic } from './live.js';
import type { Namespaces } from './namespaces.js';
import type { QueueStats, TopicStats } from './types.js';

/** Rates are EWMAs of per-second samples over about this many seconds. */
const RATE_WINDOW_S = 10;

export function topicStats(lt: LiveTopic): TopicStats {
  const t = lt.topic;
  const now = performance.timeOrigin + performance.now();
  const queues: QueueStats[] = lt.lanes.map((lane) => {
    const q = lane.queue;
    const head = q.pending.peekFront();
    return {
      queueId: q.id,
      pending: q.pending.length,
      inFlight: 0,
      delayed: 0,
      published: q.published,
      acked: q.acked,
      redelivered: q.redelivered,
      deadLettered: q.deadLettered,
      expired: q.expired,
      publishRate: lane.publishRate,
      ackRate: lane.ackRate,
      oldestPendingAgeMs: head === undefined ? 0 : Math.max(0, now - head.timestampMs),
    };
  });
  // O(in flight + held) per call: stats are read every few seconds at most.
  for (const m of t.inflight.values()) if (m.queueId >= 0) queues[m.queueId]!.inFlight++;
  for (const { msg } of t.held.values()) queues[msg.queueId]!.delayed++;
  const total: TopicStats = {
    namespace: t.namespace,
    topic: t.name,
    queueCount: t.activeCount,
    version: t.version,
    draining: t.draining,
    dlqDepth: t.dlq.length,
    policy: t.policy,
    paused: t.paused,
    purged: t.purged,
    pending: 0,
    inFlight: t.inflight.size,
    delayed: t.held.size,
    published: 0,
    acked: 0,
    redelivered: 0,
    deadLettered: 0,
    expired: 0,
    publishRate: 0,
    ackRate: 0,
    oldestPendingAgeMs: 0,
    queues,
  };
  for (const q of queues) {
    total.pending += q.pending;
    total.published += q.published;
    total.acked += q.acked;
    total.redelivered += q.redelivered;
    total.deadLettered += q.deadLettered;
    total.expired += q.expired;
    total.publishRate += q.publishRate;
    total.ackRate += q.ackRate;
    total.oldestPendingAgeMs = Math.max(total.oldestPendingAgeMs, q.oldestPendingAgeMs);
  }
  return total;
}

/** Counts for logs and tests. */
export function brokerCounts(namespaces: Namespaces): { namespaces: number; topics: number; pending: number; inflight: number } {
  let topics = 0;
  let pending = 0;
  let inflight = 0;
  for (const lt of namespaces.topics()) {
    topics++;
    pending += lt.topic.pendingCount();
    inflight += lt.topic.inflight.size;
  }
  return { namespaces: namespaces.size, topics, pending, inflight };
}

/** Samples every queue's rates once a second. */
export class RateSampler {
  private readonly timer: NodeJS.Timeout;
  private sampledAt = Date.now();

  constructor(private readonly namespaces: Namespaces) {
    this.timer = setInterval(this.sample, 1000);
    this.timer.unref();
  }

  close(): void {
    clearInterval(this.timer);
  }

  private readonly sample = (): void => {
    const now = Date.now();
    const dt = (now - this.sampledAt) / 1000;
    if (dt <= 0) return;
    this.sampledAt = now;
    const alpha = 1 - Math.exp(-dt / RATE_WINDOW_S);
    for (const lt of this.namespaces.topics()) for (const lane of lt.lanes) lane.sampleRates(dt, alpha);
  };
}
