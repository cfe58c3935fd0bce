/**
 * Hand-written protobuf encoders for the messages of docs/PROTOCOL.md that the
 * TCP front and client send. They follow proto3's canonical encoding (fields
 * in number order, default values left out), which is what protobuf-es
 * writes; test/tcp/proto-wire.test.ts checks them against it.
 */
import { type WireMessage, timestampNs } from './message.js';
import {
  WIRE_LEN,
  WIRE_VARINT,
  bigVarintSize,
  lenFieldSize,
  utf8Length,
  varintSize,
  writeBigVarint,
  writeBytesField,
  writeLenHeader,
  writeStringField,
  writeVarint,
} from './proto-wire.js';

/** Appends fields to a growing buffer; for messages sized at runtime. */
export class PbBuilder {
  private buf: Buffer;
  private pos = 0;

  constructor(capacity = 128) {
    this.buf = Buffer.allocUnsafe(capacity);
  }

  string(field: number, s: string | undefined): this {
    if (!s) return this;
    const n = utf8Length(s);
    this.ensure(n + 12);
    this.pos = writeStringField(this.buf, this.pos, field, s, n);
    return this;
  }

  bytes(field: number, b: Uint8Array): this {
    if (b.length === 0) return this;
    this.ensure(b.length + 12);
    this.pos = writeLenHeader(this.buf, this.pos, field, b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }

  /** An embedded message, written even when empty (it marks a oneof case). */
  message(field: number, b: Uint8Array): this {
    this.ensure(b.length + 12);
    this.pos = writeLenHeader(this.buf, this.pos, field, b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }

  int32(field: number, n: number | undefined, keepZero = false): this {
    if (n === undefined || (n === 0 && !keepZero)) return this;
    this.ensure(12);
    this.buf[this.pos++] = (field << 3) | WIRE_VARINT;
    this.pos = writeVarint(this.buf, this.pos, n);
    return this;
  }

  uint64(field: number, n: bigint): this {
    if (n === 0n) return this;
    this.ensure(12);
    this.buf[this.pos++] = (field << 3) | WIRE_VARINT;
    this.pos = writeBigVarint(this.buf, this.pos, n);
    return this;
  }

  bool(field: number, b: boolean): this {
    if (!b) return this;
    this.ensure(2);
    this.buf[this.pos++] = (field << 3) | WIRE_VARINT;
    this.buf[this.pos++] = 1;
    return this;
  }

  /** A map<string,string> field: one entry message per key. */
  map(field: number, m: Readonly<Record<string, string>> | undefined): this {
    if (!m) return this;
    for (const k in m) {
      const entry = new PbBuilder(32).string(1, k).string(2, m[k]).finish();
      this.message(field, entry);
    }
    return this;
  }

  finish(): Buffer {
    return this.buf.subarray(0, this.pos);
  }

  private ensure(n: number): void {
    if (this.buf.length - this.pos >= n) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
}

// ---- Message (subscribe pushes, consume replies): sized, then written in one pass ----

const lengths: number[] = [];

/** Encoded size of `Message` for `m`; leaves string lengths for `writeMessage`. */
export function messageSize(m: WireMessage, ts: bigint): number {
  const idLen = utf8Length(m.id);
  const nsLen = utf8Length(m.namespace);
  const topicLen = utf8Length(m.topic);
  lengths.length = 0;
  lengths.push(idLen, nsLen, topicLen);
  let size = 0;
  if (idLen) size += lenFieldSize(idLen);
  if (nsLen) size += lenFieldSize(nsLen);
  if (topicLen) size += lenFieldSize(topicLen);
  if (m.queueId !== 0) size += 1 + varintSize(m.queueId);
  if (m.payload.length) size += lenFieldSize(m.payload.length);
  if (ts !== 0n) size += 1 + bigVarintSize(ts);
  const h = m.headers;
  if (h) {
    for (const k in h) {
      const kl = utf8Length(k);
      const vl = utf8Length(h[k]!);
      const entry = (kl ? lenFieldSize(kl) : 0) + (vl ? lenFieldSize(vl) : 0);
      lengths.push(kl, vl, entry);
      size += lenFieldSize(entry);
    }
  }
  if (m.deliveryCount) size += 1 + varintSize(m.deliveryCount);
  return size;
}

/** Writes `Message` for `m` at `pos`; call right after `messageSize(m, ts)`. */
export function writeMessage(buf: Buffer, pos: number, m: WireMessage, ts: bigint): number {
  const idLen = lengths[0]!;
  const nsLen = lengths[1]!;
  const topicLen = lengths[2]!;
  if (idLen) pos = writeStringField(buf, pos, 1, m.id, idLen);
  if (nsLen) pos = writeStringField(buf, pos, 2, m.namespace, nsLen);
  if (topicLen) pos = writeStringField(buf, pos, 3, m.topic, topicLen);
  if (m.queueId !== 0) {
    buf[pos++] = (4 << 3) | WIRE_VARINT;
    pos = writeVarint(buf, pos, m.queueId);
  }
  if (m.payload.length) pos = writeBytesField(buf, pos, 5, m.payload);
  if (ts !== 0n) {
    buf[pos++] = (6 << 3) | WIRE_VARINT;
    pos = writeBigVarint(buf, pos, ts);
  }
  const h = m.headers;
  if (h) {
    let i = 3;
    for (const k in h) {
      const kl = lengths[i++]!;
      const vl = lengths[i++]!;
      const entry = lengths[i++]!;
      buf[pos++] = (7 << 3) | WIRE_LEN;
      pos = writeVarint(buf, pos, entry);
      if (kl) pos = writeStringField(buf, pos, 1, k, kl);
      if (vl) pos = writeStringField(buf, pos, 2, h[k]!, vl);
    }
  }
  if (m.deliveryCount) {
    buf[pos++] = (8 << 3) | WIRE_VARINT;
    pos = writeVarint(buf, pos, m.deliveryCount);
  }
  return pos;
}

/** `Message` for `m` as its own buffer. */
export function encodeMessage(m: WireMessage): Buffer {
  const ts = timestampNs(m);
  const size = messageSize(m, ts);
  const buf = Buffer.allocUnsafe(size);
  writeMessage(buf, 0, m, ts);
  return buf;
}

/** Sizes and timestamps of messages, measured once for `writeMessages`. */
export interface MeasuredMessages {
  readonly msgs: readonly WireMessage[];
  readonly sizes: number[];
  readonly ts: bigint[];
  /** Encoded size of `ConsumeResponse{1 messages: repeated Message}`. */
  readonly total: number;
}

export function measureMessages(msgs: readonly WireMessage[]): MeasuredMessages {
  const sizes: number[] = [];
  const ts: bigint[] = [];
  let total = 0;
  for (const m of msgs) {
    const t = timestampNs(m);
    const size = messageSize(m, t);
    ts.push(t);
    sizes.push(size);
    total += lenFieldSize(size);
  }
  return { msgs, sizes, ts, total };
}

/** Writes the repeated `messages` field (1) of ConsumeResponse at `pos`. */
export function writeMessages(buf: Buffer, pos: number, mm: MeasuredMessages): number {
  for (let i = 0; i < mm.msgs.length; i++) {
    const m = mm.msgs[i]!;
    buf[pos++] = (1 << 3) | WIRE_LEN;
    pos = writeVarint(buf, pos, mm.sizes[i]!);
    messageSize(m, mm.ts[i]!); // refills the string lengths writeMessage reads
    pos = writeMessage(buf, pos, m, mm.ts[i]!);
  }
  return pos;
}

/** `ConsumeResponse{1 messages: repeated Message}` as its own buffer. */
export function encodeMessages(ms: readonly WireMessage[]): Buffer {
  const mm = measureMessages(ms);
  const buf = Buffer.allocUnsafe(mm.total);
  writeMessages(buf, 0, mm);
  return buf;
}
