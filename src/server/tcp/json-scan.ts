/**
 * Finds where `data.payload` sits in the bytes of a JSON command, so that
 * the publish payload is the client's own JSON text, taken straight from
 * the frame. Serialising the parsed value again (`JSON.stringify`, then
 * UTF-8 encoding) costs about 6 µs for a 1 KiB payload here, three times
 * the parse itself.
 *
 * The stored bytes are still "that JSON text" (docs/PROTOCOL.md, "JSON
 * surfaces"): the value exactly as the client wrote it. The scan runs only
 * on a body that JSON.parse accepted, so it may assume well-formed JSON;
 * when anything is unusual (escaped keys) it gives up and the caller falls
 * back to `payloadFromJson`.
 */

import { BACKSLASH, LBRACE, LBRACKET, QUOTE, RBRACE, RBRACKET } from '../json-depth.js';

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

/**
 * The byte range `[start, end)` of `data.payload`'s value in the JSON
 * document `buf[start, end)`, the last one when keys repeat (as JSON.parse
 * does); undefined when there is none or the scan gave up.
 */
export function payloadRange(buf: Buffer, start: number, end: number): [number, number] | undefined {
  let found: [number, number] | undefined;
  try {
    eachMember(buf, skipWs(buf, start, end), end, (ks, ke, vs) => {
      if (!keyIs(buf, ks, ke, DATA)) return skipValue(buf, vs, end);
      found = undefined; // a later "data" replaces an earlier one
      if (buf[vs] !== LBRACE) return skipValue(buf, vs, end);
      return eachMember(buf, vs, end, (pks, pke, pvs) => {
        const after = skipValue(buf, pvs, end);
        if (keyIs(buf, pks, pke, PAYLOAD)) found = [pvs, after];
        return after;
      });
    });
  } catch (err) {
    if (err === GIVE_UP) return undefined;
    throw err;
  }
  return found;
}
