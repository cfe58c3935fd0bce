/**
 * JSON bodies (encoding 0), PROTOCOL.md "TCP framing": a command is
 * `{"action": "<action>", "data": {...}, "request_id"?: "<string>"}`.
 *
 * Fields are type-checked here (a decoding matter); names, ranges and sizes
 * are validated by the core. Strings are required. Numbers the existing
 * broker's decoder treats as 0 when absent (`queue_id` of consume, subscribe
 * and ack) default to 0, `batch_size` to 1 and `auto_ack` to false, so old
 * clients that omit zero values keep working.
 */
import { isUtf8 } from 'node:buffer';
import { payloadFromJson } from '../json-payload.js';
import { type Action, type Command, CommandError, isAction } from './commands.js';
import { payloadRange } from './json-scan.js';

export interface JsonRequest {
  command: Command | undefined;
  requestId: string | undefined;
  /** Set when the command could not be decoded. */
  error: CommandError | undefined;
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(data: Obj, key: string): string {
  const v = data[key];
  if (typeof v === 'string') return v;
  if (v === undefined) throw new CommandError(`missing field data.${key} (a string)`);
  throw new CommandError(`field data.${key} must be a string`);
}

function optStr(data: Obj, key: string): string | undefined {
  const v = data[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  throw new CommandError(`field data.${key} must be a string`);
}

function int(data: Obj, key: string, dflt?: number): number {
  const v = data[key];
  if ((v === undefined || v === null) && dflt !== undefined) return dflt;
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (v === undefined) throw new CommandError(`missing field data.${key} (an integer)`);
  throw new CommandError(`field data.${key} must be an integer`);
}

function bool(data: Obj, key: string): boolean {
  const v = data[key];
  if (v === undefined || v === null) return false;
  if (typeof v === 'boolean') return v;
  throw new CommandError(`field data.${key} must be true or false`);
}

function headers(data: Obj): Record<string, string> | undefined {
  const v = data['headers'];
  if (v === undefined || v === null) return undefined;
  if (!isObj(v)) throw new CommandError('field data.headers must be an object of strings');
  for (const k in v) {
    if (typeof v[k] !== 'string') throw new CommandError(`field data.headers.${k} must be a string`);
  }
  return v as Record<string, string>;
}

function stringArray(data: Obj, key: string): string[] {
  const v = data[key];
  if (v === undefined) throw new CommandError(`missing field data.${key} (an array of strings)`);
  if (v === null) return []; // Go encodes an empty (nil) slice as null
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) {
    throw new CommandError(`field data.${key} must be an array of strings`);
  }
  return v as string[];
}

/** The frame a command came from, for taking the publish payload straight from its bytes. */
interface Body {
  buf: Buffer;
  start: number;
  end: number;
}

/** The payload bytes: the client's JSON text from the frame, or the value serialised again. */
function payloadBytes(d: Obj, body: Body): Uint8Array {
  const range = payloadRange(body.buf, body.start, body.end);
  if (range) {
    const raw = body.buf.subarray(range[0], range[1]);
    // invalid UTF-8 was replaced when the body was parsed: store what was parsed then
    if (isUtf8(raw)) return raw;
  }
  return payloadFromJson(d['payload']);
}

/** One decoder per action: the data object to the action's arguments. */
const decoders: { [A in Action]: (data: Obj, body: Body) => Command & { action: A } } = {
  create_namespace: (d) => ({ action: 'create_namespace', args: { name: str(d, 'name') } }),
  delete_namespace: (d) => ({ action: 'delete_namespace', args: { name: str(d, 'name') } }),
  list_namespaces: () => ({ action: 'list_namespaces', args: {} }),
  create_topic: (d) => ({
    action: 'create_topic',
    args: { namespace: str(d, 'namespace'), name: str(d, 'name'), queueCount: int(d, 'queue_count') },
  }),
  delete_topic: (d) => ({ action: 'delete_topic', args: { namespace: str(d, 'namespace'), name: str(d, 'name') } }),
  list_topics: (d) => ({ action: 'list_topics', args: { namespace: str(d, 'namespace') } }),
  resize_topic: (d) => ({
    action: 'resize_topic',
    args: { namespace: str(d, 'namespace'), name: str(d, 'name'), newQueueCount: int(d, 'new_queue_count') },
  }),
  rebalance_topic: (d) => ({
    action: 'rebalance_topic',
    args: { namespace: str(d, 'namespace'), name: str(d, 'name') },
  }),
  publish: (d, body) => {
    if (!('payload' in d)) throw new CommandError('missing field data.payload (any JSON value)');
    return {
      action: 'publish',
      args: {
        namespace: str(d, 'namespace'),
        topic: str(d, 'topic'),
        payload: payloadBytes(d, body),
        headers: headers(d),
        routingKey: optStr(d, 'routing_key'),
        // absent, null or -1: automatic routing
        queueId: int(d, 'queue_id', -1),
      },
    };
  },
  consume: (d) => ({
    action: 'consume',
    args: {
      namespace: str(d, 'namespace'),
      topic: str(d, 'topic'),
      queueId: int(d, 'queue_id', 0),
      batchSize: int(d, 'batch_size', 1),
      autoAck: bool(d, 'auto_ack'),
    },
  }),
  subscribe: (d) => ({
    action: 'subscribe',
    args: { namespace: str(d, 'namespace'), topic: str(d, 'topic'), queueId: int(d, 'queue_id', 0), autoAck: bool(d, 'auto_ack') },
  }),
  ack: (d) => ({
    action: 'ack',
    args: {
      namespace: str(d, 'namespace'),
      topic: str(d, 'topic'),
      queueId: int(d, 'queue_id', 0),
      messageIds: stringArray(d, 'message_ids'),
    },
  }),
};

export function decodeJsonCommand(buf: Buffer, start: number, end: number): JsonRequest {
  let root: unknown;
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
  if (!isAction(action)) return fail(rid, `unknown action ${JSON.stringify(action)}`);
  let data = root['data'];
  if (data === undefined || data === null) data = {};
  if (!isObj(data)) return fail(rid, 'field data must be an object');
  try {
    return { command: decoders[action](data, { buf, start, end }), requestId: rid, error: undefined };
  } catch (err) {
    if (err instanceof CommandError) return fail(rid, err.message);
    throw err;
  }
}

function fail(requestId: string | undefined, message: string): JsonRequest {
  return { command: undefined, requestId, error: new CommandError(message) };
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
