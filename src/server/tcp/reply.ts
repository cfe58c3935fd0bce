/**
 * Writes reply frames in the encoding of the request they answer
 * (PROTOCOL.md, "TCP framing"): JSON `{"status", "request_id"?, "data" | "error"}`
 * or a protobuf `TCPResponse{1 status, 2 error, 3 request_id, data}`.
 */
import type { Delivery } from '../../broker/message.js';
import { timestampNs } from '../../protocol/message.js';
import { messageJson } from '../json-payload.js';
import type { Action, CommandResults } from './commands.js';
import { ENCODING_JSON, ENCODING_PROTOBUF, type Encoding, type FrameWriter } from '../../protocol/frame.js';
import { handlers } from './handlers.js';
import { errorJson, okJson } from './json-codec.js';
import { measureMessages, messageSize, writeMessage, writeMessages } from '../../protocol/pb-builder.js';
import { DATA_FIELD } from '../../protocol/tcp-actions.js';
import {
  WIRE_VARINT,
  lenFieldSize,
  lenHeaderSize,
  utf8Length,
  varintSize,
  writeLenHeader,
  writeString,
  writeStringField,
  writeVarint,
} from '../../protocol/proto-wire.js';

const SUBSCRIBE_MESSAGE_FIELD = 18;
const PUBLISH_FIELD = DATA_FIELD.publish;

/** TCPResponse's status, error and request_id fields. */
function envelopeSize(status: string, error: string, requestId: string | undefined, ridLen: number, errLen: number): number {
  return lenFieldSize(status.length) + (error ? lenFieldSize(errLen) : 0) + (requestId ? lenFieldSize(ridLen) : 0);
}

function writeEnvelope(
  buf: Buffer,
  pos: number,
  status: string,
  error: string,
  requestId: string | undefined,
  ridLen: number,
  errLen: number,
): number {
  pos = writeStringField(buf, pos, 1, status, status.length);
  if (error) pos = writeStringField(buf, pos, 2, error, errLen);
  if (requestId) pos = writeStringField(buf, pos, 3, requestId, ridLen);
  return pos;
}

function writePbOk(out: FrameWriter, requestId: string | undefined, field: number, data: Uint8Array | undefined): void {
  const ridLen = requestId ? utf8Length(requestId) : 0;
  const head = envelopeSize('ok', '', requestId, ridLen, 0);
  const size = head + (data ? lenHeaderSize(field, data.length) + data.length : 0);
  let pos = out.begin(ENCODING_PROTOBUF, size);
  const buf = out.buffer;
  pos = writeEnvelope(buf, pos, 'ok', '', requestId, ridLen, 0);
  if (data) {
    pos = writeLenHeader(buf, pos, field, data.length);
    buf.set(data, pos);
  }
}

export function writeOk<A extends Action>(
  out: FrameWriter,
  encoding: Encoding,
  requestId: string | undefined,
  action: A,
  result: CommandResults[A],
): void {
  const spec = handlers[action];
  if (encoding === ENCODING_JSON) {
    if (action === 'publish' && requestId === undefined && (result as CommandResults['publish']).duplicate === undefined) {
      writeJsonPublished(out, result as CommandResults['publish']);
    }
    else out.json(okJson(spec.json(result), requestId));
  }
  else if (action === 'publish') writePbPublished(out, requestId, result as CommandResults['publish']);
  else if (action === 'consume' || action === 'consume_dlq') writePbConsumed(out, requestId, result as CommandResults['consume'], DATA_FIELD[action]);
  else writePbOk(out, requestId, DATA_FIELD[action], spec.pb(result));
}

const JSON_PUBLISHED_HEAD = '{"status":"ok","data":{"message_id":"';
const JSON_PUBLISHED_MID = '","queue_id":';

/**
 * The hot JSON reply, `{"status":"ok","data":{"message_id":"<uuid>","queue_id":N}}`,
 * written byte by byte (ids are UUIDs: plain ASCII) instead of built as a
 * string and encoded.
 */
function writeJsonPublished(out: FrameWriter, r: CommandResults['publish']): void {
  const q = String(r.queueId);
  const size = JSON_PUBLISHED_HEAD.length + r.messageId.length + JSON_PUBLISHED_MID.length + q.length + 2;
  if (utf8Length(r.messageId) !== r.messageId.length) {
    out.json(okJson(handlers.publish.json(r), undefined));
    return;
  }
  let pos = out.beginJson(size);
  const buf = out.buffer;
  pos = writeString(buf, pos, JSON_PUBLISHED_HEAD, JSON_PUBLISHED_HEAD.length);
  pos = writeString(buf, pos, r.messageId, r.messageId.length);
  pos = writeString(buf, pos, JSON_PUBLISHED_MID, JSON_PUBLISHED_MID.length);
  pos = writeString(buf, pos, q, q.length);
  buf[pos++] = 0x7d; // }
  buf[pos] = 0x7d;
}

/**
 * `TCPResponse{status:"ok", consume_response:{messages}}` (or
 * `consume_dlq_response`, the same shape), the messages written straight
 * into the frame.
 */
function writePbConsumed(out: FrameWriter, requestId: string | undefined, msgs: CommandResults['consume'], field: number): void {
  const ridLen = requestId ? utf8Length(requestId) : 0;
  const mm = measureMessages(msgs);
  const size = envelopeSize('ok', '', requestId, ridLen, 0) + lenHeaderSize(field, mm.total) + mm.total;
  let pos = out.begin(ENCODING_PROTOBUF, size);
  const buf = out.buffer;
  pos = writeEnvelope(buf, pos, 'ok', '', requestId, ridLen, 0);
  pos = writeLenHeader(buf, pos, field, mm.total);
  writeMessages(buf, pos, mm);
}

/** The hot reply, `TCPResponse{status:"ok", publish_response:{message_id, queue_id, duplicate}}`, in one pass. */
function writePbPublished(out: FrameWriter, requestId: string | undefined, r: CommandResults['publish']): void {
  const ridLen = requestId ? utf8Length(requestId) : 0;
  const idLen = utf8Length(r.messageId);
  const inner = (idLen ? lenFieldSize(idLen) : 0) + (r.queueId !== 0 ? 1 + varintSize(r.queueId) : 0) + (r.duplicate ? 2 : 0);
  const size = envelopeSize('ok', '', requestId, ridLen, 0) + lenHeaderSize(PUBLISH_FIELD, inner) + inner;
  let pos = out.begin(ENCODING_PROTOBUF, size);
  const buf = out.buffer;
  pos = writeEnvelope(buf, pos, 'ok', '', requestId, ridLen, 0);
  pos = writeLenHeader(buf, pos, PUBLISH_FIELD, inner);
  if (idLen) pos = writeStringField(buf, pos, 1, r.messageId, idLen);
  if (r.queueId !== 0) {
    buf[pos++] = (2 << 3) | WIRE_VARINT;
    pos = writeVarint(buf, pos, r.queueId);
  }
  if (r.duplicate) {
    buf[pos++] = (3 << 3) | WIRE_VARINT;
    buf[pos] = 1;
  }
}

export function writeError(out: FrameWriter, encoding: Encoding, requestId: string | undefined, reason: string): void {
  if (encoding === ENCODING_JSON) {
    out.json(errorJson(reason, requestId));
    return;
  }
  const ridLen = requestId ? utf8Length(requestId) : 0;
  const errLen = utf8Length(reason);
  const size = envelopeSize('error', reason, requestId, ridLen, errLen);
  writeEnvelope(out.buffer, out.begin(ENCODING_PROTOBUF, size), 'error', reason, requestId, ridLen, errLen);
}

/** One pushed subscription message (`subscribe_message` in protobuf). */
export function writePush(out: FrameWriter, encoding: Encoding, requestId: string | undefined, m: Delivery): void {
  if (encoding === ENCODING_JSON) {
    out.json(okJson(messageJson(m), requestId));
    return;
  }
  const ridLen = requestId ? utf8Length(requestId) : 0;
  const ts = timestampNs(m);
  const msgLen = messageSize(m, ts);
  const size = envelopeSize('ok', '', requestId, ridLen, 0) + lenHeaderSize(SUBSCRIBE_MESSAGE_FIELD, msgLen) + msgLen;
  let pos = out.begin(ENCODING_PROTOBUF, size);
  const buf = out.buffer;
  pos = writeEnvelope(buf, pos, 'ok', '', requestId, ridLen, 0);
  pos = writeLenHeader(buf, pos, SUBSCRIBE_MESSAGE_FIELD, msgLen);
  writeMessage(buf, pos, m, ts);
}
