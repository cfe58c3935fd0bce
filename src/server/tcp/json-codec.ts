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
import { TOO_DEEP, jsonTooDeep } from '../json-depth.js';
import type { BatchEntry } from '../../broker/broker.js';
import { isBrokerError } from '../../broker/errors.js';
import { type Action, type Command, CommandError, isAction, policyInput } from './commands.js';
import { emptyIsUnset, int32Field, zeroIsUnset } from '../unset.js';
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

function str(data: Obj, key: string, at = 'data'): string {
  const v = data[key];
  if (typeof v === 'string') return v;
  if (v === undefined) throw new CommandError(`missing field ${at}.${key} (a string)`);
  throw new CommandError(`field ${at}.${key} must be a string`);
}

function optStr(data: Obj, key: string, at = 'data'): string | undefined {
  const v = data[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  throw new CommandError(`field ${at}.${key} must be a string`);
}

function int(data: Obj, key: string, dflt?: number): number {
  const v = data[key];
  if ((v === undefined || v === null) && dflt !== undefined) return dflt;
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (v === undefined) throw new CommandError(`missing field data.${key} (an integer)`);
  throw new CommandError(`field data.${key} must be an integer`);
}

/** An integer that may be left out (absent or null: undefined). */
function optInt(data: Obj, key: string, at = 'data'): number | undefined {
  const v = data[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  throw new CommandError(`field ${at}.${key} must be an integer`);
}

function bool(data: Obj, key: string): boolean {
  const v = data[key];
  if (v === undefined || v === null) return false;
  if (typeof v === 'boolean') return v;
  throw new CommandError(`field data.${key} must be true or false`);
}

function headers(data: Obj, at = 'data'): Record<string, string> | undefined {
  const v = data['headers'];
  if (v === undefined || v === null) return undefined;
  if (!isObj(v)) throw new CommandError(`field ${at}.headers must be an object of strings`);
  for (const k in v) {
    if (typeof v[k] !== 'string') throw new CommandError(`field ${at}.headers.${k} must be a string`);
  }
  return v as Record<string, string>;
}

function stringArray(data: Obj, key: string): string[] {
  const v = data[key];
  // Left out, or null (Go encodes an empty, nil slice so): an empty list.
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) {
    throw new CommandError(`field data.${key} must be an array of strings`);
  }
  return v as string[];
}

/** One entry of publish_batch: the fields of publish, payload stored as its JSON text. */
function batchEntry(e: unknown, i: number): BatchEntry {
  const at = `data.entries[${i}]`;
  if (!isObj(e)) throw new CommandError(`field ${at} must be an object`);
  if (!('payload' in e)) throw new CommandError(`missing field ${at}.payload (any JSON value)`);
  return {
    payload: payloadFromJson(e['payload']),
    headers: headers(e, at),
    routingKey: optStr(e, 'routing_key', at),
    queueId: int32Field('queue_id', optInt(e, 'queue_id', at)),
    dedupId: emptyIsUnset(optStr(e, 'dedup_id', at)),
    delayMs: optInt(e, 'delay_ms', at),
    deliverAt: optInt(e, 'deliver_at_ms', at),
  };
}

function batchEntries(data: Obj): BatchEntry[] {
  const v = data['entries'];
  if (v === undefined) throw new CommandError('missing field data.entries (an array of messages)');
  if (v === null) return []; // the core answers that a batch holds at least one message
  if (!Array.isArray(v)) throw new CommandError('field data.entries must be an array of messages');
  return v.map(batchEntry);
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
        queueId: int32Field('queue_id', int(d, 'queue_id', -1)),
        dedupId: emptyIsUnset(optStr(d, 'dedup_id')),
        delayMs: optInt(d, 'delay_ms'),
        deliverAt: optInt(d, 'deliver_at_ms'),
      },
    };
  },
  consume: (d) => ({
    action: 'consume',
    args: {
      namespace: str(d, 'namespace'),
      topic: str(d, 'topic'),
      queueId: int32Field('queue_id', int(d, 'queue_id', 0)),
      batchSize: int(d, 'batch_size', 1),
      autoAck: bool(d, 'auto_ack'),
    },
  }),
  subscribe: (d) => ({
    action: 'subscribe',
    args: { namespace: str(d, 'namespace'), topic: str(d, 'topic'), queueId: int32Field('queue_id', int(d, 'queue_id', 0)), autoAck: bool(d, 'auto_ack') },
  }),
  ack: (d) => ({
    action: 'ack',
    args: {
      namespace: str(d, 'namespace'),
      topic: str(d, 'topic'),
      queueId: int32Field('queue_id', int(d, 'queue_id', 0)),
      messageIds: stringArray(d, 'message_ids'),
    },
  }),
  publish_batch: (d) => ({
    action: 'publish_batch',
    args: {
      namespace: str(d, 'namespace'),
      topic: str(d, 'topic'),
      entries: batchEntries(d),
      // as BATCH_MODE_UNSPECIFIED: partial; any other string is the core's to refuse
      mode: (optStr(d, 'mode') ?? 'partial') as 'partial' | 'atomic',
    },
  }),
  nack: (d) => ({
    action: 'nack',
    args: {
      namespace: str(d, 'namespace'),
      topic: str(d, 'topic'),
      queueId: int32Field('queue_id', int(d, 'queue_id', 0)),
      messageIds: stringArray(d, 'message_ids'),
      delayMs: optInt(d, 'delay_ms'),
    },
  }),
  renew_lease: (d) => ({
    action: 'renew_lease',
    args: {
      namespace: str(d, 'namespace'),
      topic: str(d, 'topic'),
      queueId: int32Field('queue_id', int(d, 'queue_id', 0)),
      messageIds: stringArray(d, 'message_ids'),
      extendMs: int(d, 'extend_ms'),
    },
  }),
  peek: (d) => ({
    action: 'peek',
    args: {
      namespace: str(d, 'namespace'),
      topic: str(d, 'topic'),
      queueId: int32Field('queue_id', int(d, 'queue_id', 0)),
      dlq: bool(d, 'dlq'),
      options: {
        cursor: optStr(d, 'cursor') || undefined,
        limit: zeroIsUnset(optInt(d, 'limit')),
        order: optStr(d, 'order') as 'asc' | 'desc' | undefined,
        previewBytes: zeroIsUnset(optInt(d, 'preview_bytes')),
      },
    },
  }),
  consume_dlq: (d) => ({
    action: 'consume_dlq',
    args: { namespace: str(d, 'namespace'), topic: str(d, 'topic'), batchSize: int(d, 'batch_size', 1), autoAck: bool(d, 'auto_ack') },
  }),
  redrive_dlq: (d) => ({
    action: 'redrive_dlq',
    args: { namespace: str(d, 'namespace'), topic: str(d, 'topic'), max: zeroIsUnset(optInt(d, 'max')) },
  }),
  set_topic_policy: (d) => ({
    action: 'set_topic_policy',
    args: {
      namespace: str(d, 'namespace'),
      topic: str(d, 'topic'),
      policy: policyInput(optInt(d, 'max_retries'), optInt(d, 'retry_base_ms'), optInt(d, 'retry_cap_ms'), optInt(d, 'dedup_window_ms')),
    },
  }),
  get_topic_stats: (d) => ({ action: 'get_topic_stats', args: { namespace: str(d, 'namespace'), topic: str(d, 'topic') } }),
  auth: (d) => ({ action: 'auth', args: { apiKey: str(d, 'api_key') } }),
};

export function decodeJsonCommand(buf: Buffer, start: number, end: number): JsonRequest {
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
  if (!isAction(action)) return fail(rid, `unknown action ${JSON.stringify(action)}`);
  let data = root['data'];
  if (data === undefined || data === null) data = {};
  if (!isObj(data)) return fail(rid, 'field data must be an object');
  try {
    return { command: decoders[action](data, { buf, start, end }), requestId: rid, error: undefined };
  } catch (err) {
    if (err instanceof CommandError) return fail(rid, err.message);
    // payloadFromJson refuses a payload nested too deeply to serialise
    if (isBrokerError(err) && err.code === 'INVALID_ARGUMENT') return fail(rid, err.message);
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
