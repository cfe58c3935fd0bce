/**
 * The JSON publish payload is taken from the frame's bytes (json-scan.ts):
 * the slice must be exactly the `data.payload` value JSON.parse sees, for
 * any value, spacing, key order and repeated keys.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bodyPayloadRange, JsonTextPayload, payloadRange } from '../../src/server/json-scan.js';

const ws = fc.constantFrom('', ' ', '\n', '\t ', ' \r\n ');

/** JSON text of `v` with arbitrary whitespace between tokens. */
function spaced(v: unknown, pad: () => string): string {
  if (Array.isArray(v)) return `[${pad()}${v.map((x) => spaced(x, pad)).join(`${pad()},${pad()}`)}${pad()}]`;
  if (v !== null && typeof v === 'object') {
    const parts = Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}${pad()}:${pad()}${spaced(x, pad)}`);
    return `{${pad()}${parts.join(`${pad()},${pad()}`)}${pad()}}`;
  }
  return JSON.stringify(v);
}

function slice(text: string): unknown {
  const buf = Buffer.from(text, 'utf8');
  const r = payloadRange(buf, 0, buf.length);
  return r === undefined ? 'NOT FOUND' : JSON.parse(buf.subarray(r[0], r[1]).toString('utf8'));
}

describe('payloadRange', () => {
  it('finds exactly the value JSON.parse gives, for any payload and spacing', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.jsonValue(), fc.array(ws, { minLength: 1, maxLength: 8 }), fc.boolean(), (payload, other, pads, payloadFirst) => {
        let i = 0;
        const pad = (): string => pads[i++ % pads.length]!;
        const data: Record<string, unknown> = payloadFirst ? { payload, namespace: 'n', x: other } : { namespace: 'n', x: other, payload };
        const text = spaced({ action: 'publish', request_id: 'r"\\', data, tail: other }, pad);
        expect(slice(text)).toEqual(JSON.parse(text).data.payload);
      }),
    );
  });

  it('takes the last of repeated keys, like JSON.parse', () => {
    expect(slice('{"data":{"payload":1,"payload":[2]}}')).toEqual([2]);
    expect(slice('{"data":{"payload":1},"data":{"payload":"two"}}')).toBe('two');
    expect(slice('{"data":{"payload":1},"data":{}}')).toBe('NOT FOUND');
  });

  it('ignores a payload key outside data, and strings that look like keys', () => {
    expect(slice('{"payload":1,"data":{"x":"\\"payload\\":2","payload":3}}')).toBe(3);
    expect(slice('{"data":{"nested":{"payload":1}}}')).toBe('NOT FOUND');
    expect(slice('{"data":[{"payload":1}]}')).toBe('NOT FOUND');
  });

  it('gives up on escaped keys (the caller then serialises the parsed value)', () => {
    expect(slice('{"data":{"pay\\u006coad":1}}')).toBe('NOT FOUND');
  });
});

/** What the HTTP front stores for the body `text`: the reader's bytes for its top-level `payload`. */
function httpStored(text: string): { bytes: Buffer; fromBody: boolean } {
  const body = Buffer.from(text, 'utf8');
  const value = (JSON.parse(body.toString('utf8')) as { payload: unknown }).payload;
  const bytes = new JsonTextPayload(bodyPayloadRange, true).at(body, 0, body.length).payload(value, false);
  return { bytes: Buffer.from(bytes), fromBody: bytes.buffer === body.buffer };
}

describe('the HTTP publish payload (JSON.stringify of the value, taken from the body where it is the same bytes)', () => {
  it('stores exactly JSON.stringify of the parsed payload, for any payload, spacing and key order', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.jsonValue(), fc.array(ws, { minLength: 1, maxLength: 8 }), fc.boolean(), (payload, other, pads, payloadFirst) => {
        let i = 0;
        const pad = (): string => pads[i++ % pads.length]!;
        const body: Record<string, unknown> = payloadFirst ? { payload, x: other } : { x: other, payload };
        const text = spaced(body, pad);
        expect(httpStored(text).bytes.toString('utf8')).toBe(JSON.stringify(JSON.parse(text).payload));
      }),
      { numRuns: 500 },
    );
  });

  it('takes a compact payload from the body without serialising it', () => {
    for (const p of ['{"data":"xxx"}', '"hi"', '[1,-2,0,3.5,1e+21,true,false,null,{}]', '{"a":{"b":[{"c":"é ✓"}]},"k":-12345678901234}', '{"__proto__":1}']) {
      const stored = httpStored(`{"payload":${p}}`);
      expect(stored.bytes.toString('utf8'), p).toBe(p);
      expect(stored.fromBody, p).toBe(true);
    }
  });

  it('serialises again whatever JSON.stringify would write otherwise', () => {
    const cases: [string, string][] = [
      ['{ "a": 1 }', '{"a":1}'],
      ['{"a":1,"a":2}', '{"a":2}'],
      ['{"b":1,"2":0,"1":0}', '{"1":0,"2":0,"b":1}'],
      ['[1.0,1e2,-0,0.10,12345678901234567890]', '[1,100,0,0.1,12345678901234567000]'],
      ['"\\u0041\\/"', '"A/"'],
      ['"a\\"b"', '"a\\"b"'],
      ['[[1],[2,3]]', '[[1],[2,3]]'],
    ];
    for (const [p, want] of cases) expect(httpStored(`{"payload":${p}}`).bytes.toString('utf8'), p).toBe(want);
    // a payload too deep to serialise is refused as before, not stored from the body
    const deep = `${'['.repeat(20000)}${']'.repeat(20000)}`;
    expect(() => httpStored(`{"payload":${deep}}`)).toThrow(/payload is nested too deeply to be stored/);
    const fine = `${'['.repeat(500)}${']'.repeat(500)}`;
    expect(httpStored(`{"payload":${fine}}`)).toEqual({ bytes: Buffer.from(fine), fromBody: true });
  });
});
