/**
 * Finds where the publish payload sits in the bytes of a JSON request
 * (`data.payload` of a TCP JSON command, `payload` of an HTTP publish
 * body), so that the payload is the client's own JSON text, taken straight
 * from the frame or body. Serialising the parsed value again
 * (`JSON.stringify`, then UTF-8 encoding) costs about 6 µs for a 1 KiB
 * payload here, three times the parse itself.
 *
 * The stored bytes are still "that JSON text" (docs/PROTOCOL.md, "JSON
 * surfaces"): the value exactly as the client wrote it. The scan runs only
 * on a body that JSON.parse accepted, so it may assume well-formed JSON;
 * when anything is unusual (escaped keys) it gives up and the caller falls
 * back to `payloadFromJson`.
 */

import { isUtf8 } from 'node:buffer';
import type { PayloadReader } from './commands/json-decode.js';
import { payloadFromJson } from './json-payload.js';
import { BACKSLASH, LBRACE, LBRACKET, QUOTE, RBRACE, RBRACKET } from './json-depth.js';

const COMMA = 0x2c;
const COLON = 0x3a;

const DATA = Buffer.from('data');
const PAYLOAD = Buffer.from('payload');

/** Thrown inside the scan to give up; never escapes. */
const GIVE_UP = Symbol('give up');

function isWs(b: number): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
}

function skipWs(buf: Buffer, pos: number, end: number): number {
  while (pos < end && isWs(buf[pos]!)) pos++;
  return pos;
}

/** `pos` at an opening quote; returns the position after the closing quote. */
function skipString(buf: Buffer, pos: number, end: number): number {
  let i = pos;
  for (;;) {
    i = buf.indexOf(QUOTE, i + 1);
    if (i < 0 || i >= end) throw GIVE_UP;
    let backslashes = 0;
    for (let j = i - 1; j > pos && buf[j] === BACKSLASH; j--) backslashes++;
    if (backslashes % 2 === 0) return i + 1;
  }
}

/** Returns the position after the value starting at `pos`. */
function skipValue(buf: Buffer, pos: number, end: number): number {
  const b = buf[pos];
  if (b === QUOTE) return skipString(buf, pos, end);
  if (b === LBRACE || b === LBRACKET) {
    let depth = 0;
    let i = pos;
    while (i < end) {
      const c = buf[i]!;
      if (c === QUOTE) {
        i = skipString(buf, i, end);
        continue;
      }
      if (c === LBRACE || c === LBRACKET) depth++;
      else if (c === RBRACE || c === RBRACKET) {
        depth--;
        if (depth === 0) return i + 1;
      }
      i++;
    }
    throw GIVE_UP;
  }
  // number, true, false, null
  let i = pos;
  while (i < end) {
    const c = buf[i]!;
    if (c === COMMA || c === RBRACE || c === RBRACKET || isWs(c)) break;
    i++;
  }
  return i;
}

/** Whether the key string at `buf[ks, ke)` (quotes excluded, no escapes) equals `name`. */
function keyIs(buf: Buffer, ks: number, ke: number, name: Buffer): boolean {
  if (ke - ks !== name.length) return false;
  for (let i = 0; i < name.length; i++) if (buf[ks + i] !== name[i]) return false;
  return true;
}

/**
 * Calls `member(keyStart, keyEnd, valueStart)` for each member of the object
 * at `pos`; `member` returns the position after the value. Returns the
 * position after the object.
 */
function eachMember(buf: Buffer, pos: number, end: number, member: (ks: number, ke: number, vs: number) => number): number {
  if (buf[pos] !== LBRACE) throw GIVE_UP;
  pos = skipWs(buf, pos + 1, end);
  if (buf[pos] === RBRACE) return pos + 1;
  for (;;) {
    if (buf[pos] !== QUOTE) throw GIVE_UP;
    const ke = skipString(buf, pos, end) - 1;
    const ks = pos + 1;
    for (let i = ks; i < ke; i++) if (buf[i] === BACKSLASH) throw GIVE_UP;
    pos = skipWs(buf, ke + 1, end);
    if (buf[pos] !== COLON) throw GIVE_UP;
    pos = skipWs(buf, pos + 1, end);
    pos = skipWs(buf, member(ks, ke, pos), end);
    if (buf[pos] === COMMA) {
      pos = skipWs(buf, pos + 1, end);
      continue;
    }
    if (buf[pos] === RBRACE) return pos + 1;
    throw GIVE_UP;
  }
}

/** Runs a scan; its GIVE_UP (anything unusual) is undefined. */
function scanned(scan: () => [number, number] | undefined): [number, number] | undefined {
  try {
    return scan();
  } catch (err) {
    if (err === GIVE_UP) return undefined;
    throw err;
  }
}

/**
 * Scans the object at `pos` and sets `found.range` to the value's range of
 * its member `name`, the last one when keys repeat (as JSON.parse keeps),
 * or undefined. Returns the position after the object.
 */
function lastMember(buf: Buffer, pos: number, end: number, name: Buffer, found: { range?: [number, number] }): number {
  found.range = undefined;
  return eachMember(buf, pos, end, (ks, ke, vs) => {
    const after = skipValue(buf, vs, end);
    if (keyIs(buf, ks, ke, name)) found.range = [vs, after];
    return after;
  });
}

/**
 * The byte range `[start, end)` of `data.payload`'s value in the JSON
 * document `buf[start, end)`, the last one when keys repeat (as JSON.parse
 * does); undefined when there is none or the scan gave up.
 */
export function payloadRange(buf: Buffer, start: number, end: number): [number, number] | undefined {
  return scanned(() => {
    const found: { range?: [number, number] } = {};
    eachMember(buf, skipWs(buf, start, end), end, (ks, ke, vs) => {
      if (!keyIs(buf, ks, ke, DATA)) return skipValue(buf, vs, end);
      // a later "data" replaces an earlier one
      if (buf[vs] === LBRACE) return lastMember(buf, vs, end, PAYLOAD, found);
      found.range = undefined;
      return skipValue(buf, vs, end);
    });
    return found.range;
  });
}

/**
 * The byte range of the value of the top-level member `payload` of the
 * JSON object `buf[start, end)` (an HTTP publish body), the last one when
 * keys repeat; undefined when there is none or the scan gave up.
 */
export function bodyPayloadRange(buf: Buffer, start: number, end: number): [number, number] | undefined {
  return scanned(() => {
    const found: { range?: [number, number] } = {};
    lastMember(buf, skipWs(buf, start, end), end, PAYLOAD, found);
    return found.range;
  });
}

const ZERO = 0x30;
const NINE = 0x39;
const MINUS = 0x2d;

/**
 * Whether the JSON text `buf[pos, end)`, which JSON.parse read as `value`,
 * is byte for byte what `JSON.stringify(value)` writes, so that the text can
 * be stored in place of serialising the value again. Conservative: false
 * for any backslash (escapes JSON.stringify may write otherwise), any
 * whitespace between tokens, a number not in its shortest form, repeated
 * keys, or a key that starts with a digit (V8 lists integer keys first).
 */
export function isStringifiedForm(buf: Buffer, pos: number, end: number, value: unknown): boolean {
  const bs = buf.indexOf(BACKSLASH, pos);
  if (bs >= 0 && bs < end) return false;
  try {
    return canonicalValue(buf, pos, end, value) === end;
  } catch (err) {
    // GIVE_UP, or a nesting deeper than this recursion goes: serialise instead
    if (err === GIVE_UP || err instanceof RangeError) return false;
    throw err;
  }
}

/** The position after the canonical value at `pos`, which JSON.parse read as `value`; throws GIVE_UP. */
function canonicalValue(buf: Buffer, pos: number, end: number, value: unknown): number {
  const b = buf[pos];
  if (b === QUOTE) {
    if (typeof value !== 'string') throw GIVE_UP;
    // No backslash in the text: the next quote closes the string.
    const close = buf.indexOf(QUOTE, pos + 1);
    if (close < 0 || close >= end) throw GIVE_UP;
    return close + 1;
  }
  if (b === LBRACE) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw GIVE_UP;
    const obj = value as Record<string, unknown>;
    let members = 0;
    pos++;
    if (buf[pos] !== RBRACE) {
      for (;;) {
        if (buf[pos] !== QUOTE) throw GIVE_UP;
        const close = buf.indexOf(QUOTE, pos + 1);
        if (close < 0 || close >= end) throw GIVE_UP;
        const first = buf[pos + 1]!;
        if (first >= ZERO && first <= NINE) throw GIVE_UP;
        if (buf[close + 1] !== COLON) throw GIVE_UP;
        pos = canonicalValue(buf, close + 2, end, obj[buf.toString('utf8', pos + 1, close)]);
        members++;
        if (buf[pos] === COMMA) pos++;
        else break;
      }
    }
    if (buf[pos] !== RBRACE) throw GIVE_UP;
    // JSON.parse keeps the last of repeated keys: then the object has fewer keys than the text members.
    let keys = 0;
    for (const k in obj) if (obj[k] !== undefined) keys++;
    if (keys !== members) throw GIVE_UP;
    return pos + 1;
  }
  if (b === LBRACKET) {
    if (!Array.isArray(value)) throw GIVE_UP;
    const arr = value as unknown[];
    let i = 0;
    pos++;
    if (buf[pos] !== RBRACKET) {
      for (;;) {
        pos = canonicalValue(buf, pos, end, arr[i++]);
        if (buf[pos] === COMMA) pos++;
        else break;
      }
    }
    if (buf[pos] !== RBRACKET || i !== arr.length) throw GIVE_UP;
    return pos + 1;
  }
  // true, false, null: one spelling each
  if (b === 0x74 /* t */) return literal(value === true, pos + 4);
  if (b === 0x66 /* f */) return literal(value === false, pos + 5);
  if (b === 0x6e /* n */) return literal(value === null, pos + 4);
  if (typeof value !== 'number' || (b !== MINUS && (b === undefined || b < ZERO || b > NINE))) throw GIVE_UP;
  let i = pos;
  while (i < end) {
    const c = buf[i]!;
    if (c === COMMA || c === RBRACE || c === RBRACKET) break;
    i++;
  }
  if (!isShortestInteger(buf, pos, i) && buf.toString('latin1', pos, i) !== String(value)) throw GIVE_UP;
  return i;
}

function literal(matches: boolean, after: number): number {
  if (!matches) throw GIVE_UP;
  return after;
}

/** `0`, or an integer of at most 15 digits without a leading zero: its shortest form, exactly a double. */
function isShortestInteger(buf: Buffer, start: number, end: number): boolean {
  const digits = buf[start] === MINUS ? start + 1 : start;
  const n = end - digits;
  if (n < 1 || n > 15) return false;
  if (buf[digits] === ZERO) return n === 1 && digits === start;
  for (let i = digits; i < end; i++) {
    const c = buf[i]!;
    if (c < ZERO || c > NINE) return false;
  }
  return true;
}

/**
 * The `bytes` reader of the JSON decoder (../commands/json-decode.ts) for a
 * request whose JSON text is at hand: a publish payload is the client's
 * text taken from `buf[start, end)` (a view: the core copies what it
 * keeps), else the value serialised again (a batch entry's payload, or a
 * scan that gave up). With `stringifiedOnly` the text is taken only where
 * it is exactly what serialising would store (isStringifiedForm): HTTP
 * stores `JSON.stringify` of the payload (docs/PROTOCOL.md, "JSON
 * surfaces"), TCP JSON the text as written. Set to the request's bytes
 * just before its decode: one reader per front, as decoding is
 * synchronous.
 */
export class JsonTextPayload implements PayloadReader {
  buf: Buffer = Buffer.alloc(0);
  start = 0;
  end = 0;

  constructor(
    private readonly range: (buf: Buffer, start: number, end: number) => [number, number] | undefined,
    private readonly stringifiedOnly = false,
  ) {}

  at(buf: Buffer, start: number, end: number): this {
    this.buf = buf;
    this.start = start;
    this.end = end;
    return this;
  }

  payload(value: unknown, nested: boolean): Uint8Array {
    if (!nested) {
      const range = this.range(this.buf, this.start, this.end);
      if (range !== undefined && (!this.stringifiedOnly || isStringifiedForm(this.buf, range[0], range[1], value))) {
        const raw = this.buf.subarray(range[0], range[1]);
        // invalid UTF-8 was replaced when the text was parsed: store what was parsed then
        if (isUtf8(raw)) return raw;
      }
    }
    return payloadFromJson(value);
  }
}
