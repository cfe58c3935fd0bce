/**
 * The AOF's record framing. On disk every record is
 *
 *   u32be bodyLength | u32be crc32(body) | body
 *
 * and a body is a u8 record type followed by its fields: strings as u16
 * length + utf8, counts and queue numbers as u32, timestamps as f64, the
 * payload as u32 length + bytes, headers as u16 count + key/value strings
 * (0 means no headers), id lists as u32 count + strings, versions as u64.
 * All integers are big-endian. Absolute times (delays, dedup expiry,
 * message expiry) and policy durations are f64 milliseconds.
 *
 * Formats only grow: a record type keeps its layout once written, and a
 * new field is a new record type (TopicPolicyEx beside TopicPolicy) or a
 * new PublishEx flag, so a log written by an older version still loads.
 *
 * The length comes first so a reader can tell a torn tail (fewer bytes than
 * announced) from a corrupt record (checksum mismatch) without trusting the
 * body; the checksum covers only the body because a wrong length is caught
 * by the bytes that follow it (docs/DESIGN.md, "Durability contract (the AOF)").
 */
import { crc32 } from 'node:zlib';
import { PayloadArena } from './payload-arena.js';
import type { LogRecord, MessageRecordFields, Move, PublishExFields, RecordSink, TopicPolicyFields } from './store.js';

/** Owned copies of replayed payloads (see `bytes()`). */
const replayArena = new PayloadArena();

export const FRAME_HEADER_BYTES = 8;
/**
 * No record may announce a body larger than this. A length field above it
 * is corruption, never a torn write, and is rejected before any buffer of
 * that size is allocated.
 */
export const MAX_RECORD_BYTES = 1 << 30;

const enum RecordType {
  NsCreate = 1,
  NsDelete = 2,
  TopicCreate = 3,
  TopicDelete = 4,
  Publish = 5,
  Pop = 6,
  Ack = 7,
  Requeue = 8,
  Move = 9,
  Resize = 10,
  ResizeFinal = 11,
  TopicRestore = 12,
  TopicPolicy = 13,
  PublishEx = 14,
  Nack = 15,
  Visible = 16,
  DeadLetter = 17,
  DlqPop = 18,
  Redrive = 19,
  Dedup = 20,
  PauseState = 21,
  Purge = 22,
  /** TopicPolicy plus ack timeout, message TTL and dead-lettering of expired messages. */
  TopicPolicyEx = 23,
  Expire = 24,
}

const PUBLISH_EX_TO_DLQ = 1;
const PUBLISH_EX_DEDUP = 2;
/** An f64 expiry time (Unix ms) follows the dedup fields. */
const PUBLISH_EX_EXPIRES = 4;
const PUBLISH_EX_FLAGS = PUBLISH_EX_TO_DLQ | PUBLISH_EX_DEDUP | PUBLISH_EX_EXPIRES;

/** zlib's CRC-32 table (reflected polynomial 0xEDB88320). */
const CRC_TABLE = (() => {
  const table = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c;
  }
  return table;
})();

/** Bodies up to this size are checksummed here rather than through a view for zlib's crc32. */
const JS_CRC_MAX_BYTES = 128;

/**
 * zlib's crc32 of buf[start, end), continuing `crc`, computed in place:
 * for the few bytes of a record around a payload, where zlib's crc32 would
 * need a view of them, an allocation per record.
 */
function crc32Range(buf: Uint8Array, start: number, end: number, crc: number): number {
  let c = ~crc;
  for (let i = start; i < end; i++) c = CRC_TABLE[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/**
 * Buffer's own utf8Write/utf8Slice skip the argument handling of
 * write()/toString(), which costs as much as the copy for the short names
 * and ids of every record. They are undocumented, so fall back when absent.
 */
interface RawStringAccess {
  utf8Write?(s: string, offset: number): number;
  utf8Slice?(start: number, end: number): string;
}
const rawProto = Buffer.prototype as unknown as RawStringAccess;
const RAW_UTF8 = typeof rawProto.utf8Write === 'function' && typeof rawProto.utf8Slice === 'function';

function utf8Write(buf: Buffer, s: string, offset: number): number {
  return RAW_UTF8 ? (buf as unknown as Required<RawStringAccess>).utf8Write(s, offset) : buf.write(s, offset, 'utf8');
}

function utf8Slice(buf: Buffer, start: number, end: number): string {
  return RAW_UTF8 ? (buf as unknown as Required<RawStringAccess>).utf8Slice(start, end) : buf.toString('utf8', start, end);
}

/**
 * The last namespace or topic name decoded: consecutive records nearly
 * always name the same ones, and comparing a few bytes is cheaper than
 * making a new string.
 */
class NameCache {
  private readonly bytes = Buffer.alloc(64);
  private len = -1;
  private value = '';

  get(buf: Buffer, start: number, len: number): string {
    if (len === this.len) {
      const bytes = this.bytes;
      let i = 0;
      while (i < len && bytes[i] === buf[start + i]) i++;
      if (i === len) return this.value;
    }
    const value = utf8Slice(buf, start, start + len);
    if (len <= this.bytes.length) {
      buf.copy(this.bytes, 0, start, start + len);
      this.len = len;
      this.value = value;
    }
    return value;
  }
}

const nsNames = new NameCache();
const topicNames = new NameCache();

/** Bytes a string may take in the buffer, before its exact utf8 length is known. */
function strRoom(s: string): number {
  // A UTF-16 code unit never needs more than 3 utf8 bytes, so short strings
  // skip the exact count; only very long ones pay for Buffer.byteLength.
  if (s.length > 0x5555 && Buffer.byteLength(s, 'utf8') > 0xffff) {
    throw new RangeError(`string of ${Buffer.byteLength(s, 'utf8')} bytes does not fit an AOF record (max 65535)`);
  }
  return 2 + s.length * 3;
}

/**
 * Encodes records straight into a growable buffer: the publish hot path
 * allocates nothing per record beyond what Buffer.write needs. `take()`
 * hands out the bytes written since the last take as a view of the current
 * slab; later records go after it, so a taken view stays valid while a
 * write of it is in flight.
 */
export class RecordEncoder implements RecordSink {
  private buf: Buffer;
  private pos = 0;
  /** Start of the bytes not yet taken. */
  private start = 0;
  /** Start of the record being encoded, to roll back a record that failed halfway. */
  private rec = 0;
  private readonly slabBytes: number;
  /** The payload of the record being encoded (its last field) and where it starts, for end()'s checksum. */
  private payload: Uint8Array | undefined;
  private payloadAt = 0;
  /** Records encoded since this encoder was made. */
  records = 0;

  /**
   * @param onRecord called after each whole record (the file store uses it
   *   to schedule the batch's write)
   */
  constructor(slabBytes = 64 * 1024, private readonly onRecord?: () => void) {
    this.slabBytes = slabBytes;
    this.buf = Buffer.allocUnsafe(slabBytes);
  }

  /** Bytes encoded and not yet taken. */
  get size(): number {
    return this.pos - this.start;
  }

  /** The bytes encoded since the last take; the encoder keeps going after them. */
  take(): Buffer {
    const out = this.buf.subarray(this.start, this.pos);
    this.start = this.pos;
    return out;
  }

  /**
   * Promises that no view handed out by take() is used any more (the
   * bytes were written synchronously), so the slab is written over instead
   * of a new one being allocated: the append hot path then touches the
   * same warm memory batch after batch.
   */
  recycle(): void {
    if (this.pos === this.start) {
      this.pos = 0;
      this.start = 0;
    }
  }

  /**
   * Hands out the untaken bytes with the slab that holds them, and goes on
   * in `next`, a slab whose bytes the caller no longer needs. A rewrite
   * alternates two slabs this way (one being written, one being filled)
   * instead of allocating a gigabyte of short-lived buffers, whose external
   * memory would set off full garbage collections mid-rewrite.
   */
  swapSlab(next: Buffer): { bytes: Buffer; slab: Buffer } {
    const slab = this.buf;
    const bytes = slab.subarray(this.start, this.pos);
    this.buf = next;
    this.start = 0;
    this.pos = 0;
    return { bytes, slab };
  }

  /** Drops the bytes not yet taken (a store that refuses writes after a failure). */
  discard(): void {
    this.pos = this.start;
  }

  nsCreate(ns: string): void {
    this.begin(RecordType.NsCreate, strRoom(ns));
    try {
      this.str(ns);
    } catch (err) {
      this.rollback(err);
    }
    this.end();
  }

  nsDelete(ns: string): void {
    this.begin(RecordType.NsDelete, strRoom(ns));
    try {
      this.str(ns);
    } catch (err) {
      this.rollback(err);
    }
    this.end();
  }

  topicCreate(ns: string, topic: string, queueCount: number): void {
    this.begin(RecordType.TopicCreate, strRoom(ns) + strRoom(topic) + 4);
    try {
      this.str(ns);
      this.str(topic);
      this.u32(queueCount);
    } catch (err) {
      this.rollback(err);
    }
    this.end();
  }

  topicDelete(ns: string, topic: string): void {
    this.begin(RecordType.TopicDelete, strRoom(ns) + strRoom(topic));
    try {
      this.str(ns);
      this.str(topic);
    } catch (err) {
      this.rollback(err);
    }
    this.end();
  }

  publish(ns: string, topic: string, queue: number, msg: MessageRecordFields): void {
    this.begin(RecordType.Publish, strRoom(ns) + strRoom(topic) + 4 + messageRoom(msg));
    try {
      this.str(ns);
      this.str(topic);
      this.u32(queue);
      this.message(msg);
    } catch (err) {
      this.rollback(err);
    }
    this.end();
  }

  publishEx(ns: string, topic: string, queue: number, msg: MessageRecordFields, ex: PublishExFields): void {
    const dedup = ex.dedupId !== undefined;
    const expiresAt = ex.expiresAt ?? 0;
    const expires = expiresAt > 0;
    const room = strRoom(ns) + strRoom(topic) + 4 + 1 + 4 + 8 + (dedup ? strRoom(ex.dedupId) + 8 : 0) + (expires ? 8 : 0) + messageRoom(msg);
    this.begin(RecordType.PublishEx, room);
    try {
      this.str(ns);
      this.str(topic);
      this.u32(queue);
      this.buf[this.pos++] = (ex.toDlq ? PUBLISH_EX_TO_DLQ : 0) | (dedup ? PUBLISH_EX_DEDUP : 0) | (expires ? PUBLISH_EX_EXPIRES : 0);
      this.u32(ex.deliveryCount);
      this.f64(ex.visibleAt);
      if (dedup) {
        this.str(ex.dedupId);
        this.f64(ex.dedupExpiresAt);
      }
      if (expires) this.f64(expiresAt);
      this.message(msg);
    } catch (err) {
      this.rollback(err);
    }
    this.end();
  }

  /**
   * The old TopicPolicy record while the newer fields are at their
   * defaults (a log that never used them stays readable by older
   * versions), else TopicPolicyEx.
   */
  topicPolicy(ns: string, topic: string, policy: TopicPolicyFields): void {
    const ackTimeoutMs = policy.ackTimeoutMs ?? 0;
    const messageTtlMs = policy.messageTtlMs ?? 0;
    const deadLetterExpired = policy.deadLetterExpired === true;
    const ex = ackTimeoutMs !== 0 || messageTtlMs !== 0 || deadLetterExpired;
    this.begin(ex ? RecordType.TopicPolicyEx : RecordType.TopicPolicy, strRoom(ns) + strRoom(topic) + (ex ? 49 : 32));
    try {
      this.str(ns);
      this.str(topic);
      this.f64(policy.maxRetries);
      this.f64(policy.baseMs);
      this.f64(policy.capMs);
      this.f64(policy.dedupWindowMs);
      if (ex) {
        this.f64(ackTimeoutMs);
        this.f64(messageTtlMs);
        this.buf[this.pos++] = deadLetterExpired ? 1 : 0;
      }
    } catch (err) {
      this.rollback(err);
    }
    this.end();
  }

  expire(ns: string, topic: string, queue: number, count: number, toDlq: boolean): void {
    this.begin(RecordType.Expire, strRoom(ns) + strRoom(topic) + 9);
    try {
      this.str(ns);
      this.str(topic);
      this.u32(queue);
      this.u32(count);
      this.buf[this.pos++] = toDlq ? 1 : 0;
    } catch (err) {
      this.rollback(err);
    }
    this.end();
  }

  nack(ns: string, topic: string, ids: readonly string[], visibleAt: readonly number[]): void {
    if (visibleAt.length !== ids.length) throw new RangeError(`nack record with ${ids.length} ids and ${visibleAt.length} times`);
    let room = strRoom(ns) + strRoom(topic) + 4;
    for (const id of ids) room += strRoom(id) + 8;
    this.begin(RecordType.Nack, room);
    try {
      this.str(ns);
      this.str(topic);
      this.u32(ids.length);
      for (let i = 0; i < ids.length; i++) {
        this.str(ids[i]!);
        this.f64(visibleAt[i]!);
      }
    } catch (err) {
      this.rollback(err);
    }
    this.end();
  }

  visible(ns: string, topic: string, ids: readonly string[]): void {
    this.idList(RecordType.Visible, ns, topic, ids);
  }

  deadLetter(ns: string, topic: string, reason: string, ids: readonly string[]): void {
    this.idList(RecordType.DeadLetter, ns, topic, ids, reason);
  }

  dlqPop(ns: string, topic: string, count: number, autoAck: boolean): void {
    this.begin(RecordType.DlqPop, strRoom(ns) + strRoom(topic) + 5);
    try {
      this.str(ns);
      this.str(topic);
      this.u32(count);
      this.buf[this.pos++] = autoAck ? 1 : 0;
    } catch (err) {
      this.rollback(err);
    }
    this.end();
  }

  redrive(ns: string, topic: string, queues: readonly number[]): void {
    this.begin(RecordType.Redrive, strRoom(ns) + strRoom(topic) + 4 + queues.length * 4);
    try {
      this.str(ns);
      this.str(topic);
      this.u32(queues.length);
      for (const q of queues) this.u32(q);
    } catch (err) {
      this.rollback(err);
    }
    this.end();
  }

  dedup(ns: string, topic: string, key: string, id: string, queue: number, expiresAt: number): void {
    this.begin(RecordType.Dedup, strRoom(ns) + strRoom(topic) + strRoom(key) + strRoom(id) + 12);
    try {
      this.str(ns);
      this.str(topic);
      this.str(key);
      this.str(id);
      this.u32(queue);
      this.f64(expiresAt);
    } catch (err) {
      this.rollback(err);
    }
    this.end();
  }

  pop(ns: string, topic: string, queue: number, count: number, autoAck: boolean): void {
    this.begin(RecordType.Pop, strRoom(ns) + strRoom(topic) + 9);
    try {
      this.str(ns);
      this.str(topic);
      this.u32(queue);
      this.u32(count);
      this.buf[this.pos++] = autoAck ? 1 : 0;
    } catch (err) {
      this.rollback(err);
    }
    this.end();
  }

  ack(ns: string, topic: string, ids: readonly string[]): void {
    this.idList(RecordType.Ack, ns, topic, ids);
  }

  requeue(ns: string, topic: string, ids: readonly string[]): void {
    this.idList(RecordType.Requeue, ns, topic, ids);
  }

  move(ns: string, topic: string, moves: readonly Move[]): void {
    this.begin(RecordType.Move, strRoom(ns) + strRoom(topic) + 4 + moves.length * 12);
    try {
      this.str(ns);
      this.str(topic);
      this.u32(moves.length);
      for (const m of moves) {
        this.u32(m.from);
        this.u32(m.to);
        this.u32(m.count);
      }
    } catch (err) {
      this.rollback(err);
    }
    this.end();
  }

  resize(ns: string, topic: string, queueCount: number): void {
    this.begin(RecordType.Resize, strRoom(ns) + strRoom(topic) + 4);
    try {
      this.str(ns);
      this.str(topic);
      this.u32(queueCount);
    } catch (err) {
      this.rollback(err);
    }
    this.end();
  }

  pauseState(ns: string, topic: string, paused: boolean): void {
    this.begin(RecordType.PauseState, strRoom(ns) + strRoom(topic) + 1);
    try {
      this.str(ns);
      this.str(topic);
      this.buf[this.pos++] = paused ? 1 : 0;
    } catch (err) {
      this.rollback(err);
    }
    this.end();
  }

  /** `queue` -1 (every queue) is written as 0xFFFFFFFF. */
  purge(ns: string, topic: string, queue: number, dlq: boolean): void {
    this.begin(RecordType.Purge, strRoom(ns) + strRoom(topic) + 5);
    try {
      this.str(ns);
      this.str(topic);
      this.u32(queue < 0 ? 0xffffffff : queue);
      this.buf[this.pos++] = dlq ? 1 : 0;
    } catch (err) {
      this.rollback(err);
    }
    this.end();
  }

  resizeFinal(ns: string, topic: string): void {
    this.begin(RecordType.ResizeFinal, strRoom(ns) + strRoom(topic));
    try {
      this.str(ns);
      this.str(topic);
    } catch (err) {
      this.rollback(err);
    }
    this.end();
  }

  topicRestore(ns: string, topic: string, queueCount: number, activeCount: number, version: bigint): void {
    this.begin(RecordType.TopicRestore, strRoom(ns) + strRoom(topic) + 16);
    try {
      this.str(ns);
      this.str(topic);
      this.u32(queueCount);
      this.u32(activeCount);
      this.pos = this.buf.writeBigUInt64BE(version, this.pos);
    } catch (err) {
      this.rollback(err);
    }
    this.end();
  }

  /** ns, topic, an optional leading string (a dead letter's reason), then the ids. */
  private idList(type: RecordType, ns: string, topic: string, ids: readonly string[], lead?: string): void {
    let room = strRoom(ns) + strRoom(topic) + 4 + (lead === undefined ? 0 : strRoom(lead));
    for (const id of ids) room += strRoom(id);
    this.begin(type, room);
    try {
      this.str(ns);
      this.str(topic);
      if (lead !== undefined) this.str(lead);
      this.u32(ids.length);
      for (const id of ids) this.str(id);
    } catch (err) {
      this.rollback(err);
    }
    this.end();
  }

  /** Makes room for a whole record, then reserves its frame header and writes its type. */
  private begin(type: RecordType, bodyRoom: number): void {
    const need = FRAME_HEADER_BYTES + 1 + bodyRoom;
    if (this.pos + need > this.buf.length) this.grow(need);
    this.rec = this.pos;
    this.payload = undefined;
    this.buf[this.pos + FRAME_HEADER_BYTES] = type;
    this.pos += FRAME_HEADER_BYTES + 1;
  }

  /**
   * Frames the record. Its checksum allocates nothing: a payload is the
   * body's last field and already a view, so zlib's crc32 of it continues
   * the crc of the bytes before it; small bodies are checksummed in place.
   * (A view per record was most of what a rewrite allocated: a young
   * collection every 13 MB, each a pause of the event loop.)
   */
  private end(): void {
    const body = this.rec + FRAME_HEADER_BYTES;
    const buf = this.buf;
    buf.writeUInt32BE(this.pos - body, this.rec);
    const payload = this.payload;
    let crc: number;
    if (payload !== undefined) {
      crc = crc32(payload, crc32Range(buf, body, this.payloadAt, 0));
      this.payload = undefined;
    } else {
      crc = this.pos - body <= JS_CRC_MAX_BYTES ? crc32Range(buf, body, this.pos, 0) : crc32(buf.subarray(body, this.pos));
    }
    buf.writeUInt32BE(crc, this.rec + 4);
    this.records++;
    if (this.onRecord !== undefined) this.onRecord();
  }

  /** A field failed validation: forget the half-written record so the log never holds it. */
  private rollback(err: unknown): never {
    this.pos = this.rec;
    throw err;
  }

  /** Moves the untaken bytes to a new slab: taken views keep pointing at the old one. */
  private grow(need: number): void {
    const live = this.pos - this.start;
    const next = Buffer.allocUnsafe(Math.max(this.slabBytes, 2 * (live + need)));
    this.buf.copy(next, 0, this.start, this.pos);
    this.buf = next;
    this.start = 0;
    this.pos = live;
  }

  private str(s: string): void {
    const n = utf8Write(this.buf, s, this.pos + 2);
    this.buf[this.pos] = n >>> 8;
    this.buf[this.pos + 1] = n & 0xff;
    this.pos += 2 + n;
  }

  private u32(n: number): void {
    this.pos = this.buf.writeUInt32BE(n, this.pos);
  }

  private f64(n: number): void {
    this.pos = this.buf.writeDoubleBE(n, this.pos);
  }

  /** A message's own fields: id, timestamp, headers, payload (shared by publish and publishEx). */
  private message(msg: MessageRecordFields): void {
    const headers = msg.headers;
    this.str(msg.id);
    this.pos = this.buf.writeDoubleBE(msg.timestampMs, this.pos);
    const countAt = this.pos;
    this.pos += 2;
    let count = 0;
    if (headers !== undefined) {
      for (const key in headers) {
        this.str(key);
        this.str(headers[key]!);
        count++;
      }
    }
    if (count > 0xffff) throw new RangeError(`${count} headers do not fit an AOF record (max 65535)`);
    this.buf.writeUInt16BE(count, countAt);
    const payload = msg.payload;
    this.pos = this.buf.writeUInt32BE(payload.length, this.pos);
    this.buf.set(payload, this.pos);
    this.payload = payload;
    this.payloadAt = this.pos;
    this.pos += payload.length;
  }
}

/** Bytes a message's fields may take (checked before anything is written). */
function messageRoom(msg: MessageRecordFields): number {
  const headers = msg.headers;
  let room = strRoom(msg.id) + 8 + 2 + 4 + msg.payload.length;
  if (headers !== undefined) {
    for (const key in headers) room += strRoom(key) + strRoom(headers[key]!);
  }
  if (msg.payload.length > MAX_RECORD_BYTES - 1024) {
    throw new RangeError(`payload of ${msg.payload.length} bytes does not fit an AOF record`);
  }
  return room;
}

// ---------------------------------------------------------------------------
// Decoding

export type FrameProblemKind = 'short-header' | 'short-body' | 'bad-length' | 'crc' | 'malformed';

export interface FrameProblem {
  readonly kind: FrameProblemKind;
  /** Offset of the frame's first byte, relative to the buffer given to decodeFrames. */
  readonly offset: number;
  readonly detail: string;
  /** End of the bad frame when its length field was plausible (crc, malformed). */
  readonly frameEnd?: number;
}

export interface DecodeResult {
  /** Offset of the first byte not consumed: the next frame, or the bad one. */
  readonly next: number;
  readonly records: number;
  readonly problem?: FrameProblem;
  /** Set when the region ended inside a frame that continues past it: the reader must supply this many bytes from `next`. */
  readonly needBytes?: number;
}

class MalformedRecord extends Error {}

/** A bounds-checked cursor over one record body. */
class BodyReader {
  private buf: Buffer = Buffer.alloc(0);
  private end = 0;
  pos = 0;
  /** Payloads are views into the buffer decoded, not copies (see bytes()). */
  views = false;

  /** Points the reader at the next body: one reader serves every record, no allocation each. */
  reset(buf: Buffer, start: number, end: number): this {
    this.buf = buf;
    this.pos = start;
    this.end = end;
    return this;
  }

  private need(n: number): void {
    if (this.pos + n > this.end) throw new MalformedRecord(`field runs past the end of the record body`);
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  u16(): number {
    this.need(2);
    const v = (this.buf[this.pos]! << 8) | this.buf[this.pos + 1]!;
    this.pos += 2;
    return v;
  }

  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  f64(): number {
    this.need(8);
    const v = this.buf.readDoubleBE(this.pos);
    this.pos += 8;
    return v;
  }

  u64(): bigint {
    this.need(8);
    const v = this.buf.readBigUInt64BE(this.pos);
    this.pos += 8;
    return v;
  }

  str(): string {
    const n = this.u16();
    this.need(n);
    const s = utf8Slice(this.buf, this.pos, this.pos + n);
    this.pos += n;
    return s;
  }

  /** A namespace or topic name, through its cache. */
  name(cache: NameCache): string {
    const n = this.u16();
    this.need(n);
    const s = cache.get(this.buf, this.pos, n);
    this.pos += n;
    return s;
  }

  /**
   * The payload: an owned copy, as replayed payloads must not pin the big
   * read chunk, carved from a shared slab as live publishes are (one
   * ArrayBuffer per few hundred payloads keeps the GC quiet while a
   * million replayed messages pile up; Buffer.allocUnsafe's 8 KiB pool made
   * replay slow down as the heap grew). With `views` (records only
   * validated, then dropped: aof check, the torn-tail probe), a view: a
   * copy there only costs fresh pages, a page fault per 4 KiB.
   */
  bytes(): Uint8Array {
    const n = this.u32();
    this.need(n);
    const out = this.views ? this.buf.subarray(this.pos, this.pos + n) : replayArena.copy(this.buf.subarray(this.pos, this.pos + n));
    this.pos += n;
    return out;
  }

  ids(): string[] {
    const n = this.u32();
    // Each id takes at least its 2-byte length: a count beyond that is corrupt.
    if (n * 2 > this.end - this.pos) throw new MalformedRecord(`id count ${n} exceeds the record body`);
    const ids = new Array<string>(n);
    for (let i = 0; i < n; i++) ids[i] = this.str();
    return ids;
  }

  done(): void {
    if (this.pos !== this.end) throw new MalformedRecord(`${this.end - this.pos} unexpected bytes after the last field`);
  }
}

function decodeHeaders(r: BodyReader): Record<string, string> | undefined {
  const n = r.u16();
  if (n === 0) return undefined;
  const headers: Record<string, string> = {};
  for (let i = 0; i < n; i++) {
    const key = r.str();
    const value = r.str();
    if (key === '__proto__') {
      Object.defineProperty(headers, key, { value, enumerable: true, writable: true, configurable: true });
    } else {
      headers[key] = value;
    }
  }
  return headers;
}

/** Decodes one body (already checksummed). Throws MalformedRecord on a body that does not parse. */
const bodyReader = new BodyReader();

function decodeBody(buf: Buffer, start: number, end: number, views: boolean): LogRecord {
  const r = bodyReader.reset(buf, start, end);
  r.views = views;
  const type = r.u8();
  let rec: LogRecord;
  switch (type) {
    case RecordType.NsCreate:
      rec = { type: 'nsCreate', ns: r.name(nsNames) };
      break;
    case RecordType.NsDelete:
      rec = { type: 'nsDelete', ns: r.name(nsNames) };
      break;
    case RecordType.TopicCreate:
      rec = { type: 'topicCreate', ns: r.name(nsNames), topic: r.name(topicNames), queueCount: r.u32() };
      break;
    case RecordType.TopicDelete:
      rec = { type: 'topicDelete', ns: r.name(nsNames), topic: r.name(topicNames) };
      break;
    case RecordType.Publish: {
      const ns = r.name(nsNames);
      const topic = r.name(topicNames);
      const queue = r.u32();
      const id = r.str();
      const timestampMs = r.f64();
      const headers = decodeHeaders(r);
      const payload = r.bytes();
      rec = { type: 'publish', ns, topic, queue, id, timestampMs, payload, headers };
      break;
    }
    case RecordType.PublishEx: {
      const ns = r.name(nsNames);
      const topic = r.name(topicNames);
      const queue = r.u32();
      const flags = r.u8();
      if ((flags & ~PUBLISH_EX_FLAGS) !== 0) throw new MalformedRecord(`unknown publish flags ${flags}`);
      const deliveryCount = r.u32();
      const visibleAt = r.f64();
      const dedup = (flags & PUBLISH_EX_DEDUP) !== 0;
      const dedupId = dedup ? r.str() : undefined;
      const dedupExpiresAt = dedup ? r.f64() : 0;
      const expiresAt = (flags & PUBLISH_EX_EXPIRES) !== 0 ? r.f64() : 0;
      const id = r.str();
      const timestampMs = r.f64();
      const headers = decodeHeaders(r);
      const payload = r.bytes();
      rec = {
        type: 'publishEx',
        ns,
        topic,
        queue,
        id,
        timestampMs,
        payload,
        headers,
        toDlq: (flags & PUBLISH_EX_TO_DLQ) !== 0,
        deliveryCount,
        visibleAt,
        dedupId,
        dedupExpiresAt,
        expiresAt,
      };
      break;
    }
    case RecordType.TopicPolicy:
      rec = {
        type: 'topicPolicy',
        ns: r.name(nsNames),
        topic: r.name(topicNames),
        maxRetries: r.f64(),
        baseMs: r.f64(),
        capMs: r.f64(),
        dedupWindowMs: r.f64(),
      };
      break;
    case RecordType.TopicPolicyEx: {
      const ns = r.name(nsNames);
      const topic = r.name(topicNames);
      const maxRetries = r.f64();
      const baseMs = r.f64();
      const capMs = r.f64();
      const dedupWindowMs = r.f64();
      const ackTimeoutMs = r.f64();
      const messageTtlMs = r.f64();
      const flag = r.u8();
      if (flag > 1) throw new MalformedRecord(`dead-letter-expired flag ${flag} is neither 0 nor 1`);
      rec = { type: 'topicPolicy', ns, topic, maxRetries, baseMs, capMs, dedupWindowMs, ackTimeoutMs, messageTtlMs, deadLetterExpired: flag === 1 };
      break;
    }
    case RecordType.Expire: {
      const ns = r.name(nsNames);
      const topic = r.name(topicNames);
      const queue = r.u32();
      const count = r.u32();
      const flag = r.u8();
      if (flag > 1) throw new MalformedRecord(`dead-letter flag ${flag} is neither 0 nor 1`);
      rec = { type: 'expire', ns, topic, queue, count, toDlq: flag === 1 };
      break;
    }
    case RecordType.Nack: {
      const ns = r.name(nsNames);
      const topic = r.name(topicNames);
      const n = r.u32();
      if (n * 10 > end - r.pos) throw new MalformedRecord(`nack count ${n} exceeds the record body`);
      const ids = new Array<string>(n);
      const visibleAt = new Array<number>(n);
      for (let i = 0; i < n; i++) {
        ids[i] = r.str();
        visibleAt[i] = r.f64();
      }
      rec = { type: 'nack', ns, topic, ids, visibleAt };
      break;
    }
    case RecordType.Visible:
      rec = { type: 'visible', ns: r.name(nsNames), topic: r.name(topicNames), ids: r.ids() };
      break;
    case RecordType.DeadLetter:
      rec = { type: 'deadLetter', ns: r.name(nsNames), topic: r.name(topicNames), reason: r.str(), ids: r.ids() };
      break;
    case RecordType.DlqPop: {
      const ns = r.name(nsNames);
      const topic = r.name(topicNames);
      const count = r.u32();
      const flag = r.u8();
      if (flag > 1) throw new MalformedRecord(`autoAck flag ${flag} is neither 0 nor 1`);
      rec = { type: 'dlqPop', ns, topic, count, autoAck: flag === 1 };
      break;
    }
    case RecordType.Redrive: {
      const ns = r.name(nsNames);
      const topic = r.name(topicNames);
      const n = r.u32();
      if (n * 4 > end - r.pos) throw new MalformedRecord(`redrive count ${n} exceeds the record body`);
      const queues = new Array<number>(n);
      for (let i = 0; i < n; i++) queues[i] = r.u32();
      rec = { type: 'redrive', ns, topic, queues };
      break;
    }
    case RecordType.Dedup:
      rec = {
        type: 'dedup',
        ns: r.name(nsNames),
        topic: r.name(topicNames),
        key: r.str(),
        id: r.str(),
        queue: r.u32(),
        expiresAt: r.f64(),
      };
      break;
    case RecordType.Pop: {
      const ns = r.name(nsNames);
      const topic = r.name(topicNames);
      const queue = r.u32();
      const count = r.u32();
      const flag = r.u8();
      if (flag > 1) throw new MalformedRecord(`autoAck flag ${flag} is neither 0 nor 1`);
      rec = { type: 'pop', ns, topic, queue, count, autoAck: flag === 1 };
      break;
    }
    case RecordType.Ack:
      rec = { type: 'ack', ns: r.name(nsNames), topic: r.name(topicNames), ids: r.ids() };
      break;
    case RecordType.Requeue:
      rec = { type: 'requeue', ns: r.name(nsNames), topic: r.name(topicNames), ids: r.ids() };
      break;
    case RecordType.Move: {
      const ns = r.name(nsNames);
      const topic = r.name(topicNames);
      const n = r.u32();
      if (n * 12 > end - r.pos) throw new MalformedRecord(`move count ${n} exceeds the record body`);
      const moves = new Array<Move>(n);
      for (let i = 0; i < n; i++) moves[i] = { from: r.u32(), to: r.u32(), count: r.u32() };
      rec = { type: 'move', ns, topic, moves };
      break;
    }
    case RecordType.Resize:
      rec = { type: 'resize', ns: r.name(nsNames), topic: r.name(topicNames), queueCount: r.u32() };
      break;
    case RecordType.PauseState: {
      const ns = r.name(nsNames);
      const topic = r.name(topicNames);
      const flag = r.u8();
      if (flag > 1) throw new MalformedRecord(`paused flag ${flag} is neither 0 nor 1`);
      rec = { type: 'pauseState', ns, topic, paused: flag === 1 };
      break;
    }
    case RecordType.Purge: {
      const ns = r.name(nsNames);
      const topic = r.name(topicNames);
      const q = r.u32();
      const flag = r.u8();
      if (flag > 1) throw new MalformedRecord(`dlq flag ${flag} is neither 0 nor 1`);
      rec = { type: 'purge', ns, topic, queue: q === 0xffffffff ? -1 : q, dlq: flag === 1 };
      break;
    }
    case RecordType.ResizeFinal:
      rec = { type: 'resizeFinal', ns: r.name(nsNames), topic: r.name(topicNames) };
      break;
    case RecordType.TopicRestore:
      rec = {
        type: 'topicRestore',
        ns: r.name(nsNames),
        topic: r.name(topicNames),
        queueCount: r.u32(),
        activeCount: r.u32(),
        version: r.u64(),
      };
      break;
    default:
      throw new MalformedRecord(`unknown record type ${type}`);
  }
  r.done();
  return rec;
}

/**
 * Decodes the whole frames in buf[start, end) and hands each record to
 * `apply` (or only validates them when `apply` is undefined).
 *
 * `bytesAfter` is how many bytes of the file lie beyond `end`: a frame that
 * continues past `end` is asked for (`needBytes`) only when the file holds
 * it; a length that runs past the end of the file is reported as
 * `short-body` without allocating anything.
 */
export function decodeFrames(
  buf: Buffer,
  start: number,
  end: number,
  bytesAfter: number,
  apply: ((rec: LogRecord) => void) | undefined,
): DecodeResult {
  let off = start;
  let records = 0;
  while (off < end) {
    const avail = end - off;
    if (avail < FRAME_HEADER_BYTES) {
      if (bytesAfter > 0) return { next: off, records, needBytes: FRAME_HEADER_BYTES };
      return {
        next: off,
        records,
        problem: { kind: 'short-header', offset: off, detail: `${avail} bytes left, a frame header needs ${FRAME_HEADER_BYTES}` },
      };
    }
    const len = buf.readUInt32BE(off);
    if (len === 0 || len > MAX_RECORD_BYTES) {
      return {
        next: off,
        records,
        problem: { kind: 'bad-length', offset: off, detail: `record length ${len} is ${len === 0 ? 'zero' : 'over the limit'}` },
      };
    }
    const frameEnd = off + FRAME_HEADER_BYTES + len;
    if (frameEnd > end) {
      if (len - (avail - FRAME_HEADER_BYTES) > bytesAfter) {
        return {
          next: off,
          records,
          problem: {
            kind: 'short-body',
            offset: off,
            detail: `record length ${len} exceeds the ${avail - FRAME_HEADER_BYTES + bytesAfter} bytes left in the file`,
          },
        };
      }
      return { next: off, records, needBytes: FRAME_HEADER_BYTES + len };
    }
    const body = off + FRAME_HEADER_BYTES;
    const expected = buf.readUInt32BE(off + 4);
    const actual = crc32(buf.subarray(body, frameEnd));
    if (actual !== expected) {
      return {
        next: off,
        records,
        problem: {
          kind: 'crc',
          offset: off,
          frameEnd,
          detail: `checksum mismatch (stored ${expected.toString(16)}, computed ${actual.toString(16)})`,
        },
      };
    }
    let rec: LogRecord;
    try {
      // Records that are only validated are dropped at once: their payloads need no copy.
      rec = decodeBody(buf, body, frameEnd, apply === undefined);
    } catch (err) {
      if (!(err instanceof MalformedRecord || err instanceof RangeError)) throw err;
      return { next: off, records, problem: { kind: 'malformed', offset: off, frameEnd, detail: `malformed record: ${err.message}` } };
    }
    if (apply !== undefined) apply(rec);
    records++;
    off = frameEnd;
  }
  return { next: off, records };
}

/** Decodes a buffer that holds whole records only; throws on anything else. */
export function decodeAll(buf: Buffer): LogRecord[] {
  const out: LogRecord[] = [];
  const res = decodeFrames(buf, 0, buf.length, 0, (rec) => out.push(rec));
  if (res.problem) throw new Error(`bad record at byte offset ${res.problem.offset}: ${res.problem.detail}`);
  return out;
}

/** Writes `rec` into `sink`: the inverse of decoding, used to copy logs and in tests. */
export function writeRecord(sink: RecordSink, rec: LogRecord): void {
  switch (rec.type) {
    case 'nsCreate':
      return sink.nsCreate(rec.ns);
    case 'nsDelete':
      return sink.nsDelete(rec.ns);
    case 'topicCreate':
      return sink.topicCreate(rec.ns, rec.topic, rec.queueCount);
    case 'topicDelete':
      return sink.topicDelete(rec.ns, rec.topic);
    case 'publish':
      return sink.publish(rec.ns, rec.topic, rec.queue, rec);
    case 'pop':
      return sink.pop(rec.ns, rec.topic, rec.queue, rec.count, rec.autoAck);
    case 'ack':
      return sink.ack(rec.ns, rec.topic, rec.ids);
    case 'requeue':
      return sink.requeue(rec.ns, rec.topic, rec.ids);
    case 'move':
      return sink.move(rec.ns, rec.topic, rec.moves);
    case 'resize':
      return sink.resize(rec.ns, rec.topic, rec.queueCount);
    case 'resizeFinal':
      return sink.resizeFinal(rec.ns, rec.topic);
    case 'topicRestore':
      return sink.topicRestore(rec.ns, rec.topic, rec.queueCount, rec.activeCount, rec.version);
    case 'topicPolicy':
      return sink.topicPolicy(rec.ns, rec.topic, rec);
    case 'publishEx':
      return sink.publishEx(rec.ns, rec.topic, rec.queue, rec, rec);
    case 'nack':
      return sink.nack(rec.ns, rec.topic, rec.ids, rec.visibleAt);
    case 'visible':
      return sink.visible(rec.ns, rec.topic, rec.ids);
    case 'deadLetter':
      return sink.deadLetter(rec.ns, rec.topic, rec.reason, rec.ids);
    case 'dlqPop':
      return sink.dlqPop(rec.ns, rec.topic, rec.count, rec.autoAck);
    case 'redrive':
      return sink.redrive(rec.ns, rec.topic, rec.queues);
    case 'pauseState':
      return sink.pauseState(rec.ns, rec.topic, rec.paused);
    case 'purge':
      return sink.purge(rec.ns, rec.topic, rec.queue, rec.dlq);
    case 'dedup':
      return sink.dedup(rec.ns, rec.topic, rec.key, rec.id, rec.queue, rec.expiresAt);
    case 'expire':
      return sink.expire(rec.ns, rec.topic, rec.queue, rec.count, rec.toDlq);
  }
}
