/**
 * Limits in the core (docs/DESIGN.md, "Limits"): max_namespaces, max_topics_per_namespace and
 * the memory high-water mark (limits.memory_high_water), through the
 * Broker API. Replay never refuses: a limit lowered before a restart loses
 * nothing.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Broker, MEMORY_RESUME_FRACTION, MESSAGE_OVERHEAD_BYTES } from '../../src/broker/broker.js';
import { BrokerError } from '../../src/broker/errors.js';
import { enc, persistentBroker, recorder, restart, turns } from './helpers.js';

const open: Broker[] = [];
afterEach(async () => {
  for (const b of open.splice(0)) await b.close();
});
const track = <T extends Broker>(b: T): T => {
  open.push(b);
  return b;
};

async function refusal(p: Promise<unknown>): Promise<BrokerError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BrokerError);
  return err as BrokerError;
}

/** Accounted cost of a message of `n` payload bytes. */
const cost = (n: number): number => n + MESSAGE_OVERHEAD_BYTES;

describe('limits.max_namespaces and limits.max_topics_per_namespace', () => {
  it('refuses a namespace over the limit with RESOURCE_EXHAUSTED naming it; deleting one makes room', async () => {
    const b = track(new Broker({ limits: { maxNamespaces: 2 } }));
    await b.createNamespace('a');
    await b.createNamespace('b');
    const err = await refusal(b.createNamespace('c'));
    expect(err.code).toBe('RESOURCE_EXHAUSTED');
    expect(err.message).toMatch(/namespace 'c' not created: .*2 namespaces.*limits\.max_namespaces.* is 2/);
    expect(b.listNamespaces()).toEqual(['a', 'b']);
    await b.deleteNamespace('a');
    await b.createNamespace('c');
    expect(b.listNamespaces().sort()).toEqual(['b', 'c']);
  });

  it('an existing name is still ALREADY_EXISTS at the limit (the more precise answer)', async () => {
    const b = track(new Broker({ limits: { maxNamespaces: 1 } }));
    await b.createNamespace('a');
    expect((await refusal(b.createNamespace('a'))).code).toBe('ALREADY_EXISTS');
  });

  it('refuses a topic over the per-namespace limit; other namespaces have their own count', async () => {
    const b = track(new Broker({ limits: { maxTopicsPerNamespace: 2 } }));
    await b.createNamespace('n1');
    await b.createNamespace('n2');
    await b.createTopic('n1', 't1', 1);
    await b.createTopic('n1', 't2', 1);
    const err = await refusal(b.createTopic('n1', 't3', 1));
    expect(err.code).toBe('RESOURCE_EXHAUSTED');
    expect(err.message).toMatch(/topic 't3' not created: namespace 'n1' holds 2 topics.*limits\.max_topics_per_namespace/);
    expect(b.listTopics('n1').map((t) => t.name)).toEqual(['t1', 't2']);
    await b.createTopic('n2', 't1', 1);
    await b.createTopic('n2', 't2', 1);
  });

  it('replay never refuses: limits lowered before a restart keep every namespace, topic and message', async () => {
    const { broker, store } = await persistentBroker(1);
    await broker.createNamespace('ns2');
    await broker.createTopic('ns', 't2', 1);
    await broker.createTopic('ns', 't3', 1);
    for (let i = 0; i < 5; i++) await broker.publish('ns', 't3', enc(`m${i}`));
    const lowered = { maxNamespaces: 1, maxTopicsPerNamespace: 1, memoryHighWaterBytes: 1 };
    let current = { broker, store };
    // Once replaying the records as logged, once replaying a rewrite's base.
    for (const rewriteFirst of [false, true]) {
      current = await restart(current.broker, current.store, { limits: lowered, rewriteFirst });
      const again = current.broker;
      expect(again.listNamespaces().sort()).toEqual(['ns', 'ns2']);
      expect(again.listTopics('ns').map((t) => t.name).sort()).toEqual(['t', 't2', 't3']);
      expect(again.stats().pending).toBe(5);
      // New ones are refused, and publishes wait for consumers to free memory.
      expect((await refusal(again.createNamespace('ns3'))).code).toBe('RESOURCE_EXHAUSTED');
      expect((await refusal(again.createTopic('ns', 't4', 1))).code).toBe('RESOURCE_EXHAUSTED');
      expect((await refusal(again.publish('ns', 't3', enc('x')))).code).toBe('RESOURCE_EXHAUSTED');
      expect(again.memory()).toMatchObject({ messages: 5, refusing: true });
    }
    track(current.broker);
    expect((await current.broker.consume('ns', 't3', 0, 10, true)).map((m) => Buffer.from(m.payload).toString())).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
  });
});

describe('limits.memory_high_water: publishes refused above the mark, consumers free memory', () => {
  const payload = enc('x'.repeat(1000));
  const per = cost(payload.length);

  it('publish until refused, ack some, publish accepted again (hysteresis)', async () => {
    // Room for exactly 10 messages before the mark.
    const mark = per * 10;
    const b = track(new Broker({ limits: { memoryHighWaterBytes: mark } }));
    await b.createNamespace('ns');
    await b.createTopic('ns', 't', 1);
    let accepted = 0;
    for (;;) {
      try {
        await b.publish('ns', 't', payload);
        accepted++;
      } catch (err) {
        expect(err).toBeInstanceOf(BrokerError);
        expect((err as BrokerError).code).toBe('RESOURCE_EXHAUSTED');
        expect((err as BrokerError).message).toMatch(
          /^memory high-water mark reached \(.* of .*\): consume and ack messages, or raise limits\.memory_high_water$/,
        );
        break;
      }
      expect(accepted).toBeLessThan(100);
    }
    expect(accepted).toBe(10);
    expect(b.memory()).toEqual({ accountedBytes: 10 * per, messages: 10, sampledBytes: 0, highWaterBytes: mark, refusing: true });
    // Batches and delayed publishes are refused too; nothing was stored.
    expect((await refusal(b.publishBatch('ns', 't', [{ payload }], 'partial'))).code).toBe('RESOURCE_EXHAUSTED');
    expect((await refusal(b.publishBatch('ns', 't', [{ payload }], 'atomic'))).code).toBe('RESOURCE_EXHAUSTED');
    expect((await refusal(b.publish('ns', 't', payload, { delayMs: 1000 }))).code).toBe('RESOURCE_EXHAUSTED');
    expect(b.stats().pending).toBe(10);

    // Consume works while refusing; acking one is not enough (hysteresis)...
    const got = await b.consume('ns', 't', 0, 10, false);
    expect(got).toHaveLength(10);
    await b.ack('ns', 't', 0, [got[0]!.id]);
    expect(b.memory().accountedBytes).toBe(9 * per);
    expect((await refusal(b.publish('ns', 't', payload))).code).toBe('RESOURCE_EXHAUSTED');
    // ...below MEMORY_RESUME_FRACTION of the mark, publishes are accepted again.
    const keep = Math.ceil((mark * MEMORY_RESUME_FRACTION) / per) - 1;
    await b.ack('ns', 't', 0, got.slice(1, 10 - keep).map((m) => m.id));
    expect(b.memory().accountedBytes).toBeLessThan(mark * MEMORY_RESUME_FRACTION);
    await b.publish('ns', 't', payload);
    expect(b.memory().refusing).toBe(false);
    expect(b.memory().messages).toBe(keep + 1);
  });

  it('a sampled figure (process RSS in the server) over the mark refuses publishes; consume, ack, nack and delete still work', async () => {
    let rss = 0;
    const b = track(new Broker({ limits: { memoryHighWaterBytes: 1_000_000 }, sampleMemory: () => rss, memorySampleMs: 5 }));
    await b.createNamespace('ns');
    await b.createTopic('ns', 't', 1);
    await b.createTopic('ns', 'gone', 1);
    for (let i = 0; i < 4; i++) await b.publish('ns', 't', payload);
    await b.publish('ns', 'gone', payload);
    rss = 2_000_000;
    await new Promise((r) => setTimeout(r, 30));
    expect(b.memory()).toMatchObject({ sampledBytes: 2_000_000, refusing: true });
    const err = await refusal(b.publish('ns', 't', payload));
    expect(err.message).toMatch(/memory high-water mark reached \(1\.9 MiB of 976\.6 KiB; .*\)/);
    const [a, c] = await b.consume('ns', 't', 0, 2, false);
    await b.ack('ns', 't', 0, [a!.id]);
    await b.nack('ns', 't', 0, [c!.id], { delayMs: 0 });
    expect((await b.consume('ns', 't', 0, 1, true))[0]!.id).toBe(c!.id);
    await b.deleteTopic('ns', 'gone');
    expect(b.memory().messages).toBe(2);
    rss = 100_000;
    await new Promise((r) => setTimeout(r, 30));
    expect(b.memory().refusing).toBe(false);
    await b.publish('ns', 't', payload);
  });

  it('a mark of 0 disables the check', async () => {
    const b = track(new Broker({ limits: { memoryHighWaterBytes: 0 }, sampleMemory: () => Number.MAX_SAFE_INTEGER }));
    await b.createNamespace('ns');
    await b.createTopic('ns', 't', 1);
    for (let i = 0; i < 20; i++) await b.publish('ns', 't', payload);
    expect(b.memory()).toMatchObject({ messages: 20, refusing: false, highWaterBytes: 0 });
  });
});

describe('the accounted figure stays exact', () => {
  /** What the account must say: every stored message's payload plus the overhead, counted from the outside. */
  function expected(b: Broker, sizes: Map<string, number>): { bytes: number; messages: number } {
    let messages = 0;
    for (const ns of b.listNamespaces()) {
      for (const t of b.listTopics(ns)) {
        const s = b.topicStats(ns, t.name);
        messages += s.pending + s.inFlight + s.delayed + s.dlqDepth;
      }
    }
    let bytes = 0;
    for (const n of sizes.values()) bytes += cost(n);
    expect(sizes.size).toBe(messages);
    return { bytes, messages };
  }

  it('across publish, consume, ack, auto-ack, nack, DLQ, redrive, delay, resize, steal, delete topic and namespace, and replay', async () => {
    const { broker: b0, store } = await persistentBroker(3, { policy: { retry: { maxRetries: 0 } } });
    let b = b0;
    const sizes = new Map<string, number>();
    const check = () => {
      const e = expected(b, sizes);
      expect(b.memory()).toMatchObject({ accountedBytes: e.bytes, messages: e.messages });
    };
    const pub = async (topic: string, n: number, opts = {}) => {
      const p = enc('p'.repeat(n));
      const r = await b.publish('ns', topic, p, opts);
      if (!r.duplicate) sizes.set(r.messageId, n);
      return r;
    };
    for (let i = 0; i < 30; i++) await pub('t', 10 + i);
    check();
    // Auto-ack consume removes; plain consume keeps in flight.
    for (const m of await b.consume('ns', 't', 0, 3, true)) sizes.delete(m.id);
    const inflight = await b.consume('ns', 't', 1, 4, false);
    check();
    await b.ack('ns', 't', 1, [inflight[0]!.id, 'unknown-id']);
    sizes.delete(inflight[0]!.id);
    check();
    // maxRetries 0: a nack dead-letters (same payload, new headers).
    await b.nack('ns', 't', 1, [inflight[1]!.id]);
    check();
    await b.redriveDlq('ns', 't');
    check();
    // Delayed publish, dedup repeat (not stored twice).
    await pub('t', 7, { delayMs: 60_000 });
    await pub('t', 8, { dedupId: 'd1' });
    await pub('t', 8, { dedupId: 'd1' });
    check();
    // Resize (shrink drains, then grows), steal by an empty queue, rebalance.
    await b.resizeTopic('ns', 't', 5);
    await b.rebalanceTopic('ns', 't');
    const empty = b.topicStats('ns', 't').queues.find((q) => q.pending === 0);
    if (empty) for (const m of await b.consume('ns', 't', empty.queueId, 1, true)) sizes.delete(m.id);
    check();
    // DLQ consume with auto-ack removes.
    const more = await b.consume('ns', 't', 2, 2, false);
    await b.nack('ns', 't', 2, more.map((m) => m.id));
    for (const m of await b.consumeDlq('ns', 't', 1, true)) sizes.delete(m.id);
    check();
    // A subscription with auto-ack drains a topic of its own.
    await b.createTopic('ns', 'sub', 1);
    for (let i = 0; i < 5; i++) await pub('sub', 100);
    const rec = recorder();
    const s = b.subscribe('ns', 'sub', 0, rec.handler, { autoAck: true });
    await turns();
    for (const m of rec.messages) sizes.delete(m.id);
    s.close();
    check();
    // Replay (with and without a rewrite) rebuilds the same figure; in-flight messages come back pending.
    for (const rewriteFirst of [false, true]) {
      const before = b.memory();
      ({ broker: b } = await restart(b, store, { rewriteFirst }));
      expect(b.memory()).toMatchObject({ accountedBytes: before.accountedBytes, messages: before.messages });
      check();
    }
    // Deleting a topic, then a namespace, takes all of theirs.
    await b.createTopic('ns', 'x', 2);
    for (let i = 0; i < 3; i++) await pub('x', 50);
    const xIds = [...sizes.keys()].slice(-3);
    await b.deleteTopic('ns', 'x');
    for (const id of xIds) sizes.delete(id);
    check();
    await b.deleteNamespace('ns');
    sizes.clear();
    expect(b.memory()).toMatchObject({ accountedBytes: 0, messages: 0 });
    await b.close();
  });
});
