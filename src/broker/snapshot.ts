/**
 * The rewrite snapshot (docs/DESIGN.md, "Durability contract (the AOF)"):
 * the broker's state as records, which replay to that same state. The
 * store asks for it when it rewrites or rebuilds the AOF. References are
 * captured at once (messages are immutable where it matters; what is not,
 * their queue and delivery count, is copied, or saved by the first pop
 * after the capture: `Topic.countsBeforePop`); the records are written
 * later, a slice at a time, while the live state moves on.
 */
import type { RecordSink, SnapshotSource } from '../aof/store.js';
import type { Deque, DequeSnapshot } from './deque.js';
import { DLQ_QUEUE_ID, type StoredMessage } from './message.js';
import type { Namespaces } from './namespaces.js';
import { policyFields, type Topic } from './topic.js';

/** The state of `namespaces` as records, for AOF rewrites (see the header). */
export function snapshotSource(namespaces: Namespaces): SnapshotSource {
  return (sink) => snapshot(namespaces, sink);
}

function snapshot(namespaces: Namespaces, sink: RecordSink): Iterator<void> {
  const now = Date.now();
  const view = [...namespaces.byName].map(([ns, topics]) => ({
    ns,
    topics: [...topics.values()].map(({ topic: t }) => {
      const inflight: StoredMessage[][] = t.queues.map(() => []);
      const dlqInflight: StoredMessage[] = [];
      for (const m of t.inflight.values()) (m.queueId === DLQ_QUEUE_ID ? dlqInflight : inflight[m.queueId]!).push(m);
      const saved = new Map<StoredMessage, number>();
      t.countsBeforePop = saved;
      return {
        topic: t,
        saved,
        name: t.name,
        activeCount: t.activeCount,
        version: t.version,
        paused: t.paused,
        policy: policyFields(t.policy),
        queues: t.queues.map((q, i) => captureRun(inflight[i]!, q.pending)),
        held: captureHeld(t),
        dlq: captureRun(dlqInflight, t.dlq),
        dedup: [...t.dedup.values()].filter((e) => e.expiresAt > now),
      };
    }),
  }));
  // Ends what the capture started: the topics' saved counts, and the queues'
  // shared blocks (which their deques would otherwise copy before every
  // write, and keep popped messages in).
  const release = (): void => {
    for (const { topics } of view) {
      for (const t of topics) {
        if (t.topic.countsBeforePop === t.saved) t.topic.countsBeforePop = undefined;
        for (const run of t.queues) run.pending.release();
        t.dlq.pending.release();
      }
    }
  };
  const records = (function* write(): Generator<void> {
    const SLICE = 256;
    let n = 0;
    const plain = { toDlq: false, deliveryCount: 0, visibleAt: 0, dedupId: undefined, dedupExpiresAt: 0 };
    try {
      for (const { ns, topics } of view) {
        sink.nsCreate(ns);
        for (const t of topics) {
          sink.topicRestore(ns, t.name, t.queues.length, t.activeCount, t.version);
          sink.topicPolicy(ns, t.name, t.policy);
          if (t.paused) sink.pauseState(ns, t.name, true);
          // In-flight messages were popped from the head: write them first
          // (with the delivery count they had before that pop), then pop
          // them again so replay puts them in flight.
          const runs = [...t.queues.map((run, q) => ({ run, q, toDlq: false })), { run: t.dlq, q: 0, toDlq: true }];
          for (const { run, q, toDlq } of runs) {
            for (const [list, popped] of [[run.inflight, 1], [run.pending, 0]] as const) {
              for (let i = 0; i < list.length; i++) {
                const m = list.at(i)!;
                const count = (t.saved.get(m) ?? m.deliveryCount) - popped;
                if (count === 0 && !toDlq && m.expiresAt === 0) sink.publish(ns, t.name, q, m);
                else sink.publishEx(ns, t.name, q, m, { ...plain, toDlq, deliveryCount: count, expiresAt: m.expiresAt });
                if (++n % SLICE === 0) yield;
              }
            }
            if (run.inflight.length > 0) {
              if (toDlq) sink.dlqPop(ns, t.name, run.inflight.length, false);
              else sink.pop(ns, t.name, q, run.inflight.length, false);
            }
          }
          for (const h of t.held) {
            sink.publishEx(ns, t.name, h.queue, h.msg, { ...plain, deliveryCount: h.count, visibleAt: h.at, expiresAt: h.msg.expiresAt });
            if (++n % SLICE === 0) yield;
          }
          for (const e of t.dedup) {
            sink.dedup(ns, t.name, e.key, e.id, e.queue, e.expiresAt);
            if (++n % SLICE === 0) yield;
          }
        }
      }
    } finally {
      release();
    }
  })();
  // A generator returned before its first step skips its finally: release here too.
  return {
    next: () => records.next(),
    return: (value?: unknown) => {
      release();
      return records.return(value as void);
    },
  };
}

/**
 * In-flight then pending messages of one queue. Their delivery counts are
 * read when written, or from the topic's `countsBeforePop` when a pop
 * changed them since. The pending ones are a snapshot sharing the queue's
 * blocks (O(blocks), not O(messages): deque.ts), released once written.
 */
function captureRun(inflight: StoredMessage[], pending: Deque<StoredMessage>): { inflight: StoredMessage[]; pending: DequeSnapshot<StoredMessage> } {
  return { inflight, pending: pending.snapshot() };
}

function captureHeld(t: Topic): { msg: StoredMessage; at: number; queue: number; count: number }[] {
  const out = [];
  for (const { msg, at } of t.held.values()) out.push({ msg, at, queue: msg.queueId, count: msg.deliveryCount });
  return out;
}
