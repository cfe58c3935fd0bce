/**
 * The client side of the TCP frame bodies (docs/PROTOCOL.md, "TCP framing"):
 * commands out, replies in, for both encodings. Framing and the protobuf
 * primitives are the server's (src/server/tcp), so both ends share one
 * implementation of the wire.
 */
import { ENCODING_JSON, ENCODING_PROTOBUF, type Encoding, type FrameWriter } from '../../protocol/frame.js';
import { PbBuilder } from '../../protocol/pb-builder.js';
import { measurePublishRequest, writePublishRequest } from '../../protocol/publish-request.js';
import { DATA_FIELD, FIRST_DATA_FIELD, LAST_DATA_FIELD } from '../../protocol/tcp-actions.js';
import {
  ProtoReader,
  WIRE_LEN,
  WIRE_VARINT,
  lenFieldSize,
  lenHeaderSize,
  utf8Length,
  writeLenHeader,
  writeString,
  writeStringField,
} from '../../protocol/proto-wire.js';
import { decodeMessage as decodeJsonMessage, payloadJsonText } from '../json-message.js';
import type { ClientMessage, PublishExtras, ResizeSummary, TopicSummary } from '../types.js';
import { ClientError } from '../types.js';

export { ENCODING_JSON, ENCODING_PROTOBUF, type Encoding };

/** A decoded reply frame. `data` is the JSON `data` value, or the protobuf data field's bytes. */
export interface Reply {
  ok: boolean;
  error: string;
  requestId: string | undefined;
  /** JSON: the `data` value. */
  json: unknown;
  /** Protobuf: the `data` oneof field number (0: none) and its bytes `buf[start, end)`. */
  field: number;
  buf: Buffer;
  start: number;
  end: number;
}

const EMPTY = Buffer.alloc(0);

export function decodeReply(encoding: number, buf: Buffer, start: number, end: number): Reply {
  if (encoding === ENCODING_JSON) {
    const v = JSON.parse(buf.toString('utf8', start, end)) as {
      status?: unknown;
      error?: unknown;
      request_id?: unknown;
      data?: unknown;
    };
    return {
      ok: v.status === 'ok',
      error: typeof v.error === 'string' ? v.error : '',
      requestId: typeof v.request_id === 'string' ? v.request_id : undefined,
      json: v.data,
      field: 0,
      buf: EMPTY,
      start: 0,
      end: 0,
    };
  }
  if (encoding !== ENCODING_PROTOBUF) throw new ClientError('TRANSPORT', `reply frame with unknown encoding byte ${encoding}`);
  const r = new ProtoReader(buf, start, end);
  const reply: Reply = { ok: false, error: '', requestId: undefined, json: undefined, field: 0, buf, start: 0, end: 0 };
  while (!r.done) {
    const t = r.tag();
    const field = t >>> 3;
    if (t === ((1 << 3) | WIRE_LEN)) reply.ok = r.string() === 'ok';
    else if (t === ((2 << 3) | WIRE_LEN)) reply.error = r.string();
    else if (t === ((3 << 3) | WIRE_LEN)) reply.requestId = r.string() || undefined;
    else if ((t & 7) === WIRE_LEN && field >= FIRST_DATA_FIELD && field <= LAST_DATA_FIELD) {
      r.len();
      reply.field = field;
      reply.start = r.rs;
      reply.end = r.re;
    } else r.skip(t & 7);
  }
  return reply;
}

/** The error of a failed reply: the code leads the reason (`NOT_FOUND: ...`, see src/server/tcp/errors.ts). */
export function replyError(reply: Reply): ClientError {
  const m = /^([A-Z_]+): ([\s\S]*)$/.exec(reply.error);
  return m ? new ClientError(m[1]!, m[2]!) : new ClientError('UNKNOWN', reply.error || 'error reply without a reason');
}

// ------------------------------------------------------------------ commands

function jsonCommand(action: string, requestId: string | undefined, data: string): string {
  return requestId === undefined
    ? `{"action":"${action}","data":${data}}`
    : `{"action":"${action}","request_id":${JSON.stringify(requestId)},"data":${data}}`;
}

/** Writes a command whose arguments are given as a JSON data object and its protobuf message. */
export function writeCommand(
  out: FrameWriter,
  encoding: Encoding,
  action: keyof typeof DATA_FIELD,
  requestId: string | undefined,
  jsonData: () => string,
  pbData: () => Uint8Array,
): void {
  if (encoding === ENCODING_JSON) {
    out.json(jsonCommand(action, requestId, jsonData()));
    return;
  }
  const body = new PbBuilder(64).string(1, action).string(2, requestId).message(DATA_FIELD[action], pbData()).finish();
  out.bytes(ENCODING_PROTOBUF, body);
}

const PUBLISH_ACTION = 'publish';

let lastPayload: string | undefined;
let lastPayloadJson: Buffer = Buffer.alloc(0);

/**
 * The UTF-8 bytes of `payloadJsonText(payload)`, remembering the last string
 * payload: deciding whether a string is a JSON document parses it, and a
 * client often publishes the same payload again. (Strings only: bytes may
 * change between calls.)
 */
function jsonPayloadBytes(payload: Uint8Array | string): Buffer {
  if (typeof payload !== 'string') return Buffer.from(payloadJsonText(payload), 'utf8');
  if (payload !== lastPayload) {
    lastPayloadJson = Buffer.from(payloadJsonText(payload), 'utf8');
    lastPayload = payload;
  }
  return lastPayloadJson;
}

/** The hot command, written straight into the output slab. */
export function writePublish(
  out: FrameWriter,
  encoding: Encoding,
  requestId: string | undefined,
  namespace: string,
  topic: string,
  payload: Uint8Array | string,
  opts: PublishExtras | undefined,
): void {
  const headers = opts?.headers;
  const routingKey = opts?.routingKey;
  const queueId = opts?.queueId;
  // extensions: absent from a plain publish, which sends what it always did
  const dedupId = opts?.dedupId;
  const delayMs = opts?.delayMs;
  const deliverAtMs = opts?.deliverAtMs;
  const ttlMs = opts?.ttlMs;
  if (encoding === ENCODING_JSON) {
    // The payload's JSON text goes in as bytes: no 1 KiB string is built per message.
    const head =
      `{"action":"publish",${requestId === undefined ? '' : `"request_id":${JSON.stringify(requestId)},`}` +
      `"data":{"namespace":${JSON.stringify(namespace)},"topic":${JSON.stringify(topic)},"payload":`;
    let tail = '';
    if (headers) tail += `,"headers":${JSON.stringify(headers)}`;
    if (routingKey) tail += `,"routing_key":${JSON.stringify(routingKey)}`;
    if (queueId !== undefined) tail += `,"queue_id":${queueId}`;
    if (dedupId !== undefined) tail += `,"dedup_id":${JSON.stringify(dedupId)}`;
    if (delayMs !== undefined) tail += `,"delay_ms":${delayMs}`;
    if (deliverAtMs !== undefined) tail += `,"deliver_at_ms":${deliverAtMs}`;
    if (ttlMs !== undefined) tail += `,"ttl_ms":${ttlMs}`;
    tail += '}}';
    const body = jsonPayloadBytes(payload);
    const headLen = utf8Length(head);
    const tailLen = utf8Length(tail);
    let pos = out.begin(ENCODING_JSON, headLen + body.length + tailLen);
    const buf = out.buffer;
    pos = writeString(buf, pos, head, headLen);
    buf.set(body, pos);
    writeString(buf, pos + body.length, tail, tailLen);
    return;
  }
  const ridLen = requestId ? utf8Length(requestId) : 0;
  const inner = measurePublishRequest(namespace, topic, payload, opts);
  const size =
    lenFieldSize(PUBLISH_ACTION.length) + (ridLen ? lenFieldSize(ridLen) : 0) + lenHeaderSize(DATA_FIELD.publish, inner) + inner;
  let pos = out.begin(ENCODING_PROTOBUF, size);
  const buf = out.buffer;
  pos = writeStringField(buf, pos, 1, PUBLISH_ACTION, PUBLISH_ACTION.length);
  if (ridLen) pos = writeStringField(buf, pos, 2, requestId!, ridLen);
  pos = writeLenHeader(buf, pos, DATA_FIELD.publish, inner);
  writePublishRequest(buf, pos);
}

// ------------------------------------------------------------------- results

type Decoder<T> = (reply: Reply) => T;

function jsonField<T>(v: unknown, key: string): T {
  return (v as Record<string, T>)[key]!;
}

function sub(reply: Reply): ProtoReader {
  return new ProtoReader(reply.buf, reply.start, reply.end);
}

export const decodeNothing: Decoder<void> = () => undefined;

export const decodeNames: Decoder<string[]> = (reply) => {
  if (reply.field === 0) return (reply.json as string[] | undefined) ?? [];
  const r = sub(reply);
  const names: string[] = [];
  while (!r.done) {
    const t = r.tag();
    if (t === ((1 << 3) | WIRE_LEN)) names.push(r.string());
    else r.skip(t & 7);
  }
  return names;
};

export const decodeTopics: Decoder<TopicSummary[]> = (reply) => {
  if (reply.field === 0) {
    return ((reply.json as unknown[] | undefined) ?? []).map((t) => ({
      name: jsonField<string>(t, 'name'),
      queueCount: jsonField<number>(t, 'queue_count'),
      version: BigInt(jsonField<number>(t, 'version') ?? 0),
      paused: jsonField<boolean>(t, 'paused') === true,
    }));
  }
  const r = sub(reply);
  const topics: TopicSummary[] = [];
  while (!r.done) {
    const t = r.tag();
    if (t !== ((1 << 3) | WIRE_LEN)) {
      r.skip(t & 7);
      continue;
    }
    r.len();
    const e = new ProtoReader(r.buf, r.rs, r.re);
    const topic: TopicSummary = { name: '', queueCount: 0, version: 0n, paused: false };
    while (!e.done) {
      const et = e.tag();
      if (et === ((1 << 3) | WIRE_LEN)) topic.name = e.string();
      else if (et === ((2 << 3) | WIRE_VARINT)) topic.queueCount = e.int32();
      else if (et === ((3 << 3) | WIRE_VARINT)) topic.version = e.uint64();
      else if (et === ((5 << 3) | WIRE_VARINT)) topic.paused = e.int32() !== 0;
      else e.skip(et & 7);
    }
    topics.push(topic);
  }
  return topics;
};

export const decodeResize: Decoder<ResizeSummary> = (reply) => {
  if (reply.field === 0 && reply.json !== undefined) {
    return {
      newQueueCount: jsonField<number>(reply.json, 'new_queue_count'),
      version: BigInt(jsonField<number>(reply.json, 'version')),
      draining: jsonField<boolean>(reply.json, 'draining'),
    };
  }
  const out: ResizeSummary = { newQueueCount: 0, version: 0n, draining: false };
  const r = sub(reply);
  while (!r.done) {
    const t = r.tag();
    if (t === ((3 << 3) | WIRE_VARINT)) out.newQueueCount = r.int32();
    else if (t === ((4 << 3) | WIRE_VARINT)) out.version = r.uint64();
    else if (t === ((5 << 3) | WIRE_VARINT)) out.draining = r.bool();
    else r.skip(t & 7);
  }
  return out;
};

export const decodePublished: Decoder<{ messageId: string; queueId: number }> = (reply) => {
  if (reply.field === 0) {
    return { messageId: jsonField<string>(reply.json, 'message_id'), queueId: jsonField<number>(reply.json, 'queue_id') };
  }
  const r = sub(reply);
  let messageId = '';
  let queueId = 0;
  while (!r.done) {
    const t = r.tag();
    if (t === ((1 << 3) | WIRE_LEN)) messageId = r.string();
    else if (t === ((2 << 3) | WIRE_VARINT)) queueId = r.int32();
    else r.skip(t & 7);
  }
  return { messageId, queueId };
};

/** The publish reply with the extension's `duplicate` (PublishResponse.3; JSON only when true). */
export const decodePublishedEx: Decoder<{ messageId: string; queueId: number; duplicate: boolean }> = (reply) => {
  const { messageId, queueId } = decodePublished(reply);
  if (reply.field === 0) return { messageId, queueId, duplicate: jsonField<boolean | undefined>(reply.json, 'duplicate') === true };
  const r = sub(reply);
  let duplicate = false;
  while (!r.done) {
    const t = r.tag();
    if (t === ((3 << 3) | WIRE_VARINT)) duplicate = r.bool();
    else r.skip(t & 7);
  }
  return { messageId, queueId, duplicate };
};

/** Reads one `Message` from `buf[start, end)`; the payload is copied out of the frame. */
export function readPbMessage(buf: Buffer, start: number, end: number): ClientMessage {
  const r = new ProtoReader(buf, start, end);
  const m: ClientMessage = { id: '', namespace: '', topic: '', queueId: 0, payload: new Uint8Array(0), timestamp: 0n, headers: {}, deliveryCount: 0 };
  while (!r.done) {
    const t = r.tag();
    switch (t) {
      case (1 << 3) | WIRE_LEN:
        m.id = r.string();
        break;
      case (2 << 3) | WIRE_LEN:
        m.namespace = r.string();
        break;
      case (3 << 3) | WIRE_LEN:
        m.topic = r.string();
        break;
      case (4 << 3) | WIRE_VARINT:
        m.queueId = r.int32();
        break;
      case (5 << 3) | WIRE_LEN:
        r.len();
        m.payload = new Uint8Array(r.buf.buffer.slice(r.buf.byteOffset + r.rs, r.buf.byteOffset + r.re));
        break;
      case (6 << 3) | WIRE_VARINT:
        m.timestamp = r.int64();
        break;
      case (7 << 3) | WIRE_LEN:
        r.mapEntry(m.headers);
        break;
      case (8 << 3) | WIRE_VARINT:
        m.deliveryCount = r.uint32();
        break;
      default:
        r.skip(t & 7);
    }
  }
  return m;
}

export const decodeMessages: Decoder<ClientMessage[]> = (reply) => {
  if (reply.field === 0) return ((reply.json as unknown[] | undefined) ?? []).map((w) => decodeJsonMessage(w as never));
  const r = sub(reply);
  const out: ClientMessage[] = [];
  while (!r.done) {
    const t = r.tag();
    if (t === ((1 << 3) | WIRE_LEN)) {
      r.len();
      out.push(readPbMessage(r.buf, r.rs, r.re));
    } else r.skip(t & 7);
  }
  return out;
};

/** A pushed subscription frame's message (JSON `data`, or protobuf `subscribe_message`). */
export function decodePushed(reply: Reply): ClientMessage | undefined {
  if (reply.field === 18) return readPbMessage(reply.buf, reply.start, reply.end);
  if (reply.field === 0 && typeof reply.json === 'object' && reply.json !== null) return decodeJsonMessage(reply.json as never);
  return undefined;
}
