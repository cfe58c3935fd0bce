/**
 * The extensions on the TCP front (README.md of src/server/tcp, "Queue features"):
 * every new action in both encodings from a raw socket, success and
 * errors, and the end-to-end flows (delay, nack -> DLQ -> peek -> redrive,
 * dedup, atomic batch failure, renew of an expired lease).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchMode, PeekOrder } from '../../gen/mqlite/v1/mqlite_pb.js';
import { type Harness, RawClient, startHarness, until } from './helpers.js';

let h: Harness;
let c: RawClient;
beforeAll(async () => {
  h = await startHarness({ ackTimeoutMs: 30_000 });
  c = await RawClient.open(h.port);
  await h.broker.createNamespace('f');
});
afterAll(async () => {
  c.close();
  await h.close();
});

let topics = 0;
/** A fresh topic of `queues` queues in namespace `f`. */
async function topic(queues = 1): Promise<string> {
  const name = `t${++topics}`;
  await h.broker.createTopic('f', name, queues);
  return name;
}

const text = (b: Uint8Array): string => Buffer.from(b).toString('utf8');

describe('publish: dedup_id, delay_ms, deliver_at_ms and duplicate', () => {
  it('JSON: a repeated dedup_id is answered with the original ids and duplicate: true; a first publish has no duplicate key', async () => {
    const t = await topic(2);
    const first = await c.jsonCall({ action: 'publish', data: { namespace: 'f', topic: t, payload: { n: 1 }, dedup_id: 'order-1' } });
    expect(first.status).toBe('ok');
    expect(Object.keys(first.data).sort()).toEqual(['message_id', 'queue_id']);
    const again = await c.jsonCall({ action: 'publish', data: { namespace: 'f', topic: t, payload: { n: 2 }, dedup_id: 'order-1' } });
    expect(again).toEqual({ status: 'ok', data: { ...first.data, duplicate: true } });
    // with a request id too (the other JSON reply path)
    const third = await c.jsonCall({ action: 'publish', request_id: 'r', data: { namespace: 'f', topic: t, payload: 3, dedup_id: 'order-1' } });
    expect(third).toEqual({ status: 'ok', request_id: 'r', data: { ...first.data, duplicate: true } });
    expect(h.broker.topicStats('f', t).pending).toBe(1);
  });

  it('protobuf: the same, with PublishResponse.duplicate', async () => {
    const t = await topic();
    const pub = (payload: string) =>
      c.pbCall({ action: 'publish', data: { case: 'publish', value: { namespace: 'f', topic: t, payload: Buffer.from(payload), dedupId: 'k' } } });
    const first = await pub('a');
    expect(first.data.case).toBe('publishResponse');
    const again = await pub('b');
    expect(again.status).toBe('ok');
    if (first.data.case !== 'publishResponse' || again.data.case !== 'publishResponse') throw new Error('no publish_response');
    expect(first.data.value.duplicate).toBe(false);
    expect(again.data.value).toMatchObject({ messageId: first.data.value.messageId, queueId: first.data.value.queueId, duplicate: true });
    const got = await h.broker.consume('f', t, 0, 10, true);
    expect(got.map((m) => text(m.payload))).toEqual(['a']);
  });

  it('a delayed message (delay_ms in JSON, deliver_at_ms in protobuf) is invisible, counted as delayed, and visible later', async () => {
    const t = await topic();
    expect((await c.jsonCall({ action: 'publish', data: { namespace: 'f', topic: t, payload: 'later', delay_ms: 50 } })).status).toBe('ok');
    const pb = await c.pbCall({
      action: 'publish',
      data: { case: 'publish', value: { namespace: 'f', topic: t, payload: Buffer.from('"at"'), deliverAtMs: BigInt(Date.now() + 50) } },
    });
    expect(pb.status).toBe('ok');
    expect(await c.jsonCall({ action: 'consume', data: { namespace: 'f', topic: t, queue_id: 0, batch_size: 10 } })).toEqual({ status: 'ok', data: [] });
    const stats = await c.jsonCall({ action: 'get_topic_stats', data: { namespace: 'f', topic: t } });
    expect(stats.data).toMatchObject({ pending: 0, delayed: 2 });
    const payloads: unknown[] = [];
    await until(async () => {
      const r = await c.jsonCall({ action: 'consume', data: { namespace: 'f', topic: t, queue_id: 0, batch_size: 10, auto_ack: true } });
      payloads.push(...r.data.map((m: { payload: unknown }) => m.payload));
      return payloads.length === 2 ? true : undefined;
    });
    expect(payloads.sort()).toEqual(['at', 'later']);
  });

  it('answers bad extension fields with INVALID_ARGUMENT: wire shape from the front, ranges from the core', async () => {
    const t = await topic();
    const typed = await c.jsonCall({ action: 'publish', data: { namespace: 'f', topic: t, payload: 1, delay_ms: '5' } });
    expect(typed).toEqual({ status: 'error', error: 'INVALID_ARGUMENT: field data.delay_ms must be an integer' });
    const both = await c.jsonCall({ action: 'publish', data: { namespace: 'f', topic: t, payload: 1, delay_ms: 5, deliver_at_ms: Date.now() } });
    expect(both.error).toMatch(/^INVALID_ARGUMENT: delay_ms and deliver_at/);
    const negative = await c.pbCall({
      action: 'publish',
      data: { case: 'publish', value: { namespace: 'f', topic: t, payload: Buffer.from('x'), delayMs: -1n } },
    });
    expect(negative.status).toBe('error');
    expect(negative.error).toMatch(/^INVALID_ARGUMENT: .*delay_ms/);
    const far = await c.pbCall({
      action: 'publish',
      data: { case: 'publish', value: { namespace: 'f', topic: t, payload: Buffer.from('x'), deliverAtMs: 2n ** 62n } },
    });
    expect(far.error).toMatch(/^INVALID_ARGUMENT: deliver_at/);
    expect(h.broker.topicStats('f', t)).toMatchObject({ pending: 0, delayed: 0 });
  });
});

describe('publish_batch', () => {
  it('JSON partial: one result per entry, failures by index with error_code', async () => {
    const t = await topic(2);
    const r = await c.jsonCall({
      action: 'publish_batch',
      data: {
        namespace: 'f',
        topic: t,
        mode: 'partial',
        entries: [
          { payload: { a: 1 }, headers: { h: 'v' } },
          { payload: 'x', queue_id: 7 },
          { payload: [1, 2], dedup_id: 'd', queue_id: 1 },
          { payload: null, delay_ms: -3 },
        ],
      },
    });
    expect(r.status).toBe('ok');
    const results = r.data.results;
    expect(results).toHaveLength(4);
    expect(results[0]).toMatchObject({ ok: true, queue_id: expect.any(Number), duplicate: false });
    expect(results[0].message_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(results[1]).toMatchObject({ ok: false, error_code: 'NOT_FOUND' });
    expect(results[2]).toMatchObject({ ok: true, queue_id: 1, duplicate: false });
    expect(results[3]).toMatchObject({ ok: false, error_code: 'INVALID_ARGUMENT', error: expect.stringContaining('delay_ms') });
    const peeked = await c.jsonCall({ action: 'peek', data: { namespace: 'f', topic: t, queue_id: 1 } });
    expect(peeked.data.messages.map((m: { payload: unknown }) => m.payload)).toContainEqual([1, 2]);
    expect(h.broker.topicStats('f', t).pending).toBe(2);
  });

  it('JSON atomic: an invalid entry fails the whole batch and nothing is published', async () => {
    const t = await topic();
    const r = await c.jsonCall({
      action: 'publish_batch',
      data: { namespace: 'f', topic: t, mode: 'atomic', entries: [{ payload: 1 }, { payload: 2, delay_ms: -1 }] },
    });
    expect(r.status).toBe('error');
    expect(r.error).toMatch(/^INVALID_ARGUMENT: batch entry 1: .*nothing was published/);
    expect(h.broker.topicStats('f', t).pending).toBe(0);
    const ok = await c.jsonCall({ action: 'publish_batch', data: { namespace: 'f', topic: t, mode: 'atomic', entries: [{ payload: 1 }, { payload: 2 }] } });
    expect(ok.data.results.map((x: { ok: boolean }) => x.ok)).toEqual([true, true]);
    expect(h.broker.topicStats('f', t).pending).toBe(2);
  });

  it('protobuf: partial and atomic, with PublishBatchResult errors and a duplicate', async () => {
    const t = await topic();
    const batch = (mode: BatchMode, entries: { payload: Uint8Array; dedupId?: string; queueId?: number }[]) =>
      c.pbCall({ action: 'publish_batch', data: { case: 'publishBatch', value: { namespace: 'f', topic: t, mode, entries } } });
    const partial = await batch(BatchMode.PARTIAL, [
      { payload: Buffer.from('a'), dedupId: 'x' },
      { payload: Buffer.from('b'), dedupId: 'x' },
      { payload: Buffer.from('c'), queueId: 5 },
    ]);
    if (partial.data.case !== 'publishBatchResponse') throw new Error(`no publish_batch_response: ${partial.error}`);
    const [a, b, bad] = partial.data.value.results;
    expect(a).toMatchObject({ ok: true, duplicate: false });
    expect(b).toMatchObject({ ok: true, duplicate: true, messageId: a!.messageId });
    expect(bad).toMatchObject({ ok: false, errorCode: 'NOT_FOUND' });
    const atomic = await batch(BatchMode.ATOMIC, [{ payload: Buffer.from('d') }, { payload: Buffer.from('e'), queueId: 5 }]);
    expect(atomic.status).toBe('error');
    expect(atomic.error).toMatch(/^NOT_FOUND: batch entry 1: /);
    expect(h.broker.topicStats('f', t).pending).toBe(1);
  });

  it('rejects a malformed batch: entries not a list, an entry without payload, an unknown mode', async () => {
    const t = await topic();
    expect(await c.jsonCall({ action: 'publish_batch', data: { namespace: 'f', topic: t, entries: {} } })).toEqual({
      status: 'error',
      error: 'INVALID_ARGUMENT: field data.entries must be an array of messages',
    });
    expect(await c.jsonCall({ action: 'publish_batch', data: { namespace: 'f', topic: t, entries: [{ payload: 1 }, { headers: {} }] } })).toEqual({
      status: 'error',
      error: 'INVALID_ARGUMENT: missing field data.entries[1].payload (any JSON value)',
    });
    const mode = await c.jsonCall({ action: 'publish_batch', data: { namespace: 'f', topic: t, mode: 'some', entries: [{ payload: 1 }] } });
    expect(mode.error).toMatch(/^INVALID_ARGUMENT: batch mode "some"/);
    const empty = await c.jsonCall({ action: 'publish_batch', data: { namespace: 'f', topic: t, entries: [] } });
    expect(empty.error).toMatch(/^INVALID_ARGUMENT: a batch holds 1\.\./);
    const pbMode = await c.pbCall({
      action: 'publish_batch',
      data: { case: 'publishBatch', value: { namespace: 'f', topic: t, mode: 9 as BatchMode, entries: [{ payload: Buffer.from('x') }] } },
    });
    expect(pbMode.error).toMatch(/^INVALID_ARGUMENT: batch mode 9 is not a BatchMode value/);
    const unknown = await c.jsonCall({ action: 'publish_batch', data: { namespace: 'f', topic: 'nope', entries: [{ payload: 1 }] } });
    expect(unknown.error).toMatch(/^NOT_FOUND: /);
    expect(h.broker.topicStats('f', t).pending).toBe(0);
  });
});

describe('nack -> dead-letter queue -> peek -> consume_dlq -> redrive (JSON)', () => {
  it('runs the whole life of a message that keeps failing', async () => {
    const t = await topic(2);
    const policy = await c.jsonCall({ action: 'set_topic_policy', data: { namespace: 'f', topic: t, max_retries: 1, retry_base_ms: 10, retry_cap_ms: 20 } });
    expect(policy).toEqual({ status: 'ok', data: { max_retries: 1, retry_base_ms: 10, retry_cap_ms: 20, dedup_window_ms: 3_600_000, ack_timeout_ms: 0, message_ttl_ms: 0, dead_letter_expired: false } });
    await c.jsonCall({ action: 'publish', data: { namespace: 'f', topic: t, payload: { job: 7 }, queue_id: 1 } });

    // first delivery, nacked with the topic's backoff: held for its retry
    let [m] = (await c.jsonCall({ action: 'consume', data: { namespace: 'f', topic: t, queue_id: 1 } })).data;
    let nack = await c.jsonCall({ action: 'nack', data: { namespace: 'f', topic: t, queue_id: 1, message_ids: [m.id] } });
    expect(nack).toEqual({ status: 'ok', data: { requeued: 0, delayed: 1, dead_lettered: 0 } });

    // second delivery (after the retry delay), nacked again: past max_retries, dead-lettered
    m = await until(async () => (await c.jsonCall({ action: 'consume', data: { namespace: 'f', topic: t, queue_id: 1 } })).data[0]);
    expect(m.delivery_count).toBe(2);
    nack = await c.jsonCall({ action: 'nack', data: { namespace: 'f', topic: t, queue_id: 1, message_ids: [m.id] } });
    expect(nack.data).toEqual({ requeued: 0, delayed: 0, dead_lettered: 1 });

    const stats = await c.jsonCall({ action: 'get_topic_stats', data: { namespace: 'f', topic: t } });
    expect(stats.data).toMatchObject({ pending: 0, in_flight: 0, delayed: 0, dlq_depth: 1, dead_lettered: 1 });

    const peek = await c.jsonCall({ action: 'peek', data: { namespace: 'f', topic: t, dlq: true } });
    expect(peek.data.next_cursor).toBeNull();
    expect(peek.data.messages).toHaveLength(1);
    expect(peek.data.messages[0]).toMatchObject({
      id: m.id,
      queue_id: -1,
      payload: { job: 7 },
      payload_size: Buffer.byteLength('{"job":7}'),
      headers: { _dlq_reason: 'nacked', _delivery_count: '2' },
    });

    // consumed from the DLQ and nacked there: back at the DLQ's head
    const fromDlq = await c.jsonCall({ action: 'consume_dlq', data: { namespace: 'f', topic: t, batch_size: 5 } });
    expect(fromDlq.data.map((x: { id: string; queue_id: number }) => [x.id, x.queue_id])).toEqual([[m.id, -1]]);
    nack = await c.jsonCall({ action: 'nack', data: { namespace: 'f', topic: t, queue_id: -1, message_ids: [m.id] } });
    expect(nack.data).toEqual({ requeued: 1, delayed: 0, dead_lettered: 0 });

    expect(await c.jsonCall({ action: 'redrive_dlq', data: { namespace: 'f', topic: t } })).toEqual({ status: 'ok', data: { moved: 1 } });
    const back = await c.jsonCall({ action: 'consume', data: { namespace: 'f', topic: t, queue_id: 0 } });
    const again = back.data[0] ?? (await c.jsonCall({ action: 'consume', data: { namespace: 'f', topic: t, queue_id: 1 } })).data[0];
    expect(again).toMatchObject({ id: m.id, payload: { job: 7 }, delivery_count: 1 });
    expect(again.headers._dlq_reason).toBeUndefined();
    expect(await c.jsonCall({ action: 'redrive_dlq', data: { namespace: 'f', topic: t, max: 0 } })).toEqual({ status: 'ok', data: { moved: 0 } });
  });

  it('nack with an explicit delay_ms (0: at once), consume_dlq auto_ack, redrive max', async () => {
    const t = await topic();
    await c.jsonCall({ action: 'set_topic_policy', data: { namespace: 'f', topic: t, max_retries: 0 } });
    for (const p of [1, 2, 3]) await c.jsonCall({ action: 'publish', data: { namespace: 'f', topic: t, payload: p } });
    const [m1, m2, m3] = (await c.jsonCall({ action: 'consume', data: { namespace: 'f', topic: t, batch_size: 3 } })).data;
    expect((await c.jsonCall({ action: 'nack', data: { namespace: 'f', topic: t, message_ids: [m1.id, m2.id, m3.id] } })).data).toEqual({
      requeued: 0,
      delayed: 0,
      dead_lettered: 3,
    });
    expect((await c.jsonCall({ action: 'redrive_dlq', data: { namespace: 'f', topic: t, max: 2 } })).data).toEqual({ moved: 2 });
    const auto = await c.jsonCall({ action: 'consume_dlq', data: { namespace: 'f', topic: t, auto_ack: true } });
    expect(auto.data.map((x: { payload: number }) => x.payload)).toEqual([3]);
    expect(h.broker.topicStats('f', t)).toMatchObject({ dlqDepth: 0, inFlight: 0, pending: 2 });

    await c.jsonCall({ action: 'set_topic_policy', data: { namespace: 'f', topic: t, max_retries: -1 } });
    const [n] = (await c.jsonCall({ action: 'consume', data: { namespace: 'f', topic: t } })).data;
    expect((await c.jsonCall({ action: 'nack', data: { namespace: 'f', topic: t, message_ids: [n.id], delay_ms: 0 } })).data).toEqual({
      requeued: 1,
      delayed: 0,
      dead_lettered: 0,
    });
    const head = (await c.jsonCall({ action: 'peek', data: { namespace: 'f', topic: t, limit: 1 } })).data.messages[0];
    expect(head.id).toBe(n.id);
  });

  it('answers bad nack, consume_dlq and redrive requests with the reason', async () => {
    const t = await topic();
    // message_ids left out is an empty list, as in protobuf (docs/PROTOCOL.md, "Unset and zero values")
    expect(await c.jsonCall({ action: 'nack', data: { namespace: 'f', topic: t, message_ids: 'x' } })).toEqual({
      status: 'error',
      error: 'INVALID_ARGUMENT: field data.message_ids must be an array of strings',
    });
    expect((await c.jsonCall({ action: 'nack', data: { namespace: 'f', topic: t, message_ids: ['x'], delay_ms: -1 } })).error).toMatch(
      /^INVALID_ARGUMENT: .*delay_ms/,
    );
    expect((await c.jsonCall({ action: 'nack', data: { namespace: 'f', topic: 'nope', message_ids: [] } })).error).toMatch(/^NOT_FOUND: /);
    expect((await c.jsonCall({ action: 'consume_dlq', data: { namespace: 'f', topic: t, batch_size: 100_000 } })).error).toMatch(
      /^INVALID_ARGUMENT: /,
    );
    expect((await c.jsonCall({ action: 'redrive_dlq', data: { namespace: 'f', topic: t, max: -2 } })).error).toMatch(/^INVALID_ARGUMENT: max -2/);
    expect((await c.jsonCall({ action: 'redrive_dlq', data: { namespace: 'f', topic: t, max: 'all' } })).error).toBe(
      'INVALID_ARGUMENT: field data.max must be an integer',
    );
  });
});

describe('nack -> dead-letter queue -> peek -> consume_dlq -> redrive (protobuf)', () => {
  it('runs the same life with the protobuf messages', async () => {
    const t = await topic();
    const policy = await c.pbCall({ action: 'set_topic_policy', data: { case: 'setTopicPolicy', value: { namespace: 'f', topic: t, maxRetries: 0 } } });
    expect(policy.data.case === 'setTopicPolicyResponse' && policy.data.value).toMatchObject({
      success: true,
      policy: { maxRetries: 0, retryBaseMs: 1000n, retryCapMs: 60_000n, dedupWindowMs: 3_600_000n },
    });
    await h.broker.publish('f', t, Buffer.from([0xff, 0x00, 0x01, 0x02]));
    const consumed = await c.pbCall({ action: 'consume', data: { case: 'consume', value: { namespace: 'f', topic: t, batchSize: 1 } } });
    if (consumed.data.case !== 'consumeResponse') throw new Error('no consume_response');
    const id = consumed.data.value.messages[0]!.id;

    const nack = await c.pbCall({ action: 'nack', data: { case: 'nack', value: { namespace: 'f', topic: t, messageIds: [id] } } });
    expect(nack.data.case === 'nackResponse' && nack.data.value).toMatchObject({ success: true, requeued: 0, delayed: 0, deadLettered: 1 });

    const peek = await c.pbCall({ action: 'peek', data: { case: 'peek', value: { namespace: 'f', topic: t, dlq: true, previewBytes: 2 } } });
    if (peek.data.case !== 'peekResponse') throw new Error(`no peek_response: ${peek.error}`);
    expect(peek.data.value.nextCursor).toBe('');
    const [pm] = peek.data.value.messages;
    expect(pm!.payloadSize).toBe(4);
    expect(pm!.message).toMatchObject({ id, queueId: -1, headers: { _dlq_reason: 'nacked', _delivery_count: '1' } });
    expect([...pm!.message!.payload]).toEqual([0xff, 0x00]);

    const stats = await c.pbCall({ action: 'get_topic_stats', data: { case: 'getTopicStats', value: { namespace: 'f', topic: t } } });
    expect(stats.data.case === 'getTopicStatsResponse' && stats.data.value.stats).toMatchObject({ namespace: 'f', topic: t, dlqDepth: 1n, deadLettered: 1n });

    const fromDlq = await c.pbCall({ action: 'consume_dlq', data: { case: 'consumeDlq', value: { namespace: 'f', topic: t, batchSize: 10 } } });
    if (fromDlq.data.case !== 'consumeDlqResponse') throw new Error('no consume_dlq_response');
    expect(fromDlq.data.value.messages.map((m) => [m.id, m.queueId])).toEqual([[id, -1]]);
    // the in-flight dead letter is acked like any message, on queue -1
    expect((await c.pbCall({ action: 'ack', data: { case: 'ack', value: { namespace: 'f', topic: t, queueId: -1, messageIds: [id] } } })).status).toBe('ok');
    expect(h.broker.topicStats('f', t)).toMatchObject({ dlqDepth: 0, inFlight: 0 });

    await h.broker.publish('f', t, Buffer.from('again'));
    const [again] = await h.broker.consume('f', t, 0, 1, false);
    await h.broker.nack('f', t, 0, [again!.id]);
    const redrive = await c.pbCall({ action: 'redrive_dlq', data: { case: 'redriveDlq', value: { namespace: 'f', topic: t } } });
    expect(redrive.data.case === 'redriveDlqResponse' && redrive.data.value).toMatchObject({ success: true, moved: 1 });
    expect(h.broker.topicStats('f', t)).toMatchObject({ dlqDepth: 0, pending: 1 });
  });

  it('answers errors in protobuf', async () => {
    const t = await topic();
    const unknown = await c.pbCall({ action: 'nack', data: { case: 'nack', value: { namespace: 'f', topic: 'nope', messageIds: ['x'] } } });
    expect(unknown).toMatchObject({ status: 'error', error: expect.stringMatching(/^NOT_FOUND: /) });
    const redrive = await c.pbCall({ action: 'redrive_dlq', data: { case: 'redriveDlq', value: { namespace: 'f', topic: t, max: -1 } } });
    expect(redrive.error).toMatch(/^INVALID_ARGUMENT: max -1/);
    const mismatch = await c.pbCall({ action: 'nack', data: { case: 'peek', value: { namespace: 'f', topic: t } } });
    expect(mismatch.error).toBe('INVALID_ARGUMENT: data holds a peek request but action is "nack"');
  });
});

describe('renew_lease', () => {
  let short: Harness;
  let sc: RawClient;
  beforeAll(async () => {
    short = await startHarness({ ackTimeoutMs: 50 });
    sc = await RawClient.open(short.port);
    await short.broker.createNamespace('r');
    await short.broker.createTopic('r', 't', 1);
  });
  afterAll(async () => {
    sc.close();
    await short.close();
  });

  it('extends a live lease (JSON and protobuf); renewing an expired lease is FAILED_PRECONDITION', async () => {
    await short.broker.publish('r', 't', Buffer.from('1'));
    await short.broker.publish('r', 't', Buffer.from('2'));
    const [a, b] = (await sc.jsonCall({ action: 'consume', data: { namespace: 'r', topic: 't', batch_size: 2 } })).data;
    expect(await sc.jsonCall({ action: 'renew_lease', data: { namespace: 'r', topic: 't', message_ids: [a.id], extend_ms: 60_000 } })).toEqual({
      status: 'ok',
      data: 'leases renewed',
    });
    const pb = await sc.pbCall({
      action: 'renew_lease',
      data: { case: 'renewLease', value: { namespace: 'r', topic: 't', messageIds: [a.id], extendMs: 60_000n } },
    });
    expect(pb.status).toBe('ok');
    expect(pb.data.case === 'renewLeaseResponse' && pb.data.value.success).toBe(true);

    // b was not renewed: wait until its lease expires and it is pending again
    await until(async () => (short.broker.topicStats('r', 't').pending === 1 ? true : undefined));
    expect(short.broker.topicStats('r', 't').inFlight).toBe(1);
    const expired = await sc.jsonCall({ action: 'renew_lease', data: { namespace: 'r', topic: 't', message_ids: [b.id], extend_ms: 60_000 } });
    expect(expired.status).toBe('error');
    expect(expired.error).toMatch(new RegExp(`^FAILED_PRECONDITION: message '${b.id}' is not in flight`));
    const expiredPb = await sc.pbCall({
      action: 'renew_lease',
      data: { case: 'renewLease', value: { namespace: 'r', topic: 't', messageIds: [b.id], extendMs: 1000n } },
    });
    expect(expiredPb.error).toMatch(/^FAILED_PRECONDITION: /);
    await short.broker.ack('r', 't', 0, [a.id]);
    await short.broker.consume('r', 't', 0, 10, true);
  });

  it('answers a missing or out-of-range extend_ms with INVALID_ARGUMENT', async () => {
    expect(await sc.jsonCall({ action: 'renew_lease', data: { namespace: 'r', topic: 't', message_ids: [] } })).toEqual({
      status: 'error',
      error: 'INVALID_ARGUMENT: missing field data.extend_ms (an integer)',
    });
    const zero = await sc.pbCall({ action: 'renew_lease', data: { case: 'renewLease', value: { namespace: 'r', topic: 't', messageIds: ['x'] } } });
    expect(zero.error).toMatch(/^INVALID_ARGUMENT: extend_ms 0 is out of range/);
  });
});

describe('peek', () => {
  it('pages a queue with a cursor, in both orders, with a payload preview (JSON)', async () => {
    const t = await topic();
    for (let i = 0; i < 5; i++) await h.broker.publish('f', t, Buffer.from(JSON.stringify({ i, pad: 'xxxxxxxx' })));
    const asc1 = await c.jsonCall({ action: 'peek', data: { namespace: 'f', topic: t, queue_id: 0, limit: 2 } });
    expect(asc1.data.messages.map((m: { payload: { i: number } }) => m.payload.i)).toEqual([0, 1]);
    expect(typeof asc1.data.next_cursor).toBe('string');
    const asc2 = await c.jsonCall({ action: 'peek', data: { namespace: 'f', topic: t, queue_id: 0, limit: 2, cursor: asc1.data.next_cursor } });
    expect(asc2.data.messages.map((m: { payload: { i: number } }) => m.payload.i)).toEqual([2, 3]);
    const desc = await c.jsonCall({ action: 'peek', data: { namespace: 'f', topic: t, order: 'desc', limit: 100 } });
    expect(desc.data.messages.map((m: { payload: { i: number } }) => m.payload.i)).toEqual([4, 3, 2, 1, 0]);
    expect(desc.data.next_cursor).toBeNull();
    // a cut payload is no longer JSON: shown as base64, with the full size beside it
    const preview = await c.jsonCall({ action: 'peek', data: { namespace: 'f', topic: t, limit: 1, preview_bytes: 4 } });
    const full = Buffer.byteLength(JSON.stringify({ i: 0, pad: 'xxxxxxxx' }));
    expect(preview.data.messages[0]).toMatchObject({ payload: Buffer.from('{"i"').toString('base64'), payload_encoding: 'base64', payload_size: full });
    // nothing was consumed
    expect(h.broker.topicStats('f', t)).toMatchObject({ pending: 5, inFlight: 0 });
  });

  it('pages with PeekRequest (protobuf), order DESC', async () => {
    const t = await topic();
    for (let i = 0; i < 3; i++) await h.broker.publish('f', t, Buffer.from(`m${i}`));
    const first = await c.pbCall({ action: 'peek', data: { case: 'peek', value: { namespace: 'f', topic: t, limit: 2, order: PeekOrder.DESC } } });
    if (first.data.case !== 'peekResponse') throw new Error('no peek_response');
    expect(first.data.value.messages.map((m) => text(m.message!.payload))).toEqual(['m2', 'm1']);
    expect(first.data.value.messages.map((m) => m.payloadSize)).toEqual([2, 2]);
    const second = await c.pbCall({
      action: 'peek',
      data: { case: 'peek', value: { namespace: 'f', topic: t, limit: 2, order: PeekOrder.DESC, cursor: first.data.value.nextCursor } },
    });
    expect(second.data.case === 'peekResponse' && second.data.value.messages.map((m) => text(m.message!.payload))).toEqual(['m0']);
  });

  it('answers bad peeks with the reason', async () => {
    const t = await topic();
    expect((await c.jsonCall({ action: 'peek', data: { namespace: 'f', topic: t, limit: 101 } })).error).toMatch(/^INVALID_ARGUMENT: limit 101/);
    expect((await c.jsonCall({ action: 'peek', data: { namespace: 'f', topic: t, order: 'up' } })).error).toMatch(/^INVALID_ARGUMENT: order "up"/);
    expect((await c.jsonCall({ action: 'peek', data: { namespace: 'f', topic: t, dlq: 'yes' } })).error).toBe(
      'INVALID_ARGUMENT: field data.dlq must be true or false',
    );
    expect((await c.jsonCall({ action: 'peek', data: { namespace: 'f', topic: t, queue_id: 4 } })).error).toMatch(/^NOT_FOUND: /);
    const order = await c.pbCall({ action: 'peek', data: { case: 'peek', value: { namespace: 'f', topic: t, order: 7 as PeekOrder } } });
    expect(order.error).toMatch(/^INVALID_ARGUMENT: order 7 is not a PeekOrder value/);
  });
});

describe('set_topic_policy, list_topics policy and get_topic_stats', () => {
  it('changes only what is given, shows the policy in list_topics (JSON and protobuf), and refuses bad values', async () => {
    const t = await topic();
    const changed = await c.jsonCall({ action: 'set_topic_policy', data: { namespace: 'f', topic: t, dedup_window_ms: 0, ack_timeout_ms: 0, message_ttl_ms: 0, dead_letter_expired: false } });
    expect(changed.data).toEqual({ max_retries: -1, retry_base_ms: 1000, retry_cap_ms: 60000, dedup_window_ms: 0, ack_timeout_ms: 0, message_ttl_ms: 0, dead_letter_expired: false });
    const bad = await c.jsonCall({ action: 'set_topic_policy', data: { namespace: 'f', topic: t, retry_base_ms: 5000, retry_cap_ms: 10 } });
    expect(bad.error).toMatch(/^INVALID_ARGUMENT: retry.cap_ms 10 is below retry.base_ms 5000/);
    const pb = await c.pbCall({ action: 'set_topic_policy', data: { case: 'setTopicPolicy', value: { namespace: 'f', topic: t, retryCapMs: 2n ** 60n } } });
    expect(pb.error).toMatch(/^INVALID_ARGUMENT: retry.cap_ms/);

    const listed = await c.jsonCall({ action: 'list_topics', data: { namespace: 'f' } });
    expect(listed.data.find((x: { name: string }) => x.name === t).policy).toEqual(changed.data);
    const listedPb = await c.pbCall({ action: 'list_topics', data: { case: 'listTopics', value: { namespace: 'f' } } });
    if (listedPb.data.case !== 'listTopicsResponse') throw new Error('no list_topics_response');
    expect(listedPb.data.value.topics.find((x) => x.name === t)!.policy).toMatchObject({ maxRetries: -1, retryBaseMs: 1000n, dedupWindowMs: 0n });

    // a dedup window of 0 turns deduplication off
    const p1 = await c.jsonCall({ action: 'publish', data: { namespace: 'f', topic: t, payload: 1, dedup_id: 'same' } });
    const p2 = await c.jsonCall({ action: 'publish', data: { namespace: 'f', topic: t, payload: 2, dedup_id: 'same' } });
    expect(p2.data.message_id).not.toBe(p1.data.message_id);
    expect(p2.data.duplicate).toBeUndefined();
  });

  it('get_topic_stats reports the topic and each queue with snake_case fields (JSON) and TopicStats (protobuf)', async () => {
    const t = await topic(2);
    await h.broker.publish('f', t, Buffer.from('a'), { queueId: 0 });
    await h.broker.publish('f', t, Buffer.from('b'), { queueId: 1 });
    await h.broker.publish('f', t, Buffer.from('c'), { queueId: 1, delayMs: 60_000 });
    await h.broker.consume('f', t, 1, 1, false);
    const s = (await c.jsonCall({ action: 'get_topic_stats', data: { namespace: 'f', topic: t } })).data;
    expect(s).toMatchObject({
      namespace: 'f',
      topic: t,
      queue_count: 2,
      version: 0,
      draining: false,
      pending: 1,
      in_flight: 1,
      delayed: 1,
      dlq_depth: 0,
      published: 3,
      acked: 0,
      redelivered: 0,
      dead_lettered: 0,
      policy: { max_retries: -1, retry_base_ms: 1000, retry_cap_ms: 60000, dedup_window_ms: 3600000, ack_timeout_ms: 0, message_ttl_ms: 0, dead_letter_expired: false },
    });
    expect(typeof s.publish_rate).toBe('number');
    expect(typeof s.ack_rate).toBe('number');
    expect(s.oldest_pending_age_ms).toBeGreaterThanOrEqual(0);
    expect(s.queues.map((q: { queue_id: number; pending: number; in_flight: number; delayed: number }) => [q.queue_id, q.pending, q.in_flight, q.delayed])).toEqual([
      [0, 1, 0, 0],
      [1, 0, 1, 1],
    ]);

    const pb = await c.pbCall({ action: 'get_topic_stats', data: { case: 'getTopicStats', value: { namespace: 'f', topic: t } } });
    if (pb.data.case !== 'getTopicStatsResponse') throw new Error('no get_topic_stats_response');
    expect(pb.data.value.stats).toMatchObject({ queueCount: 2, pending: 1n, inFlight: 1n, delayed: 1n, published: 3n, policy: { maxRetries: -1 } });
    expect(pb.data.value.stats!.queues.map((q) => q.queueId)).toEqual([0, 1]);

    expect((await c.jsonCall({ action: 'get_topic_stats', data: { namespace: 'f', topic: 'nope' } })).error).toMatch(/^NOT_FOUND: /);
    expect((await c.jsonCall({ action: 'get_topic_stats', data: { namespace: 'f' } })).error).toBe('INVALID_ARGUMENT: missing field data.topic (a string)');
  });
});
