/**
 * The JSON publish payload is taken from the frame's bytes (json-scan.ts):
 * the slice must be exactly the `data.payload` value JSON.parse sees, for
 * any value, spacing, key order and repeated keys.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { payloadRange } from '../../src/server/tcp/json-scan.js';

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
