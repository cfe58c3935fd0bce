/**
 * Protobuf bodies (encoding 1), PROTOCOL.md "TCP framing": a command is a
 * `TCPCommand`, a reply a `TCPResponse` whose `data` case has the field
 * number of the command's case (publish 16 -> publish_response 16).
 *
 * Decoding reads the wire directly (see proto-wire.ts). `action` names the
 * command; when it is empty the `data` case does. proto3 cannot tell a
 * missing field from a default one, so a command without `data` runs with
 * default arguments and the core rejects what is invalid (an empty name...).
 *
 * The issue 8 requests (publish_batch ... get_topic_stats) and issue 7's auth are rare: they
 * are decoded with the generated protobuf-es code, and only the wire's
 * unset conventions are translated (0, "", an absent optional: undefined).
 */
import { type DescMessage, type MessageShape, fromBinary } from '@bufbuild/protobuf';
import type { BatchEntry } from '../../broker/broker.js';
import { isBrokerError } from '../../broker/errors.js';
import {
  AuthRequestSchema,
  ConsumeDlqRequestSchema,
  GetTopicStatsRequestSchema,
  NackRequestSchema,
  PeekRequestSchema,
  PublishBatchRequestSchema,
  RedriveDlqRequestSchema,
  RenewLeaseRequestSchema,
  SetTopicPolicyRequestSchema,
} from '../../../gen/mqlite/v1/mqlite_pb.js';
import { type Action, type Command, CommandError, isAction, policyInput } from './commands.js';
import { emptyIsUnset, zeroIsUnset } from '../unset.js';
import { batchModeOf, peekOrderOf } from '../grpc/wire.js';
import { ProtoDecodeError, ProtoReader, WIRE_LEN, WIRE_VARINT } from '../../protocol/proto-wire.js';
import { DATA_FIELD } from '../../protocol/tcp-actions.js';


const ACTION_OF_FIELD: (Action | undefined)[] = [];
for (const [action, field] of Object.entries(DATA_FIELD)) ACTION_OF_FIELD[field] = action as Action;

export interface PbRequest {
  command: Command | undefined;
  requestId: string | undefined;
  error: CommandError | undefined;
}

const T_STRING_1 = (1 << 3) | WIRE_LEN;
const T_STRING_2 = (2 << 3) | WIRE_LEN;
const T_STRING_5 = (5 << 3) | WIRE_LEN;
const T_BYTES_3 = (3 << 3) | WIRE_LEN;
const T_STRING_4 = (4 << 3) | WIRE_LEN;
const T_VARINT_3 = (3 << 3) | WIRE_VARINT;
const T_VARINT_4 = (4 << 3) | WIRE_VARINT;
const T_VARINT_5 = (5 << 3) | WIRE_VARINT;
const T_VARINT_6 = (6 << 3) | WIRE_VARINT;
const T_STRING_7 = (7 << 3) | WIRE_LEN;
const T_VARINT_8 = (8 << 3) | WIRE_VARINT;
const T_VARINT_9 = (9 << 3) | WIRE_VARINT;

/**
 * The fields of the small request messages, by number: every request of
 * PROTOCOL.md is strings and int32/bool varints, plus publish's payload and
 * headers and ack's repeated ids, and publish's extensions (7 dedup_id,
 * 8 delay_ms, 9 deliver_at_ms: int64, optional).
 */
interface Fields {
  s1: string;
  s2: string;
  s5: string | undefined;
  v3: number;
  v4: number;
  v5: number;
  v6: number | undefined;
  s7: string;
  v8: number | undefined;
  v9: number | undefined;
  payload: Uint8Array;
  headers: Record<string, string> | undefined;
  ids: string[];
}

const EMPTY = new Uint8Array(0);
/** Never written: only ack reads `ids` (T_STRING_4 is a map entry for publish). */
const NO_IDS: string[] = [];

/** Reused for every command: the builders copy what they keep. */
const scratch: Fields = {
  s1: '',
  s2: '',
  s5: undefined,
  v3: 0,
  v4: 0,
  v5: 0,
  v6: undefined,
  s7: '',
  v8: undefined,
  v9: undefined,
  payload: EMPTY,
  headers: undefined,
  ids: [],
};

function readFields(r: ProtoReader, action: HotAction): Fields {
  const f = scratch;
  f.s1 = f.s2 = f.s7 = '';
  f.s5 = f.v6 = f.v8 = f.v9 = undefined;
  f.v3 = f.v4 = f.v5 = 0;
  f.payload = EMPTY;
  f.headers = undefined;
  f.ids = action === 'ack' ? [] : NO_IDS;
  while (!r.done) {
    const t = r.tag();
    switch (t) {
      case T_STRING_1:
        f.s1 = r.string();
        break;
      case T_STRING_2:
        f.s2 = r.string();
        break;
      case T_BYTES_3:
        f.payload = r.bytes();
        break;
      case T_STRING_4:
        // PublishRequest.headers (map) and AckRequest.message_ids share field 4
        if (action === 'publish') r.mapEntry((f.headers ??= {}));
        else if (action === 'ack') f.ids.push(r.string());
        else r.skip(WIRE_LEN);
        break;
      case T_STRING_5:
        f.s5 = r.string();
        break;
      case T_VARINT_3:
        f.v3 = r.int32();
        break;
      case T_VARINT_4:
        f.v4 = r.int32();
        break;
      case T_VARINT_5:
        f.v5 = r.int32();
        break;
      case T_VARINT_6:
        f.v6 = r.int32();
        break;
      case T_STRING_7:
        f.s7 = r.string();
        break;
      case T_VARINT_8:
        f.v8 = r.int64Number();
        break;
      case T_VARINT_9:
        f.v9 = r.int64Number();
        break;
      default:
        r.skip(t & 7);
    }
  }
  return f;
}

/** The actions of PROTOCOL.md, read by the hand-written decoder. */
type HotAction = Exclude<Action, RareAction>;
type RareAction =
  | 'publish_batch'
  | 'nack'
  | 'renew_lease'
  | 'peek'
  | 'consume_dlq'
  | 'redrive_dlq'
  | 'set_topic_policy'
  | 'get_topic_stats'
  | 'auth';

/** One builder per action: request fields to the action's arguments. */
const builders: { [A in HotAction]: (f: Fields) => Command & { action: A } } = {
  create_namespace: (f) => ({ action: 'create_namespace', args: { name: f.s1 } }),
  delete_namespace: (f) => ({ action: 'delete_namespace', args: { name: f.s1 } }),
  list_namespaces: () => ({ action: 'list_namespaces', args: {} }),
  create_topic: (f) => ({ action: 'create_topic', args: { namespace: f.s1, name: f.s2, queueCount: f.v3 } }),
  delete_topic: (f) => ({ action: 'delete_topic', args: { namespace: f.s1, name: f.s2 } }),
  list_topics: (f) => ({ action: 'list_topics', args: { namespace: f.s1 } }),
  resize_topic: (f) => ({ action: 'resize_topic', args: { namespace: f.s1, name: f.s2, newQueueCount: f.v3 } }),
  rebalance_topic: (f) => ({ action: 'rebalance_topic', args: { namespace: f.s1, name: f.s2 } }),
  publish: (f) => ({
    action: 'publish',
    args: {
      namespace: f.s1,
      topic: f.s2,
      payload: f.payload,
      headers: f.headers,
      routingKey: f.s5 || undefined,
      queueId: f.v6,
      dedupId: emptyIsUnset(f.s7),
      delayMs: f.v8,
      deliverAt: f.v9,
    },
  }),
  consume: (f) => ({
    action: 'consume',
    args: { namespace: f.s1, topic: f.s2, queueId: f.v3, batchSize: f.v4, autoAck: f.v5 !== 0 },
  }),
  subscribe: (f) => ({ action: 'subscribe', args: { namespace: f.s1, topic: f.s2, queueId: f.v3, autoAck: f.v4 !== 0 } }),
  ack: (f) => ({ action: 'ack', args: { namespace: f.s1, topic: f.s2, queueId: f.v3, messageIds: f.ids } }),
};

/**
 * int64 milliseconds to the core's number. A value past 2^53 loses
 * precision but stays far past every range the core accepts, so the core
 * still refuses it, with its own message.
 */
function ms(v: bigint | undefined): number | undefined {
  return v === undefined ? undefined : Number(v);
}

/** One decoder per rare action: the data case's bytes (a view into the frame) to its arguments. */
const rareDecoders: { [A in RareAction]: (bytes: Uint8Array) => Command & { action: A } } = {
  publish_batch: (b) => {
    const m = parse(PublishBatchRequestSchema, b);
    const entries = m.entries.map(
      (e): BatchEntry => ({
        payload: e.payload,
        headers: e.headers,
        routingKey: e.routingKey || undefined,
        queueId: e.queueId,
        dedupId: emptyIsUnset(e.dedupId),
        delayMs: ms(e.delayMs),
        deliverAt: ms(e.deliverAtMs),
      }),
    );
    return { action: 'publish_batch', args: { namespace: m.namespace, topic: m.topic, entries, mode: batchModeOf(m.mode) } };
  },
  nack: (b) => {
    const m = parse(NackRequestSchema, b);
    return {
      action: 'nack',
      args: { namespace: m.namespace, topic: m.topic, queueId: m.queueId, messageIds: m.messageIds, delayMs: ms(m.delayMs) },
    };
  },
  renew_lease: (b) => {
    const m = parse(RenewLeaseRequestSchema, b);
    return {
      action: 'renew_lease',
      args: { namespace: m.namespace, topic: m.topic, queueId: m.queueId, messageIds: m.messageIds, extendMs: Number(m.extendMs) },
    };
  },
  peek: (b) => {
    const m = parse(PeekRequestSchema, b);
    return {
      action: 'peek',
      args: {
        namespace: m.namespace,
        topic: m.topic,
        queueId: m.queueId,
        dlq: m.dlq,
        options: {
          cursor: m.cursor || undefined,
          limit: zeroIsUnset(m.limit),
          order: peekOrderOf(m.order),
          previewBytes: zeroIsUnset(m.previewBytes),
        },
      },
    };
  },
  consume_dlq: (b) => {
    const m = parse(ConsumeDlqRequestSchema, b);
    return { action: 'consume_dlq', args: { namespace: m.namespace, topic: m.topic, batchSize: m.batchSize, autoAck: m.autoAck } };
  },
  redrive_dlq: (b) => {
    const m = parse(RedriveDlqRequestSchema, b);
    return { action: 'redrive_dlq', args: { namespace: m.namespace, topic: m.topic, max: zeroIsUnset(m.max) } };
  },
  set_topic_policy: (b) => {
    const m = parse(SetTopicPolicyRequestSchema, b);
    return {
      action: 'set_topic_policy',
      args: {
        namespace: m.namespace,
        topic: m.topic,
        policy: policyInput(m.maxRetries, ms(m.retryBaseMs), ms(m.retryCapMs), ms(m.dedupWindowMs)),
      },
    };
  },
  get_topic_stats: (b) => {
    const m = parse(GetTopicStatsRequestSchema, b);
    return { action: 'get_topic_stats', args: { namespace: m.namespace, topic: m.topic } };
  },
  auth: (b) => ({ action: 'auth', args: { apiKey: parse(AuthRequestSchema, b).apiKey } }),
};

function isRare(action: Action): action is RareAction {
  return action in rareDecoders;
}

/** protobuf-es decoding; its errors are malformed input, reported as such. */
function parse<Desc extends DescMessage>(schema: Desc, bytes: Uint8Array): MessageShape<Desc> {
  try {
    return fromBinary(schema, bytes);
  } catch (err) {
    throw new ProtoDecodeError((err as Error).message);
  }
}

const EMPTY_BUF = Buffer.alloc(0);
const envelopeReader = new ProtoReader(EMPTY_BUF, 0, 0);
const dataReader = new ProtoReader(EMPTY_BUF, 0, 0);

const T_ACTION = (1 << 3) | WIRE_LEN;
const T_REQUEST_ID = (2 << 3) | WIRE_LEN;

export function decodePbCommand(buf: Buffer, start: number, end: number): PbRequest {
  let requestId: string | undefined;
  try {
    const r = envelopeReader.reset(buf, start, end);
    let action = '';
    let dataField = 0;
    let ds = 0;
    let de = 0;
    while (!r.done) {
      const t = r.tag();
      if (t === T_ACTION) action = r.string();
      else if (t === T_REQUEST_ID) requestId = r.string() || undefined;
      else if ((t & 7) === WIRE_LEN && ACTION_OF_FIELD[t >>> 3] !== undefined) {
        // oneof: the last case on the wire wins
        r.len();
        dataField = t >>> 3;
        ds = r.rs;
        de = r.re;
      } else r.skip(t & 7);
    }
    const dataAction = ACTION_OF_FIELD[dataField];
    if (action === '') {
      if (dataAction === undefined) return fail(requestId, 'missing field action (and no data)');
      action = dataAction;
    }
    if (!isAction(action)) return fail(requestId, `unknown action ${JSON.stringify(action)}`);
    if (dataAction !== undefined && dataAction !== action) {
      return fail(requestId, `data holds a ${dataAction} request but action is ${JSON.stringify(action)}`);
    }
    if (isRare(action)) return { command: rareDecoders[action](buf.subarray(ds, de)), requestId, error: undefined };
    const fields = readFields(dataReader.reset(buf, ds, de), action);
    return { command: builders[action](fields), requestId, error: undefined };
  } catch (err) {
    if (err instanceof ProtoDecodeError) return fail(requestId, `malformed protobuf: ${err.message}`);
    // The proto enum converters shared with the gRPC front throw the core's INVALID_ARGUMENT.
    if (err instanceof CommandError || (isBrokerError(err) && err.code === 'INVALID_ARGUMENT')) return fail(requestId, err.message);
    throw err;
  }
}

function fail(requestId: string | undefined, message: string): PbRequest {
  return { command: undefined, requestId, error: new CommandError(message) };
}
