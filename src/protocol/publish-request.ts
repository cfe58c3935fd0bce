/**
 * A PublishRequest (proto `mqlite.v1`) written straight into a buffer, in
 * two steps: `measurePublishRequest` sizes it and keeps what the write
 * needs in one module-level scratch (no object per publish), and
 * `writePublishRequest` writes it, right after, before any other measure.
 * The TCP client writes it inside its TCPCommand envelope, the gRPC
 * publisher inside PublishStream entries; test/tcp/proto-wire.test.ts
 * checks the bytes against the generated code.
 */
import { PbBuilder } from './pb-builder.js';
import {
  WIRE_VARINT,
  bigVarintSize,
  lenFieldSize,
  utf8Length,
  varintSize,
  writeBigVarint,
  writeBytesField,
  writeStringField,
  writeVarint,
} from './proto-wire.js';

/** The optional fields of a publish, as the clients take them. */
export interface PublishRequestOptions {
  readonly headers?: Record<string, string>;
  readonly routingKey?: string;
  readonly queueId?: number;
  readonly dedupId?: string;
  readonly delayMs?: number;
  readonly deliverAtMs?: number;
  readonly ttlMs?: number;
}

const EMPTY = new Uint8Array(0);

const scratch = {
  namespace: '',
  topic: '',
  nsLen: 0,
  topicLen: 0,
  bytes: EMPTY as Uint8Array,
  headerBytes: undefined as Buffer | undefined,
  routingKey: '',
  rkLen: 0,
  queueId: undefined as number | undefined,
  dedupId: '',
  dedupLen: 0,
  delay: undefined as bigint | undefined,
  deliverAt: undefined as bigint | undefined,
  ttl: undefined as bigint | undefined,
};

/** The encoded size of the PublishRequest (without any tag or length around it); `writePublishRequest` writes it next. */
export function measurePublishRequest(namespace: string, topic: string, payload: Uint8Array | string, opts: PublishRequestOptions | undefined): number {
  const s = scratch;
  s.namespace = namespace;
  s.topic = topic;
  s.nsLen = utf8Length(namespace);
  s.topicLen = utf8Length(topic);
  s.bytes = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  const headers = opts?.headers;
  // map<string,string> is field 4: the builder writes its entries
  s.headerBytes = headers && Object.keys(headers).length > 0 ? new PbBuilder().map(4, headers).finish() : undefined;
  s.routingKey = opts?.routingKey ?? '';
  s.rkLen = s.routingKey ? utf8Length(s.routingKey) : 0;
  s.queueId = opts?.queueId;
  s.dedupId = opts?.dedupId ?? '';
  s.dedupLen = s.dedupId ? utf8Length(s.dedupId) : 0;
  // int64 fields: a bigint varint, so that a negative value is the 10-byte two's complement
  s.delay = opts?.delayMs === undefined ? undefined : BigInt(opts.delayMs);
  s.deliverAt = opts?.deliverAtMs === undefined ? undefined : BigInt(opts.deliverAtMs);
  s.ttl = opts?.ttlMs === undefined ? undefined : BigInt(opts.ttlMs);
  let inner = 0;
  if (s.nsLen) inner += lenFieldSize(s.nsLen);
  if (s.topicLen) inner += lenFieldSize(s.topicLen);
  if (s.bytes.length) inner += lenFieldSize(s.bytes.length);
  if (s.headerBytes) inner += s.headerBytes.length;
  if (s.rkLen) inner += lenFieldSize(s.rkLen);
  if (s.queueId !== undefined) inner += 1 + varintSize(s.queueId);
  if (s.dedupLen) inner += lenFieldSize(s.dedupLen);
  if (s.delay !== undefined) inner += 1 + bigVarintSize(s.delay);
  if (s.deliverAt !== undefined) inner += 1 + bigVarintSize(s.deliverAt);
  if (s.ttl !== undefined) inner += 1 + bigVarintSize(s.ttl);
  return inner;
}

/** Writes the PublishRequest the last `measurePublishRequest` sized; returns the new position. */
export function writePublishRequest(buf: Buffer, pos: number): number {
  const s = scratch;
  if (s.nsLen) pos = writeStringField(buf, pos, 1, s.namespace, s.nsLen);
  if (s.topicLen) pos = writeStringField(buf, pos, 2, s.topic, s.topicLen);
  if (s.bytes.length) pos = writeBytesField(buf, pos, 3, s.bytes);
  if (s.headerBytes) {
    buf.set(s.headerBytes, pos);
    pos += s.headerBytes.length;
  }
  if (s.rkLen) pos = writeStringField(buf, pos, 5, s.routingKey, s.rkLen);
  if (s.queueId !== undefined) {
    buf[pos++] = (6 << 3) | WIRE_VARINT;
    pos = writeVarint(buf, pos, s.queueId);
  }
  if (s.dedupLen) pos = writeStringField(buf, pos, 7, s.dedupId, s.dedupLen);
  if (s.delay !== undefined) {
    buf[pos++] = (8 << 3) | WIRE_VARINT;
    pos = writeBigVarint(buf, pos, s.delay);
  }
  if (s.deliverAt !== undefined) {
    buf[pos++] = (9 << 3) | WIRE_VARINT;
    pos = writeBigVarint(buf, pos, s.deliverAt);
  }
  if (s.ttl !== undefined) {
    buf[pos++] = (10 << 3) | WIRE_VARINT;
    pos = writeBigVarint(buf, pos, s.ttl);
  }
  // Nothing kept: the payload is not held past the write.
  s.bytes = EMPTY;
  s.headerBytes = undefined;
  return pos;
}
