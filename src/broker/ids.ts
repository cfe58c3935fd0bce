/**
 * Message ids: random (v4) UUID strings. `crypto.randomUUID()` builds its
 * string by concatenation, so each id is a tree of ~20 string pieces
 * (about 490 bytes of heap); a queue of a million messages keeps them all.
 * Here ids are written as ASCII into a buffer, a batch at a time, and read
 * back as flat one-byte strings (about 56 bytes each).
 */
import { randomFillSync } from 'node:crypto';

const BATCH = 256;
const HEX = Buffer.from('0123456789abcdef', 'latin1');
// Byte offsets of the 16 random bytes' two hex digits in "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx".
const POS = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];

const random = Buffer.allocUnsafeSlow(16 * BATCH);
const text = Buffer.allocUnsafeSlow(36 * BATCH);
let next = BATCH;

function refill(): void {
  randomFillSync(random);
  for (let i = 0; i < BATCH; i++) {
    const r = i * 16;
    const t = i * 36;
    random[r + 6] = (random[r + 6]! & 0x0f) | 0x40; // version 4
    random[r + 8] = (random[r + 8]! & 0x3f) | 0x80; // RFC 4122 variant
    for (let j = 0; j < 16; j++) {
      const b = random[r + j]!;
      text[t + POS[j]!] = HEX[b >> 4]!;
      text[t + POS[j]! + 1] = HEX[b & 15]!;
    }
    text[t + 8] = text[t + 13] = text[t + 18] = text[t + 23] = 0x2d; // '-'
  }
  next = 0;
}

export function newMessageId(): string {
  if (next === BATCH) refill();
  const t = next++ * 36;
  return text.toString('latin1', t, t + 36);
}
