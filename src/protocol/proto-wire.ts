/**
 * Protobuf wire primitives for the hot TCP messages (PublishRequest,
 * PublishResponse, Message, the TCPCommand/TCPResponse envelopes). They
 * produce and accept exactly the encoding of the generated protobuf-es
 * code (test/tcp/proto-wire.test.ts checks both directions against it),
 * at a fraction of its cost: strings are sliced straight out of the frame
 * and bytes fields are views into it. Rare messages use protobuf-es.
 */

export const WIRE_VARINT = 0;
export const WIRE_I64 = 1;
export const WIRE_LEN = 2;
export const WIRE_I32 = 5;

export class ProtoDecodeError extends Error {
  override readonly name = 'ProtoDecodeError';
}

/** A cursor over `buf[pos, end)`. Throws ProtoDecodeError on malformed input. */
export class ProtoReader {
  /** After `len()`: the field's bytes are `buf[rs, re)`. */
  rs = 0;
  re = 0;

  constructor(
    public buf: Buffer,
    public pos: number,
    public end: number,
  ) {}

  /** Points the reader at `buf[pos, end)` (readers are reused on hot paths). */
  reset(buf: Buffer, pos: number, end: number): this {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
    return this;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  /** The next tag: `field << 3 | wireType`. */
  tag(): number {
    const t = this.uint32();
    if (t >>> 3 === 0) throw new ProtoDecodeError('field number 0');
    return t;
  }

  /** A varint's low 32 bits, unsigned. */
  uint32(): number {
    return this.int32() >>> 0;
  }

  /** A varint's low 32 bits as int32 (negative int32 values take 10 bytes). */
  int32(): number {
    const buf = this.buf;
    let pos = this.pos;
    let result = 0;
    for (let shift = 0; shift < 70; shift += 7) {
      if (pos >= this.end) throw new ProtoDecodeError('truncated varint');
      const b = buf[pos++]!;
      if (shift < 32) result |= (b & 0x7f) << shift;
      if (b < 0x80) {
        this.pos = pos;
        return result | 0;
      }
    }
    throw new ProtoDecodeError('varint longer than 10 bytes');
  }

  /** A varint as unsigned 64-bit. */
  uint64(): bigint {
    const buf = this.buf;
    let pos = this.pos;
    let lo = 0;
    let hi = 0;
    for (let shift = 0; shift < 70; shift += 7) {
      if (pos >= this.end) throw new ProtoDecodeError('truncated varint');
      const b = buf[pos++]!;
      if (shift < 28) lo += (b & 0x7f) * 2 ** shift;
      else hi += (b & 0x7f) * 2 ** (shift - 28);
      if (b < 0x80) {
        this.pos = pos;
        return BigInt.asUintN(64, (BigInt(hi) << 28n) | BigInt(lo));
      }
    }
    throw new ProtoDecodeError('varint longer than 10 bytes');
  }

  int64(): bigint {
    return BigInt.asIntN(64, this.uint64());
  }

  /** An int64 as a number (milliseconds): exact within +-2^53. */
  int64Number(): number {
    return Number(this.int64());
  }

  bool(): boolean {
    return this.int32() !== 0;
  }

  /** A length-delimited field: sets `rs`/`re` and moves past it. */
  len(): void {
    const n = this.uint32();
    const rs = this.pos;
    if (n > this.end - rs) throw new ProtoDecodeError('length-delimited field runs past the end');
    this.rs = rs;
    this.re = rs + n;
    this.pos = rs + n;
  }

  string(): string {
    this.len();
    return decodeString(this.buf, this.rs, this.re);
  }

  /** A view into the frame: copy before keeping it. */
  bytes(): Buffer {
    this.len();
    return this.buf.subarray(this.rs, this.re);
  }

  skip(wireType: number): void {
    switch (wireType) {
      case WIRE_VARINT:
        this.int32();
        return;
      case WIRE_I64:
        this.advance(8);
        return;
      case WIRE_LEN:
        this.len();
        return;
      case WIRE_I32:
        this.advance(4);
        return;
      default:
        throw new ProtoDecodeError(`unsupported wire type ${wireType}`);
    }
  }

  /** Reads a map<string,string> entry into `into`. */
  mapEntry(into: Record<string, string>): void {
    this.len();
    const sub = new ProtoReader(this.buf, this.rs, this.re);
    let key = '';
    let value = '';
    while (!sub.done) {
      const t = sub.tag();
      if (t === ((1 << 3) | WIRE_LEN)) key = sub.string();
      else if (t === ((2 << 3) | WIRE_LEN)) value = sub.string();
      else sub.skip(t & 7);
    }
    // A plain assignment of "__proto__" would set the prototype and drop the header.
    if (key === '__proto__') Object.defineProperty(into, key, { value, enumerable: true, writable: true, configurable: true });
    else into[key] = value;
  }

  private advance(n: number): void {
    if (n > this.end - this.pos) throw new ProtoDecodeError('truncated field');
    this.pos += n;
  }
}

// ---- writing: callers size a message first, then write it in one pass ----

export function varintSize(n: number): number {
  if (n < 0) return 10;
  if (n < 0x80) return 1;
  if (n < 0x4000) return 2;
  if (n < 0x200000) return 3;
  if (n < 0x10000000) return 4;
  let size = 5;
  for (let v = Math.floor(n / 2 ** 35); v > 0; v = Math.floor(v / 0x80)) size++;
  return size;
}

/** Size of a length-delimited field with tag < 16 holding `n` bytes. */
export function lenFieldSize(n: number): number {
  return 1 + varintSize(n) + n;
}

/** Writes a varint for 0 <= n < 2^53, or a negative int32 as 10 bytes. Returns the new position. */
export function writeVarint(buf: Buffer, pos: number, n: number): number {
  if (n < 0) {
    // int32 sign extension to 64 bits, as protobuf does.
    let lo = n >>> 0;
    for (let i = 0; i < 4; i++) {
      buf[pos++] = (lo & 0x7f) | 0x80;
      lo >>>= 7;
    }
    // bits 28..31 of lo, then 1 bits up to 63
    buf[pos++] = (lo & 0x0f) | 0x70 | 0x80;
    for (let i = 0; i < 4; i++) buf[pos++] = 0xff;
    buf[pos++] = 0x01;
    return pos;
  }
  while (n >= 0x80) {
    buf[pos++] = (n % 0x80) | 0x80;
    n = Math.floor(n / 0x80);
  }
  buf[pos++] = n;
  return pos;
}

export function bigVarintSize(n: bigint): number {
  let v = BigInt.asUintN(64, n);
  let size = 1;
  while (v >= 0x80n) {
    v >>= 7n;
    size++;
  }
  return size;
}

export function writeBigVarint(buf: Buffer, pos: number, n: bigint): number {
  let v = BigInt.asUintN(64, n);
  if (v < 2n ** 53n) return writeVarint(buf, pos, Number(v));
  while (v >= 0x80n) {
    buf[pos++] = Number(v & 0x7fn) | 0x80;
    v >>= 7n;
  }
  buf[pos++] = Number(v);
  return pos;
}

/** Writes a string field (tag < 16) whose UTF-8 length is `byteLength`. */
export function writeStringField(buf: Buffer, pos: number, field: number, s: string, byteLength: number): number {
  buf[pos++] = (field << 3) | WIRE_LEN;
  pos = writeVarint(buf, pos, byteLength);
  return writeString(buf, pos, s, byteLength);
}

/** Writes `s` (UTF-8 length `byteLength`) at `pos`; returns the new position. */
export function writeString(buf: Buffer, pos: number, s: string, byteLength: number): number {
  if (byteLength === s.length && byteLength <= SHORT_STRING) {
    // A JS loop beats a native Buffer.write call for short ASCII strings
    // (ids, names, actions), which are most strings on this wire.
    for (let i = 0; i < byteLength; i++) buf[pos + i] = s.charCodeAt(i);
    return pos + byteLength;
  }
  buf.write(s, pos, byteLength, byteLength === s.length ? 'latin1' : 'utf8');
  return pos + byteLength;
}

const SHORT_STRING = 64;

// ---- short-string interning: names and actions repeat on every frame ----

const INTERN_SLOTS = 256;
const internBytes: (Buffer | undefined)[] = new Array(INTERN_SLOTS);
const internStrings: string[] = new Array(INTERN_SLOTS);

/**
 * Decodes UTF-8 `buf[start, end)`. Short strings are looked up in a small
 * cache keyed by their bytes first: a namespace, topic or action seen on
 * the previous frame costs a hash and a compare instead of a native decode.
 */
export function decodeString(buf: Buffer, start: number, end: number): string {
  const n = end - start;
  if (n === 0) return '';
  if (n > 32) return buf.toString('utf8', start, end);
  let h = n;
  for (let i = start; i < end; i++) h = (Math.imul(h, 31) + buf[i]!) | 0;
  const slot = (h ^ (h >>> 8)) & (INTERN_SLOTS - 1);
  const cached = internBytes[slot];
  if (cached !== undefined && cached.length === n) {
    let same = true;
    for (let i = 0; i < n; i++) {
      if (cached[i] !== buf[start + i]) {
        same = false;
        break;
      }
    }
    if (same) return internStrings[slot]!;
  }
  const s = buf.toString('utf8', start, end);
  const copy = Buffer.allocUnsafeSlow(n);
  buf.copy(copy, 0, start, end);
  internBytes[slot] = copy;
  internStrings[slot] = s;
  return s;
}

export function writeBytesField(buf: Buffer, pos: number, field: number, bytes: Uint8Array): number {
  buf[pos++] = (field << 3) | WIRE_LEN;
  pos = writeVarint(buf, pos, bytes.length);
  buf.set(bytes, pos);
  return pos + bytes.length;
}

/** Writes the tag and length of a length-delimited field (any field number). */
export function writeLenHeader(buf: Buffer, pos: number, field: number, length: number): number {
  pos = writeVarint(buf, pos, (field << 3) | WIRE_LEN);
  return writeVarint(buf, pos, length);
}

export function lenHeaderSize(field: number, length: number): number {
  return varintSize((field << 3) | WIRE_LEN) + varintSize(length);
}

export function utf8Length(s: string): number {
  // ASCII fast path: most ids, names and actions.
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) >= 0x80) return Buffer.byteLength(s, 'utf8');
  }
  return s.length;
}
