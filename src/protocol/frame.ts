/**
 * The TCP frame format of docs/PROTOCOL.md, "TCP framing", in both directions:
 *
 *   uint32 big-endian L | uint8 encoding | L-1 bytes of body
 *
 * `L` counts the encoding byte plus the body. Shared by the server and the
 * client (src/client/tcp), so both sides parse and build frames one way.
 *
 * Reading keeps the received chunks in a list and hands out each frame as a
 * (buffer, start, end) range into the chunk that holds it: a frame is copied
 * only when it spans chunks. The length prefix is checked against the
 * maximum from the 5-byte header alone, before any body byte is buffered.
 */

export const ENCODING_JSON = 0;
export const ENCODING_PROTOBUF = 1;
export type Encoding = typeof ENCODING_JSON | typeof ENCODING_PROTOBUF;

export const HEADER_BYTES = 5;

/** What `FrameReader.next()` found. */
export const ReadResult = {
  /** Not enough bytes yet. */
  NeedMore: 0,
  /** A frame: see `encoding`, `buf`, `start`, `end`. */
  Frame: 1,
  /** The length prefix is 0: the framing is broken, the connection must close. */
  ZeroLength: 2,
  /** The length prefix exceeds the maximum: see `length`; the connection must close. */
  TooLarge: 3,
} as const;
export type ReadResult = (typeof ReadResult)[keyof typeof ReadResult];

export class FrameReader {
  private chunks: Buffer[] = [];
  /** Read offset into `chunks[0]`. */
  private offset = 0;
  /** Unread bytes over all chunks. */
  private available = 0;
  /** Length prefix of the frame being waited for (-1: header not read yet). */
  private pending = -1;

  /** Encoding byte of the last frame, also set on TooLarge/ZeroLength (any value 0-255: the caller checks it). */
  encoding = 0;
  /** Body of the last frame is `buf[start, end)`. Valid until the next `push`/`next`. */
  buf: Buffer = Buffer.alloc(0);
  start = 0;
  end = 0;
  /** The length prefix of the last frame (also set on TooLarge/ZeroLength). */
  length = 0;

  /** @param maxFrameBytes the largest accepted `L` (encoding byte + body). */
  constructor(private readonly maxFrameBytes: number) {}

  get bufferedBytes(): number {
    return this.available;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.available += chunk.length;
  }

  next(): ReadResult {
    let length = this.pending;
    if (length < 0) {
      if (this.available < HEADER_BYTES) return ReadResult.NeedMore;
      length = this.peekUint32();
      this.length = length;
      this.encoding = this.peekByte(4);
      // The prefix alone decides, before any body is buffered: a 0xFFFFFFFF
      // prefix allocates nothing (docs/PROTOCOL.md, "Extensions on TCP": a maximum frame size).
      if (length === 0) return ReadResult.ZeroLength;
      if (length > this.maxFrameBytes) return ReadResult.TooLarge;
      this.pending = length;
    }
    if (this.available < 4 + length) return ReadResult.NeedMore;
    this.pending = -1;
    this.length = length;
    this.skip(4);
    this.encoding = this.readByte();
    this.take(length - 1);
    return ReadResult.Frame;
  }

  /** The unread byte at `index` (index < available). */
  private peekByte(index: number): number {
    let off = this.offset + index;
    let ci = 0;
    while (off >= this.chunks[ci]!.length) {
      off -= this.chunks[ci]!.length;
      ci++;
    }
    return this.chunks[ci]![off]!;
  }

  private peekUint32(): number {
    const c = this.chunks[0]!;
    if (c.length - this.offset >= 4) return c.readUInt32BE(this.offset);
    let v = 0;
    let ci = 0;
    let off = this.offset;
    for (let i = 0; i < 4; i++) {
      while (off >= this.chunks[ci]!.length) {
        ci++;
        off = 0;
      }
      v = v * 256 + this.chunks[ci]![off++]!;
    }
    return v;
  }

  private readByte(): number {
    const c = this.chunks[0]!;
    const b = c[this.offset]!;
    this.advance(1);
    return b;
  }

  private skip(n: number): void {
    while (n > 0) {
      const c = this.chunks[0]!;
      const step = Math.min(n, c.length - this.offset);
      this.advance(step);
      n -= step;
    }
  }

  /** Drops `n` bytes from the head of the first chunk (n <= its remainder). */
  private advance(n: number): void {
    this.offset += n;
    this.available -= n;
    if (this.offset === this.chunks[0]!.length) {
      this.chunks.shift();
      this.offset = 0;
    }
  }

  /** Exposes the next `n` bytes as buf/start/end, copying only across chunks. */
  private take(n: number): void {
    if (n === 0) {
      this.buf = EMPTY;
      this.start = this.end = 0;
      return;
    }
    const c = this.chunks[0]!;
    if (c.length - this.offset >= n) {
      this.buf = c;
      this.start = this.offset;
      this.end = this.offset + n;
      this.advance(n);
      return;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const head = this.chunks[0]!;
      const step = Math.min(n - filled, head.length - this.offset);
      head.copy(out, filled, this.offset, this.offset + step);
      filled += step;
      this.advance(step);
    }
    this.buf = out;
    this.start = 0;
    this.end = n;
  }
}

const EMPTY = Buffer.alloc(0);

/** Size of the slabs replies are written into; a larger frame gets its own. */
const SLAB_BYTES = 64 * 1024;

/**
 * Builds outgoing frames straight into large slabs and hands the written
 * ranges out in one go, so that many replies leave in one socket write.
 * A written range is never reused: the socket may still hold it.
 */
export class FrameWriter {
  private slab: Buffer = Buffer.allocUnsafe(SLAB_BYTES);
  private start = 0;
  private pos = 0;
  private done: Buffer[] = [];
  private doneBytes = 0;

  /** Bytes written and not yet taken. */
  get pendingBytes(): number {
    return this.doneBytes + (this.pos - this.start);
  }

  /** A JSON frame holding `text` (a JSON document). */
  json(text: string): void {
    // UTF-8 never takes more than 3 bytes per UTF-16 unit; a large text is
    // measured instead, so that it does not reserve three times its size.
    this.reserve(HEADER_BYTES + (text.length > SLAB_BYTES / 4 ? Buffer.byteLength(text, 'utf8') : text.length * 3));
    const slab = this.slab;
    const at = this.pos;
    const n = slab.write(text, at + HEADER_BYTES, 'utf8');
    slab.writeUInt32BE(n + 1, at);
    slab[at + 4] = ENCODING_JSON;
    this.pos = at + HEADER_BYTES + n;
  }

  /**
   * Starts a frame of `bodyLength` bytes in `encoding` and returns where its
   * body starts in `slab`; the caller writes exactly `bodyLength` bytes
   * there before the next call. (No callback: this is the per-reply path.)
   */
  begin(encoding: Encoding, bodyLength: number): number {
    this.reserve(HEADER_BYTES + bodyLength);
    const slab = this.slab;
    const at = this.pos;
    slab.writeUInt32BE(bodyLength + 1, at);
    slab[at + 4] = encoding;
    this.pos = at + HEADER_BYTES + bodyLength;
    return at + HEADER_BYTES;
  }

  /** `begin` for a JSON body. */
  beginJson(bodyLength: number): number {
    return this.begin(ENCODING_JSON, bodyLength);
  }

  /** The slab that the last `begin` reserved its body in. */
  get buffer(): Buffer {
    return this.slab;
  }

  /** A frame whose body is already encoded. */
  bytes(encoding: Encoding, body: Uint8Array): void {
    this.reserve(HEADER_BYTES + body.length);
    const slab = this.slab;
    const at = this.pos;
    slab.writeUInt32BE(body.length + 1, at);
    slab[at + 4] = encoding;
    slab.set(body, at + HEADER_BYTES);
    this.pos = at + HEADER_BYTES + body.length;
  }

  /** Everything written since the last take, as few buffers as possible (empty when nothing). */
  take(): Buffer[] {
    this.seal();
    const out = this.done;
    this.done = [];
    this.doneBytes = 0;
    return out;
  }

  private seal(): void {
    if (this.pos > this.start) {
      const part = this.slab.subarray(this.start, this.pos);
      this.done.push(part);
      this.doneBytes += part.length;
      this.start = this.pos;
    }
  }

  private reserve(n: number): void {
    // A slab grown for one large frame is not kept for the small ones after
    // it: an idle connection would hold it for as long as it lives.
    if (this.slab.length - this.pos >= n && (this.slab.length === SLAB_BYTES || n > SLAB_BYTES)) return;
    this.seal();
    this.slab = Buffer.allocUnsafe(Math.max(SLAB_BYTES, n));
    this.start = this.pos = 0;
  }
}
