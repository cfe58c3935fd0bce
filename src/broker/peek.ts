/**
 * Peek (docs/DESIGN.md, "Peek"): a page of a queue's (or the dead-letter
 * queue's) pending messages, from the head or the tail, without consuming
 * them. The cursor is the absolute position (`headSeq` + index) and id of
 * the last message returned: pops at the head do not disturb it. When that
 * message has left its position (consumed, moved), the page resumes at the
 * same position, so a message may then be skipped or shown twice.
 */
import type { Deque } from './deque.js';
import { invalid } from './errors.js';
import type { StoredMessage } from './message.js';
import type { PeekedMessage, PeekOptions, PeekResult } from './types.js';
import { checkPeekOptions } from './validation.js';

export function peekDeque(d: Deque<StoredMessage>, headSeq: number, opts: PeekOptions): PeekResult {
  const { limit, order, preview } = checkPeekOptions(opts);
  const step = order === 'asc' ? 1 : -1;
  let i = order === 'asc' ? 0 : d.length - 1;
  if (opts.cursor !== undefined && opts.cursor !== '') {
    const c = parseCursor(opts.cursor);
    const at = c.pos - headSeq;
    const same = d.at(at)?.id === c.id;
    i = same ? at + step : order === 'asc' ? Math.max(0, at) : Math.min(d.length - 1, at);
  }
  const messages: PeekedMessage[] = [];
  let last = -1;
  for (; i >= 0 && i < d.length && messages.length < limit; i += step) {
    const m = d.at(i)!;
    const payload = preview !== undefined && preview < m.payload.length ? m.payload.subarray(0, preview) : m.payload;
    messages.push({
      id: m.id,
      namespace: m.namespace,
      topic: m.topic,
      queueId: m.queueId,
      payload,
      timestampMs: m.timestampMs,
      headers: m.headers,
      deliveryCount: m.deliveryCount,
      payloadSize: m.payload.length,
    });
    last = i;
  }
  const more = i >= 0 && i < d.length;
  const nextCursor = more && last >= 0 ? Buffer.from(`${headSeq + last}:${d.at(last)!.id}`).toString('base64url') : undefined;
  return { messages, nextCursor };
}

function parseCursor(cursor: string): { pos: number; id: string } {
  const text = typeof cursor === 'string' ? Buffer.from(cursor, 'base64url').toString() : '';
  const colon = text.indexOf(':');
  const pos = Number(text.slice(0, colon));
  if (colon < 1 || !Number.isInteger(pos)) throw invalid(`cursor ${JSON.stringify(cursor)} is not one this broker returned: pass nextCursor unchanged`);
  return { pos, id: text.slice(colon + 1) };
}
