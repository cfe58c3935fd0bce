/**
 * How a message is shown: as JSON (the shape of docs/PROTOCOL.md's JSON
 * surfaces, timestamps as decimal strings of nanoseconds) and as text for a
 * human.
 */
import type { ClientMessage } from '../client/types.js';
export { isResizeNotice } from '../client/types.js';
import { RawJson } from './json.js';
import type { Column } from './output.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The payload's text when it is valid UTF-8, else undefined. */
export function payloadUtf8(payload: Uint8Array): string | undefined {
  try {
    return utf8.decode(payload);
  } catch {
    return undefined;
  }
}

/** The payload's JSON text when it is a JSON document (the rule of the JSON surfaces). */
export function payloadJson(payload: Uint8Array): string | undefined {
  if (payload.length === 0) return undefined;
  const text = payloadUtf8(payload);
  if (text === undefined) return undefined;
  try {
    JSON.parse(text);
    return text;
  } catch {
    return undefined;
  }
}

function base64(payload: Uint8Array): string {
  return Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('base64');
}

/** A resize notice in a subscription stream (docs/PROTOCOL.md, "Topic resize notice on subscriptions"). */

/** The message as `--json` shows it. */
export function messageToJson(m: ClientMessage): Record<string, unknown> {
  const json = payloadJson(m.payload);
  return {
    id: m.id,
    namespace: m.namespace,
    topic: m.topic,
    queue_id: m.queueId,
    payload: json !== undefined ? new RawJson(json) : base64(m.payload),
    payload_encoding: json !== undefined ? undefined : 'base64',
    timestamp: m.timestamp,
    headers: m.headers,
    delivery_count: m.deliveryCount,
  };
}

/**
 * The payload for a human: text as it is when printable; text with control
 * characters as a quoted JSON string; anything else as `base64:...`.
 */
export function payloadForHuman(payload: Uint8Array): string {
  const text = payloadUtf8(payload);
  if (text === undefined) return `base64:${base64(payload)}`;
  // eslint-disable-next-line no-control-regex
  return /[\u0000-\u001f\u007f]/.test(text) ? JSON.stringify(text) : text;
}

/** Nanoseconds since the epoch as an ISO time (milliseconds shown). */
export function isoTime(ns: bigint): string {
  const ms = Number(ns / 1_000_000n);
  return Number.isFinite(ms) && ms > 0 ? new Date(ms).toISOString() : String(ns);
}

export function headersForHuman(headers: Record<string, string>): string {
  return Object.entries(headers)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

/** The columns of a message table (consume, peek, dlq consume). */
export const MESSAGE_COLUMNS: readonly Column[] = [
  { header: 'ID' },
  { header: 'QUEUE', align: 'right' },
  { header: 'DELIVERY', align: 'right' },
  { header: 'TIME' },
  { header: 'HEADERS' },
  { header: 'PAYLOAD' },
];

export function messageRow(m: ClientMessage): string[] {
  return [m.id, String(m.queueId), String(m.deliveryCount), isoTime(m.timestamp), headersForHuman(m.headers) || '-', payloadForHuman(m.payload)];
}

/** A peeked message: the columns of a message, with the full payload size before the (maybe cut) payload. */
export const PEEKED_COLUMNS: readonly Column[] = [...MESSAGE_COLUMNS.slice(0, -1), { header: 'SIZE', align: 'right' }, MESSAGE_COLUMNS.at(-1)!];

export function peekedRow(m: ClientMessage & { payloadSize: number }): string[] {
  const row = messageRow(m);
  row.splice(row.length - 1, 0, String(m.payloadSize));
  return row;
}

export function peekedToJson(m: ClientMessage & { payloadSize: number }): Record<string, unknown> {
  return { ...messageToJson(m), payload_size: m.payloadSize };
}
