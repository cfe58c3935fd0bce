/**
 * Messages of the JSON surfaces (HTTP, SSE, TCP JSON) on the client side:
 * the payload text to send for a publish, and a received Message as the
 * client type. The server side of the same rule is src/server/json-payload.ts.
 */
import type { ClientMessage } from './types.js';

/** A Message as the JSON fronts send it (PROTOCOL.md, "JSON surfaces"). */
export interface WireMessage {
  id: string;
  namespace: string;
  topic: string;
  queue_id: number;
  payload: unknown;
  payload_encoding?: string;
  timestamp: number;
  headers?: Record<string, string>;
  delivery_count?: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The JSON text to send for a payload: a JSON document as that value, and
 * anything else as a JSON string (MqliteClient.publish).
 */
export function payloadJsonText(payload: Uint8Array | string): string {
  let text: string;
  if (typeof payload === 'string') text = payload;
  else {
    try {
      text = utf8.decode(payload);
    } catch {
      return JSON.stringify(Buffer.from(payload).toString('utf8'));
    }
  }
  if (text.trim() === '') return JSON.stringify(text);
  try {
    JSON.parse(text);
    return text;
  } catch {
    return JSON.stringify(text);
  }
}

/** A Message of the JSON surfaces, as the client type. */
export function decodeMessage(w: WireMessage): ClientMessage {
  const payload =
    w.payload_encoding === 'base64' && typeof w.payload === 'string'
      ? new Uint8Array(Buffer.from(w.payload, 'base64'))
      : new Uint8Array(Buffer.from(JSON.stringify(w.payload ?? null), 'utf8'));
  return {
    id: w.id,
    namespace: w.namespace,
    topic: w.topic,
    queueId: w.queue_id,
    payload,
    // A JSON number of nanoseconds is only exact to ~256 ns; the broker's
    // timestamps are whole microseconds, which rounding recovers exactly.
    timestamp: BigInt(Math.round(Number(w.timestamp) / 1000)) * 1000n,
    headers: w.headers ?? {},
    deliveryCount: w.delivery_count ?? 0,
  };
}
