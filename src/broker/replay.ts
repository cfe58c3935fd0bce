/**
 * Replay and recovery (docs/DESIGN.md, "Recovery"). `applyRecord` applies
 * one record of the AOF with the same `Topic` transition the commit path
 * made after logging it (commit.ts), and never reads the clock: every
 * time a transition depends on is in its record. Replay never checks
 * limits (max_namespaces, max_topics_per_namespace, memory_high_water): a
 * limit lowered before a restart must not lose data.
 *
 * `recover` then starts what is not replayed: messages in flight at the
 * crash are pending again (a lease a restart ended counts as one that
 * expired), held messages get their timer, a drain under way gets its
 * timer back.
 */
import type { LogRecord, MessageRecordFields, ReplayStats } from '../aof/store.js';
import type { Dispatcher } from './delivery.js';
import type { Drains } from './drain.js';
import type { Held } from './held.js';
import { LiveTopic } from './live.js';
import type { MemoryGuard } from './memory.js';
import { MessageState, type StoredMessage } from './message.js';
import type { Namespaces } from './namespaces.js';
import { brokerCounts } from './stats.js';
import { Topic, type Totals } from './topic.js';
import type { RecoverySummary } from './types.js';

/** Applies one replayed record: the transition the live call made, without logging. */
export function applyRecord(namespaces: Namespaces, totals: Totals, rec: LogRecord): void {
  switch (rec.type) {
    case 'nsCreate':
      namespaces.byName.set(rec.ns, new Map());
      return;
    case 'nsDelete':
      for (const lt of replayNamespace(namespaces, rec.ns).values()) lt.topic.destroy();
      namespaces.byName.delete(rec.ns);
      return;
    case 'topicCreate':
      replayNamespace(namespaces, rec.ns).set(rec.topic, new LiveTopic(new Topic(rec.ns, rec.topic, rec.queueCount, rec.queueCount, 0n, totals)));
      return;
    case 'topicRestore':
      replayNamespace(namespaces, rec.ns).set(
        rec.topic,
        new LiveTopic(new Topic(rec.ns, rec.topic, rec.queueCount, rec.activeCount, rec.version, totals)),
      );
      return;
    case 'topicDelete':
      replayTopic(namespaces, rec.ns, rec.topic).destroy();
      namespaces.byName.get(rec.ns)!.delete(rec.topic);
      return;
    case 'publish': {
      const t = replayTopic(namespaces, rec.ns, rec.topic);
      t.publish(rec.queue, replayedMessage(t, rec.queue, rec, 0));
      return;
    }
    case 'publishEx': {
      const t = replayTopic(namespaces, rec.ns, rec.topic);
      t.publishEx(rec.queue, replayedMessage(t, rec.queue, rec, rec.deliveryCount), rec);
      return;
    }
    case 'topicPolicy':
      replayTopic(namespaces, rec.ns, rec.topic).setPolicy(rec);
      return;
    case 'nack':
      replayTopic(namespaces, rec.ns, rec.topic).nack(rec.ids, rec.visibleAt);
      return;
    case 'visible':
      replayTopic(namespaces, rec.ns, rec.topic).makeVisible(rec.ids);
      return;
    case 'deadLetter':
      replayTopic(namespaces, rec.ns, rec.topic).deadLetter(rec.reason, rec.ids);
      return;
    case 'dlqPop':
      replayTopic(namespaces, rec.ns, rec.topic).popDlq(rec.count, rec.autoAck);
      return;
    case 'redrive':
      replayTopic(namespaces, rec.ns, rec.topic).redrive(rec.queues);
      return;
    case 'expire':
      replayTopic(namespaces, rec.ns, rec.topic).expire(rec.queue, rec.count, rec.toDlq);
      return;
    case 'dedup':
      replayTopic(namespaces, rec.ns, rec.topic).addDedup(rec.key, rec.id, rec.queue, rec.expiresAt);
      return;
    case 'pop':
      replayTopic(namespaces, rec.ns, rec.topic).pop(rec.queue, rec.count, rec.autoAck);
      return;
    case 'ack':
      replayTopic(namespaces, rec.ns, rec.topic).ack(rec.ids);
      return;
    case 'requeue':
      replayTopic(namespaces, rec.ns, rec.topic).requeue(rec.ids);
      return;
    case 'move':
      replayTopic(namespaces, rec.ns, rec.topic).move(rec.moves);
      return;
    case 'resize':
      replayTopic(namespaces, rec.ns, rec.topic).resize(rec.queueCount);
      return;
    case 'resizeFinal':
      replayTopic(namespaces, rec.ns, rec.topic).finishResize();
      return;
    case 'pauseState':
      replayTopic(namespaces, rec.ns, rec.topic).setPaused(rec.paused);
      return;
    case 'purge':
      replayTopic(namespaces, rec.ns, rec.topic).purge(rec.queue, rec.dlq);
      return;
  }
}

/** What recovery starts again. */
export interface Runtime {
  readonly namespaces: Namespaces;
  readonly dispatcher: Dispatcher;
  readonly held: Held;
  readonly drains: Drains;
  readonly memory: MemoryGuard;
}

/**
 * After replay: in-flight messages are pending again (or dead-lettered).
 * That is itself a transition, so it is logged: later records were
 * produced against the requeued state.
 */
export function recover(rt: Runtime, stats: ReplayStats): RecoverySummary {
  let topics = 0;
  let requeued = 0;
  for (const lt of rt.namespaces.topics()) {
    topics++;
    const t = lt.topic;
    lt.syncLanes();
    // Totals count since startup; replay rebuilt part of them.
    for (const q of t.queues) q.resetCounters();
    if (t.inflight.size > 0) {
      const msgs = [...t.inflight.values()];
      rt.dispatcher.expire(lt, msgs);
      requeued += msgs.length;
    }
    if (t.held.size > 0) rt.held.holdAll([...t.held.values()]);
    if (t.draining) rt.drains.start(lt);
  }
  // Held messages whose time passed while the broker was down are visible now.
  rt.held.releaseDue(Date.now());
  // A mark lowered below what replay restored: publishes wait for consumers.
  rt.memory.update();
  return { ...stats, namespaces: rt.namespaces.size, topics, pending: brokerCounts(rt.namespaces).pending, requeued };
}

function replayNamespace(namespaces: Namespaces, ns: string): Map<string, LiveTopic> {
  const topics = namespaces.byName.get(ns);
  if (!topics) throw new Error(`AOF record refers to namespace '${ns}', which the log never created: the AOF is inconsistent`);
  return topics;
}

function replayTopic(namespaces: Namespaces, ns: string, name: string): Topic {
  const lt = replayNamespace(namespaces, ns).get(name);
  if (!lt) throw new Error(`AOF record refers to topic '${ns}/${name}', which the log never created: the AOF is inconsistent`);
  return lt.topic;
}

function replayedMessage(t: Topic, queue: number, rec: MessageRecordFields, deliveryCount: number): StoredMessage {
  return {
    id: rec.id,
    namespace: t.namespace,
    topic: t.name,
    queueId: queue,
    payload: rec.payload,
    timestampMs: rec.timestampMs,
    headers: rec.headers,
    deliveryCount,
    state: MessageState.Pending,
    deadline: 0,
    holder: undefined,
    // A publishEx record's expiry is set by Topic.publishEx, as live.
    expiresAt: 0,
  };
}
