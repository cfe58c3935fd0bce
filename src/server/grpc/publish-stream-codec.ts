/**
 * PublishStream's messages on the server, read and written straight from
 * and into bytes (as the TCP front's hot messages; docs/PROTOCOL.md,
 * "PublishStream"): the encoding is exactly protobuf's (test/grpc/
 * publish-stream-codec.test.ts checks both directions against the
 * generated code), without a protobuf-es message per publish and per
 * answer. Each entry's publish is read by the table's planned reader, in
 * the shape `publish.input` takes; its payload is a view into the received
 * message (the core copies it).
 */
import { PublishRequestSchema } from '../../../gen/mqlite/v1/mqlite_pb.js';
import { MalformedRequest } from '../../protocol/grpc-definition.js';
import {
  ProtoDecodeError,
  ProtoReader,
  WIRE_LEN,
  WIRE_VARINT,
  bigVarintSize,
  lenFieldSize,
  utf8Length,
  varintSize,
  writeBigVarint,
  writeLenHeader,
  writeStringField,
  writeVarint,
} from '../../protocol/proto-wire.js';
import type { RequestOf } from '../commands/command.js';
import { planOf, readFlat } from '../commands/pb-flat.js';

/** A client's correlation id: a number up to 2^53, a bigint past it (uint64 on the wire). */
export type CorrelationId = number | bigint;

/** One decoded PublishStreamEntry. `publish` undefined: the entry had none. */
export interface StreamEntry {
  readonly correlationId: CorrelationId;
  readonly publish: RequestOf<typeof PublishRequestSchema> | undefined;
}

/** One answer: a publish's result, or its error (`errorCode` not empty). */
export class StreamResult {
  constructor(
    readonly correlationId: CorrelationId,
    readonly messageId: string,
    readonly queueId: number,
    readonly duplicate: boolean,
    readonly errorCode: string,
    readonly error: string,
  ) {}
}

const TYPE_NAME = 'mqlite.v1.PublishStreamRequest';
const T_ENTRIES = (1 << 3) | WIRE_LEN;
const T_CORRELATION = (1 << 3) | WIRE_VARINT;
const T_PUBLISH = (2 << 3) | WIRE_LEN;
const PUBLISH_PLAN = planOf(PublishRequestSchema);
const requestReader = new ProtoReader(Buffer.alloc(0), 0, 0);
const entryReader = new ProtoReader(Buffer.alloc(0), 0, 0);
const publishReader = new ProtoReader(Buffer.alloc(0), 0, 0);

/** A uint64 varint: a number while it is exact, else a bigint. */
function correlationOf(r: ProtoReader): CorrelationId {
  const buf = r.buf;
  let value = 0;
  // Up to 7 bytes hold 49 bits: exact as a number.
  for (let i = 0, pos = r.pos; i < 7 && pos < r.end; i++, pos++) {
    const b = buf[pos]!;
    value += (b & 0x7f) * 2 ** (7 * i);
    if (b < 0x80) {
      r.pos = pos + 1;
      return value;
    }
  }
  const big = r.uint64();
  return big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
}

/** A PublishStreamRequest's entries, or why its bytes are not one. */
export function decodePublishStreamRequest(bytes: Buffer): StreamEntry[] | MalformedRequest {
  try {
    const entries: StreamEntry[] = [];
    const r = requestReader.reset(bytes, 0, bytes.length);
    while (!r.done) {
      const t = r.tag();
      if (t !== T_ENTRIES) {
        r.skip(t & 7);
        continue;
      }
      r.len();
      const e = entryReader.reset(bytes, r.rs, r.re);
      let correlationId: CorrelationId = 0;
      let publish: RequestOf<typeof PublishRequestSchema> | undefined;
      while (!e.done) {
        const et = e.tag();
        if (et === T_CORRELATION) correlationId = correlationOf(e);
        else if (et === T_PUBLISH) {
          e.len();
          publish = readFlat(publishReader.reset(bytes, e.rs, e.re), PUBLISH_PLAN) as RequestOf<typeof PublishRequestSchema>;
        } else e.skip(et & 7);
      }
      entries.push({ correlationId, publish });
    }
    return entries;
  } catch (err) {
    if (err instanceof ProtoDecodeError) return new MalformedRequest(TYPE_NAME, err.message);
    throw err;
  }
}

function correlationSize(id: CorrelationId): number {
  if (typeof id === 'number') return id === 0 ? 0 : 1 + varintSize(id);
  return id === 0n ? 0 : 1 + bigVarintSize(id);
}

/** The size of one PublishStreamResult, and the UTF-8 lengths of its strings (written next). */
function resultSize(r: StreamResult, lengths: number[], i: number): number {
  const idLen = utf8Length(r.messageId);
  const codeLen = utf8Length(r.errorCode);
  const errLen = utf8Length(r.error);
  lengths[3 * i] = idLen;
  lengths[3 * i + 1] = codeLen;
  lengths[3 * i + 2] = errLen;
  let n = correlationSize(r.correlationId);
  if (idLen > 0) n += lenFieldSize(idLen);
  if (r.queueId !== 0) n += 1 + varintSize(r.queueId);
  if (r.duplicate) n += 2;
  if (codeLen > 0) n += lenFieldSize(codeLen);
  if (errLen > 0) n += lenFieldSize(errLen);
  return n;
}

/** A PublishStreamResponse holding `results`, in protobuf's encoding (zero values left out). */
export function encodePublishStreamResponse(results: readonly StreamResult[]): Buffer {
  const lengths: number[] = new Array(3 * results.length);
  const sizes: number[] = new Array(results.length);
  let total = 0;
  for (let i = 0; i < results.length; i++) {
    const n = resultSize(results[i]!, lengths, i);
    sizes[i] = n;
    total += 1 + varintSize(n) + n;
  }
  const buf = Buffer.allocUnsafe(total);
  let pos = 0;
  for (let i = 0; i < results.length; i++) {
    const r = results[i]!;
    pos = writeLenHeader(buf, pos, 1, sizes[i]!);
    const id = r.correlationId;
    if (typeof id === 'number' ? id !== 0 : id !== 0n) {
      buf[pos++] = T_CORRELATION;
      pos = typeof id === 'number' ? writeVarint(buf, pos, id) : writeBigVarint(buf, pos, id);
    }
    if (lengths[3 * i]! > 0) pos = writeStringField(buf, pos, 2, r.messageId, lengths[3 * i]!);
    if (r.queueId !== 0) {
      buf[pos++] = (3 << 3) | WIRE_VARINT;
      pos = writeVarint(buf, pos, r.queueId);
    }
    if (r.duplicate) {
      buf[pos++] = (4 << 3) | WIRE_VARINT;
      buf[pos++] = 1;
    }
    if (lengths[3 * i + 1]! > 0) pos = writeStringField(buf, pos, 5, r.errorCode, lengths[3 * i + 1]!);
    if (lengths[3 * i + 2]! > 0) pos = writeStringField(buf, pos, 6, r.error, lengths[3 * i + 2]!);
  }
  return buf;
}
