/**
 * The hand-written protobuf codecs of the TCP front and client speak exactly
 * the wire of the generated protobuf-es code (docs/PROTOCOL.md: field numbers and
 * types are fixed): checked in both directions on arbitrary values.
 */
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MessageSchema, TCPCommandSchema, TCPResponseSchema } from '../../gen/mqlite/v1/mqlite_pb.js';
import { DEFAULT_POLICY } from '../../src/broker/broker.js';
import type { Delivery } from '../../src/broker/message.js';
import { timestampNs } from '../../src/protocol/message.js';
import { decodePushed, decodeMessages, decodePublished, decodeReply, decodeTopics, writeCommand, writePublish } from '../../src/client/tcp/codec.js';
import { FrameReader, FrameWriter, ReadResult } from '../../src/protocol/frame.js';
import { decodePbCommand } from '../../src/server/tcp/pb-codec.js';
import { encodeMessage } from '../../src/protocol/pb-builder.js';
import { ProtoReader, writeVarint } from '../../src/protocol/proto-wire.js';
import { writeError, writeOk, writePush } from '../../src/server/tcp/reply.js';
import { COMMANDS } from '../../src/server/commands/table.js';

const str = fc.string({ unit: 'binary', maxLength: 40 });
const int32 = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
const bytes = fc.uint8Array({ maxLength: 300 });
const headers = fc.dictionary(str, str, { maxKeys: 5 });

/** Takes the single frame a FrameWriter holds. */
function oneFrame(out: FrameWriter): { encoding: number; body: Buffer } {
  const data = Buffer.concat(out.take());
  const r = new FrameReader(1 << 30);
  r.push(data);
  expect(r.next()).toBe(ReadResult.Frame);
  expect(r.bufferedBytes).toBe(0);
  return { encoding: r.encoding, body: r.buf.subarray(r.start, r.end) };
}

describe('varints', () => {
  it('round-trips int32 values, negatives as 10 bytes', () => {
    fc.assert(
      fc.property(int32, (n) => {
        const buf = Buffer.alloc(10);
        const end = writeVarint(buf, 0, n);
        expect(end).toBe(n < 0 ? 10 : end);
        expect(new ProtoReader(buf, 0, end).int32()).toBe(n);
        // and what protobuf-es reads from it
        const wire = Buffer.concat([Buffer.from([0x20]), buf.subarray(0, end)]); // Message.queue_id = field 4
        expect(fromBinary(MessageSchema, wire).queueId).toBe(n);
      }),
    );
  });

  it('reads uint64 values written by protobuf-es', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), (v) => {
        const wire = toBinary(TCPResponseSchema, create(TCPResponseSchema, { data: { case: 'resizeTopicResponse', value: { version: v } } }));
        const reply = decodeReply(1, Buffer.from(wire), 0, wire.length);
        const r = new ProtoReader(reply.buf, reply.start, reply.end);
        let got = 0n;
        while (!r.done) {
          const t = r.tag();
          if (t === ((4 << 3) | 0)) got = r.uint64();
          else r.skip(t & 7);
        }
        expect(got).toBe(v);
      }),
    );
  });
});

describe('server: TCPCommand from protobuf-es', () => {
  it('decodes publish', () => {
    fc.assert(
      fc.property(str, str, bytes, headers, str, fc.option(int32, { nil: undefined }), str, (namespace, topic, payload, h, routingKey, queueId, requestId) => {
        const wire = Buffer.from(
          toBinary(
            TCPCommandSchema,
            create(TCPCommandSchema, { action: 'publish', requestId, data: { case: 'publish', value: { namespace, topic, payload, headers: h, routingKey, queueId } } }),
          ),
        );
        const req = decodePbCommand(wire, 0, wire.length);
        expect(req.error).toBeUndefined();
        expect(req.requestId).toBe(requestId || undefined);
        expect(req.op?.name).toBe('publish');
        const a = req.args as { namespace: string; topic: string; payload: Uint8Array; headers?: Record<string, string>; routingKey?: string; queueId?: number };
        expect(a.namespace).toBe(namespace);
        expect(a.topic).toBe(topic);
        expect(Buffer.from(a.payload)).toEqual(Buffer.from(payload));
        expect(a.headers ?? {}).toEqual(h);
        expect(a.routingKey).toBe(routingKey || undefined);
        expect(a.queueId).toBe(queueId);
      }),
    );
  });

  it('decodes the publish extensions: dedup_id, delay_ms and deliver_at_ms (int64, optional)', () => {
    const int64 = fc.option(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), { nil: undefined });
    fc.assert(
      fc.property(str, int64, int64, (dedupId, delayMs, deliverAtMs) => {
        const wire = Buffer.from(
          toBinary(TCPCommandSchema, create(TCPCommandSchema, { data: { case: 'publish', value: { namespace: 'n', topic: 't', dedupId, delayMs, deliverAtMs } } })),
        );
        const a = decodePbCommand(wire, 0, wire.length).args as { dedupId?: string; delayMs?: number; deliverAt?: number };
        expect(a.dedupId).toBe(dedupId || undefined);
        expect(a.delayMs).toBe(delayMs === undefined ? undefined : Number(delayMs));
        expect(a.deliverAt).toBe(deliverAtMs === undefined ? undefined : Number(deliverAtMs));
      }),
    );
  });

  it('keeps a header named __proto__ as a header', () => {
    const h = JSON.parse('{"__proto__":"x","a":"b"}') as Record<string, string>;
    const wire = Buffer.from(toBinary(TCPCommandSchema, create(TCPCommandSchema, { action: 'publish', data: { case: 'publish', value: { namespace: 'n', topic: 't', headers: h } } })));
    const a = decodePbCommand(wire, 0, wire.length).args as { headers: Record<string, string> };
    expect(Object.getPrototypeOf(a.headers)).toBe(Object.prototype);
    expect(Object.entries(a.headers).sort()).toEqual([['__proto__', 'x'], ['a', 'b']]);
  });

  it('decodes consume, subscribe, ack, create_topic and resize_topic', () => {
    fc.assert(
      fc.property(str, str, int32, int32, fc.boolean(), fc.array(str, { maxLength: 5 }), (ns, name, n, m, flag, ids) => {
        const dec = (cmd: Parameters<typeof create<typeof TCPCommandSchema>>[1]) => {
          const w = Buffer.from(toBinary(TCPCommandSchema, create(TCPCommandSchema, cmd)));
          return decodePbCommand(w, 0, w.length);
        };
        expect(dec({ action: 'consume', data: { case: 'consume', value: { namespace: ns, topic: name, queueId: n, batchSize: m, autoAck: flag } } })?.args).toEqual({
          namespace: ns,
          topic: name,
          queueId: n,
          batchSize: m,
          autoAck: flag,
        });
        expect(dec({ action: 'subscribe', data: { case: 'subscribe', value: { namespace: ns, topic: name, queueId: n, autoAck: flag } } })?.args).toEqual({
          namespace: ns,
          topic: name,
          queueId: n,
          autoAck: flag,
        });
        expect(dec({ action: 'ack', data: { case: 'ack', value: { namespace: ns, topic: name, queueId: n, messageIds: ids } } })?.args).toEqual({
          namespace: ns,
          topic: name,
          queueId: n,
          messageIds: ids,
        });
        expect(dec({ action: 'create_topic', data: { case: 'createTopic', value: { namespace: ns, name, queueCount: n } } })?.args).toEqual({
          namespace: ns,
          name,
          queueCount: n,
        });
        expect(dec({ action: 'resize_topic', data: { case: 'resizeTopic', value: { namespace: ns, name, newQueueCount: m } } })?.args).toEqual({
          namespace: ns,
          name,
          newQueueCount: m,
        });
      }),
    );
  });
});

const delivery: fc.Arbitrary<Delivery> = fc.record({
  id: str,
  namespace: str,
  topic: str,
  queueId: int32,
  payload: bytes,
  timestampMs: fc.integer({ min: 0, max: 4_000_000_000_000 }).map((n) => n + 0.123),
  headers: fc.option(headers, { nil: undefined }),
  deliveryCount: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
});

function expectSameMessage(got: { id: string; namespace: string; topic: string; queueId: number; payload: Uint8Array; timestamp: bigint; headers: Record<string, string>; deliveryCount: number }, d: Delivery): void {
  expect({ ...got, payload: Buffer.from(got.payload) }).toMatchObject({
    id: d.id,
    namespace: d.namespace,
    topic: d.topic,
    queueId: d.queueId,
    payload: Buffer.from(d.payload),
    timestamp: timestampNs(d),
    headers: d.headers ?? {},
    deliveryCount: d.deliveryCount,
  });
}

describe('server: replies that protobuf-es reads', () => {
  it('encodes Message (subscribe push) with request_id', () => {
    fc.assert(
      fc.property(delivery, str, (d, rid) => {
        const out = new FrameWriter();
        writePush(out, 1, rid || undefined, d);
        const f = oneFrame(out);
        const r = fromBinary(TCPResponseSchema, f.body);
        expect(r.status).toBe('ok');
        expect(r.requestId).toBe(rid);
        expect(r.data.case).toBe('subscribeMessage');
        expectSameMessage(r.data.value as never, d);
        // the client reads the same
        const reply = decodeReply(1, f.body, 0, f.body.length);
        expectSameMessage(decodePushed(reply)!, d);
      }),
    );
  });

  it('encodes ConsumeResponse', () => {
    fc.assert(
      fc.property(fc.array(delivery, { maxLength: 5 }), (ds) => {
        const out = new FrameWriter();
        writeOk(out, 1, undefined, COMMANDS.consume, ds);
        const f = oneFrame(out);
        const r = fromBinary(TCPResponseSchema, f.body);
        expect(r.data.case).toBe('consumeResponse');
        const msgs = r.data.case === 'consumeResponse' ? r.data.value.messages : [];
        expect(msgs).toHaveLength(ds.length);
        msgs.forEach((m, i) => expectSameMessage(m, ds[i]!));
        const mine = decodeMessages(decodeReply(1, f.body, 0, f.body.length));
        mine.forEach((m, i) => expectSameMessage(m, ds[i]!));
      }),
    );
  });

  it('encodes publish, list and error replies', () => {
    fc.assert(
      fc.property(str, int32, fc.array(str, { maxLength: 4 }), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), (s, n, names, v) => {
        let out = new FrameWriter();
        writeOk(out, 1, s || undefined, COMMANDS.publish, { messageId: s, queueId: n });
        let f = oneFrame(out);
        expect(fromBinary(TCPResponseSchema, f.body)).toMatchObject({ status: 'ok', requestId: s, data: { case: 'publishResponse', value: { messageId: s, queueId: n } } });
        expect(decodePublished(decodeReply(1, f.body, 0, f.body.length))).toEqual({ messageId: s, queueId: n });

        out = new FrameWriter();
        writeOk(out, 1, s || undefined, COMMANDS.publish, { messageId: s, queueId: n, duplicate: true });
        f = oneFrame(out);
        expect(fromBinary(TCPResponseSchema, f.body)).toMatchObject({ data: { case: 'publishResponse', value: { messageId: s, queueId: n, duplicate: true } } });

        out = new FrameWriter();
        writeOk(out, 1, undefined, COMMANDS.list_namespaces, names);
        f = oneFrame(out);
        const ln = fromBinary(TCPResponseSchema, f.body);
        expect(ln.data.case === 'listNamespacesResponse' && ln.data.value.namespaces).toEqual(names);

        out = new FrameWriter();
        writeOk(out, 1, undefined, COMMANDS.list_topics, [{ name: s, queueCount: n, version: v, policy: DEFAULT_POLICY, paused: false }]);
        f = oneFrame(out);
        const lt = fromBinary(TCPResponseSchema, f.body);
        expect(lt.data.case === 'listTopicsResponse' && lt.data.value.topics[0]).toMatchObject({
          name: s,
          queueCount: n,
          version: v,
          policy: { maxRetries: -1, retryBaseMs: 1000n, retryCapMs: 60_000n, dedupWindowMs: 3_600_000n },
        });
        expect(decodeTopics(decodeReply(1, f.body, 0, f.body.length))).toEqual([{ name: s, queueCount: n, version: v, paused: false }]);

        out = new FrameWriter();
        writeError(out, 1, s || undefined, `NOT_FOUND: ${s}`);
        f = oneFrame(out);
        expect(fromBinary(TCPResponseSchema, f.body)).toMatchObject({ status: 'error', error: `NOT_FOUND: ${s}`, requestId: s });
      }),
    );
  });
});

describe('server: a reply that does not fit the rest of the output slab', () => {
  it('an error reply starting a new slab is written whole into it (it was written into the old one, leaving garbage)', () => {
    for (const used of [64 * 1024 - 200, 64 * 1024 - 100, 64 * 1024 - 60, 64 * 1024 - 5]) {
      const out = new FrameWriter();
      out.bytes(1, Buffer.alloc(used - 5, 0x76)); // fills the 64 KiB slab up to `used` bytes with 'v's
      writeError(out, 1, 'r1', 'INVALID_ARGUMENT: retry.max_retries -2 is out of range: use 0..1000000, or -1 to retry forever');
      const reader = new FrameReader(1 << 20);
      for (const part of out.take()) reader.push(part);
      expect(reader.next()).toBe(ReadResult.Frame);
      expect(reader.next()).toBe(ReadResult.Frame);
      const body = reader.buf.subarray(reader.start, reader.end);
      expect(fromBinary(TCPResponseSchema, body)).toMatchObject({ status: 'error', requestId: 'r1', error: expect.stringContaining('max_retries -2') });
    }
  });
});

describe('client: commands that protobuf-es reads', () => {
  it('encodes publish', () => {
    fc.assert(
      fc.property(str, str, bytes, headers, str, fc.option(int32, { nil: undefined }), str, (namespace, topic, payload, h, routingKey, queueId, rid) => {
        const out = new FrameWriter();
        writePublish(out, 1, rid || undefined, namespace, topic, payload, { headers: h, routingKey, queueId });
        const f = oneFrame(out);
        const cmd = fromBinary(TCPCommandSchema, f.body);
        expect(cmd.action).toBe('publish');
        expect(cmd.requestId).toBe(rid);
        expect(cmd.data.case).toBe('publish');
        if (cmd.data.case === 'publish') {
          const v = cmd.data.value;
          expect({ ...v, payload: Buffer.from(v.payload) }).toMatchObject({ namespace, topic, payload: Buffer.from(payload), headers: h, routingKey });
          expect(v.queueId).toBe(queueId);
        }
      }),
    );
  });

  it('encodes the publish extensions (dedup_id, delay_ms, deliver_at_ms), in protobuf and in JSON', () => {
    const ms = fc.option(fc.integer({ min: -(2 ** 53) + 1, max: 2 ** 53 - 1 }), { nil: undefined });
    fc.assert(
      fc.property(fc.option(str, { nil: undefined }), ms, ms, (dedupId, delayMs, deliverAtMs) => {
        let out = new FrameWriter();
        writePublish(out, 1, undefined, 'n', 't', 'p', { queueId: 3, dedupId, delayMs, deliverAtMs });
        const cmd = fromBinary(TCPCommandSchema, oneFrame(out).body);
        if (cmd.data.case !== 'publish') throw new Error('no publish case');
        expect(cmd.data.value).toMatchObject({ queueId: 3, dedupId: dedupId ?? '' });
        expect(cmd.data.value.delayMs).toBe(delayMs === undefined ? undefined : BigInt(delayMs));
        expect(cmd.data.value.deliverAtMs).toBe(deliverAtMs === undefined ? undefined : BigInt(deliverAtMs));

        out = new FrameWriter();
        writePublish(out, 0, undefined, 'n', 't', 'p', { dedupId, delayMs, deliverAtMs });
        const json = JSON.parse(oneFrame(out).body.toString('utf8'));
        expect(json.data).toEqual({ namespace: 'n', topic: 't', payload: 'p', dedup_id: dedupId, delay_ms: delayMs, deliver_at_ms: deliverAtMs });
      }),
    );
  });

  it('encodes an empty command with its data case present', () => {
    const out = new FrameWriter();
    writeCommand(out, 1, 'list_namespaces', undefined, () => '{}', () => new Uint8Array(0));
    const cmd = fromBinary(TCPCommandSchema, oneFrame(out).body);
    expect(cmd).toMatchObject({ action: 'list_namespaces', data: { case: 'listNamespaces' } });
  });

  it('reads a Message written by protobuf-es', () => {
    fc.assert(
      fc.property(delivery, (d) => {
        const m = create(MessageSchema, {
          id: d.id,
          namespace: d.namespace,
          topic: d.topic,
          queueId: d.queueId,
          payload: d.payload,
          timestamp: timestampNs(d),
          headers: d.headers ?? {},
          deliveryCount: d.deliveryCount,
        });
        const wire = Buffer.from(toBinary(TCPResponseSchema, create(TCPResponseSchema, { status: 'ok', data: { case: 'subscribeMessage', value: m } })));
        expectSameMessage(decodePushed(decodeReply(1, wire, 0, wire.length))!, d);
        // and protobuf-es reads what the server writes for the same message
        expectSameMessage(fromBinary(MessageSchema, encodeMessage(d)), d);
      }),
    );
  });
});
