/**
 * JSON bodies (encoding 0), docs/PROTOCOL.md "JSON commands": a command is
 * `{"action": "<action>", "data": {...}, "request_id"?: "<string>"}`. The
 * `data` object is the action's request, read by the JSON fronts' one
 * decoder (src/server/commands/json-decode.ts) and mapped by the command
 * table; only the envelope is this file's.
 */
import { TOO_DEEP, jsonTooDeep } from '../json-depth.js';
import { isBrokerError } from '../../broker/errors.js';
import { FieldError, decodeJson } from '../commands/json-decode.js';
import { type TcpOp, opOfAction } from './actions.js';
import { CommandError } from './errors.js';
import { JsonTextPayload, payloadRange } from '../json-scan.js';

/** A decoded command: its entry and its input (the Broker call's arguments), or why it did not decode. */
export interface TcpRequest {
  op: TcpOp | undefined;
  args: unknown;
  requestId: string | undefined;
  /** Set when the command could not be decoded. */
  error: CommandError | undefined;
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `missing field data.topic (a string)`, `field data.entries[0].delay_ms must be an integer`, `order "up" is invalid: use 'asc' or 'desc'`. */
export function fieldErrorText(e: FieldError): string {
  if (e.problem === 'missing') return `missing field data.${e.path} (${e.expected})`;
  if (e.problem === 'enum') return `${e.value} is invalid: use ${e.expected}`;
  if (e.problem === 'unknown') return `unknown field data.${e.path}${e.suggestion ? ` (did you mean ${e.suggestion}?)` : ''}: the fields are ${e.expected}`;
  return `field data.${e.path} must be ${e.expected}`;
}

/** The publish payload: the client's JSON text taken straight from the frame (json-scan.ts). */
const framePayload = new JsonTextPayload(payloadRange);

export function decodeJsonCommand(buf: Buffer, start: number, end: number): TcpRequest {
  let root: unknown;
  if (jsonTooDeep(buf, start, end)) return fail(undefined, `malformed JSON: ${TOO_DEEP}`);
  try {
    root = JSON.parse(buf.toString('utf8', start, end));
  } catch (err) {
    return fail(undefined, `malformed JSON: ${(err as Error).message}`);
  }
  if (!isObj(root)) return fail(undefined, 'a JSON command must be an object {"action": ..., "data": {...}}');
  const rid = root['request_id'];
  if (rid !== undefined && typeof rid !== 'string') return fail(undefined, 'request_id must be a string');
  const action = root['action'];
  if (typeof action !== 'string') return fail(rid, 'missing field action (a string)');
  const op = opOfAction(action);
  if (op === undefined) return fail(rid, `unknown action ${JSON.stringify(action)}`);
  let data = root['data'];
  if (data === undefined || data === null) data = {};
  if (!isObj(data)) return fail(rid, 'field data must be an object');
  try {
    return { op, args: op.input(decodeJson(op, data, framePayload.at(buf, start, end)) as never), requestId: rid, error: undefined };
  } catch (err) {
    if (err instanceof FieldError) return fail(rid, fieldErrorText(err));
    // payloadFromJson refuses a payload nested too deeply to serialise
    if (isBrokerError(err) && err.code === 'INVALID_ARGUMENT') return fail(rid, err.message);
    throw err;
  }
}

function fail(requestId: string | undefined, message: string): TcpRequest {
  return { op: undefined, args: undefined, requestId, error: new CommandError(message) };
}

// ---- replies ----

/** `{"status":"ok",["request_id":...,]"data":<dataJson>}` */
export function okJson(dataJson: string, requestId: string | undefined): string {
  return requestId === undefined
    ? `{"status":"ok","data":${dataJson}}`
    : `{"status":"ok","request_id":${JSON.stringify(requestId)},"data":${dataJson}}`;
}

/** `{"status":"error",["request_id":...,]"error":"<reason>"}` */
export function errorJson(reason: string, requestId: string | undefined): string {
  return requestId === undefined
    ? `{"status":"error","error":${JSON.stringify(reason)}}`
    : `{"status":"error","request_id":${JSON.stringify(requestId)},"error":${JSON.stringify(reason)}}`;
}
