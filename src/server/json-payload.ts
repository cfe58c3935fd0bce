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
 * One message as a JSON object's text. Built as a string so that a JSON
 * payload is embedded as its stored text, never parsed into objects and
 * serialised again.
 */
export function messageJson(m: Delivery): string {
  const text = jsonText(m.payload);
  const payload =
    text !== undefined
      ? `"payload":${text}`
      : `"payload":${JSON.stringify(Buffer.from(m.payload.buffer, m.payload.byteOffset, m.payload.byteLength).toString('base64'))},"payload_encoding":"base64"`;
  return (
    `{"id":${JSON.stringify(m.id)},"namespace":${JSON.stringify(m.namespace)},"topic":${JSON.stringify(m.topic)},` +
    `"queue_id":${m.queueId},${payload},"timestamp":${timestampNs(m)},` +
    `"headers":${JSON.stringify(m.headers ?? {})},"delivery_count":${m.deliveryCount}}`
  );
}
