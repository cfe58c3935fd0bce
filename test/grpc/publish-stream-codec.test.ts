/**
 * The server's hand-written PublishStream codec speaks exactly the wire of
 * the generated protobuf-es code (docs/PROTOCOL.md, "PublishStream"):
 * checked in both directions on arbitrary values.
 */
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PublishStreamRequestSchema, PublishStreamResponseSchema } from '../../gen/mqlite/v1/mqlite_pb.js';
import { MalformedRequest } from '../../src/protocol/grpc-definition.js';
import { decodePublishStreamRequest, encodePublishStreamResponse, StreamResult } from '../../src/server/grpc/publish-stream-codec.js';

const str = fc.string({ unit: 'binary', maxLength: 40 });
const int32 = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
const uint64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
const int64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });

const publish = fc.record(
  {
    namespace: str,
    topic: str,
    payload: fc.uint8Array({ maxLength: 300 }),
    headers: fc.dictionary(str, str, { maxKeys: 4 }),
    routingKey: str,
    queueId: int32,
    dedupId: str,
    delayMs: int64,
    deliverAtMs: int64,
    ttlMs: int64,
  },
  { requiredKeys: ['namespace', 'topic', 'payload'] },
);
const entry = fc.record({ correlationId: uint64, publish }, { requiredKeys: ['correlationId'] });

/** What the table's input sees of a correlation id: a number while exact. */
const asRead = (id: bigint): number | bigint => (id <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(id) : id);
const ms = (v: bigint | undefined) => (v === undefined ? undefined : Number(v));

describe('PublishStreamRequest (client to server)', () => {
  it('reads what protobuf-es writes: ids, and each publish as the table takes it', () => {
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 5 }), (entries) => {
        const bytes = Buffer.from(toBinary(PublishStreamRequestSchema, create(PublishStreamRequestSchema, { entries })));
        const decoded = decodePublishStreamRequest(bytes);
        if (decoded instanceof MalformedRequest) throw new Error(decoded.reason);
        expect(decoded).toHaveLength(entries.length);
        decoded.forEach((d, i) => {
          const e = entries[i]!;
          expect(d.correlationId).toEqual(asRead(e.correlationId));
          if (e.publish === undefined) {
            expect(d.publish).toBeUndefined();
            return;
          }
          const p = d.publish!;
          expect(p.namespace).toBe(e.publish.namespace);
          expect(p.topic).toBe(e.publish.topic);
          expect(Buffer.from(p.payload)).toEqual(Buffer.from(e.publish.payload));
          expect(p.headers ?? {}).toEqual(e.publish.headers ?? {});
          expect(p.routingKey).toBe(e.publish.routingKey ?? '');
          expect(p.queueId).toBe(e.publish.queueId);
          expect(p.dedupId).toBe(e.publish.dedupId ?? '');
          expect(ms(p.delayMs as bigint | undefined)).toBe(ms(e.publish.delayMs));
          expect(ms(p.deliverAtMs as bigint | undefined)).toBe(ms(e.publish.deliverAtMs));
          expect(ms(p.ttlMs as bigint | undefined)).toBe(ms(e.publish.ttlMs));
        });
      }),
    );
  });

  it('reports bytes that are not a PublishStreamRequest as malformed, naming the message', () => {
    const bad = decodePublishStreamRequest(Buffer.from([0x0a, 0x05, 0x08]));
    expect(bad).toBeInstanceOf(MalformedRequest);
    expect((bad as MalformedRequest).typeName).toBe('mqlite.v1.PublishStreamRequest');
  });
});

describe('PublishStreamResponse (server to client)', () => {
  it('writes exactly what protobuf-es writes', () => {
    const result = fc.record({ correlationId: uint64, messageId: str, queueId: int32, duplicate: fc.boolean(), errorCode: str, error: str });
    fc.assert(
      fc.property(fc.array(result, { maxLength: 5 }), (results) => {
        const ours = encodePublishStreamResponse(results.map((r) => new StreamResult(asRead(r.correlationId), r.messageId, r.queueId, r.duplicate, r.errorCode, r.error)));
        const theirs = Buffer.from(toBinary(PublishStreamResponseSchema, create(PublishStreamResponseSchema, { results })));
        expect(ours).toEqual(theirs);
        expect(fromBinary(PublishStreamResponseSchema, ours).results.map((r) => r.correlationId)).toEqual(results.map((r) => r.correlationId));
      }),
    );
  });
});
