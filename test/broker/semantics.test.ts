import { describe, expect, it, vi } from 'vitest';
import { Broker, DEFAULT_POLICY } from '../../src/broker/broker.js';
import { BrokerError } from '../../src/broker/errors.js';
import { brokerWithTopic, enc, recorder, text, turns } from './helpers.js';

async function publishAll(b: Broker, payloads: string[], opts: { queueId?: number; routingKey?: string } = {}) {
  const out = [];
  for (const p of payloads) out.push(await b.publish('ns', 't', enc(p), opts));
  return out;
}

describe('namespaces and topics', () => {
  it('creates, lists and deletes', async () => {
    const b = new Broker();
    await b.createNamespace('a');
    await b.createTopic('a', 'orders', 3);
    expect(b.listNamespaces()).toEqual(['a']);
    expect(b.listTopics('a')).toEqual([{ name: 'orders', queueCount: 3, version: 0n, policy: DEFAULT_POLICY, paused: false }]);
    await b.deleteTopic('a', 'orders');
    expect(b.listTopics('a')).toEqual([]);
    await b.deleteNamespace('a');
    expect(b.listNamespaces()).toEqual([]);
  });

  it('rejects bad names, duplicates and unknown targets with typed errors', async () => {
    const b = new Broker();
    await expect(b.createNamespace('')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(b.createNamespace('has space')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(b.createNamespace('x'.repeat(129))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await b.createNamespace('ok.name_1-2');
    await expect(b.createNamespace('ok.name_1-2')).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
    await expect(b.createTopic('nope', 't', 1)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(b.createTopic('ok.name_1-2', 't', 0)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(b.createTopic('ok.name_1-2', 't', 1.5)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await b.createTopic('ok.name_1-2', 't', 1);
    await expect(b.createTopic('ok.name_1-2', 't', 1)).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
    await expect(b.deleteTopic('ok.name_1-2', 'zz')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(b.deleteNamespace('zz')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(b.listTopics('ok.name_1-2')).toHaveLength(1);
  });

  it('deleting a topic ends its subscriptions and drops its messages', async () => {
    const b = await brokerWithTopic(1);
    const r = recorder();
    b.subscribe('ns', 't', 0, r.handler, { autoAck: false, maxInflight: 1 });
    await publishAll(b, ['a', 'b']);
    await turns();
    await b.deleteTopic('ns', 't');
    expect(r.ends).toHaveLength(1);
    expect(r.ends[0]).toMatchObject({ code: 'NOT_FOUND' });
    await b.createTopic('ns', 't', 1);
    expect(await b.consume('ns', 't', 0, 10, true)).toEqual([]);
  });
});

describe('routing on publish', () => {
  it('explicit queue_id targets that queue; out of range is NOT_FOUND', async () => {
    const b = await brokerWithTopic(3);
    expect((await b.publish('ns', 't', enc('x'), { queueId: 2 })).queueId).toBe(2);
    expect((await b.publish('ns', 't', enc('x'), { queueId: 0 })).queueId).toBe(0);
    await expect(b.publish('ns', 't', enc('x'), { queueId: 3 })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(b.stats().pending).toBe(2);
  });

  it('a routing key always lands on the same queue', async () => {
    const b = await brokerWithTopic(4);
    for (const key of ['user-1', 'user-2', 'ключ', '']) {
      const qs = new Set((await publishAll(b, ['a', 'b', 'c', 'd'], { routingKey: key })).map((r) => r.queueId));
      if (key) expect(qs.size).toBe(1);
    }
  });

  it('round-robins over active queues when neither is given (-1 is automatic)', async () => {
    const b = await brokerWithTopic(3);
    const qs = (await publishAll(b, ['1', '2', '3', '4', '5', '6'], { queueId: -1 })).map((r) => r.queueId);
    expect(qs).toEqual([0, 1, 2, 0, 1, 2]);
  });

  it('rejects payloads over the limit and non-string headers, storing nothing', async () => {
    const b = await brokerWithTopic(1, { limits: { maxPayloadBytes: 8, maxHeaders: 1 } });
    await expect(b.publish('ns', 't', new Uint8Array(9))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('max_payload') });
    await expect(b.publish('ns', 't', enc('x'), { headers: { a: 1 as unknown as string } })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(b.publish('ns', 't', enc('x'), { headers: { a: '1', b: '2' } })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(b.stats().pending).toBe(0);
  });

  it('copies the payload, so a reused network buffer does not change a stored message', async () => {
    const b = await brokerWithTopic(1);
    const frame = enc('hello');
    await b.publish('ns', 't', frame, { headers: { k: 'v' } });
    frame.fill(0);
    const [m] = await b.consume('ns', 't', 0, 1, true);
    expect(text(m!)).toBe('hello');
    expect(m!.headers).toEqual({ k: 'v' });
    expect(m!.deliveryCount).toBe(1);
    expect(m!.timestampMs).toBeGreaterThan(Date.now() - 10_000);
  });
});

describe('order and consume', () => {
  it('is FIFO per queue across batches', async () => {
    const b = await brokerWithTopic(1);
    const payloads = Array.from({ length: 50 }, (_, i) => `m${i}`);
    await publishAll(b, payloads);
    const got: string[] = [];
    for (;;) {
      const batch = await b.consume('ns', 't', 0, 7, true);
      if (batch.length === 0) break;
      got.push(...batch.map(text));
    }
    expect(got).toEqual(payloads);
  });

  it('validates batch_size and queue ids; 0 means 1', async () => {
    const b = await brokerWithTopic(1, { limits: { maxBatch: 10 } });
    await publishAll(b, ['a', 'b']);
    expect(await b.consume('ns', 't', 0, 0, true)).toHaveLength(1);
    await expect(b.consume('ns', 't', 0, 11, true)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(b.consume('ns', 't', 0, -1, true)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(b.consume('ns', 't', 1, 1, true)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(b.stats().pending).toBe(1);
  });
});

describe('acks and redelivery', () => {
  it('an ack removes in-flight messages for good; unknown and repeated acks are harmless', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    try {
      const b = await brokerWithTopic(1, { ackTimeoutMs: 1000 });
      await publishAll(b, ['a', 'b']);
      const batch = await b.consume('ns', 't', 0, 2, false);
      expect(b.stats()).toMatchObject({ pending: 0, inflight: 2 });
      await b.ack('ns', 't', 0, [batch[0]!.id, 'no-such-id']);
      await b.ack('ns', 't', 0, [batch[0]!.id]);
      expect(b.stats()).toMatchObject({ pending: 0, inflight: 1 });
      vi.advanceTimersByTime(1001);
      const again = await b.consume('ns', 't', 0, 5, false);
      expect(again.map(text)).toEqual(['b']);
      expect(again[0]!.deliveryCount).toBe(2);
    } finally {
      vi.useRealTimers();
    }
  });

  it('expired messages go back to the head of their queue in their first-delivery order', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    try {
      const b = await brokerWithTopic(1, { ackTimeoutMs: 500 });
      await publishAll(b, ['1', '2', '3', '4']);
      await b.consume('ns', 't', 0, 2, false);
      vi.advanceTimersByTime(200);
      await b.consume('ns', 't', 0, 1, false); // '3', deadline later
      vi.advanceTimersByTime(301); // '1','2' expire, '3' not yet
      expect((await b.consume('ns', 't', 0, 10, true)).map(text)).toEqual(['1', '2', '4']);
      vi.advanceTimersByTime(500);
      expect((await b.consume('ns', 't', 0, 10, true)).map(text)).toEqual(['3']);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('work stealing', () => {
  it('an empty queue takes the tail half of the busiest sibling, order kept', async () => {
    const b = await brokerWithTopic(3);
    await publishAll(b, ['a', 'b', 'c', 'd', 'e'], { queueId: 1 });
    await publishAll(b, ['x', 'y'], { queueId: 2 });
    const got = await b.consume('ns', 't', 0, 10, true);
    expect(got.map(text)).toEqual(['d', 'e']);
    expect(got.every((m) => m.queueId === 0)).toBe(true);
    expect((await b.consume('ns', 't', 1, 10, true)).map(text)).toEqual(['a', 'b', 'c']);
  });

  it('does not steal a single message', async () => {
    const b = await brokerWithTopic(2);
    await publishAll(b, ['only'], { queueId: 1 });
    expect(await b.consume('ns', 't', 0, 10, true)).toEqual([]);
    expect(b.stats().pending).toBe(1);
  });

  it('an idle subscriber steals a backlog that piles up on a sibling queue', async () => {
    const b = await brokerWithTopic(2);
    const r = recorder();
    b.subscribe('ns', 't', 0, r.handler, { autoAck: true });
    await publishAll(b, ['1', '2', '3', '4'], { queueId: 1 });
    await turns();
    expect(r.messages.length).toBeGreaterThanOrEqual(2);
    expect(r.messages.every((m) => m.queueId === 0)).toBe(true);
  });
});

describe('subscriptions', () => {
  it('are woken by a publish, in order, and respect the in-flight bound', async () => {
    const b = await brokerWithTopic(1);
    const r = recorder();
    const sub = b.subscribe('ns', 't', 0, r.handler, { autoAck: false, maxInflight: 2 });
    await turns();
    expect(r.messages).toEqual([]);
    await publishAll(b, ['1', '2', '3', '4']);
    await turns();
    expect(r.messages.map(text)).toEqual(['1', '2']);
    await b.ack('ns', 't', 0, [r.messages[0]!.id]);
    await turns();
    expect(r.messages.map(text)).toEqual(['1', '2', '3']);
    sub.close();
    await b.ack('ns', 't', 0, [r.messages[1]!.id]);
    await turns();
    expect(r.messages).toHaveLength(3);
    expect(b.stats()).toMatchObject({ pending: 1, inflight: 1 });
  });

  it('a publish to an idle queue is pushed within the call; the rest of that turn go out together in the pass', async () => {
    const b = await brokerWithTopic(1);
    const r = recorder();
    let runs = 0;
    b.subscribe('ns', 't', 0, { ...r.handler, batchEnd: () => runs++ }, { autoAck: true });
    await turns();
    const answers = ['1', '2', '3', '4', '5'].map((p) => b.publish('ns', 't', enc(p)));
    // The first is pushed before the publish returns; the others wait for the pass.
    expect(r.messages.map(text)).toEqual(['1']);
    expect(runs).toBe(1);
    await Promise.all(answers);
    await turns();
    expect(r.messages.map(text)).toEqual(['1', '2', '3', '4', '5']);
    expect(runs).toBe(2);
    // The queue is idle again: the next publish is pushed at once too.
    void b.publish('ns', 't', enc('6'));
    expect(r.messages.map(text)).toEqual(['1', '2', '3', '4', '5', '6']);
    await turns();
    expect(b.stats()).toMatchObject({ pending: 0, inflight: 0 });
  });

  it('a publish from inside a push is delivered after that push returns, not nested in it, and in order', async () => {
    const b = await brokerWithTopic(1);
    const r = recorder();
    let depth = 0;
    let deepest = 0;
    b.subscribe(
      'ns',
      't',
      0,
      {
        ...r.handler,
        message: (m) => {
          depth++;
          deepest = Math.max(deepest, depth);
          r.messages.push(m);
          const n = Number(text(m));
          if (n < 5) void b.publish('ns', 't', enc(String(n + 1)));
          depth--;
        },
      },
      { autoAck: true },
    );
    await turns();
    void b.publish('ns', 't', enc('1'));
    await turns(8);
    expect(r.messages.map(text)).toEqual(['1', '2', '3', '4', '5']);
    expect(deepest).toBe(1);
  });

  it('a publish to a paused subscriber is not pushed at once, and is pushed on resume', async () => {
    const b = await brokerWithTopic(1);
    const r = recorder();
    const sub = b.subscribe('ns', 't', 0, r.handler, { autoAck: false, maxInflight: 1 });
    await turns();
    await b.publish('ns', 't', enc('1'));
    expect(r.messages.map(text)).toEqual(['1']);
    // Full (one in flight of one): the next publish stays queued.
    await b.publish('ns', 't', enc('2'));
    await turns();
    expect(r.messages.map(text)).toEqual(['1']);
    await b.ack('ns', 't', 0, [r.messages[0]!.id]);
    await turns();
    expect(r.messages.map(text)).toEqual(['1', '2']);
    sub.pause();
    await b.ack('ns', 't', 0, [r.messages[1]!.id]);
    void b.publish('ns', 't', enc('3'));
    await turns();
    expect(r.messages.map(text)).toEqual(['1', '2']);
    sub.resume();
    await turns();
    expect(r.messages.map(text)).toEqual(['1', '2', '3']);
  });

  it('pause keeps messages queued; resume delivers them', async () => {
    const b = await brokerWithTopic(1);
    const r = recorder();
    const sub = b.subscribe('ns', 't', 0, r.handler, { autoAck: true });
    sub.pause();
    await publishAll(b, ['1', '2']);
    await turns();
    expect(r.messages).toEqual([]);
    expect(b.stats().pending).toBe(2);
    sub.resume();
    await turns();
    expect(r.messages.map(text)).toEqual(['1', '2']);
  });

  it('a large backlog is pushed in bounded slices per event-loop turn', async () => {
    const b = await brokerWithTopic(1);
    for (let i = 0; i < 20_000; i++) void b.publish('ns', 't', enc(String(i)));
    const r = recorder();
    b.subscribe('ns', 't', 0, r.handler, { autoAck: true });
    await turns(1);
    expect(r.messages.length).toBeGreaterThan(0);
    expect(r.messages.length).toBeLessThan(20_000);
    await turns(10);
    expect(r.messages).toHaveLength(20_000);
    expect(r.messages.map(text).slice(0, 3)).toEqual(['0', '1', '2']);
  });

  it('rejects unknown queues and bad max_inflight synchronously', async () => {
    const b = await brokerWithTopic(1);
    expect(() => b.subscribe('ns', 't', 5, recorder().handler, { autoAck: true })).toThrow(BrokerError);
    expect(() => b.subscribe('ns', 't', 0, recorder().handler, { autoAck: false, maxInflight: 0 })).toThrow(/max_inflight/);
  });
});

describe('resize and rebalance', () => {
  it('grows at once: version + 1, notice to subscribers, new queues routable', async () => {
    const b = await brokerWithTopic(2);
    const r = recorder();
    b.subscribe('ns', 't', 0, r.handler, { autoAck: true });
    expect(await b.resizeTopic('ns', 't', 4)).toEqual({ newQueueCount: 4, version: 1n, draining: false });
    expect(r.notices).toEqual([{ namespace: 'ns', topic: 't', version: 1n, queueCount: 4 }]);
    expect((await b.publish('ns', 't', enc('x'), { queueId: 3 })).queueId).toBe(3);
  });

  it('shrinks by draining: no publishes to draining queues, the rest moves at drain_timeout', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const b = await brokerWithTopic(3, { drainTimeoutMs: 1000 });
      await publishAll(b, ['a', 'b'], { queueId: 2 });
      const r = recorder();
      b.subscribe('ns', 't', 2, r.handler, { autoAck: false });
      const res = await b.resizeTopic('ns', 't', 2);
      expect(res).toEqual({ newQueueCount: 2, version: 0n, draining: true });
      await expect(b.publish('ns', 't', enc('x'), { queueId: 2 })).rejects.toMatchObject({ code: 'FAILED_PRECONDITION' });
      await expect(b.rebalanceTopic('ns', 't')).rejects.toMatchObject({ code: 'FAILED_PRECONDITION' });
      await expect(b.resizeTopic('ns', 't', 5)).rejects.toMatchObject({ code: 'FAILED_PRECONDITION' });
      const auto = (await publishAll(b, ['1', '2', '3', '4'])).map((p) => p.queueId);
      expect(auto.every((q) => q < 2)).toBe(true);
      vi.advanceTimersByTime(1001);
      expect(b.listTopics('ns')).toEqual([{ name: 't', queueCount: 2, version: 1n, policy: DEFAULT_POLICY, paused: false }]);
      expect(r.notices.at(-1)).toMatchObject({ version: 1n, queueCount: 2 });
      expect(r.ends[0]).toMatchObject({ code: 'NOT_FOUND' });
      expect(b.stats().pending).toBe(6);
      await expect(b.consume('ns', 't', 2, 1, true)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    } finally {
      vi.useRealTimers();
    }
  });

  it('finishes a shrink at once when the draining queues are already empty', async () => {
    const b = await brokerWithTopic(3);
    expect(await b.resizeTopic('ns', 't', 1)).toEqual({ newQueueCount: 1, version: 1n, draining: false });
  });

  it('finishes a shrink early when consumers empty the draining queues', async () => {
    const b = await brokerWithTopic(2);
    await publishAll(b, ['a'], { queueId: 1 });
    expect((await b.resizeTopic('ns', 't', 1)).draining).toBe(true);
    await b.consume('ns', 't', 1, 1, true);
    expect(b.listTopics('ns')[0]).toMatchObject({ queueCount: 1, version: 1n });
  });

  it('rebalance spreads pending messages evenly', async () => {
    const b = await brokerWithTopic(3);
    await publishAll(b, Array.from({ length: 10 }, (_, i) => String(i)), { queueId: 0 });
    await b.rebalanceTopic('ns', 't');
    const sizes = [];
    for (let q = 0; q < 3; q++) sizes.push((await b.consume('ns', 't', q, 100, true)).length);
    expect(sizes.sort()).toEqual([3, 3, 4]);
  });
});

describe('shutdown', () => {
  it('refuses calls after close with UNAVAILABLE and ends subscriptions', async () => {
    const b = await brokerWithTopic(1);
    const r = recorder();
    b.subscribe('ns', 't', 0, r.handler, { autoAck: true });
    await b.close();
    expect(r.ends[0]).toMatchObject({ code: 'UNAVAILABLE' });
    await expect(b.publish('ns', 't', enc('x'))).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  });
});

describe('message ids', () => {
  it('are distinct v4 UUIDs', async () => {
    const { newMessageId } = await import('../../src/broker/ids.js');
    const ids = Array.from({ length: 5000 }, newMessageId);
    expect(new Set(ids).size).toBe(5000);
    for (const id of ids.slice(0, 600)) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});

describe('ack deadlines at volume', () => {
  it('still redelivers exactly the unacked messages after thousands of acks', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    try {
      const b = await brokerWithTopic(1, { ackTimeoutMs: 1000 });
      for (let i = 0; i < 5000; i++) await b.publish('ns', 't', enc(String(i)));
      const unacked: string[] = [];
      for (let i = 0; i < 50; i++) {
        const batch = await b.consume('ns', 't', 0, 100, false);
        unacked.push(text(batch.at(-1)!));
        await b.ack('ns', 't', 0, batch.slice(0, -1).map((m) => m.id));
      }
      expect(b.stats()).toMatchObject({ pending: 0, inflight: 50 });
      vi.advanceTimersByTime(1001);
      expect((await b.consume('ns', 't', 0, 1000, true)).map(text)).toEqual(unacked);
    } finally {
      vi.useRealTimers();
    }
  });
});
