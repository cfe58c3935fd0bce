/**
 * DESIGN.md, "Recovery": after a restart the state equals the state at the
 * last durable record (namespaces, topics, queue counts, pending messages in
 * order), and in-flight messages are pending again. Checked for random
 * operation sequences, with AOF rewrites at random points.
 */
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MemoryStore } from '../../src/aof/memory-store.js';
import { Broker } from '../../src/broker/broker.js';
import { isBrokerError } from '../../src/broker/errors.js';
import { enc, recorder, turns } from './helpers.js';

// Time moves only in whole steps: 'expire' passes every ack deadline at once
// (all in-flight messages were consumed in the same step, so they are
// requeued in one batch, as recovery does), and drains end only on
// 'drainTimeout', never by accident of a step.
const ACK_TIMEOUT = 1000;
const DRAIN_TIMEOUT = 1_000_000_000;

type Op =
  | { op: 'publish'; topic: number; queue: number; key: string | null; n: number }
  | { op: 'consume'; topic: number; queue: number; batch: number; autoAck: boolean }
  | { op: 'ack'; topic: number; pick: number }
  | { op: 'expire' }
  | { op: 'resize'; topic: number; count: number }
  | { op: 'drainTimeout' }
  | { op: 'rebalance'; topic: number }
  | { op: 'deleteTopic'; topic: number }
  | { op: 'subscribe'; topic: number; queue: number; autoAck: boolean }
  | { op: 'rewrite' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constant('publish' as const), topic: fc.nat(1), queue: fc.integer({ min: -1, max: 3 }), key: fc.option(fc.constantFrom('a', 'b', 'c')), n: fc.integer({ min: 1, max: 8 }) }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('consume' as const), topic: fc.nat(1), queue: fc.nat(3), batch: fc.integer({ min: 1, max: 5 }), autoAck: fc.boolean() }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('ack' as const), topic: fc.nat(1), pick: fc.nat(20) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('expire' as const) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('resize' as const), topic: fc.nat(1), count: fc.integer({ min: 1, max: 4 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('drainTimeout' as const) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('rebalance' as const), topic: fc.nat(1) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('deleteTopic' as const), topic: fc.nat(1) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('subscribe' as const), topic: fc.nat(1), queue: fc.nat(3), autoAck: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('rewrite' as const) }) },
);

const TOPICS = ['t0', 't1'];

/** Everything observable: namespaces, topics, and each queue's pending messages in order. */
async function dump(b: Broker) {
  const out: unknown[] = [b.listNamespaces()];
  for (const ns of b.listNamespaces()) {
    const topics = b.listTopics(ns);
    out.push(topics);
    for (const t of topics) {
      // Every queue, drained head first; a drain of an empty queue steals, so count queues by index.
      const queues: string[][] = [];
      for (let q = 0; q < t.queueCount; q++) {
        const ids: string[] = [];
        for (;;) {
          const batch = await b.consume(ns, t.name, q, 1000, true);
          if (batch.length === 0) break;
          ids.push(...batch.map((m) => `${m.id}:${Buffer.from(m.payload).toString()}`));
        }
        queues.push(ids);
      }
      out.push(queues);
    }
  }
  return out;
}

async function run(ops: Op[]): Promise<void> {
  const store = new MemoryStore([], { sliceRecords: 7 });
  const { broker } = await Broker.open({ store, ackTimeoutMs: ACK_TIMEOUT, drainTimeoutMs: DRAIN_TIMEOUT });
  await broker.createNamespace('ns');
  for (const t of TOPICS) await broker.createTopic('ns', t, 2);
  const inflight: Map<string, string[]> = new Map(TOPICS.map((t) => [t, []]));
  let seq = 0;
  const ignoreBrokerErrors = (err: unknown) => {
    if (!isBrokerError(err)) throw err;
  };
  for (const o of ops) {
    const topic = 'topic' in o ? TOPICS[o.topic]! : '';
    if ('topic' in o && !broker.listTopics('ns').some((t) => t.name === topic)) await broker.createTopic('ns', topic, 1);
    switch (o.op) {
      case 'publish':
        for (let i = 0; i < o.n; i++) {
          await broker.publish('ns', topic, enc(`m${seq++}`), { queueId: o.queue, routingKey: o.key ?? undefined }).catch(ignoreBrokerErrors);
        }
        break;
      case 'consume': {
        const msgs = await broker.consume('ns', topic, o.queue, o.batch, o.autoAck).catch((e) => (ignoreBrokerErrors(e), []));
        if (!o.autoAck) inflight.get(topic)!.push(...msgs.map((m) => m.id));
        break;
      }
      case 'ack': {
        const ids = inflight.get(topic)!;
        if (ids.length) await broker.ack('ns', topic, 0, ids.splice(o.pick % ids.length, 2));
        break;
      }
      case 'expire':
        vi.advanceTimersByTime(ACK_TIMEOUT + 1);
        break;
      case 'resize':
        await broker.resizeTopic('ns', topic, o.count).catch(ignoreBrokerErrors);
        break;
      case 'drainTimeout':
        vi.advanceTimersByTime(DRAIN_TIMEOUT + 1);
        break;
      case 'rebalance':
        await broker.rebalanceTopic('ns', topic).catch(ignoreBrokerErrors);
        break;
      case 'deleteTopic':
        await broker.deleteTopic('ns', topic);
        inflight.set(topic, []);
        break;
      case 'subscribe': {
        const r = recorder();
        try {
          const sub = broker.subscribe('ns', topic, o.queue, r.handler, { autoAck: o.autoAck, maxInflight: 2 });
          await turns(2);
          sub.close();
          if (!o.autoAck) inflight.get(topic)!.push(...r.messages.map((m) => m.id));
        } catch (e) {
          ignoreBrokerErrors(e);
        }
        break;
      }
      case 'rewrite':
        await broker.rewrite();
        break;
    }
  }
  // The restart: a new broker from the same records.
  const { broker: recovered } = await Broker.open({ store: store.reopen(), ackTimeoutMs: ACK_TIMEOUT, drainTimeoutMs: DRAIN_TIMEOUT });
  // What the original looks like once every in-flight message is pending
  // again: every ack deadline passes at once (no drain ends here).
  vi.advanceTimersByTime(ACK_TIMEOUT + 1);
  expect(await dump(recovered)).toEqual(await dump(broker));
}

describe('recovery equals the state before restart', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('for random sequences of publishes, consumes, acks, redeliveries, steals, resizes, rebalances, deletes and rewrites', async () => {
    await fc.assert(fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 60 }), run), { numRuns: 150 });
  });

  it('for a sequence with a shrink still draining at the restart', async () => {
    await run([
      { op: 'publish', topic: 0, queue: 1, key: null, n: 5 },
      { op: 'consume', topic: 0, queue: 1, batch: 2, autoAck: false },
      { op: 'resize', topic: 0, count: 1 },
      { op: 'publish', topic: 0, queue: -1, key: null, n: 3 },
      { op: 'rewrite' },
      { op: 'publish', topic: 0, queue: -1, key: 'a', n: 2 },
    ]);
  });
});
