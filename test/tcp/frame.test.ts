/**
 * The frame format (docs/PROTOCOL.md, "TCP framing") as FrameReader and
 * FrameWriter implement it: any split of the byte stream gives the same
 * frames, and the length prefix is judged from the header alone.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FrameReader, FrameWriter, ReadResult } from '../../src/protocol/frame.js';

function frames(bodies: Buffer[], encodings: number[]): Buffer {
  return Buffer.concat(
    bodies.map((b, i) => {
      const h = Buffer.alloc(5);
      h.writeUInt32BE(b.length + 1, 0);
      h[4] = encodings[i]!;
      return Buffer.concat([h, b]);
    }),
  );
}

function readAll(r: FrameReader): { encoding: number; body: Buffer }[] {
  const out: { encoding: number; body: Buffer }[] = [];
  while (r.next() === ReadResult.Frame) out.push({ encoding: r.encoding, body: Buffer.from(r.buf.subarray(r.start, r.end)) });
  return out;
}

describe('FrameReader', () => {
  it('yields the same frames for any split of the stream into chunks', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)), { maxLength: 20 }),
        fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 20 }),
        (bodies, cuts) => {
          const encodings = bodies.map((_, i) => i % 3);
          const stream = frames(bodies, encodings);
          const r = new FrameReader(1024);
          const got: { encoding: number; body: Buffer }[] = [];
          let pos = 0;
          let i = 0;
          while (pos < stream.length) {
            const n = cuts[i++ % cuts.length]!;
            r.push(stream.subarray(pos, pos + n));
            pos += n;
            got.push(...readAll(r));
          }
          expect(got).toEqual(bodies.map((body, k) => ({ encoding: encodings[k], body })));
          expect(r.bufferedBytes).toBe(0);
        },
      ),
    );
  });

  it('hands out a frame inside one chunk as a view, without copying', () => {
    const stream = frames([Buffer.from('hello')], [1]);
    const r = new FrameReader(100);
    r.push(stream);
    expect(r.next()).toBe(ReadResult.Frame);
    expect(r.buf).toBe(stream);
    expect(r.buf.toString('utf8', r.start, r.end)).toBe('hello');
  });

  it('refuses 0xFFFFFFFF from the 5-byte header, holding only those 5 bytes', () => {
    const r = new FrameReader(1024 * 1024);
    r.push(Buffer.from([0xff, 0xff, 0xff]));
    expect(r.next()).toBe(ReadResult.NeedMore);
    r.push(Buffer.from([0xff, 0x01]));
    expect(r.next()).toBe(ReadResult.TooLarge);
    expect(r.length).toBe(0xffffffff);
    expect(r.encoding).toBe(1);
    expect(r.bufferedBytes).toBe(5);
  });

  it('accepts exactly the maximum and reports a zero length', () => {
    const r = new FrameReader(6);
    r.push(frames([Buffer.from('12345')], [0]));
    expect(r.next()).toBe(ReadResult.Frame);
    r.push(frames([Buffer.from('123456')], [0]));
    expect(r.next()).toBe(ReadResult.TooLarge);
    const z = new FrameReader(6);
    z.push(Buffer.from([0, 0, 0, 0, 0]));
    expect(z.next()).toBe(ReadResult.ZeroLength);
  });

  it('reads an empty body (L = 1)', () => {
    const r = new FrameReader(6);
    r.push(Buffer.from([0, 0, 0, 1, 1]));
    expect(r.next()).toBe(ReadResult.Frame);
    expect(r.end - r.start).toBe(0);
  });
});

describe('FrameWriter', () => {
  it('writes frames the reader reads back, across slab boundaries', () => {
    const w = new FrameWriter();
    const texts = Array.from({ length: 3000 }, (_, i) => JSON.stringify({ i, s: 'é'.repeat(i % 50) }));
    for (const t of texts) w.json(t);
    const big = Buffer.alloc(200_000, 7);
    w.bytes(1, big);
    const parts = w.take();
    expect(parts.length).toBeGreaterThan(1);
    expect(w.take()).toEqual([]);
    const r = new FrameReader(1 << 20);
    for (const p of parts) r.push(p);
    const got = readAll(r);
    expect(got.slice(0, -1).map((f) => f.body.toString('utf8'))).toEqual(texts);
    expect(got.at(-1)).toEqual({ encoding: 1, body: big });
  });

  it('does not keep a slab grown for one large frame for the frames after it', () => {
    const w = new FrameWriter();
    w.json(JSON.stringify('x'.repeat(300_000)));
    w.json('{"small":true}');
    const parts = w.take();
    expect(parts).toHaveLength(2);
    expect(parts[0]!.buffer.byteLength).toBeGreaterThan(300_000);
    expect(parts[0]!.buffer.byteLength).toBeLessThan(400_000); // measured, not 3x reserved
    expect(parts[1]!.buffer.byteLength).toBe(64 * 1024);
  });
});
