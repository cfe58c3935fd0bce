/**
 * Writes reply frames in the encoding of the request they answer
 * (docs/PROTOCOL.md, "Replies and pipelining"): JSON `{"status",
 * "request_id"?, "data" | "error"}` or a protobuf `TCPResponse{1 status,
 * 2 error, 3 request_id, data}`. The `data` is the command's result mapped
 * by the command table: its JSON text, or its response message as the
 * `data` case of the command's field number. publish, consume and the
 * subscription pushes, the hot replies, are written straight into the
 * frame; the replies of commands that return nothing are encoded once.
 */
import { create, toBinary } from '@bufbuild/protobuf';
import type { Delivery } from '../../broker/message.js';
import type { PublishResult } from '../../broker/broker.js';
import { timestampNs } from '../../protocol/message.js';
import { type JsonStyle, messageJson, NATIVE_JSON } from '../json-payload.js';
import { AuthResponseSchema } from '../../../gen/mqlite/v1/mqlite_pb.js';
import type { AnyCommand } from '../commands/command.js';
import { publish, subscribe } from '../commands/messages.js';
import { ENCODING_JSON, ENCODING_PROTOBUF, type Encoding, type FrameWriter } from '../../protocol/frame.js';
import { AUTH, type TcpOp } from './actions.js';
import { errorJson, okJson } from './json-codec.js';
import { measureMessages, messageSize, writeMessage, writeMessages } from '../../protocol/pb-builder.js';
import { DATA_FIELD, type TcpAction } from '../../protocol/tcp-actions.js';
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

/** The `data` of the replies that carry no result, by entry: JSON text, and protobuf bytes (none for a protobuf subscribe). */
const FIXED_JSON = new Map<TcpOp, string>([
  [subscribe, '"subscribed"'],
  [AUTH, '"authenticated"'],
]);
const FIXED_PB = new Map<TcpOp, Uint8Array | undefined>([
  // docs/PROTOCOL.md: a protobuf subscribe is answered first by TCPResponse{status: "ok"} with no data
  [subscribe, undefined],
  [AUTH, toBinary(AuthResponseSchema, create(AuthResponseSchema, { success: true, message: 'authenticated' }))],
]);

/** The constant bytes of a command that returns nothing, encoded on its first reply. */
function doneBytes(cmd: AnyCommand): Uint8Array {
  let bytes = FIXED_PB.get(cmd);
  if (bytes === undefined) FIXED_PB.set(cmd, (bytes = toBinary(cmd.response, create(cmd.response, cmd.reply.pb(undefined)))));
  return bytes;
}

export function writeOk(out: FrameWriter, encoding: Encoding, requestId: string | undefined, op: TcpOp, result: unknown, style: JsonStyle = NATIVE_JSON): void {
  if (op === publish) {
    const r = result as PublishResult;
    if (encoding !== ENCODING_JSON) writePbPublished(out, requestId, r);
    else if (requestId === undefined && r.duplicate === undefined) writeJsonPublished(out, r);
    else out.json(okJson(publish.reply.json(r, style), requestId));
    return;
  }
  if (!('run' in op)) {
    if (encoding === ENCODING_JSON) out.json(okJson(FIXED_JSON.get(op)!, requestId));
    else writePbOk(out, requestId, DATA_FIELD[op.name as TcpAction], FIXED_PB.get(op));
    return;
  }
  const cmd = op as AnyCommand;
  if (encoding === ENCODING_JSON) out.json(okJson(cmd.reply.json(result, style), requestId));
  else if (cmd.reply.deliveries) writePbConsumed(out, requestId, result as readonly Delivery[], DATA_FIELD[cmd.name as TcpAction]);
  else if (cmd.reply.done !== undefined) writePbOk(out, requestId, DATA_FIELD[cmd.name as TcpAction], doneBytes(cmd));
  else writePbOk(out, requestId, DATA_FIELD[cmd.name as TcpAction], toBinary(cmd.response, create(cmd.response, cmd.reply.pb(result))));
}

const JSON_PUBLISHED_HEAD = '{"status":"ok","data":{"message_id":"';
const JSON_PUBLISHED_MID = '","queue_id":';

/**
 * The hot JSON reply, `{"status":"ok","data":{"message_id":"<uuid>","queue_id":N}}`,
 * written byte by byte (ids are UUIDs: plain ASCII) instead of built as a
 * string and encoded.
 */
function writeJsonPublished(out: FrameWriter, r: PublishResult): void {
  const q = String(r.queueId);
  const size = JSON_PUBLISHED_HEAD.length + r.messageId.length + JSON_PUBLISHED_MID.length + q.length + 2;
  if (utf8Length(r.messageId) !== r.messageId.length) {
    out.json(okJson(publish.reply.json(r, NATIVE_JSON), undefined));
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
function writePbConsumed(out: FrameWriter, requestId: string | undefined, msgs: readonly Delivery[], field: number): void {
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
function writePbPublished(out: FrameWriter, requestId: string | undefined, r: PublishResult): void {
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
  // begin() first: it may move to a new slab, and out.buffer is the slab it reserved in.
  const pos = out.begin(ENCODING_PROTOBUF, size);
  writeEnvelope(out.buffer, pos, 'error', reason, requestId, ridLen, errLen);
}

/** One pushed subscription message (`subscribe_message` in protobuf). */
export function writePush(out: FrameWriter, encoding: Encoding, requestId: string | undefined, m: Delivery, style: JsonStyle = NATIVE_JSON): void {
  if (encoding === ENCODING_JSON) {
    out.json(okJson(messageJson(m, style), requestId));
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
