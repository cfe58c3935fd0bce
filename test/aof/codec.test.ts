/**
 * The record framing (docs/DESIGN.md, "Durability contract (the AOF)": each record is
 * framed with its length and a checksum so that a torn or corrupted record
 * is detected).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeAll, decodeFrames, RecordEncoder, writeRecord } from '../../src/aof/codec.js';
import type { LogRecord } from '../../src/aof/store.js';
import { comparable, everyKind } from './helpers.js';

const name = fc.string({ unit: 'grapheme', maxLength: 20 });
const u32 = fc.nat({ max: 0xffffffff });
const payload = fc.uint8Array({ maxLength: 3000 }).map((a) => Buffer.from(a));
const headers = fc.option(
  fc.dictionary(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 10 }), fc.string({ maxLength: 30 }), {
    minKeys: 1,
    maxKeys: 5,
    noNullPrototype: true,
  }),
  { nil: undefined },
);
const ids = fc.array(fc.string({ maxLength: 30 }), { maxLength: 10 });
const time = fc.double({ noNaN: true });

const record: fc.Arbitrary<LogRecord> = fc.oneof(
  fc.record({ type: fc.constant('nsCreate' as const), ns: name }),
  fc.record({ type: fc.constant('nsDelete' as const), ns: name }),
  fc.record({ type: fc.constant('topicCreate' as const), ns: name, topic: name, queueCount: u32 }),
  fc.record({ type: fc.constant('topicDelete' as const), ns: name, topic: name }),
  fc.record({
    type: fc.constant('publish' as const),
    ns: name,
    topic: name,
    queue: u32,
    id: fc.string({ maxLength: 40 }),
    timestampMs: fc.double({ noNaN: true }),
    payload,
    headers,
  }),
  fc.record({ type: fc.constant('pop' as const), ns: name, topic: name, queue: u32, count: u32, autoAck: fc.boolean() }),
  fc.record({ type: fc.constant('ack' as const), ns: name, topic: name, ids }),
  fc.record({ type: fc.constant('requeue' as const), ns: name, topic: name, ids }),
  fc.record({
    type: fc.constant('move' as const),
    ns: name,
    topic: name,
    moves: fc.array(fc.record({ from: u32, to: u32, count: u32 }), { maxLength: 8 }),
  }),
  fc.record({ type: fc.constant('resize' as const), ns: name, topic: name, queueCount: u32 }),
  fc.record({ type: fc.constant('resizeFinal' as const), ns: name, topic: name }),
  fc.record({
    type: fc.constant('topicRestore' as const),
    ns: name,
    topic: name,
    queueCount: u32,
    activeCount: u32,
    version: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  }),
  fc.record({ type: fc.constant('topicPolicy' as const), ns: name, topic: name, maxRetries: fc.integer({ min: -1, max: 1e6 }), baseMs: time, capMs: time, dedupWindowMs: time }),
  // With an ack timeout or expiry the policy is a TopicPolicyEx record.
  fc.record({
    type: fc.constant('topicPolicy' as const),
    ns: name,
    topic: name,
    maxRetries: fc.integer({ min: -1, max: 1e6 }),
    baseMs: time,
    capMs: time,
    dedupWindowMs: time,
    ackTimeoutMs: fc.integer({ min: 1, max: 43_200_000 }),
    messageTtlMs: fc.nat(),
    deadLetterExpired: fc.boolean(),
  }),
  fc.record({ type: fc.constant('expire' as const), ns: name, topic: name, queue: u32, count: u32, toDlq: fc.boolean() }),
  fc
    .record({
      ns: name,
      topic: name,
      queue: u32,
      id: fc.string({ maxLength: 40 }),
      timestampMs: time,
      payload,
      headers,
      toDlq: fc.boolean(),
      deliveryCount: u32,
      visibleAt: time,
      dedup: fc.option(fc.record({ id: fc.string({ unit: 'grapheme', maxLength: 40 }), at: time }), { nil: undefined }),
      expiresAt: fc.oneof(fc.constant(0), fc.double({ min: Number.MIN_VALUE, noNaN: true })),
    })
    .map(({ dedup, ...r }) => ({ type: 'publishEx' as const, ...r, dedupId: dedup?.id, dedupExpiresAt: dedup?.at ?? 0 })),
  fc
    .array(fc.record({ id: fc.string({ maxLength: 30 }), at: time }), { maxLength: 10 })
    .chain((items) => fc.record({ type: fc.constant('nack' as const), ns: name, topic: name, ids: fc.constant(items.map((i) => i.id)), visibleAt: fc.constant(items.map((i) => i.at)) })),
  fc.record({ type: fc.constant('visible' as const), ns: name, topic: name, ids }),
  fc.record({ type: fc.constant('deadLetter' as const), ns: name, topic: name, reason: name, ids }),
  fc.record({ type: fc.constant('dlqPop' as const), ns: name, topic: name, count: u32, autoAck: fc.boolean() }),
  fc.record({ type: fc.constant('redrive' as const), ns: name, topic: name, queues: fc.array(u32, { maxLength: 10 }) }),
  fc.record({ type: fc.constant('dedup' as const), ns: name, topic: name, key: name, id: fc.string({ maxLength: 40 }), queue: u32, expiresAt: time }),
);

describe('codec: decoding what was encoded gives the same records', () => {
  it('round-trips any sequence of records (property)', () => {
    fc.assert(
      fc.property(fc.array(record, { maxLength: 30 }), fc.integer({ min: 16, max: 4096 }), (records, slab) => {
        const enc = new RecordEncoder(slab);
        const chunks: Buffer[] = [];
        for (const rec of records) {
          writeRecord(enc, rec);
          // Takes at random points: the views must stay valid while the encoder moves on.
          if (rec.type === 'publish') chunks.push(enc.take());
        }
        chunks.push(enc.take());
        expect(enc.size).toBe(0);
        expect(comparable(decodeAll(Buffer.concat(chunks)))).toEqual(comparable(records));
      }),
      { numRuns: 300 },
    );
  });

  it('round-trips every record kind with its extreme values', () => {
    const enc = new RecordEncoder();
    for (const rec of everyKind()) writeRecord(enc, rec);
    expect(comparable(decodeAll(enc.take()))).toEqual(comparable(everyKind()));
  });

  it('round-trips the queue-feature record kinds with their extreme values', () => {
    const records: LogRecord[] = [
      { type: 'topicPolicy', ns: 'n', topic: 't', maxRetries: -1, baseMs: 0, capMs: 2_592_000_000, dedupWindowMs: 604_800_000 },
      {
        type: 'publishEx',
        ns: 'n',
        topic: 't',
        queue: 0xffffffff,
        id: 'id-1',
        timestampMs: 1732262400123.456,
        payload: Buffer.alloc(0),
        headers: { _dlq_reason: 'nacked', _delivery_count: '4294967295' },
        toDlq: true,
        deliveryCount: 0xffffffff,
        visibleAt: 0,
        dedupId: undefined,
        dedupExpiresAt: 0,
        expiresAt: 0,
      },
      {
        type: 'publishEx',
        ns: 'n',
        topic: 't',
        queue: 3,
        id: 'id-2',
        timestampMs: 1,
        payload: Buffer.from('x'),
        headers: undefined,
        toDlq: false,
        deliveryCount: 0,
        visibleAt: 1732262400123.5,
        dedupId: 'ключ-✓'.repeat(40),
        dedupExpiresAt: Number.MAX_VALUE,
        expiresAt: 1732262400123.5,
      },
      {
        type: 'topicPolicy',
        ns: 'n',
        topic: 't',
        maxRetries: 3,
        baseMs: 1,
        capMs: 2,
        dedupWindowMs: 0,
        ackTimeoutMs: 43_200_000,
        messageTtlMs: 31_536_000_000,
        deadLetterExpired: true,
      },
      { type: 'expire', ns: 'n', topic: 't', queue: 0xffffffff, count: 0xffffffff, toDlq: true },
      { type: 'expire', ns: 'n', topic: 't', queue: 0, count: 1, toDlq: false },
      { type: 'nack', ns: 'n', topic: 't', ids: [], visibleAt: [] },
      { type: 'nack', ns: 'n', topic: 't', ids: ['a', ''], visibleAt: [1.5, 1e15] },
      { type: 'visible', ns: 'n', topic: 't', ids: ['a'] },
      { type: 'deadLetter', ns: 'n', topic: 't', reason: 'ack_timeout', ids: ['a', 'b'] },
      { type: 'dlqPop', ns: 'n', topic: 't', count: 0xffffffff, autoAck: true },
      { type: 'redrive', ns: 'n', topic: 't', queues: [0, 0xffffffff, 2] },
      { type: 'dedup', ns: 'n', topic: 't', key: '', id: 'id-2', queue: 1, expiresAt: 1e13 },
    ];
    const enc = new RecordEncoder();
    for (const rec of records) writeRecord(enc, rec);
    expect(comparable(decodeAll(enc.take()))).toEqual(comparable(records));
  });

  it('a nack record needs one time per id', () => {
    const enc = new RecordEncoder();
    expect(() => enc.nack('n', 't', ['a', 'b'], [1])).toThrow(RangeError);
    expect(enc.size).toBe(0);
  });

  it('replayed payloads are owned copies, not views into the read buffer', () => {
    const enc = new RecordEncoder();
    enc.publish('n', 't', 0, { id: 'a', timestampMs: 1, payload: Buffer.from('abc'), headers: undefined });
    const bytes = enc.take();
    const [rec] = decodeAll(bytes);
    bytes.fill(0);
    expect(rec!.type === 'publish' && Buffer.from(rec.payload).toString()).toBe('abc');
  });
});

describe('codec: a record that cannot be encoded leaves nothing behind', () => {
  it('a bad field rolls the half-written record back', () => {
    const enc = new RecordEncoder();
    enc.nsCreate('before');
    expect(() => enc.topicCreate('n', 't', -1)).toThrow(RangeError);
    expect(() => enc.nsCreate('x'.repeat(70_000))).toThrow(/65535/);
    expect(() =>
      enc.publish('n', 't', -1, { id: 'a', timestampMs: 1, payload: Buffer.alloc(10), headers: undefined }),
    ).toThrow(RangeError);
    enc.nsCreate('after');
    expect(decodeAll(enc.take())).toEqual([
      { type: 'nsCreate', ns: 'before' },
      { type: 'nsCreate', ns: 'after' },
    ]);
  });
});

describe('codec: damage is detected, not decoded', () => {
  const one = (): Buffer => {
    const enc = new RecordEncoder();
    enc.topicCreate('ns', 'topic', 3);
    return Buffer.from(enc.take());
  };

  it('a flipped body bit is a checksum mismatch', () => {
    const buf = one();
    buf[buf.length - 1]! ^= 1;
    expect(decodeFrames(buf, 0, buf.length, 0, undefined).problem?.kind).toBe('crc');
  });

  it('a missing byte is a short body; a 5-byte stub is a short header', () => {
    const buf = one();
    expect(decodeFrames(buf, 0, buf.length - 1, 0, undefined).problem?.kind).toBe('short-body');
    expect(decodeFrames(buf, 0, 5, 0, undefined).problem?.kind).toBe('short-header');
  });

  it('a length of 0xFFFFFFFF is a bad length, whatever follows', () => {
    const buf = one();
    buf.writeUInt32BE(0xffffffff, 0);
    expect(decodeFrames(buf, 0, buf.length, 1 << 30, undefined).problem?.kind).toBe('bad-length');
  });

  it('a frame longer than the region asks for more bytes only when the file holds them', () => {
    const buf = one();
    expect(decodeFrames(buf, 0, buf.length - 3, 3, undefined).needBytes).toBe(buf.length);
    expect(decodeFrames(buf, 0, buf.length - 3, 2, undefined).problem?.kind).toBe('short-body');
  });
});
