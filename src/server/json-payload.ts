/**
 * The payload rule of the JSON surfaces (HTTP, SSE, TCP JSON), docs/PROTOCOL.md
 * "JSON surfaces": the stored bytes of a message published as JSON are that
 * JSON text, and they are shown as the JSON value again; bytes that are not
 * a JSON document (published over gRPC or protobuf TCP) are shown as base64
 * with `"payload_encoding": "base64"` beside them.
 */
import { invalid } from '../broker/errors.js';
import type { Delivery } from '../broker/message.js';
import { timestampNs } from '../protocol/message.js';
import { jsonTooDeep } from './json-depth.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The bytes stored for a JSON `payload` field: its JSON text. JSON.parse
 * accepts any nesting depth but JSON.stringify recurses and overflows the
 * stack at a few thousand levels: such a payload is the client's mistake
 * (INVALID_ARGUMENT), not an internal error.
 */
export function payloadFromJson(value: unknown): Uint8Array {
  let text: string;
  try {
    text = JSON.stringify(value ?? null);
  } catch (err) {
    if (err instanceof RangeError) throw invalid('payload is nested too deeply to be stored: flatten it, or send it as a string');
    throw err;
  }
  return Buffer.from(text, 'utf8');
}

/** JSON text of the payload when it is a JSON document, else undefined. */
function jsonText(payload: Uint8Array): string | undefined {
  // Shown as base64 rather than parsed for seconds at every delivery.
  if (payload.length === 0 || jsonTooDeep(payload)) return undefined;
  let text: string;
  try {
    text = utf8.decode(payload);
  } catch {
    return undefined;
  }
  try {
    JSON.parse(text);
  } catch {
    return undefined;
  }
  return text;
}

/**
 * How the JSON fronts show payloads: by the rule above, or as the original
 * Go MQLite did, every payload the base64 of its stored bytes with no
 * `payload_encoding` beside it (the compatibility mode, docs/PROTOCOL.md,
 * "Compatibility mode"; config `compat.original`).
 */
export interface JsonStyle {
  readonly base64Payloads: boolean;
}
export const NATIVE_JSON: JsonStyle = { base64Payloads: false };
export const ORIGINAL_JSON: JsonStyle = { base64Payloads: true };

const base64Of = (p: Uint8Array): string => Buffer.from(p.buffer, p.byteOffset, p.byteLength).toString('base64');

/**
 * One message as a JSON object's text. Built as a string so that a JSON
 * payload is embedded as its stored text, never parsed into objects and
 * serialised again.
 */
export function messageJson(m: Delivery, style: JsonStyle = NATIVE_JSON): string {
  const text = style.base64Payloads ? undefined : jsonText(m.payload);
  const payload =
    text !== undefined
      ? `"payload":${text}`
      : style.base64Payloads
        ? `"payload":"${base64Of(m.payload)}"`
        : `"payload":"${base64Of(m.payload)}","payload_encoding":"base64"`;
  return (
    `{"id":${JSON.stringify(m.id)},"namespace":${JSON.stringify(m.namespace)},"topic":${JSON.stringify(m.topic)},` +
    `"queue_id":${m.queueId},${payload},"timestamp":${timestampNs(m)},` +
    `"headers":${JSON.stringify(m.headers ?? {})},"delivery_count":${m.deliveryCount}}`
  );
}
